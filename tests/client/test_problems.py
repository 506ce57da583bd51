"""Error answers become the right exception, with the service's detail in the message."""

from __future__ import annotations

import pytest

from qiboconnection import errors
from qiboconnection.problems import error_for, is_expired_token_answer, parse_retry_after

PROBLEM = b'{"title": "T", "status": %d, "detail": "the detail"}'


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.InvalidRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (413, errors.InvalidRequestError),
        (422, errors.InvalidRequestError),
        (429, errors.RateLimitError),
        (500, errors.ServerError),
        (503, errors.ServerError),
        (520, errors.ServerError),
        (418, errors.RemoteExecutionException),
    ],
)
def test_status_picks_the_class(status: int, cls: type[Exception]) -> None:
    error = error_for(status, PROBLEM % status, {}, what="do the thing")
    assert type(error) is cls
    assert isinstance(error, errors.RemoteExecutionException)
    assert isinstance(error, errors.QiboconnectionError)
    assert error.status_code == status
    assert error.title == "T"
    assert error.detail == "the detail"
    assert str(error) == f"Could not do the thing: the detail (HTTP {status})"


def test_hosted_missing_job_400_is_not_found() -> None:
    body = b'{"title": "Bad Request", "status": 400, "detail": "Requested job with \'job_id\': 8310, does not exist."}'
    error = error_for(400, body, {}, what="get job 8310")
    assert isinstance(error, errors.NotFoundError)
    assert "8310, does not exist" in str(error)


def test_body_that_is_not_json() -> None:
    error = error_for(502, b"<html>Bad Gateway</html>", {}, what="list devices")
    assert isinstance(error, errors.ServerError)
    assert "<html>Bad Gateway</html>" in str(error)
    assert error.title is None
    empty = error_for(503, b"", {}, what="list devices")
    assert "HTTP 503" in str(empty)


def test_retry_after_seconds_and_date() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    error = error_for(429, PROBLEM % 429, {"retry-after": "2"}, what="x")
    assert isinstance(error, errors.RateLimitError)
    assert error.retry_after == 2.0


def test_expired_token_answers() -> None:
    assert is_expired_token_answer(401, b"")
    assert is_expired_token_answer(400, b'{"detail": "Token has expired"}')
    assert not is_expired_token_answer(400, b'{"detail": "number_shots must be positive"}')
    assert not is_expired_token_answer(403, b'{"detail": "token"}')


def test_job_errors_and_timeouts() -> None:
    failed = errors.JobFailedError(4, "Circuit 0 uses 21 qubits")
    assert str(failed) == "Job 4 failed: Circuit 0 uses 21 qubits"
    timeout = errors.JobTimeoutError([1, 2], 0.5)
    assert isinstance(timeout, TimeoutError)
    assert timeout.job_ids == [1, 2]
    assert isinstance(errors.DeviceNotAvailableError(2, "G", "maintenance"), ValueError)
