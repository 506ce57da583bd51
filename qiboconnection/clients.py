"""Builders of the generated :class:`qaas_client.Client` that every call goes through.

Each session has two generated clients over httpx's own transports: the *API client*, whose httpx
client carries :class:`~qiboconnection.auth.QaaSAuth` (tokens attached and renewed on every request),
and the *token client* without auth, over which the auth logs in and refreshes. Both send
``X-Client-Version``, use the session's timeout and keep connections alive; HTTP/2 is used when
:attr:`Settings.http2 <qiboconnection.config.Settings.http2>` asks for it (``pip install
qiboconnection[http2]``).

A response hook keeps the last answer of the running call in a context variable
(:func:`last_response`), so that an answer the generated parser cannot read still becomes an error
naming its status and content (see :func:`qiboconnection.problems.unreadable`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import httpx
from qaas_client import Client

from qiboconnection.config import Settings

if TYPE_CHECKING:
    from qiboconnection.auth import QaaSAuth

__all__ = [
    "RefreshBearer",
    "build_async_clients",
    "build_clients",
    "last_response",
    "refresh_bearer",
    "reset_last_response",
]

#: Connections kept open for reuse (a wait or a batch fetches up to 20 jobs at once).
KEEPALIVE_CONNECTIONS = 40

_last: contextvars.ContextVar[httpx.Response | None] = contextvars.ContextVar(
    "qiboconnection_last_response", default=None
)


def last_response() -> httpx.Response | None:
    """The last answer received in this context (thread or task) since :func:`reset_last_response`."""
    return _last.get()


def reset_last_response() -> None:
    """Forget the last answer of this context, before a new call."""
    _last.set(None)


_bearer: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "qiboconnection_refresh_bearer", default=None
)


@contextlib.contextmanager
def refresh_bearer(token: str) -> Iterator[None]:
    """Within the block, requests of the token client in this context carry ``token`` as bearer."""
    reset = _bearer.set(token)
    try:
        yield
    finally:
        _bearer.reset(reset)


class RefreshBearer(httpx.Auth):
    """The token client's auth: the refresh call carries the refresh token (see :func:`refresh_bearer`)."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Attach the refresh token of the running refresh call, if any."""
        token = _bearer.get()
        if token is not None:
            request.headers["Authorization"] = f"Bearer {token}"
        yield request


def _remember(response: httpx.Response) -> None:
    _last.set(response)


async def _aremember(response: httpx.Response) -> None:
    _last.set(response)


def _options(settings: Settings, client_version: str) -> dict[str, Any]:
    return {
        "base_url": settings.base_url,
        "headers": {"X-Client-Version": client_version},
        "timeout": httpx.Timeout(settings.timeout),
        "follow_redirects": False,
        "http2": settings.http2,
        "limits": httpx.Limits(
            max_connections=None, max_keepalive_connections=KEEPALIVE_CONNECTIONS, keepalive_expiry=30.0
        ),
    }


def _generated(settings: Settings, client_version: str) -> Client:
    return Client(
        base_url=settings.base_url,
        headers={"X-Client-Version": client_version},
        timeout=httpx.Timeout(settings.timeout),
        raise_on_unexpected_status=False,
    )


def build_clients(
    settings: Settings,
    auth: QaaSAuth,
    *,
    client_version: str,
    transport: httpx.BaseTransport | None = None,
) -> Client:
    """The API client of a synchronous session; gives ``auth`` its token client.

    ``transport`` (for tests) replaces the network for both clients.
    """
    options = _options(settings, client_version)
    hooks = {"response": [_remember]}
    tokens = _generated(settings, client_version)
    tokens.set_httpx_client(
        httpx.Client(auth=RefreshBearer(), transport=transport, event_hooks=hooks, **options)
    )
    auth.use_token_client(tokens)
    api = _generated(settings, client_version)
    api.set_httpx_client(httpx.Client(auth=auth, transport=transport, event_hooks=hooks, **options))
    return api


def build_async_clients(
    settings: Settings,
    auth: QaaSAuth,
    *,
    client_version: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Client:
    """The API client of an asynchronous session; gives ``auth`` its token client."""
    options = _options(settings, client_version)
    hooks = {"response": [_aremember]}
    tokens = _generated(settings, client_version)
    tokens.set_async_httpx_client(
        httpx.AsyncClient(auth=RefreshBearer(), transport=transport, event_hooks=hooks, **options)
    )
    auth.use_token_client(tokens)
    api = _generated(settings, client_version)
    api.set_async_httpx_client(
        httpx.AsyncClient(auth=auth, transport=transport, event_hooks=hooks, **options)
    )
    return api
