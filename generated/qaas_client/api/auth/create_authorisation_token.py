from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.access_token_response import AccessTokenResponse
from ...models.authorisation_request import AuthorisationRequest
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: AuthorisationRequest,
    x_client_version: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_client_version, Unset):
        headers["X-Client-Version"] = x_client_version

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/authorisation-tokens",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> AccessTokenResponse | Problem | None:
    if response.status_code == 200:
        response_200 = AccessTokenResponse.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = AccessTokenResponse.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

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
) -> Response[AccessTokenResponse | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: AuthorisationRequest,
    x_client_version: str | Unset = UNSET,
) -> Response[AccessTokenResponse | Problem]:
    """Exchange a JWT-bearer assertion (username and API key) for tokens

     `assertion` is the URL-safe base64 encoding of the JSON object
    `{"user_id": null|int, "username": str, "api_key": str, "audience": "<base>/api/v1", "iat": <unix
    seconds>}`.

    A body that breaks the schema (another `grantType`, characters outside the URL-safe base64
    alphabet in `assertion`) is answered 400. The assertion's content is a credential, checked like
    one: an assertion that does not decode to such an object, names another audience, carries an
    `iat` too far from the server's clock, or holds a wrong username, API key or `user_id` is
    refused with 401.

    Args:
        x_client_version (str | Unset):
        body (AuthorisationRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AccessTokenResponse | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
        x_client_version=x_client_version,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: AuthorisationRequest,
    x_client_version: str | Unset = UNSET,
) -> AccessTokenResponse | Problem | None:
    """Exchange a JWT-bearer assertion (username and API key) for tokens

     `assertion` is the URL-safe base64 encoding of the JSON object
    `{"user_id": null|int, "username": str, "api_key": str, "audience": "<base>/api/v1", "iat": <unix
    seconds>}`.

    A body that breaks the schema (another `grantType`, characters outside the URL-safe base64
    alphabet in `assertion`) is answered 400. The assertion's content is a credential, checked like
    one: an assertion that does not decode to such an object, names another audience, carries an
    `iat` too far from the server's clock, or holds a wrong username, API key or `user_id` is
    refused with 401.

    Args:
        x_client_version (str | Unset):
        body (AuthorisationRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AccessTokenResponse | Problem
    """

    return sync_detailed(
        client=client,
        body=body,
        x_client_version=x_client_version,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: AuthorisationRequest,
    x_client_version: str | Unset = UNSET,
) -> Response[AccessTokenResponse | Problem]:
    """Exchange a JWT-bearer assertion (username and API key) for tokens

     `assertion` is the URL-safe base64 encoding of the JSON object
    `{"user_id": null|int, "username": str, "api_key": str, "audience": "<base>/api/v1", "iat": <unix
    seconds>}`.

    A body that breaks the schema (another `grantType`, characters outside the URL-safe base64
    alphabet in `assertion`) is answered 400. The assertion's content is a credential, checked like
    one: an assertion that does not decode to such an object, names another audience, carries an
    `iat` too far from the server's clock, or holds a wrong username, API key or `user_id` is
    refused with 401.

    Args:
        x_client_version (str | Unset):
        body (AuthorisationRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AccessTokenResponse | Problem]
    """

    kwargs = _get_kwargs(
        body=body,
        x_client_version=x_client_version,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: AuthorisationRequest,
    x_client_version: str | Unset = UNSET,
) -> AccessTokenResponse | Problem | None:
    """Exchange a JWT-bearer assertion (username and API key) for tokens

     `assertion` is the URL-safe base64 encoding of the JSON object
    `{"user_id": null|int, "username": str, "api_key": str, "audience": "<base>/api/v1", "iat": <unix
    seconds>}`.

    A body that breaks the schema (another `grantType`, characters outside the URL-safe base64
    alphabet in `assertion`) is answered 400. The assertion's content is a credential, checked like
    one: an assertion that does not decode to such an object, names another audience, carries an
    `iat` too far from the server's clock, or holds a wrong username, API key or `user_id` is
    refused with 401.

    Args:
        x_client_version (str | Unset):
        body (AuthorisationRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AccessTokenResponse | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            x_client_version=x_client_version,
        )
    ).parsed
