"""The one place where the service's answers become results or exceptions.

A generated ``*_detailed`` function answers a :class:`qaas_client.types.Response` whose ``parsed`` is the
operation's model, a :class:`~qaas_client.models.problem.Problem` (RFC 7807) or None (a status the spec
does not name). :func:`answer_of` returns the model of a success and raises the matching
:class:`~qiboconnection.errors.RemoteExecutionException` for anything else; :func:`unreadable` covers an
answer the generated parser could not read at all (a body that is not JSON, a record of another shape).
What an error quotes from an answer is cut to :data:`MAX_QUOTE` characters.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import TypeVar

import httpx
import orjson
from qaas_client.models.problem import Problem
from qaas_client.types import Response, Unset

from qiboconnection.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    QiboconnectionError,
    RateLimitError,
    RemoteExecutionException,
    ServerError,
)

__all__ = [
    "MAX_QUOTE",
    "answer_of",
    "error_for",
    "is_expired_token_answer",
    "parse_problem",
    "parse_retry_after",
    "unreadable",
]

#: Most characters of an answer that an error message quotes.
MAX_QUOTE = 300

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

_T = TypeVar("_T")


def _quote(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_QUOTE else text[:MAX_QUOTE] + "..."


def _text(value: object) -> str | None:
    if value is None or isinstance(value, Unset):
        return None
    return _quote(value if isinstance(value, str) else orjson.dumps(value, default=str).decode())


def parse_problem(content: bytes, problem: Problem | None = None) -> tuple[str | None, str | None]:
    """``(title, detail)`` of a problem document (``problem``, else read from ``content``); a body that is
    not one gives its text as detail."""
    if problem is None:
        if not content:
            return None, None
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            return None, _text(content[: MAX_QUOTE * 4].decode("utf-8", errors="replace")) or None
        if not isinstance(body, dict):
            return None, _text(body)
        try:
            problem = Problem.from_dict(body)
        except (KeyError, TypeError, ValueError):
            return _text(body.get("title")), _text(body.get("detail"))
    return _text(problem.title), _text(problem.detail)


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
    status: int,
    content: bytes,
    headers: Mapping[str, str],
    *,
    what: str,
    problem: Problem | None = None,
) -> RemoteExecutionException:
    """The exception for a non-success answer to the operation described by ``what``."""
    title, detail = parse_problem(content, problem)
    if status >= 500:
        cls: type[RemoteExecutionException] = ServerError
    elif status == 400 and detail and "does not exist" in detail:
        cls = NotFoundError
    else:
        cls = _BY_STATUS.get(status, RemoteExecutionException)
    if 300 <= status < 400:
        location = headers.get("location")
        reason = f"the service redirected to {_quote(location)!r}" if location else "the service redirected"
        detail = detail or reason
        reason += "; set QUANTUM_SERVICE_URL to the service's address"
    else:
        reason = detail or title or "no reason given"
    error = cls(f"Could not {what}: {reason} (HTTP {status})", status, title=title, detail=detail)
    if isinstance(error, RateLimitError | ServerError):
        error.retry_after = parse_retry_after(headers)
    return error


def answer_of(response: Response[_T | Problem], model: type[_T], *, what: str) -> _T:
    """The model of a successful answer; the matching exception for any other.

    Raises:
        RemoteExecutionException: (a subclass by status) the answer is not a success.
        QiboconnectionError: a success whose body is not the operation's model.
    """
    status = int(response.status_code)
    parsed = response.parsed
    if not 200 <= status < 300:
        problem = parsed if isinstance(parsed, Problem) else None
        raise error_for(status, response.content, response.headers, what=what, problem=problem)
    if not isinstance(parsed, model):
        raise QiboconnectionError(
            f"Could not {what}: the service answered HTTP {status} with "
            f"{_described(response.headers, response.content)}, not a {model.__name__}"
        )
    return parsed


def unreadable(response: httpx.Response | None, error: Exception, *, what: str) -> QiboconnectionError:
    """The exception for an answer the generated parser could not read (``error`` is what it raised)."""
    if response is None:
        return QiboconnectionError(f"Could not {what}: the answer could not be read ({error})")
    status = response.status_code
    if not 200 <= status < 300:
        return error_for(status, response.content, response.headers, what=what)
    return QiboconnectionError(
        f"Could not {what}: the service answered HTTP {status} with "
        f"{_described(response.headers, response.content)}, which does not follow the protocol "
        f"({_quote(type(error).__name__ + ': ' + str(error))})"
    )


def _described(headers: Mapping[str, str], content: bytes) -> str:
    kind = headers.get("content-type") or "no content type"
    if not content:
        return f"an empty body ({kind})"
    return f"{len(content)} bytes of {kind} ({_text(content[: MAX_QUOTE * 4].decode('utf-8', 'replace'))!r})"


def is_expired_token_answer(status: int, content: bytes) -> bool:
    """Whether an answer says the access token was refused: 401, or the hosted service's 400 about the token."""
    if status == 401:
        return True
    if status != 400:
        return False
    _, detail = parse_problem(content)
    text = (detail or "").lower()
    return "token" in text or "expired" in text or "signature" in text
