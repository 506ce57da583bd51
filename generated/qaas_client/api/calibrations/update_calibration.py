from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.calibration import Calibration
from ...models.calibration_input import CalibrationInput
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    calibration_id: int,
    *,
    body: CalibrationInput,
    x_client_version: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_client_version, Unset):
        headers["X-Client-Version"] = x_client_version

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/api/v1/calibrations/{calibration_id}".format(
            calibration_id=quote(str(calibration_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Calibration | Problem | None:
    if response.status_code == 200:
        response_200 = Calibration.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 500:
        response_500 = Problem.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Calibration | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    calibration_id: int,
    *,
    client: AuthenticatedClient | Client,
    body: CalibrationInput,
    x_client_version: str | Unset = UNSET,
) -> Response[Calibration | Problem]:
    """Replace a calibration (admin)

    Args:
        calibration_id (int):
        x_client_version (str | Unset):
        body (CalibrationInput):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Calibration | Problem]
    """

    kwargs = _get_kwargs(
        calibration_id=calibration_id,
        body=body,
        x_client_version=x_client_version,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    calibration_id: int,
    *,
    client: AuthenticatedClient | Client,
    body: CalibrationInput,
    x_client_version: str | Unset = UNSET,
) -> Calibration | Problem | None:
    """Replace a calibration (admin)

    Args:
        calibration_id (int):
        x_client_version (str | Unset):
        body (CalibrationInput):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Calibration | Problem
    """

    return sync_detailed(
        calibration_id=calibration_id,
        client=client,
        body=body,
        x_client_version=x_client_version,
    ).parsed


async def asyncio_detailed(
    calibration_id: int,
    *,
    client: AuthenticatedClient | Client,
    body: CalibrationInput,
    x_client_version: str | Unset = UNSET,
) -> Response[Calibration | Problem]:
    """Replace a calibration (admin)

    Args:
        calibration_id (int):
        x_client_version (str | Unset):
        body (CalibrationInput):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Calibration | Problem]
    """

    kwargs = _get_kwargs(
        calibration_id=calibration_id,
        body=body,
        x_client_version=x_client_version,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    calibration_id: int,
    *,
    client: AuthenticatedClient | Client,
    body: CalibrationInput,
    x_client_version: str | Unset = UNSET,
) -> Calibration | Problem | None:
    """Replace a calibration (admin)

    Args:
        calibration_id (int):
        x_client_version (str | Unset):
        body (CalibrationInput):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Calibration | Problem
    """

    return (
        await asyncio_detailed(
            calibration_id=calibration_id,
            client=client,
            body=body,
            x_client_version=x_client_version,
        )
    ).parsed
