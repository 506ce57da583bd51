from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.job_created import JobCreated
from ...models.job_submission import JobSubmission
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: JobSubmission,
    x_client_version: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_client_version, Unset):
        headers["X-Client-Version"] = x_client_version

    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/circuits",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> JobCreated | Problem | None:
    if response.status_code == 201:
        response_201 = JobCreated.from_dict(response.json())

        return response_201

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

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

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
) -> Response[JobCreated | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: JobSubmission,
    x_client_version: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[JobCreated | Problem]:
    """Submit a job (circuits, QProgram, annealing program or VQA) to a device

     `description` is a JSON string `{"data": Z, "encoding": "utf-8", "compression": "gzip"}`
    where `Z` is base64(gzip(json(payload))). For `circuit` jobs the payload is a list of
    OpenQASM 2.0 strings, one per circuit.

    A client may send an `Idempotency-Key`; a server that honours it answers a repeated
    submission with the same key with the original `job_id` instead of creating a second job.

    Args:
        x_client_version (str | Unset):
        idempotency_key (str | Unset):
        body (JobSubmission):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[JobCreated | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
        x_client_version=x_client_version,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: JobSubmission,
    x_client_version: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> JobCreated | Problem | None:
    """Submit a job (circuits, QProgram, annealing program or VQA) to a device

     `description` is a JSON string `{"data": Z, "encoding": "utf-8", "compression": "gzip"}`
    where `Z` is base64(gzip(json(payload))). For `circuit` jobs the payload is a list of
    OpenQASM 2.0 strings, one per circuit.

    A client may send an `Idempotency-Key`; a server that honours it answers a repeated
    submission with the same key with the original `job_id` instead of creating a second job.

    Args:
        x_client_version (str | Unset):
        idempotency_key (str | Unset):
        body (JobSubmission):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        JobCreated | Problem
    """

    return sync_detailed(
        client=client,
        body=body,
        x_client_version=x_client_version,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: JobSubmission,
    x_client_version: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[JobCreated | Problem]:
    """Submit a job (circuits, QProgram, annealing program or VQA) to a device

     `description` is a JSON string `{"data": Z, "encoding": "utf-8", "compression": "gzip"}`
    where `Z` is base64(gzip(json(payload))). For `circuit` jobs the payload is a list of
    OpenQASM 2.0 strings, one per circuit.

    A client may send an `Idempotency-Key`; a server that honours it answers a repeated
    submission with the same key with the original `job_id` instead of creating a second job.

    Args:
        x_client_version (str | Unset):
        idempotency_key (str | Unset):
        body (JobSubmission):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[JobCreated | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
        x_client_version=x_client_version,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: JobSubmission,
    x_client_version: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> JobCreated | Problem | None:
    """Submit a job (circuits, QProgram, annealing program or VQA) to a device

     `description` is a JSON string `{"data": Z, "encoding": "utf-8", "compression": "gzip"}`
    where `Z` is base64(gzip(json(payload))). For `circuit` jobs the payload is a list of
    OpenQASM 2.0 strings, one per circuit.

    A client may send an `Idempotency-Key`; a server that honours it answers a repeated
    submission with the same key with the original `job_id` instead of creating a second job.

    Args:
        x_client_version (str | Unset):
        idempotency_key (str | Unset):
        body (JobSubmission):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        JobCreated | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            x_client_version=x_client_version,
            idempotency_key=idempotency_key,
        )
    ).parsed
