"""Fault injection: a share of requests fail the way a flaky network and an overloaded service fail.

Off unless ``ServerConfig.fault_rate`` is above 0. Each request to the API (``/api/v1/...``, the token
endpoints included) draws from one seeded random stream whether it meets a fault and which one:

- ``500``, ``502``, ``503``: a problem document with that status, sent either *before* the handler runs
  (nothing happened) or *after* it (the operation took effect, e.g. the job was created, and its answer
  is replaced), half and half.
- ``429``: refused before the handler, with ``Retry-After``.
- ``latency``: the request waits a random time up to ``fault_max_latency`` seconds, then runs normally.
- ``drop``: the handler runs, then the connection is closed in the middle of the answer: the client
  receives a status line and part of a body, then nothing (a transport error, not an HTTP error).

``GET /status`` is never faulted, so that health checks and start-up probes tell the truth.

The stream is seeded by ``fault_seed``: one request sequence always meets the same faults (with
concurrent clients, the order the requests arrive in decides which one meets which fault).
:attr:`FaultInjector.counts` holds how many faults of each kind were injected.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from collections import Counter
from typing import Any

logger = logging.getLogger("qiboconnection.server.faults")

FAULT_KINDS = ("500", "502", "503", "429", "latency", "drop")
#: Upper bound of ``fault_max_latency`` (seconds), so a misconfigured server still answers.
MAX_LATENCY_CAP = 10.0
_PHRASES = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class InjectedDrop(Exception):
    """Raised by the injector to make the ASGI server close a connection mid-answer."""


class _QuietDrops(logging.Filter):
    """Keeps the ASGI server's error log free of the tracebacks of injected drops."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, InjectedDrop)


_QUIET_DROPS = _QuietDrops()


def parse_kinds(text: str) -> tuple[str, ...]:
    """Parse ``"500,503,latency"`` (or ``"all"``) into fault kinds; ValueError naming an unknown one."""
    if text.strip().lower() == "all":
        return FAULT_KINDS
    kinds = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
    if unknown or not kinds:
        raise ValueError(f"fault kinds must be among {', '.join(FAULT_KINDS)}, not {text!r}")
    return kinds


def check_fault_settings(rate: float, kinds: tuple[str, ...], max_latency: float, retry_after: int) -> None:
    """Raise ValueError for settings the injector cannot honour."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"fault_rate must be between 0 and 1, not {rate}")
    unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
    if unknown or not kinds:
        raise ValueError(f"fault_kinds must be among {FAULT_KINDS}, not {kinds}")
    if not 0.0 <= max_latency <= MAX_LATENCY_CAP:
        raise ValueError(f"fault_max_latency must be between 0 and {MAX_LATENCY_CAP} seconds")
    if not 0 <= retry_after <= 3600:
        raise ValueError("fault_retry_after must be between 0 and 3600 seconds")


class FaultInjector:
    """Wraps an ASGI application and injects faults into a seeded share of its HTTP requests."""

    def __init__(
        self,
        rate: float,
        seed: int,
        kinds: tuple[str, ...] = FAULT_KINDS,
        max_latency: float = 0.2,
        retry_after: int = 1,
    ) -> None:
        check_fault_settings(rate, kinds, max_latency, retry_after)
        self.rate = rate
        self.kinds = kinds
        self.max_latency = max_latency
        self.retry_after = retry_after
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        #: Faults injected so far, by kind (``"502 after"`` and ``"502 before"`` are counted apart).
        self.counts: Counter[str] = Counter()
        if "drop" in kinds:
            logging.getLogger("uvicorn.error").addFilter(_QUIET_DROPS)

    def _draw(self, path: str) -> tuple[str, bool, float] | None:
        """The fault for one request: (kind, after the handler?, latency), or None."""
        if not path.startswith("/api/"):
            return None
        with self._lock:
            if self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(self.kinds)
            after = kind == "drop" or (kind in ("500", "502", "503") and self._rng.random() < 0.5)
            latency = self._rng.uniform(0.0, self.max_latency) if kind == "latency" else 0.0
            is_5xx = kind in ("500", "502", "503")
            self.counts[f"{kind} {'after' if after else 'before'}" if is_5xx else kind] += 1
        return kind, after, latency

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any, app: Any) -> None:
        """Serve one request through ``app``, perhaps with a fault."""
        fault = self._draw(scope.get("path", ""))
        if fault is None:
            await app(scope, receive, send)
            return
        kind, after, latency = fault
        logger.debug(
            "injecting %s%s into %s %s", kind, " after" if after else "", scope["method"], scope["path"]
        )
        if kind == "latency":
            await asyncio.sleep(latency)
            await app(scope, receive, send)
            return
        if not after:
            status = int(kind)
            headers = {"Retry-After": str(self.retry_after)} if status == 429 else {}
            await _send_problem(send, status, headers)
            return
        messages: list[dict[str, Any]] = []

        async def capture(message: dict[str, Any]) -> None:
            messages.append(message)

        await app(scope, receive, capture)
        if kind == "drop":
            await _drop(send, messages)
        else:
            await _send_problem(send, int(kind), {})


async def _send_problem(send: Any, status: int, headers: dict[str, str]) -> None:
    detail = "Injected fault: the server is simulating a failure; try again."
    body = json.dumps(
        {"type": "about:blank", "title": _PHRASES[status], "status": status, "detail": detail}
    ).encode()
    raw_headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def _drop(send: Any, messages: list[dict[str, Any]]) -> None:
    """Start an answer that promises more bytes than it sends, then abort the connection."""
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    promised = len(body) + 64
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(promised).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    raise InjectedDrop("connection dropped by fault injection")
