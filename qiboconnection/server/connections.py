"""uvicorn's HTTP protocols with a deadline on request heads.

uvicorn closes idle keep-alive connections, but not one that keeps sending a request head a byte at a
time: such a connection holds its slot for ever. The protocols here close a connection that has not
sent a complete request head within ``timeout`` seconds of connecting, or of the end of its previous
response. A request whose head arrived is never cut short by this deadline, however long its body or
its answer takes. They are handed to uvicorn through its ``http`` option.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger("qiboconnection.server.connections")


class _Deadline:
    """The head deadline of one connection (``protocol`` is a uvicorn HTTP protocol object)."""

    def __init__(self, protocol: Any, timeout: float) -> None:
        self._protocol = protocol
        self._timeout = timeout
        self._timer: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        self.disarm()
        self._timer = self._protocol.loop.call_later(self._timeout, self._passed)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _passed(self) -> None:
        self._timer = None
        cycle = self._protocol.cycle
        if cycle is None or cycle.response_complete:
            logger.info("closing a connection that sent no whole request head in %g s", self._timeout)
            self._protocol.transport.close()


def _with_head_deadline(base: type[Any], timeout: float) -> type[asyncio.Protocol]:
    """A subclass of the uvicorn protocol ``base`` that arms the deadline when a connection opens and
    after each response, and drops it when the connection closes."""

    def connection_made(self: Any, transport: asyncio.Transport) -> None:
        self.head_deadline = _Deadline(self, timeout)
        base.connection_made(self, transport)
        self.head_deadline.arm()

    def on_response_complete(self: Any) -> None:
        base.on_response_complete(self)
        self.head_deadline.arm()

    def connection_lost(self: Any, exc: Exception | None) -> None:
        self.head_deadline.disarm()
        base.connection_lost(self, exc)

    methods = {
        "connection_made": connection_made,
        "on_response_complete": on_response_complete,
        "connection_lost": connection_lost,
    }
    protocol: type[asyncio.Protocol] = type(f"{base.__name__}WithHeadDeadline", (base,), methods)
    return protocol


def protocol_with_head_deadline(timeout: float) -> type[asyncio.Protocol]:
    """The HTTP protocol class for uvicorn's ``http`` option, closing slow heads after ``timeout`` s:
    httptools' protocol when httptools is installed (uvicorn's own choice then), h11's otherwise."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return _with_head_deadline(H11Protocol, timeout)
    return _with_head_deadline(HttpToolsProtocol, timeout)
