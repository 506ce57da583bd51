"""Retries in the one call wrapper: which failures, how long to wait, when to give up."""

from __future__ import annotations

import itertools
import re

import httpx
import pytest

from qiboconnection._sync.calls import retrying
from qiboconnection.config import RetryPolicy
from qiboconnection.errors import ConnectionException, InvalidRequestError, RateLimitError, ServerError
from qiboconnection.operations import Retry
from qiboconnection.polling import next_page

from .fakes import FakeHosted, json_response, problem

DEVICE = {"id": 1, "name": "sim", "status": "online", "type": "simulator_device", "number_pending_jobs": 0}


def scripted(*answers: httpx.Response | Exception):
    """A handler that plays ``answers`` in order, then repeats the last one."""
    queue = list(answers)

    def handler(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


def test_get_retried_after_503_and_429_honouring_retry_after() -> None:
    fake = FakeHosted()
    fake.routes["GET /api/v1/devices/(\\d+)"] = scripted(
        problem(503, "restarting", headers={"Retry-After": "2"}),
        problem(429, "slow down", headers={"Retry-After": "1"}),
        json_response(DEVICE),
    )
    api = fake.api()
    waits: list[float] = []
    api._sleep = waits.append
    api.select_device_ids([1])
    assert waits == [2.0, 1.0]
    assert len(fake.sent("GET", "/api/v1/devices/1")) == 3


def test_backoff_without_retry_after_grows_and_is_capped() -> None:
    fake = FakeHosted()
    fake.routes["GET /api/v1/devices/(\\d+)"] = scripted(
        problem(500, "boom"), problem(502, "boom"), problem(504, "boom"), json_response(DEVICE)
    )
    api = fake.api(retry=RetryPolicy(max_attempts=4, budget=100, backoff_base=1.0, backoff_cap=3.0))
    waits: list[float] = []
    api._sleep = waits.append
    api.select_device_ids([1])
    assert len(waits) == 3
    assert 0.5 <= waits[0] <= 1.0
    assert 1.0 <= waits[1] <= 2.0
    assert 1.5 <= waits[2] <= 3.0


def test_gives_up_after_max_attempts_saying_so() -> None:
    fake = FakeHosted()
    fake.routes["GET /api/v1/devices/(\\d+)"] = scripted(problem(503, "down for maintenance"))
    api = fake.api()
    api._sleep = lambda _: None
    with pytest.raises(
        ServerError, match=r"down for maintenance \(HTTP 503\) \(gave up after 4 attempts"
    ) as caught:
        api.select_device_ids([1])
    assert caught.value.status_code == 503
    assert len(fake.sent("GET", "/api/v1/devices/1")) == 4


def test_retry_after_beyond_the_budget_stops_at_once() -> None:
    fake = FakeHosted()
    fake.routes["GET /api/v1/devices/(\\d+)"] = scripted(
        problem(429, "later", headers={"Retry-After": "120"})
    )
    api = fake.api(retry=RetryPolicy(max_attempts=4, budget=30))
    api._sleep = lambda _: pytest.fail("must not wait beyond the budget")
    with pytest.raises(RateLimitError, match=r"gave up after 1 attempt.*exceed the retry budget"):
        api.select_device_ids([1])


def test_client_errors_are_not_retried() -> None:
    fake = FakeHosted()
    fake.routes["GET /api/v1/devices/(\\d+)"] = scripted(problem(422, "nope"))
    api = fake.api()
    with pytest.raises(InvalidRequestError, match="nope"):
        api.select_device_ids([1])
    assert len(fake.sent("GET", "/api/v1/devices/1")) == 1


def test_transport_errors_on_get_are_retried_then_reported() -> None:
    fake = FakeHosted()
    fake.routes["GET /api/v1/devices/(\\d+)"] = scripted(httpx.ReadTimeout("slow"), json_response(DEVICE))
    api = fake.api()
    api._sleep = lambda _: None
    api.select_device_ids([1])
    fake.routes["GET /api/v1/devices/(\\d+)"] = scripted(httpx.ConnectError("refused"))
    with pytest.raises(ConnectionException, match=r"ConnectError: refused.*gave up after 4 attempts"):
        api.select_device_ids([1])


def test_answers_the_generated_parser_cannot_read_are_still_mapped() -> None:
    fake = FakeHosted()
    fake.routes["GET /api/v1/devices/(\\d+)"] = scripted(
        httpx.Response(502, text="<html>bad gateway</html>"),
        httpx.Response(520, text="cloudflare says no"),
        json_response(DEVICE),
    )
    api = fake.api()
    api._sleep = lambda _: None
    api.select_device_ids([1])
    assert len(fake.sent("GET", "/api/v1/devices/1")) == 3


def submission_fake(*answers: httpx.Response | Exception, honours_keys: bool = True) -> FakeHosted:
    fake = FakeHosted(advertises_idempotency_keys=honours_keys)
    fake.routes["GET /api/v1/devices/(\\d+)"] = lambda request, match: json_response(DEVICE)
    fake.routes["POST /api/v1/circuits"] = scripted(*answers)
    return fake


def test_submission_reuses_one_idempotency_key_across_retries() -> None:
    fake = submission_fake(
        problem(503, "busy"), httpx.RemoteProtocolError("dropped"), json_response({"job_id": 77}, 201)
    )
    api = fake.api()
    api._sleep = lambda _: None
    assert api.execute(qprogram="{}", device_id=1) == 77
    posts = fake.sent("POST", "/api/v1/circuits")
    keys = {request.headers.get("idempotency-key") for request in posts}
    assert len(posts) == 3
    assert len(keys) == 1
    assert re.fullmatch(r"[0-9a-f-]{36}", keys.pop() or "")
    assert [job.id for job in api.jobs] == [77]


@pytest.mark.parametrize("lost", [problem(502, "bad gateway"), httpx.RemoteProtocolError("dropped")])
def test_lost_submission_answer_is_not_resent_to_a_service_that_ignores_keys(lost) -> None:
    fake = submission_fake(lost, json_response({"job_id": 78}, 201), honours_keys=False)
    api = fake.api()
    api._sleep = lambda _: None
    with pytest.raises((ServerError, ConnectionException)):
        api.execute(qprogram="{}", device_id=1)
    posts = fake.sent("POST", "/api/v1/circuits")
    assert len(posts) == 1
    assert posts[0].headers.get("idempotency-key")
    assert api.jobs == []


def test_resending_can_be_forced_for_a_service_known_to_honour_keys() -> None:
    fake = submission_fake(problem(503, "busy"), json_response({"job_id": 79}, 201), honours_keys=False)
    api = fake.api(resend_submissions=True)
    api._sleep = lambda _: None
    assert api.execute(qprogram="{}", device_id=1) == 79
    assert len(fake.sent("POST", "/api/v1/circuits")) == 2


def test_refused_connection_is_resent_even_to_a_service_that_ignores_keys() -> None:
    fake = submission_fake(
        httpx.ConnectError("refused"), json_response({"job_id": 80}, 201), honours_keys=False
    )
    api = fake.api()
    api._sleep = lambda _: None
    assert api.execute(qprogram="{}", device_id=1) == 80


def test_each_submission_gets_its_own_key() -> None:
    fake = submission_fake(json_response({"job_id": 1}, 201))
    api = fake.api()
    api.execute(qprogram="{}", device_id=1)
    api.execute(qprogram="{}", device_id=1)
    keys = [request.headers["idempotency-key"] for request in fake.sent("POST", "/api/v1/circuits")]
    assert len(set(keys)) == 2


def test_submission_without_key_retries_only_connection_failures() -> None:
    fake = submission_fake(httpx.ConnectError("refused"), json_response({"job_id": 5}, 201))
    api = fake.api(send_idempotency_key=False)
    api._sleep = lambda _: None
    assert api.execute(qprogram="{}", device_id=1) == 5
    assert "idempotency-key" not in fake.sent("POST", "/api/v1/circuits")[-1].headers
    fake.routes["POST /api/v1/circuits"] = scripted(problem(500, "broken"), json_response({"job_id": 6}, 201))
    with pytest.raises(ServerError, match="broken"):
        api.execute(qprogram="{}", device_id=1)
    fake.routes["POST /api/v1/circuits"] = scripted(
        httpx.ReadTimeout("lost"), json_response({"job_id": 6}, 201)
    )
    with pytest.raises(ConnectionException, match="ReadTimeout"):
        api.execute(qprogram="{}", device_id=1)


@pytest.mark.parametrize("status", [503, 429])
def test_a_submission_the_service_did_not_take_is_resent_without_the_key_handshake(status: int) -> None:
    fake = submission_fake(
        problem(status, "not now", headers={"Retry-After": "0"}),
        json_response({"job_id": 8}, 201),
        honours_keys=False,
    )
    api = fake.api()
    api._sleep = lambda _: None
    assert api.execute(qprogram="{}", device_id=1) == 8
    assert len(fake.sent("POST", "/api/v1/circuits")) == 2


def test_retrying_respects_the_total_budget_with_a_fake_clock() -> None:
    ticks = itertools.count(0, 10)
    attempts = []

    def attempt() -> None:
        attempts.append(1)
        raise httpx.ConnectError("refused")

    with pytest.raises(ConnectionException, match="gave up after 3 attempts"):
        retrying(
            attempt,
            policy=RetryPolicy(max_attempts=10, budget=25, backoff_base=0.001),
            mode=Retry.CONNECT_ONLY,
            what="connect",
            sleep=lambda _: None,
            clock=lambda: float(next(ticks)),
        )
    assert len(attempts) == 3


def test_next_page_links() -> None:
    assert next_page("https://x/api/v1/jobs?page=2&per_page=50") == (2, 50)
    assert next_page("https://x/api/v1/jobs?page=None&per_page=50") is None
    assert next_page(None) is None
    assert next_page("https://x/api/v1/jobs?per_page=50") is None
    assert next_page("https://x/api/v1/jobs?page=3") == (3, None)


@pytest.mark.parametrize(
    ("failures", "never_sent"),
    [
        ([httpx.ConnectError("refused")] * 3, True),
        (
            [httpx.ReadError("answer lost"), httpx.ConnectError("refused"), httpx.ConnectError("refused")],
            False,
        ),
    ],
)
def test_a_request_passes_for_never_sent_only_when_no_attempt_may_have_reached_the_service(
    failures: list[Exception], never_sent: bool
) -> None:
    left = iter(failures)

    def attempt() -> None:
        raise next(left)

    with pytest.raises(ConnectionException, match="gave up after 3 attempts") as raised:
        retrying(
            attempt,
            policy=RetryPolicy(max_attempts=3, budget=10, backoff_base=0.001),
            mode=Retry.IDEMPOTENT,
            what="submit",
            sleep=lambda _: None,
        )
    assert raised.value.never_sent is never_sent
