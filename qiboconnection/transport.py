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
is parsed once (orjson, or the standard library for very long bodies) into plain data, skipping the
generated models' parse-then-``to_dict`` round trip, which only costs time on large job records. An
operation without ``_get_kwargs`` runs through its ``*_detailed`` function. Over the synchronous
client's :class:`KeepAliveTransport`, a call with a usable token writes its request's bytes itself and
hands them to the transport (see :class:`_Direct`); anything else goes through ``httpx.Client``.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import json
import logging
import random
import re
import select
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
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


class Reply:
    """A successful answer: status, headers and the decoded JSON body (``None`` when empty)."""

    __slots__ = ("_headers", "data", "status")

    def __init__(
        self, status: int, headers: httpx.Headers | bytes | list[tuple[str, str]], data: Any
    ) -> None:
        self.status = status
        self._headers = headers
        self.data = data

    @property
    def headers(self) -> httpx.Headers:
        """The answer's headers (read into ``httpx.Headers`` when first asked for)."""
        headers = self._headers
        if not isinstance(headers, httpx.Headers):
            headers = self._headers = as_headers(headers)
        return headers

    def __repr__(self) -> str:
        return f"Reply(status={self.status!r}, data={self.data!r})"


# -- HTTP/1.1 over sockets ----------------------------------------------------------------------------


_LINE_BREAK = re.compile(rb"[\r\n]")
#: The header lines that frame an answer's body and say whether its connection stays open.
_FRAMING = re.compile(
    rb"^(content-length|transfer-encoding|connection)[ \t]*:[ \t]*(.*?)[ \t]*\r?$",
    re.IGNORECASE | re.MULTILINE,
)
_CONTENT_CODING = re.compile(rb"^content-encoding[ \t]*:", re.IGNORECASE | re.MULTILINE)
_HEADER_LINE = re.compile(rb"^[ \t]+(.*?)[ \t]*\r?$|^([^:\r\n]+):[ \t]*(.*?)[ \t]*\r?$", re.MULTILINE)


def header_pairs(block: bytes) -> list[tuple[str, str]]:
    """The (name, value) pairs of an answer's header block (the lines between status line and body).

    An obsolete folded line continues the value before it; a line without a colon is left out.
    """
    pairs: list[tuple[str, str]] = []
    for continued, name, value in _HEADER_LINE.findall(block):
        if name:
            pairs.append((name.strip().decode("latin-1"), value.decode("latin-1")))
        elif pairs and continued:
            previous, text = pairs[-1]
            pairs[-1] = (previous, f"{text} {continued.decode('latin-1')}")
    return pairs


def as_headers(headers: httpx.Headers | bytes | list[tuple[str, str]]) -> httpx.Headers:
    """``headers`` as ``httpx.Headers``, from a header block (bytes) or pairs."""
    if isinstance(headers, httpx.Headers):
        return headers
    return httpx.Headers(header_pairs(headers) if isinstance(headers, bytes) else headers)


class _BadAnswer(Exception):
    """An answer that is not HTTP/1.x as this transport reads it."""


#: Longest status or header line read, and most header lines, in one answer.
_MAX_LINE = 65536
_MAX_HEADERS = 100
_NO_BODY_STATUSES = frozenset({204, 304})
_BLANK = frozenset({b"\r\n", b"\n", b""})


def _readable(sock: socket.socket) -> bool:
    """Whether ``sock`` has something to read (or is closed), without waiting. ``poll`` where there is
    one: ``select`` refuses descriptors past FD_SETSIZE, which a busy process reaches."""
    if _POLL is None:
        return bool(select.select([sock], [], [], 0)[0])
    poller = _POLL()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


_POLL = getattr(select, "poll", None)


class _Connection:
    """One HTTP/1.1 connection: a request goes out in one write, its answer is read whole."""

    __slots__ = ("reader", "sock", "timeout")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.timeout = sock.gettimeout()

    @classmethod
    def open(
        cls, key: tuple[str, str, int], timeout: float | None, context: Callable[[], ssl.SSLContext]
    ) -> _Connection:
        scheme, host, port = key
        sock = socket.create_connection((host, port), timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                sock = context().wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    def closed_by_peer(self) -> bool:
        """Whether the idle connection has something to read: the server closed it (or broke the protocol)."""
        return _readable(self.sock)

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def _line(self) -> bytes:
        line = self.reader.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise _BadAnswer("answer line too long")
        return line

    def exchange(self, data: bytes, *, head: bool, timeout: float | None) -> tuple[int, bytes, bytes, bool]:
        """Send one request; returns status, header block (see :func:`header_pairs`), body, and whether
        the connection must be closed."""
        if timeout != self.timeout:
            self.sock.settimeout(timeout)
            self.timeout = timeout
        self.sock.sendall(data)
        while True:
            line = self._line()
            if not line:
                raise _BadAnswer("the server closed the connection without answering")
            parts = line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
                raise _BadAnswer(f"not an HTTP/1.x status line: {line[:80]!r}")
            status = int(parts[1])
            block = self._header_block()
            if not 100 <= status < 200:
                break
        length: int | None = None
        chunked = False
        connection = b""
        for raw_name, value in _FRAMING.findall(block):
            name = raw_name.lower()
            if name == b"content-length":
                if not value.isdigit() or (length is not None and length != int(value)):
                    raise _BadAnswer(f"bad Content-Length {value!r}")
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"
            else:
                connection = value.lower()
        will_close = (parts[0] == b"HTTP/1.0" and connection != b"keep-alive") or b"close" in connection
        if head or status in _NO_BODY_STATUSES:
            content = b""
        elif chunked:
            content = self._chunked()
        elif length is not None:
            content = self.reader.read(length)
            if len(content) < length:
                raise _BadAnswer(f"answer body cut short ({len(content)} of {length} bytes)")
        else:
            content = self.reader.read()
            will_close = True
        return status, block, content, will_close

    def _header_block(self) -> bytes:
        lines = []
        readline = self.reader.readline
        while True:
            line = readline(_MAX_LINE + 1)
            if line in _BLANK:
                return b"".join(lines)
            if len(line) > _MAX_LINE or len(lines) >= _MAX_HEADERS:
                raise _BadAnswer("answer header too long")
            lines.append(line)

    def _chunked(self) -> bytes:
        chunks = []
        while True:
            size_text = self._line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _BadAnswer(f"bad chunk size {size_text[:20]!r}") from None
            if size == 0:
                while self._line() not in {b"\r\n", b"\n", b""}:
                    pass
                return b"".join(chunks)
            chunk = self.reader.read(size)
            if len(chunk) < size:
                raise _BadAnswer("answer chunk cut short")
            chunks.append(chunk)
            self._line()


def decoded(block: bytes, content: bytes) -> bytes:
    """An answer's body with its ``Content-Encoding`` (gzip, deflate, ...) undone, as httpx does it."""
    if not _CONTENT_CODING.search(block):
        return content
    return httpx.Response(200, headers=header_pairs(block), stream=httpx.ByteStream(content)).read()


class KeepAliveTransport(httpx.BaseTransport):
    """HTTP/1.1 over plain sockets, reusing idle keep-alive connections.

    The synchronous client's default transport when no proxy is configured in the environment (with
    one, httpx's own transports are used): it does what httpx's default does for this client (one
    request at a time per connection, full bodies, TLS verified with httpx's default context) with a
    fraction of the per-request work, which is most of a small call's cost: a request goes out in one
    write and its answer is read whole (``Content-Length``, chunked, or up to the close). Failures
    surface as the httpx exceptions the retry policy reads: ``ConnectError``/``ConnectTimeout`` before
    anything was sent, ``ReadTimeout``/``RemoteProtocolError`` after.

    :meth:`send_bytes` is the path of the client's common calls, which build their requests' bytes
    themselves; :meth:`handle_request` serves every other httpx request.
    """

    def __init__(self, *, verify: ssl.SSLContext | bool = True, max_idle: int = 8) -> None:
        self._verify = verify
        self._ssl_context: ssl.SSLContext | None = None
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._lock = threading.Lock()
        self._max_idle = max_idle

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            verify = self._verify
            self._ssl_context = (
                verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)
            )
        return self._ssl_context

    def _checkout(
        self, key: tuple[str, str, int], timeout: float | None, request: httpx.Request | None
    ) -> _Connection:
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                connection = idle.pop()
                if not connection.closed_by_peer():
                    return connection
                connection.close()
        try:
            return _Connection.open(key, timeout, self._context)
        except TimeoutError as error:
            raise httpx.ConnectTimeout(str(error) or "connection timed out", request=request) from error
        except OSError as error:
            raise httpx.ConnectError(str(error) or type(error).__name__, request=request) from error

    def _checkin(self, key: tuple[str, str, int], connection: _Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self._max_idle:
                idle.append(connection)
                return
        connection.close()

    def send_bytes(
        self,
        key: tuple[str, str, int],
        data: bytes,
        *,
        head: bool = False,
        timeouts: Mapping[str, float | None],
        request: httpx.Request | None = None,
    ) -> tuple[int, bytes, bytes]:
        """Send a whole request (head and body, as bytes) to ``key`` = (scheme, host, port).

        Returns status, header block (see :func:`header_pairs`) and body as sent (a ``Content-Encoding``
        is not undone here: see :func:`decoded`).
        """
        connection = self._checkout(key, timeouts.get("connect"), request)
        try:
            status, block, content, will_close = connection.exchange(
                data, head=head, timeout=timeouts.get("read")
            )
        except TimeoutError as error:
            connection.close()
            raise httpx.ReadTimeout(str(error) or "timed out", request=request) from error
        except (_BadAnswer, OSError) as error:
            connection.close()
            raise httpx.RemoteProtocolError(str(error) or type(error).__name__, request=request) from error
        if will_close:
            connection.close()
        else:
            self._checkin(key, connection)
        return status, block, content

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in {"http", "https"}:
            raise httpx.UnsupportedProtocol(f"Unsupported URL scheme {url.scheme!r}", request=request)
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        head = [request.method.encode("ascii") + b" " + url.raw_path + b" HTTP/1.1"]
        for name, value in request.headers.raw:
            if _LINE_BREAK.search(name) or _LINE_BREAK.search(value):
                raise httpx.LocalProtocolError(f"header {name!r} holds a line break", request=request)
            head.append(name + b": " + value)
        data = b"\r\n".join(head)
        status, block, content = self.send_bytes(
            key,
            data + b"\r\n\r\n" + request.read(),
            head=request.method == "HEAD",
            timeouts=request.extensions.get("timeout", {}),
            request=request,
        )
        return httpx.Response(
            status,
            headers=header_pairs(block),
            stream=httpx.ByteStream(content),
            extensions={"http_version": b"HTTP/1.1"},
        )

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()


# -- client builders ---------------------------------------------------------------------------------


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
        _direct[http] = _Direct(chosen, auth, http.base_url)
    return Client(base_url=settings.base_url).set_httpx_client(http)


#: Paths, query names and query values the client's calls can put on the wire as they are.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@/%-]*")
_PLAIN_QUERY = re.compile(r"[A-Za-z0-9._~-]*")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class _Direct:
    """Sends a call straight to the client's :class:`KeepAliveTransport` in the common case.

    With a usable access token and a request of plain parts (method, a path and query that need no
    escaping, a JSON body, headers the client does not set itself), the request's bytes are written
    here, with the client's headers, timeout and the bearer token, in the order httpx puts them, and
    handed to :meth:`KeepAliveTransport.send_bytes`: the same request on the wire as through
    ``httpx.Client``, without its per-request work. Anything else (no usable token, cookies, other body
    kinds) returns None and goes through the client, as does a request whose token is refused: the
    client's auth flow then renews it and sends again. A transport whose ``handle_request`` is
    replaced (to watch or change requests) is given every request as an ``httpx.Request``.
    """

    _PLAIN = frozenset({"method", "url", "params", "json", "headers"})

    def __init__(self, transport: KeepAliveTransport, auth: QaaSAuth | None, base_url: httpx.URL) -> None:
        self.transport, self.auth = transport, auth
        self.base = str(base_url).rstrip("/")
        scheme = base_url.scheme
        self.key = (scheme, base_url.host, base_url.port or (443 if scheme == "https" else 80))
        self.prefix = base_url.raw_path.decode("ascii").split("?", 1)[0].rstrip("/")
        self.host = b"\r\nHost: " + base_url.netloc
        # Each kept as one tuple (what it was made from, what was made), so that threads sharing the
        # client never see the one with the other's value.
        self._fixed_kept: tuple[list[tuple[bytes, bytes]] | None, bytes, frozenset[str]] = (
            None,
            b"",
            frozenset(),
        )
        self._bearer_kept: tuple[str | None, bytes | None] = (None, None)
        self._timeouts_kept: tuple[httpx.Timeout | None, dict[str, float | None]] = (None, {})

    def _client_headers(self, http: httpx.Client) -> tuple[bytes, frozenset[str]] | None:
        """The client's own header lines as sent, and their lowercase names (None: not plain)."""
        raw = http.headers.raw
        source, fixed, names = self._fixed_kept
        if raw != source:
            names = frozenset(name.decode("latin-1").lower() for name, _ in raw)
            if "host" in names or any(_LINE_BREAK.search(name + value) for name, value in raw):
                return None
            fixed = b"".join(b"\r\n" + name + b": " + value for name, value in raw)
            self._fixed_kept = (raw, fixed, names)
        return fixed, names

    def _target(self, kwargs: dict[str, Any]) -> str | None:
        url = kwargs["url"]
        if not isinstance(url, str) or not _PLAIN_PATH.fullmatch(url) or not url.startswith("/"):
            return None
        params = kwargs.get("params")
        if not params:
            return self.prefix + url
        pairs = []
        for name, value in params.items():
            if value is True or value is False:
                text = "true" if value else "false"
            elif isinstance(value, int):
                text = str(value)
            elif isinstance(value, str) and _PLAIN_QUERY.fullmatch(value):
                text = value
            else:
                return None
            if not isinstance(name, str) or not _PLAIN_QUERY.fullmatch(name):
                return None
            pairs.append(f"{name}={text}")
        return f"{self.prefix}{url}?{'&'.join(pairs)}"

    def _bytes(self, http: httpx.Client, kwargs: dict[str, Any], bearer: bytes) -> bytes | None:
        client_headers = self._client_headers(http)
        target = self._target(kwargs)
        if client_headers is None or target is None:
            return None
        fixed, fixed_names = client_headers
        method = kwargs["method"].upper()
        parts = [method.encode("ascii"), b" ", target.encode("ascii"), b" HTTP/1.1", self.host]
        if "json" not in kwargs and method in _BODY_METHODS:
            parts.append(b"\r\nContent-Length: 0")
        parts.append(fixed)
        extra = kwargs.get("headers") or {}
        for name, value in extra.items():
            if not isinstance(name, str) or not isinstance(value, str) or name.lower() in fixed_names:
                return None
            try:
                line = f"\r\n{name}: {value}".encode("latin-1")
            except UnicodeEncodeError:
                return None
            if _LINE_BREAK.search(line, 2):
                return None
            parts.append(line)
        body = b""
        if "json" in kwargs:
            body = json.dumps(
                kwargs["json"], ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode()
            parts.append(b"\r\nContent-Length: " + str(len(body)).encode("ascii"))
            if not any(name.lower() == "content-type" for name in extra):
                parts.append(b"\r\nContent-Type: application/json")
        parts += (b"\r\nAuthorization: Bearer ", bearer, b"\r\n\r\n", body)
        return b"".join(parts)

    def _bearer(self, access: str) -> bytes | None:
        """The access token as header bytes; None when it cannot go into a header as it is."""
        source, bearer = self._bearer_kept  # one tuple, so threads never see a token with another's bytes
        if access is not source:
            try:
                bearer = access.encode("latin-1")
            except UnicodeEncodeError:
                bearer = None
            if bearer is not None and _LINE_BREAK.search(bearer):
                bearer = None
            self._bearer_kept = (access, bearer)
        return bearer

    def _timeouts_of(self, http: httpx.Client) -> dict[str, float | None]:
        timeout = http.timeout
        source, timeouts = self._timeouts_kept
        if timeout is not source:
            timeouts = timeout.as_dict()
            self._timeouts_kept = (timeout, timeouts)
        return timeouts

    def send(self, http: httpx.Client, kwargs: dict[str, Any]) -> tuple[int, Any, bytes] | None:
        """Status, headers and body of the answer, or None when the call must go through the client."""
        if not kwargs.keys() <= self._PLAIN or http.cookies:
            return None
        auth = self.auth
        tokens = auth.usable_tokens() if auth is not None else None
        if tokens is None:
            return None
        transport = self.transport
        if "handle_request" in vars(transport) or type(transport).handle_request is not _HANDLE_REQUEST:
            answer = self._through_handle_request(http, kwargs, tokens.access)
        else:
            bearer = self._bearer(tokens.access)
            data = self._bytes(http, kwargs, bearer) if bearer is not None else None
            if data is None:
                return None
            status, block, content = transport.send_bytes(
                self.key, data, head=kwargs["method"].upper() == "HEAD", timeouts=self._timeouts_of(http)
            )
            answer = (status, block, decoded(block, content))
        if auth.refused(answer[0], answer[2], tokens):
            return None
        return answer

    def _through_handle_request(
        self, http: httpx.Client, kwargs: dict[str, Any], access: str
    ) -> tuple[int, Any, bytes]:
        headers = http.headers.copy()
        headers.update(kwargs.get("headers") or {})
        request = httpx.Request(
            kwargs["method"],
            self.base + kwargs["url"],
            params=kwargs.get("params"),
            json=kwargs.get("json"),
            headers=headers,
            extensions={"timeout": http.timeout.as_dict()},
        )
        request.headers["Authorization"] = f"Bearer {access}"
        response = self.transport.handle_request(request)
        response.read()
        return response.status_code, response.headers, response.content


_HANDLE_REQUEST = KeepAliveTransport.handle_request


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


def to_reply(
    status: int,
    headers: httpx.Headers | bytes | list[tuple[str, str]],
    content: bytes,
    parsed: Any,
    *,
    what: str,
) -> Reply:
    """Turn one answer into a :class:`Reply`, or raise the matching exception for a non-success.

    ``headers`` may be a header block as :meth:`KeepAliveTransport.send_bytes` returns it.
    """
    if not 200 <= status < 300:
        raise error_for(status, content, as_headers(headers), what=what)
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
        answer = direct.send(http, request) if direct is not None else None
        if answer is None:
            response = http.request(**request)
            answer = response.status_code, response.headers, response.content
        return to_reply(*answer, None, what=what)
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
