"""What the client does when answers are lost or refused, against a real server: retried calls never
duplicate a job, a retried cancel that already worked succeeds, and giving up says how often it tried."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from qiboconnection.api import API
from qiboconnection.config import RetryPolicy, Settings
from qiboconnection.errors import ConflictError, ConnectionException, RateLimitError, ServerError
from qiboconnection.typings.connection import ConnectionConfiguration

from .support import job_rows, x_circuit

QUICK = RetryPolicy(max_attempts=4, budget=10.0, backoff_base=0.01, backoff_cap=0.05)


class LosingTransport(httpx.BaseTransport):
    """Sends every request to the real server, but loses the answer of the first ``lose`` requests
    matching ``method`` and ``path_part``: the server acted, the client sees a broken connection."""

    def __init__(self, method: str, path_part: str, lose: int = 1) -> None:
        self._real = httpx.HTTPTransport()
        self._method, self._path_part, self._left = method, path_part, lose
        self.lost: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._real.handle_request(request)
        if request.method == self._method and self._path_part in request.url.path and self._left > 0:
            self._left -= 1
            response.read()
            response.close()
            self.lost.append(request.headers.get("idempotency-key", ""))
            raise httpx.ReadError("connection reset while reading the answer", request=request)
        return response

    def close(self) -> None:
        self._real.close()


def _api(server: Any, transport: httpx.BaseTransport | None = None, **settings: Any) -> API:
    alice = server.users["alice"]
    return API(
        ConnectionConfiguration(username=alice.username, api_key=alice.api_key),
        settings=Settings(base_url=server.url, **{"retry": QUICK, "progress": False, **settings}),
        transport=transport,
    )


def test_lost_submission_answer_is_retried_with_the_same_key_and_gives_the_same_job(make_server):
    with make_server(workers=0) as server:
        transport = LosingTransport("POST", "/circuits", lose=2)
        with _api(server, transport) as api:
            job = api.submit(x_circuit("11"), device_id=1, nshots=4)
        rows = job_rows(server.db_path)
    assert len(transport.lost) == 2 and transport.lost[0] == transport.lost[1] != ""
    assert [row[0] for row in rows] == [job.id]


def test_without_idempotency_keys_a_lost_submission_answer_is_not_retried(make_server):
    with make_server(workers=0) as server:
        transport = LosingTransport("POST", "/circuits")
        with (
            _api(server, transport, send_idempotency_key=False) as api,
            pytest.raises(ConnectionException, match="submit a circuit job") as lost,
        ):
            api.submit(x_circuit("11"), device_id=1, nshots=4)
        rows = job_rows(server.db_path)
    # The job was created once; the client did not send it again, and said it could not know.
    assert transport.lost == [""]
    assert len(rows) == 1
    assert "ReadError" in str(lost.value)


def test_without_idempotency_keys_a_refused_connection_is_retried(make_server, tmp_path):
    class RefusingFirst(httpx.BaseTransport):
        def __init__(self) -> None:
            self._real, self.refused = httpx.HTTPTransport(), 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and "/circuits" in request.url.path and not self.refused:
                self.refused += 1
                raise httpx.ConnectError("connection refused", request=request)
            return self._real.handle_request(request)

    with make_server(workers=0) as server:
        transport = RefusingFirst()
        with _api(server, transport, send_idempotency_key=False) as api:
            job = api.submit(x_circuit("01"), device_id=1, nshots=4)
        assert transport.refused == 1
        assert [row[0] for row in job_rows(server.db_path)] == [job.id]


def test_a_retried_cancel_that_already_worked_succeeds(make_server):
    with make_server(workers=0) as server:
        transport = LosingTransport("PUT", "/jobs/cancel/")
        with _api(server, transport) as api:
            job = api.submit(x_circuit("10"), device_id=1, nshots=4)
            api.cancel_job(job.id)  # first answer lost; the retry meets 409, the job is cancelled
            assert transport.lost == [""]
            assert api.get_job(job.id).status == "cancelled"
            # Asked again, in one attempt, the 409 stands: nothing says this call cancelled it.
            with pytest.raises(ConflictError, match="cancelled") as again:
                api.cancel_job(job.id)
            assert again.value.attempts == 1
    # A job that completed cannot be cancelled: that 409 stays an error.
    with make_server(workers=1) as server, _api(server) as api:
        done = api.submit(x_circuit("10"), device_id=1, nshots=4)
        api.wait([done], timeout=30, interval=0.1)
        with pytest.raises(ConflictError, match="completed"):
            api.cancel_job(done.id)


def test_giving_up_says_how_many_attempts_were_made(make_server):
    with make_server(workers=0, fault_rate=1.0, fault_kinds=("503",)) as server:
        with pytest.raises(ServerError, match=r"gave up after 4 attempts") as failed:
            _api(server)
        assert failed.value.status_code == 503
        assert sum(server.app.faults.counts.values()) == 4


def test_retry_after_is_honoured_end_to_end(make_server):
    policy = RetryPolicy(max_attempts=3, budget=10.0, backoff_base=0.001, backoff_cap=0.001)
    with make_server(workers=0, fault_rate=1.0, fault_kinds=("429",), fault_retry_after=1) as server:
        alice = server.users["alice"]
        started = time.monotonic()
        with pytest.raises(RateLimitError, match="gave up after 3 attempts"):
            API(
                ConnectionConfiguration(username=alice.username, api_key=alice.api_key),
                settings=Settings(base_url=server.url, retry=policy, progress=False),
            )
        # Two waits of the advised second each, though the policy's own backoff is a millisecond.
        assert time.monotonic() - started >= 2.0


def test_the_local_server_says_it_honours_keys_and_the_client_listens(qaas_server):
    alice = qaas_server.users["alice"]
    answer = httpx.post(
        f"{qaas_server.url}/api/v1/authorisation-tokens",
        json={"grantType": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "e30", "scope": "x"},
    )
    assert "X-Idempotency-Keys" not in answer.headers  # refused logins advertise nothing
    with _api(qaas_server) as api:
        api.list_devices()
        assert api._auth.username == alice.username
        assert api._auth.honours_idempotency_keys


class RefusingTransport(httpx.BaseTransport):
    """Answers a seeded share of submissions ``status`` with ``Retry-After: 0`` before they reach the
    real server (the service did not take them, as RFC 9110 says a 503 means); the rest go through."""

    def __init__(self, share: float, status: int = 503, seed: int = 11) -> None:
        import random

        self._real = httpx.HTTPTransport()
        self._rng = random.Random(seed)
        self._share, self._status = share, status
        self.refused = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (
            request.method == "POST"
            and request.url.path.endswith("/circuits")
            and self._rng.random() < self._share
        ):
            self.refused += 1
            body = {"title": "Service Unavailable", "status": self._status, "detail": "try again"}
            return httpx.Response(self._status, json=body, headers={"Retry-After": "0"}, request=request)
        return self._real.handle_request(request)

    def close(self) -> None:
        self._real.close()


@pytest.mark.parametrize("status", [503, 429])
def test_a_campaign_through_refusals_keeps_every_submission_once(make_server, status: int) -> None:
    with make_server(workers=0) as server:
        transport = RefusingTransport(0.25, status)
        patient = RetryPolicy(max_attempts=8, budget=10.0, backoff_base=0.01, backoff_cap=0.05)
        with _api(server, transport, send_idempotency_key=False, retry=patient) as api:
            ids = [api.execute(qprogram="{}", device_id=1, nshots=3, name=f"campaign-{n}") for n in range(30)]
        rows = job_rows(server.db_path)
    assert transport.refused >= 5
    assert len(set(ids)) == 30
    assert sorted(row[0] for row in rows) == sorted(ids)
    assert [row[2] for row in rows] == [f"campaign-{n}" for n in range(30)]
