"""When a failed call is sent again, and after how long.

- :attr:`Retry.IDEMPOTENT` (GET, PUT, DELETE, and job submission with an honoured ``Idempotency-Key``):
  sent again after a 5xx, a 429 or a transport error.
- :attr:`Retry.CONNECT_ONLY` (other POSTs): sent again only when the request provably never reached the
  service (the connection could not be made) or the service said it did not take it (``503`` and
  ``429``, RFC 9110 §15.6.4 and RFC 6585).

Waits grow exponentially (with jitter, capped) or follow ``Retry-After``, within the policy's attempt
count and total time budget. Nothing here sends anything: the drivers in ``qiboconnection._async.calls``
and ``qiboconnection._sync.calls`` ask :func:`next_delay` after each failed attempt.
"""

from __future__ import annotations

import logging
import random

import httpx

from qiboconnection.config import RetryPolicy
from qiboconnection.errors import (
    AnswerTooLargeError,
    ConnectionException,
    QiboconnectionError,
    RateLimitError,
    RemoteExecutionException,
    ServerError,
)
from qiboconnection.operations import Retry

__all__ = ["Retry", "backoff_delay", "describe", "next_delay"]

logger = logging.getLogger("qiboconnection.retries")

#: Transport errors raised before any byte of the request left: safe to send again whatever it was.
NEVER_SENT: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
#: Statuses by which the service says it did not take the request.
NOT_TAKEN = frozenset({429, 503})

_rng = random.Random()


def retryable(error: BaseException, mode: Retry) -> bool:
    """Whether ``error`` from an attempt in ``mode`` allows sending the request again."""
    if isinstance(error, AnswerTooLargeError):
        return False
    if isinstance(error, NEVER_SENT):
        return True
    if isinstance(error, RemoteExecutionException) and error.status_code in NOT_TAKEN:
        return True
    if mode is Retry.CONNECT_ONLY:
        return False
    return isinstance(error, httpx.TransportError | ServerError | RateLimitError | ConnectionException)


def backoff_delay(policy: RetryPolicy, attempt: int, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait before attempt ``attempt + 1``: the server's ``Retry-After``, else capped backoff."""
    if retry_after is not None:
        return retry_after
    ceiling = min(policy.backoff_cap, policy.backoff_base * 2.0 ** (attempt - 1))
    return ceiling / 2 + rng.random() * ceiling / 2


def describe(error: BaseException) -> str:
    """A short text for ``error`` (transport errors are named, since their text is often empty)."""
    if isinstance(error, httpx.RequestError):
        text = str(error)
        return f"{type(error).__name__}: {text}" if text else type(error).__name__
    return str(error)


def next_delay(
    error: httpx.RequestError | QiboconnectionError,
    *,
    policy: RetryPolicy,
    mode: Retry,
    what: str,
    number: int,
    elapsed: float,
    sent_before: bool = False,
) -> float:
    """After failed attempt ``number``: the seconds to wait before the next one, or raise the final error.

    ``sent_before`` says whether an earlier attempt may have reached the service; then the final error
    cannot say that the request never did (``never_sent``), whatever this attempt's failure was.

    Raises:
        ConnectionException: a transport error that may not or need not be retried any more.
        RemoteExecutionException: the service's answer (``attempts`` says how often it was sent).
    """
    if not retryable(error, mode):
        if isinstance(error, httpx.RequestError):
            unsent = ConnectionException(f"Could not {what}: {describe(error)}")
            unsent.never_sent = isinstance(error, NEVER_SENT) and not sent_before
            raise unsent from error
        if isinstance(error, RemoteExecutionException):
            # An earlier attempt whose answer was lost may have taken effect (see ``attempts``).
            error.attempts = number
        raise error
    retry_after = error.retry_after if isinstance(error, RateLimitError | ServerError) else None
    delay = backoff_delay(policy, number, retry_after, _rng)
    if number >= policy.max_attempts or elapsed + delay > policy.budget:
        over_budget = delay if elapsed + delay > policy.budget else None
        raise _gave_up(error, what, number, elapsed, over_budget, sent_before=sent_before) from error
    logger.info("Attempt %d to %s failed (%s); retrying in %.2f s", number, what, describe(error), delay)
    return delay


def _gave_up(
    error: BaseException,
    what: str,
    attempts: int,
    elapsed: float,
    wanted_wait: float | None,
    *,
    sent_before: bool,
) -> QiboconnectionError:
    plural = "attempt" if attempts == 1 else "attempts"
    note = f"gave up after {attempts} {plural} in {elapsed:.1f} s"
    if wanted_wait is not None:
        note += f"; waiting {wanted_wait:.1f} s more would exceed the retry budget"
    if isinstance(error, RemoteExecutionException):
        final = type(error)(f"{error} ({note})", error.status_code, title=error.title, detail=error.detail)
        if isinstance(final, RateLimitError | ServerError) and isinstance(
            error, RateLimitError | ServerError
        ):
            final.retry_after = error.retry_after
        final.attempts = attempts
        return final
    if isinstance(error, ConnectionException):
        # The same kind of error (and its attributes), saying that it was the last of several attempts.
        final_connection = type(error).__new__(type(error))
        final_connection.__dict__.update(error.__dict__)
        final_connection.args = (f"{error} ({note})",)
        final_connection.never_sent = final_connection.never_sent and not sent_before
        return final_connection
    transport = ConnectionException(f"Could not {what}: {describe(error)} ({note})")
    transport.never_sent = isinstance(error, NEVER_SENT) and not sent_before
    return transport
