"""Builders of the generated :class:`qaas_client.Client` that every call goes through.

Each session has two generated clients over httpx's own transports: the *API client*, whose httpx
client carries :class:`~qiboconnection.auth.QaaSAuth` (tokens attached and renewed on every request),
and the *token client* without auth, over which the auth logs in and refreshes. Both send
``X-Client-Version``, use the session's timeout and keep connections alive; HTTP/2 is used when
:attr:`Settings.http2 <qiboconnection.config.Settings.http2>` asks for it (``pip install
qiboconnection[http2]``).

Every answer is read as a stream under two bounds, set by event hooks on both clients:

- *size*: at most :attr:`Settings.max_answer_bytes <qiboconnection.config.Settings.max_answer_bytes>`
  bytes, as sent and as decoded. An answer that says it is longer is refused before its body is read;
  a ``gzip`` or ``deflate`` body is inflated here, a piece at a time, so a small body inflating to a
  huge one stops at the bound (only these codings are asked for). Going over raises
  :class:`~qiboconnection.errors.AnswerTooLargeError`, naming the limit and how to raise it.
- *time*: the body must be complete within :attr:`Settings.timeout
  <qiboconnection.config.Settings.timeout>` seconds of the request's start; a server that drips its
  body slower than that raises :class:`~qiboconnection.errors.RequestTimeoutError`, which the retry
  policy treats as any timeout. Every attempt is also bounded as a whole, headers included, by the
  same timeout: an asynchronous one is cancelled (:func:`qiboconnection.concurrency.async_within`), a
  synchronous one runs on a helper thread that is abandoned at the deadline
  (:func:`qiboconnection.concurrency.within`).

A response hook also keeps the last answer of the running call in a context variable
(:func:`last_response`), so that an answer the generated parser cannot read still becomes an error
naming its status and content (see :func:`qiboconnection.problems.unreadable`).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
import zlib
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import httpx
from qaas_client import Client

from qiboconnection.config import Settings
from qiboconnection.errors import AnswerTooLargeError, ConnectionException, RequestTimeoutError

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


#: When the request being sent in this context started (set by the request hook).
_started: contextvars.ContextVar[float] = contextvars.ContextVar(
    "qiboconnection_request_started", default=0.0
)
#: Most bytes inflated from a compressed body in one step.
_INFLATE_STEP = 1 << 16
#: The content codings asked for, and undone by :class:`_Inflater`.
ACCEPTED_CODINGS = "gzip, deflate"


class _Inflater:
    """Undoes a ``gzip`` or ``deflate`` content coding a piece at a time (at most ``_INFLATE_STEP``
    bytes out per step, so that a bomb never inflates past the bound in one go)."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        wbits = zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS
        self._inflate = zlib.decompressobj(wbits)
        self._first = True

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            yield self._inflate.decompress(data, _INFLATE_STEP)
        except zlib.error:
            if not (self._first and self._coding == "deflate"):
                raise
            # ``deflate`` is sent raw by some servers, without the zlib wrapper.
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            yield self._inflate.decompress(data, _INFLATE_STEP)
        self._first = False
        while self._inflate.unconsumed_tail:
            yield self._inflate.decompress(self._inflate.unconsumed_tail, _INFLATE_STEP)

    def flush(self) -> bytes:
        return self._inflate.flush()


class _Bounds:
    """The size and time bounds of one answer's body."""

    def __init__(self, response: httpx.Response, limit: int, timeout: float) -> None:
        self.limit = limit
        self.deadline = (_started.get() or time.monotonic()) + timeout
        self.timeout = timeout
        self.sent = 0
        self.decoded = 0
        coding = response.headers.get("content-encoding", "identity").strip().lower()
        self.inflater: _Inflater | None = None
        if coding in {"gzip", "x-gzip", "deflate"}:
            self.inflater = _Inflater("deflate" if coding == "deflate" else "gzip")
            # The body reaches httpx decoded; it must not undo the coding again.
            del response.headers["content-encoding"]
        elif coding not in {"", "identity"}:
            raise ConnectionException(
                f"The service answered with content coding {coding!r}, which was not asked for "
                f"(accepted: {ACCEPTED_CODINGS})"
            )
        length = response.headers.get("content-length", "")
        if length.strip().isdigit() and int(length) > limit:
            raise AnswerTooLargeError(int(length), limit)

    def take(self, chunk: bytes) -> Iterator[bytes]:
        """The decoded pieces of a chunk as sent, after checking both bounds."""
        if time.monotonic() > self.deadline:
            raise RequestTimeoutError(self.timeout)
        self.sent += len(chunk)
        if self.sent > self.limit:
            raise AnswerTooLargeError(self.sent, self.limit)
        pieces = self.inflater.feed(chunk) if self.inflater is not None else iter((chunk,))
        for piece in pieces:
            yield self._counted(piece)

    def end(self) -> bytes:
        return self._counted(self.inflater.flush()) if self.inflater is not None else b""

    def _counted(self, piece: bytes) -> bytes:
        self.decoded += len(piece)
        if self.decoded > self.limit:
            raise AnswerTooLargeError(self.decoded, self.limit, decoded=True)
        return piece


class _BoundedStream(httpx.SyncByteStream):
    """A synchronous answer body read under :class:`_Bounds`."""

    def __init__(self, stream: httpx.SyncByteStream, bounds: _Bounds) -> None:
        self._stream = stream
        self._bounds = bounds

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._stream:
                yield from self._bounds.take(chunk)
            yield self._bounds.end()
        except zlib.error as error:
            raise httpx.DecodingError(f"the answer's content coding is broken: {error}") from None

    def close(self) -> None:
        self._stream.close()


class _AsyncBoundedStream(httpx.AsyncByteStream):
    """An asynchronous answer body read under :class:`_Bounds`."""

    def __init__(self, stream: httpx.AsyncByteStream, bounds: _Bounds) -> None:
        self._stream = stream
        self._bounds = bounds

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                for piece in self._bounds.take(chunk):
                    yield piece
            yield self._bounds.end()
        except zlib.error as error:
            raise httpx.DecodingError(f"the answer's content coding is broken: {error}") from None

    async def aclose(self) -> None:
        await self._stream.aclose()


def _start(request: httpx.Request) -> None:
    """Request hook: the clock of the body's deadline starts now."""
    _started.set(time.monotonic())


def _bounder(settings: Settings) -> Callable[[httpx.Response], None]:
    """Response hook: read the body under the session's bounds (either kind of stream), remember the answer."""
    limit, timeout = settings.max_answer_bytes, settings.timeout

    def bound(response: httpx.Response) -> None:
        stream = response.stream
        if isinstance(stream, httpx.SyncByteStream):
            response.stream = _BoundedStream(stream, _Bounds(response, limit, timeout))
        elif isinstance(stream, httpx.AsyncByteStream):
            response.stream = _AsyncBoundedStream(stream, _Bounds(response, limit, timeout))
        _last.set(response)

    return bound


def _hooks(settings: Settings) -> dict[str, list[Callable[..., Any]]]:
    """The event hooks of a synchronous client: start the clock, bound the body, remember the answer."""
    return {"request": [_start], "response": [_bounder(settings)]}


def _async_hooks(settings: Settings) -> dict[str, list[Callable[..., Any]]]:
    """The event hooks of an asynchronous client (httpx awaits them): those of :func:`_hooks`."""
    bound = _bounder(settings)

    async def started(request: httpx.Request) -> None:
        _start(request)

    async def answered(response: httpx.Response) -> None:
        bound(response)

    return {"request": [started], "response": [answered]}


def _options(settings: Settings, client_version: str) -> dict[str, Any]:
    return {
        "base_url": settings.base_url,
        "headers": {"X-Client-Version": client_version, "Accept-Encoding": ACCEPTED_CODINGS},
        "timeout": httpx.Timeout(settings.timeout),
        "follow_redirects": False,
        "http2": settings.http2,
        "limits": httpx.Limits(
            max_connections=None, max_keepalive_connections=KEEPALIVE_CONNECTIONS, keepalive_expiry=30.0
        ),
    }


def _generated(settings: Settings) -> Client:
    """A generated client; its httpx client is set by the builders (they hold every option)."""
    return Client(base_url=settings.base_url, raise_on_unexpected_status=False)


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
    hooks = _hooks(settings)
    tokens = _generated(settings)
    tokens.set_httpx_client(
        httpx.Client(auth=RefreshBearer(), transport=transport, event_hooks=hooks, **options)
    )
    auth.use_token_client(tokens)
    api = _generated(settings)
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
    hooks = _async_hooks(settings)
    tokens = _generated(settings)
    tokens.set_async_httpx_client(
        httpx.AsyncClient(auth=RefreshBearer(), transport=transport, event_hooks=hooks, **options)
    )
    auth.use_token_client(tokens)
    api = _generated(settings)
    api.set_async_httpx_client(
        httpx.AsyncClient(auth=auth, transport=transport, event_hooks=hooks, **options)
    )
    return api
