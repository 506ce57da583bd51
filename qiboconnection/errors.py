"""Exceptions raised by qiboconnection.

Everything derives from :class:`QiboconnectionError`. Answers from the service that are not a success
become a :class:`RemoteExecutionException` subclass chosen by status code; failures to reach the service
become :class:`ConnectionException`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AnswerTooLargeError",
    "AuthenticationError",
    "ConflictError",
    "ConnectionException",
    "DeviceNotAvailableError",
    "InvalidRequestError",
    "JobFailedError",
    "JobTimeoutError",
    "NotFoundError",
    "PermissionDeniedError",
    "QiboconnectionError",
    "RateLimitError",
    "RemoteExecutionException",
    "RequestTimeoutError",
    "ResultDecodeError",
    "ServerError",
]


class QiboconnectionError(Exception):
    """Base class of every error raised by qiboconnection."""


class ConnectionException(QiboconnectionError):
    """The service could not be reached (DNS, refused connection, timeout, broken transfer).

    Attributes:
        never_sent: True when the request provably never reached the service (the connection could
            not be made), so sending it again later cannot do anything twice.
    """

    never_sent: bool = False


class AnswerTooLargeError(ConnectionException):
    """An answer longer than the client reads (as sent or as decoded); it is not asked for again.

    Attributes:
        size: the bytes received (or announced) when the answer was refused.
        limit: the bound, ``QIBOCONNECTION_MAX_ANSWER_BYTES``.
    """

    def __init__(self, size: int, limit: int, *, decoded: bool = False) -> None:
        what = "inflates to more than" if decoded else "is longer than"
        super().__init__(
            f"The service's answer {what} {limit} bytes ({size} so far), the most this client reads; "
            "set QIBOCONNECTION_MAX_ANSWER_BYTES (or Settings.max_answer_bytes) higher to accept it"
        )
        self.size = size
        self.limit = limit


class RequestTimeoutError(ConnectionException):
    """An answer that was not complete within the request timeout (``QIBOCONNECTION_TIMEOUT``)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(
            f"The service's answer was not complete within {timeout:g} s (QIBOCONNECTION_TIMEOUT); "
            "the request was abandoned"
        )
        self.timeout = timeout


class RemoteExecutionException(QiboconnectionError):
    """The service answered with an error.

    Attributes:
        status_code: HTTP status of the answer.
        title: ``title`` of the problem document, when there was one.
        detail: ``detail`` of the problem document, when there was one.
        attempts: how many times the call was sent; above 1, an earlier attempt whose answer was lost
            or failed may have taken effect (a retried cancel can meet the job it already cancelled).
    """

    attempts: int = 1

    def __init__(
        self,
        message: str | dict[str, Any],
        status_code: int,
        *,
        title: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.title = title
        self.detail = detail


class InvalidRequestError(RemoteExecutionException):
    """The service refused the request as malformed or unprocessable (400, 413, 422)."""


class AuthenticationError(RemoteExecutionException):
    """The credentials or tokens were refused (401)."""


class PermissionDeniedError(RemoteExecutionException):
    """The user's role does not allow the operation (403)."""


class NotFoundError(RemoteExecutionException):
    """The record does not exist (404, or the hosted service's 400 saying "does not exist")."""


class ConflictError(RemoteExecutionException):
    """The request conflicts with the record's state (409)."""


class RateLimitError(RemoteExecutionException):
    """Too many requests (429); ``retry_after`` holds the server's advice in seconds, if any."""

    retry_after: float | None = None


class ServerError(RemoteExecutionException):
    """The service failed (5xx); ``retry_after`` holds the server's advice in seconds, if any."""

    retry_after: float | None = None


class DeviceNotAvailableError(QiboconnectionError, ValueError):
    """The device exists but does not take jobs now (it is not online)."""

    def __init__(self, device_id: int, device_name: str | None, status: Any) -> None:
        label = f"Device {device_id}" + (f" ({device_name})" if device_name else "")
        super().__init__(f"{label} is {status!s}, not online; it accepts no jobs now.")
        self.device_id = device_id
        self.status = status


class JobFailedError(QiboconnectionError):
    """A job ended with status ``error``; ``reason`` is the service's explanation."""

    def __init__(self, job_id: int, reason: str | None) -> None:
        super().__init__(f"Job {job_id} failed: {reason or 'the service gave no reason'}")
        self.job_id = job_id
        self.reason = reason


class JobTimeoutError(QiboconnectionError, TimeoutError):
    """Jobs did not finish within the time allowed; ``job_ids`` are the ones still unfinished."""

    def __init__(self, job_ids: list[int], timeout: float) -> None:
        ids = ", ".join(str(job_id) for job_id in job_ids)
        super().__init__(f"Jobs {ids} did not finish within {timeout:g} s.")
        self.job_ids = list(job_ids)
        self.timeout = timeout


class ResultDecodeError(QiboconnectionError, ValueError):
    """A job's result or description could not be decoded (corrupt, or over the size limit)."""

    def __init__(self, job_id: int | None, reason: str) -> None:
        where = f"job {job_id}" if job_id is not None else "payload"
        super().__init__(f"Could not decode {where}: {reason}")
        self.job_id = job_id
        self.reason = reason
