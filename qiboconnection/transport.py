"""The HTTP layer: builders for the pooled generated client, and the one ``call()`` wrapper.

Every API operation goes through :func:`call`, which runs a generated ``*_detailed`` function, turns a
non-success answer into an exception (see :mod:`qiboconnection.problems`) and retries when that is safe:

- ``Retry.IDEMPOTENT`` (GET, PUT, DELETE, and job submission with an ``Idempotency-Key``): retried on
  5xx, 429 and transport errors.
- ``Retry.CONNECT_ONLY`` (other POSTs): retried only when the request never reached the server
  (connection refused or timed out while connecting). Against a server that ignores
  ``Idempotency-Key``, only this mode is safe for job submission.

Waits grow exponentially (with jitter, capped) or follow ``Retry-After``, within the policy's attempt
count and total time budget.

The generated operation builds each request (its ``_get_kwargs``: method, path, query, body); the answer
is parsed once (orjson, or the standard library for very long bodies) into plain data, skipping the generated models' parse-then-``to_dict``
round trip, which only costs time on large job records. An operation without ``_get_kwargs`` runs
through its ``*_detailed`` function.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import http.client
import logging
import random
import select
import ssl
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx

from qiboconnection.config import RetryPolicy, Settings
from qiboconnection.errors import (
    ConnectionException,
    QiboconnectionError,
    RateLimitError,
    RemoteExecutionException,
    ServerError,
)
from qiboconnection.problems import error_for
from qiboconnection.serialization import loads

if TYPE_CHECKING:
    from qaas_client import Client

    from qiboconnection.auth import QaaSAuth

__all__ = [
    "KeepAliveTransport",
    "Reply",
    "Retry",
    "acall",
    "aiterate_pages",
    "aretrying",
    "build_async_client",
    "build_client",
    "call",
    "iterate_pages",
    "next_page",
    "retrying",
]

logger = logging.getLogger("qiboconnection.transport")

#: Largest page size the service accepts; listings ask for it to need as few requests as possible.
MAX_PER_PAGE = 1000
#: Safety bound on the number of pages followed for one listing.
MAX_PAGES = 10_000

_last_response: contextvars.ContextVar[httpx.Response | None] = contextvars.ContextVar(
    "qiboconnection_last_response", default=None
)


class Retry(enum.Enum):
    """When a call may be repeated."""

    IDEMPOTENT = "idempotent"
    CONNECT_ONLY = "connect-only"


@dataclass(frozen=True)
class Reply:
    """A successful answer: status, headers and the decoded JSON body (``None`` when empty)."""

    status: int
    headers: httpx.Headers
    data: Any


# -- client builders ---------------------------------------------------------------------------------


class KeepAliveTransport(httpx.BaseTransport):
    """HTTP/1.1 over the standard library's ``http.client``, reusing idle keep-alive connections.

    The synchronous client's default transport when no proxy is configured in the environment (with
    one, httpx's own transports are used): it does what httpx's default does for this client (one
    request at a time per connection, full bodies, TLS verified with httpx's default context) with a
    fraction of the per-request work, which is most of a small call's cost. Failures surface as the
    httpx exceptions the retry policy reads: ``ConnectError``/``ConnectTimeout`` before anything was sent.
    """

    def __init__(self, *, verify: ssl.SSLContext | bool = True, max_idle: int = 8) -> None:
        self._verify = verify
        self._ssl_context: ssl.SSLContext | None = None
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._max_idle = max_idle

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            verify = self._verify
            self._ssl_context = (
                verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)
            )
        return self._ssl_context

    def _checkout(self, key: tuple[str, str, int], timeout: float | None) -> http.client.HTTPConnection:
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                connection = idle.pop()
                sock = connection.sock
                # An idle connection with something to read was closed by the server: drop it.
                if sock is not None and not select.select([sock], [], [], 0)[0]:
                    return connection
                connection.close()
        scheme, host, port = key
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=self._context())
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def _checkin(self, key: tuple[str, str, int], connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self._max_idle:
                idle.append(connection)
                return
        connection.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in {"http", "https"}:
            raise httpx.UnsupportedProtocol(f"Unsupported URL scheme {url.scheme!r}", request=request)
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        body = request.read()
        connection = self._checkout(key, timeouts.get("connect"))
        if connection.sock is None:
            try:
                connection.connect()
            except TimeoutError as error:
                connection.close()
                raise httpx.ConnectTimeout(str(error) or "connection timed out", request=request) from error
            except OSError as error:
                connection.close()
                raise httpx.ConnectError(str(error) or type(error).__name__, request=request) from error
        try:
            connection.sock.settimeout(timeouts.get("read"))  # type: ignore[union-attr]
            connection.putrequest(
                request.method, url.raw_path.decode("ascii"), skip_host=True, skip_accept_encoding=True
            )
            for name, value in request.headers.raw:
                connection.putheader(name, value)
            connection.endheaders(body or None)
            response = connection.getresponse()
            content = response.read()
        except TimeoutError as error:
            connection.close()
            raise httpx.ReadTimeout(str(error) or "timed out", request=request) from error
        except (http.client.HTTPException, OSError) as error:
            connection.close()
            raise httpx.RemoteProtocolError(str(error) or type(error).__name__, request=request) from error
        headers = response.getheaders()
        if response.will_close:
            connection.close()
        else:
            self._checkin(key, connection)
        return httpx.Response(
            response.status,
            headers=headers,
            stream=httpx.ByteStream(content),
            extensions={"http_version": b"HTTP/1.1"},
        )

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()


def _headers(client_version: str) -> dict[str, str]:
    return {"X-Client-Version": client_version, "Accept": "application/json, application/problem+json"}


def _remember(response: httpx.Response) -> None:
    _last_response.set(response)


async def _aremember(response: httpx.Response) -> None:
    _last_response.set(response)


def _default_transport() -> httpx.BaseTransport | None:
    """:class:`KeepAliveTransport`, unless the environment names proxies (httpx then routes them itself)."""
    from urllib.request import getproxies

    return None if getproxies() else KeepAliveTransport()


def build_client(
    settings: Settings,
    auth: QaaSAuth | None,
    *,
    client_version: str,
    transport: httpx.BaseTransport | None = None,
) -> Client:
    """A generated ``Client`` over one pooled, keep-alive ``httpx.Client`` that authenticates with ``auth``."""
    from qaas_client import Client

    chosen = transport if transport is not None else _default_transport()
    http = httpx.Client(
        base_url=settings.base_url,
        auth=auth,
        headers=_headers(client_version),
        timeout=settings.timeout,
        transport=chosen,
        event_hooks={"response": [_remember]},
    )
    if isinstance(chosen, KeepAliveTransport):
        _direct[http] = _Direct(chosen, auth, str(http.base_url).rstrip("/"))
    return Client(base_url=settings.base_url).set_httpx_client(http)


class _Direct:
    """Sends a call straight to the client's :class:`KeepAliveTransport` in the common case.

    With a usable access token and a request of plain parts (method, URL, query, JSON body, headers),
    the request is built with the client's headers, timeout and the bearer token, and handed to the
    transport: the same bytes on the wire as through ``httpx.Client``, without its per-request work.
    Anything else (no usable token, cookies, other body kinds) returns None and goes through the client,
    as does a request whose token is refused: the client's auth flow then renews it and sends again.
    """

    _PLAIN = frozenset({"method", "url", "params", "json", "headers"})

    def __init__(self, transport: KeepAliveTransport, auth: QaaSAuth | None, base: str) -> None:
        self.transport, self.auth, self.base = transport, auth, base

    def send(self, http: httpx.Client, kwargs: dict[str, Any]) -> httpx.Response | None:
        if not kwargs.keys() <= self._PLAIN or http.cookies:
            return None
        tokens = self.auth.usable_tokens() if self.auth is not None else None
        if self.auth is not None and tokens is None:
            return None
        headers = http.headers.copy()
        headers.update(kwargs.get("headers") or {})
        if tokens is not None:
            headers["Authorization"] = f"Bearer {tokens.access}"
        request = httpx.Request(
            kwargs["method"],
            self.base + kwargs["url"],
            params=kwargs.get("params"),
            json=kwargs.get("json"),
            headers=headers,
            extensions={"timeout": http.timeout.as_dict()},
        )
        response = self.transport.handle_request(request)
        response.read()
        if tokens is not None and self.auth is not None and self.auth.refused(response, tokens):
            return None
        return response


_direct: weakref.WeakKeyDictionary[httpx.Client, _Direct] = weakref.WeakKeyDictionary()


def build_async_client(
    settings: Settings,
    auth: QaaSAuth | None,
    *,
    client_version: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Client:
    """The asynchronous twin of :func:`build_client` (an ``httpx.AsyncClient`` inside)."""
    from qaas_client import Client

    http = httpx.AsyncClient(
        base_url=settings.base_url,
        auth=auth,
        headers=_headers(client_version),
        timeout=settings.timeout,
        transport=transport,
        event_hooks={"response": [_aremember]},
    )
    return Client(base_url=settings.base_url).set_async_httpx_client(http)


# -- answers -------------------------------------------------------------------------------------------


def _decode_body(content: bytes) -> Any:
    if not content:
        return None
    try:
        return loads(content)
    except ValueError:
        return content.decode("utf-8", errors="replace")


def to_reply(status: int, headers: httpx.Headers, content: bytes, parsed: Any, *, what: str) -> Reply:
    """Turn one answer into a :class:`Reply`, or raise the matching exception for a non-success."""
    if not 200 <= status < 300:
        raise error_for(status, content, headers, what=what)
    to_dict = getattr(parsed, "to_dict", None)
    data = to_dict() if callable(to_dict) else _decode_body(content)
    return Reply(status=status, headers=headers, data=data)


def _attempt(op: Any, client: Client, kwargs: dict[str, Any], what: str) -> Reply:
    build = getattr(op, "_get_kwargs", None)
    if build is not None:
        # The generated module builds the request; the answer is parsed once, here.
        http = client.get_httpx_client()
        request = build(**kwargs)
        direct = _direct.get(http)
        response = direct.send(http, request) if direct is not None else None
        if response is None:
            response = http.request(**request)
        return to_reply(response.status_code, response.headers, response.content, None, what=what)
    token = _last_response.set(None)
    try:
        try:
            response = op.sync_detailed(client=client, **kwargs)
        except QiboconnectionError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError):
            return _raw_reply(what)
        return _detailed_reply(response, what)
    finally:
        _last_response.reset(token)


async def _aattempt(op: Any, client: Client, kwargs: dict[str, Any], what: str) -> Reply:
    build = getattr(op, "_get_kwargs", None)
    if build is not None:
        response = await client.get_async_httpx_client().request(**build(**kwargs))
        return to_reply(response.status_code, response.headers, response.content, None, what=what)
    token = _last_response.set(None)
    try:
        try:
            response = await op.asyncio_detailed(client=client, **kwargs)
        except QiboconnectionError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError):
            return _raw_reply(what)
        return _detailed_reply(response, what)
    finally:
        _last_response.reset(token)


def _raw_reply(what: str) -> Reply:
    # The generated parser choked on an answer it did not expect (a body that is not JSON, a status
    # outside the HTTP enum, a record with a shape the spec does not name): use the raw answer. Called
    # from an ``except`` block, so a bare ``raise`` re-raises the parser's error when there is none.
    raw = _last_response.get()
    if raw is None:
        raise  # noqa: PLE0704
    return to_reply(raw.status_code, raw.headers, raw.content, None, what=what)


def _detailed_reply(response: Any, what: str) -> Reply:
    return to_reply(
        int(response.status_code),
        httpx.Headers(response.headers),
        response.content,
        response.parsed,
        what=what,
    )


# -- retrying --------------------------------------------------------------------------------------------

_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _retryable(error: BaseException, mode: Retry) -> bool:
    if isinstance(error, _NEVER_SENT):
        return True
    if mode is Retry.CONNECT_ONLY:
        return False
    return isinstance(error, httpx.TransportError | ServerError | RateLimitError)


def backoff_delay(policy: RetryPolicy, attempt: int, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait before attempt ``attempt + 1``: the server's ``Retry-After``, else capped backoff."""
    if retry_after is not None:
        return retry_after
    ceiling = min(policy.backoff_cap, policy.backoff_base * (2 ** (attempt - 1)))
    return ceiling / 2 + rng.random() * ceiling / 2


_rng = random.Random()
_T = TypeVar("_T")


def retrying(
    attempt: Callable[[], _T],
    *,
    policy: RetryPolicy,
    mode: Retry,
    what: str,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> _T:
    """Run ``attempt`` until it succeeds, retrying as ``mode`` and ``policy`` allow."""
    sleep = sleep or time.sleep
    started = clock()
    number = 0
    while True:
        number += 1
        try:
            return attempt()
        except (httpx.RequestError, RemoteExecutionException) as error:
            sleep(
                _delay_or_raise(
                    error, policy=policy, mode=mode, what=what, number=number, elapsed=clock() - started
                )
            )


def _delay_or_raise(
    error: httpx.RequestError | RemoteExecutionException,
    *,
    policy: RetryPolicy,
    mode: Retry,
    what: str,
    number: int,
    elapsed: float,
) -> float:
    """After failed attempt ``number``: the seconds to wait before the next one, or raise the final error."""
    if not _retryable(error, mode):
        if isinstance(error, httpx.RequestError):
            raise ConnectionException(f"Could not {what}: {_describe(error)}") from error
        # An answer after retries: an earlier attempt may have taken effect (see ``attempts``).
        error.attempts = number
        raise error
    retry_after = getattr(error, "retry_after", None)
    delay = backoff_delay(policy, number, retry_after, _rng)
    if number >= policy.max_attempts or elapsed + delay > policy.budget:
        over_budget = delay if elapsed + delay > policy.budget else None
        raise _gave_up(error, what, number, elapsed, over_budget) from error
    logger.info("Attempt %d to %s failed (%s); retrying in %.2f s", number, what, _describe(error), delay)
    return delay


async def aretrying(
    attempt: Callable[[], Awaitable[_T]],
    *,
    policy: RetryPolicy,
    mode: Retry,
    what: str,
    clock: Callable[[], float] = time.monotonic,
) -> _T:
    """The asynchronous twin of :func:`retrying` (same policy, waits with ``asyncio.sleep``)."""
    started = clock()
    number = 0
    while True:
        number += 1
        try:
            return await attempt()
        except (httpx.RequestError, RemoteExecutionException) as error:
            delay = _delay_or_raise(
                error, policy=policy, mode=mode, what=what, number=number, elapsed=clock() - started
            )
        await asyncio.sleep(delay)


def _describe(error: BaseException) -> str:
    if isinstance(error, httpx.RequestError):
        text = str(error)
        return f"{type(error).__name__}: {text}" if text else type(error).__name__
    return str(error)


def _gave_up(
    error: BaseException, what: str, attempts: int, elapsed: float, wanted_wait: float | None
) -> QiboconnectionError:
    plural = "attempt" if attempts == 1 else "attempts"
    note = f"gave up after {attempts} {plural} in {elapsed:.1f} s"
    if wanted_wait is not None and attempts > 0:
        note += f"; waiting {wanted_wait:.1f} s more would exceed the retry budget"
    if isinstance(error, RemoteExecutionException):
        final = type(error)(f"{error} ({note})", error.status_code, title=error.title, detail=error.detail)
        if isinstance(final, RateLimitError | ServerError):
            final.retry_after = getattr(error, "retry_after", None)
        final.attempts = attempts
        return final
    final_connection = ConnectionException(f"Could not {what}: {_describe(error)} ({note})")
    return final_connection


def call(
    op: Any,
    client: Client,
    *,
    policy: RetryPolicy,
    what: str,
    mode: Retry = Retry.IDEMPOTENT,
    sleep: Callable[[float], None] | None = None,
    **kwargs: Any,
) -> Reply:
    """Run the generated operation module ``op`` (its ``sync_detailed``) with retries and error mapping.

    ``what`` completes the sentence "Could not ..." in error messages (e.g. ``"get job 12"``).
    """
    return retrying(
        lambda: _attempt(op, client, kwargs, what), policy=policy, mode=mode, what=what, sleep=sleep
    )


async def acall(
    op: Any,
    client: Client,
    *,
    policy: RetryPolicy,
    what: str,
    mode: Retry = Retry.IDEMPOTENT,
    **kwargs: Any,
) -> Reply:
    """The asynchronous twin of :func:`call` (runs ``op.asyncio_detailed`` on the client's ``AsyncClient``)."""
    return await aretrying(lambda: _aattempt(op, client, kwargs, what), policy=policy, mode=mode, what=what)


# -- pagination ------------------------------------------------------------------------------------------


def next_page(link: Any) -> tuple[int, int | None] | None:
    """Page number and size named by a ``links.next`` URL, or None on the last page (``page=None``)."""
    if not isinstance(link, str) or not link or "None" in link:
        return None
    query = parse_qs(urlsplit(link).query)
    try:
        page = int(query["page"][0])
    except (KeyError, IndexError, ValueError):
        return None
    try:
        per_page: int | None = int(query["per_page"][0])
    except (KeyError, IndexError, ValueError):
        per_page = None
    return page, per_page


def iterate_pages(
    op: Any,
    client: Client,
    *,
    policy: RetryPolicy,
    what: str,
    per_page: int = MAX_PER_PAGE,
    sleep: Callable[[float], None] | None = None,
    **kwargs: Any,
) -> Iterator[dict[str, Any]]:
    """Yield the items of every page of a listing, following ``links.next`` until it names no page."""
    page = 1
    seen: set[int] = set()
    for _ in range(MAX_PAGES):
        seen.add(page)
        reply = call(
            op, client, policy=policy, what=what, sleep=sleep, page=page, per_page=per_page, **kwargs
        )
        body = reply.data if isinstance(reply.data, dict) else {}
        items = body.get("items") or []
        yield from items
        following = next_page((body.get("links") or {}).get("next"))
        if following is None or not items or following[0] in seen:
            return
        page, per_page = following[0], following[1] or per_page
    logger.warning("Stopped listing to %s after %d pages", what, MAX_PAGES)


async def aiterate_pages(
    op: Any,
    client: Client,
    *,
    policy: RetryPolicy,
    what: str,
    per_page: int = MAX_PER_PAGE,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """The asynchronous twin of :func:`iterate_pages`: the items of every page, as one list."""
    items_out: list[dict[str, Any]] = []
    page = 1
    seen: set[int] = set()
    for _ in range(MAX_PAGES):
        seen.add(page)
        reply = await acall(op, client, policy=policy, what=what, page=page, per_page=per_page, **kwargs)
        body = reply.data if isinstance(reply.data, dict) else {}
        items = body.get("items") or []
        items_out.extend(items)
        following = next_page((body.get("links") or {}).get("next"))
        if following is None or not items or following[0] in seen:
            return items_out
        page, per_page = following[0], following[1] or per_page
    logger.warning("Stopped listing to %s after %d pages", what, MAX_PAGES)
    return items_out
