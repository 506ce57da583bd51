"""Turning the service's error answers (RFC 7807 problem documents) into exceptions.

Pure functions over status, headers and body, shared by the synchronous and asynchronous clients.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

import orjson

from qiboconnection.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RemoteExecutionException,
    ServerError,
)

__all__ = ["error_for", "is_expired_token_answer", "parse_problem", "parse_retry_after"]

_MAX_TEXT = 300

_BY_STATUS: dict[int, type[RemoteExecutionException]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
}


def parse_problem(content: bytes) -> tuple[str | None, str | None]:
    """Return ``(title, detail)`` from a problem document; a body that is not one gives its text as detail."""
    if not content:
        return None, None
    try:
        body: Any = orjson.loads(content)
    except orjson.JSONDecodeError:
        text = content[:_MAX_TEXT].decode("utf-8", errors="replace").strip()
        return None, text or None
    if isinstance(body, dict):
        title = body.get("title")
        detail = body.get("detail")
        return (
            str(title) if title is not None else None,
            _stringify(detail) if detail is not None else None,
        )
    return None, _stringify(body)


def _stringify(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header (delta seconds or HTTP date), if any."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_for(
    status: int, content: bytes, headers: Mapping[str, str], *, what: str
) -> RemoteExecutionException:
    """Build the exception for a non-success answer to the operation described by ``what``."""
    title, detail = parse_problem(content)
    if status >= 500:
        cls: type[RemoteExecutionException] = ServerError
    elif status == 400 and detail and "does not exist" in detail:
        cls = NotFoundError
    else:
        cls = _BY_STATUS.get(status, RemoteExecutionException)
    reason = detail or title or f"HTTP {status}"
    error = cls(f"Could not {what}: {reason} (HTTP {status})", status, title=title, detail=detail)
    if isinstance(error, RateLimitError | ServerError):
        error.retry_after = parse_retry_after(headers)
    return error


def is_expired_token_answer(status: int, content: bytes) -> bool:
    """Whether an answer says the access token was refused: 401, or the hosted service's 400 about the token."""
    if status == 401:
        return True
    if status != 400:
        return False
    _, detail = parse_problem(content)
    text = (detail or "").lower()
    return "token" in text or "expired" in text or "signature" in text
