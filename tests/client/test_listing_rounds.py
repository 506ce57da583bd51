"""Waiting reads one job listing per round and fetches each job once; device checks reuse the device.

Requests are counted on the wire by a transport that records each one, against the real local server.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from qibo import Circuit, gates

from qiboconnection._sync.waiting import listing_round
from qiboconnection.api import API
from qiboconnection.async_api import AsyncAPI
from qiboconnection.config import Settings
from qiboconnection.errors import DeviceNotAvailableError, InvalidRequestError, QiboconnectionError
from qiboconnection.models.devices import Device
from qiboconnection.operations import DEVICE_INFO_SECONDS, DeviceInfo
from qiboconnection.polling import ListingRounds
from qiboconnection.typings.connection import ConnectionConfiguration

from .conftest import FAST_RETRY

SIMULATOR = 1
JOB = re.compile(r"^/api/v1/jobs/(\d+)$")


def bell() -> Circuit:
    circuit = Circuit(2)
    circuit.add([gates.H(0), gates.CNOT(0, 1), gates.M(0, 1)])
    return circuit


def kind(request: httpx.Request) -> str:
    """What a request asks: ``list jobs``, ``get job N``, ``get device``, ``submit``, ..."""
    path = request.url.path
    if request.method == "GET" and path == "/api/v1/jobs":
        return "list jobs"
    if request.method == "GET" and (match := JOB.match(path)):
        return f"get job {match[1]}"
    if request.method == "GET" and path.startswith("/api/v1/devices/"):
        return "get device"
    if request.method == "POST" and path == "/api/v1/circuits":
        return "submit"
    return f"{request.method} {path}"


class CountingTransport(httpx.HTTPTransport):
    """httpx's transport of a synchronous session, recording what each request asks."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(kind(request))
        return super().handle_request(request)


class AsyncCountingTransport(httpx.AsyncHTTPTransport):
    """httpx's transport of an asynchronous session, recording what each request asks."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(kind(request))
        return await super().handle_async_request(request)


def settings(server: Any) -> Settings:
    return Settings(base_url=server.url, retry=FAST_RETRY, progress=False)


def counted(server: Any, username: str) -> tuple[API, CountingTransport]:
    credential = server.users[username]
    transport = CountingTransport()
    api = API(
        ConnectionConfiguration(credential.username, credential.api_key),
        settings=settings(server),
        transport=transport,
    )
    transport.seen.clear()  # the login
    return api, transport


class Sleeps:
    """Counts the pauses between polling rounds (and pauses for real)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, seconds: float) -> None:
        self.count += 1
        time.sleep(seconds)


def assert_fetched_once_each(counts: Counter[str], ids: list[int]) -> None:
    """Every job fetched once, when final; only a job left alone to wait for is fetched directly each round."""
    fetches = [counts[f"get job {job_id}"] for job_id in ids]
    assert all(fetched >= 1 for fetched in fetches)
    assert sum(fetched > 1 for fetched in fetches) <= 1, fetches


def test_wait_reads_one_listing_per_round_and_fetches_each_job_once(qaas_server: Any) -> None:
    api, transport = counted(qaas_server, "alice")
    with api:
        circuit = bell()
        ids = [api.execute(circuit, nshots=5, device_id=SIMULATOR) for _ in range(6)]
        # One device check for the six submissions: the device passed, so its record is reused.
        assert Counter(transport.seen) == Counter({"get device": 1, "submit": 6})
        transport.seen.clear()
        sleeps = Sleeps()
        api._sleep = sleeps
        jobs = api.wait(ids, timeout=60, interval=0.05)
    assert [job.job_id for job in jobs] == ids
    assert all(job.status == "completed" for job in jobs)
    assert all(job.result is not None for job in jobs)
    counts = Counter(transport.seen)
    rounds = sleeps.count + 1
    # Each round that still had several jobs read one listing page; each job was fetched once.
    assert 1 <= counts["list jobs"] <= rounds
    assert_fetched_once_each(counts, ids)
    assert set(counts) <= {"list jobs"} | {f"get job {job_id}" for job_id in ids}


def test_jobs_missing_from_the_listing_are_fetched_on_their_own(qaas_server: Any) -> None:
    """An admin waiting on a user's jobs: the admin's listing does not hold them, so nothing hangs."""
    api, transport = counted(qaas_server, "alice")
    with api:
        ids = [api.execute(bell(), nshots=5, device_id=SIMULATOR) for _ in range(3)]
    admin, seen = counted(qaas_server, "admin")
    with admin:
        jobs = admin.wait(ids, timeout=60, interval=0.05)
    assert [job.status for job in jobs] == ["completed"] * 3
    counts = Counter(seen.seen)
    # Only the first round looked in the listing; the jobs it did not show were then fetched directly.
    assert counts["list jobs"] == 1
    assert all(counts[f"get job {job_id}"] >= 1 for job_id in ids)
    assert transport.seen.count("get device") == 1


def test_async_batch_lists_once_per_round_and_checks_the_device_once(qaas_server: Any) -> None:
    credential = qaas_server.users["bob"]

    async def run() -> tuple[list[Any], list[str], list[Any]]:
        transport = AsyncCountingTransport()
        async with AsyncAPI(
            ConnectionConfiguration(credential.username, credential.api_key),
            settings=settings(qaas_server),
            transport=transport,
        ) as api:
            outcomes = await api.run_batch([bell() for _ in range(8)], device_id=SIMULATOR, nshots=5)
            ids = [outcome.job_id for outcome in outcomes]
            more = await api.run_batch([bell() for _ in range(2)], device_id=SIMULATOR, nshots=5)
            return outcomes + more, transport.seen, ids

    outcomes, seen, ids = asyncio.run(run())
    assert all(outcome.ok for outcome in outcomes)
    counts = Counter(seen)
    # Two batches within the device's reuse time: one device check in all.
    assert counts["get device"] == 1
    assert counts["submit"] == 10
    assert_fetched_once_each(counts, ids)
    assert counts["list jobs"] >= 1


def test_a_device_gone_into_maintenance_is_refused_with_the_same_error(make_server: Any) -> None:
    with make_server(workers=0) as server:
        api, transport = counted(server, "alice")
        admin, _ = counted(server, "admin")
        with api, admin:
            api.execute(bell(), nshots=5, device_id=SIMULATOR)
            admin.set_device_to_maintenance(SIMULATOR)
            transport.seen.clear()
            # The kept record says online; the service refuses (409) and a fresh check says why.
            with pytest.raises(DeviceNotAvailableError, match="is maintenance, not online"):
                api.execute(bell(), nshots=5, device_id=SIMULATOR)
            assert transport.seen == ["submit", "get device"]
            transport.seen.clear()
            with pytest.raises(DeviceNotAvailableError, match="is maintenance, not online"):
                api.execute(bell(), nshots=5, device_id=SIMULATOR)
            assert transport.seen == ["get device"]
            admin.set_device_to_online(SIMULATOR)
            transport.seen.clear()
            api.execute(bell(), nshots=5, device_id=SIMULATOR)
            assert transport.seen == ["get device", "submit"]
            assert len(api.jobs) == 2


def test_a_refusal_that_is_not_the_devices_stands(qaas_server: Any) -> None:
    api, transport = counted(qaas_server, "alice")
    with api:
        api.execute(bell(), nshots=5, device_id=SIMULATOR)
        transport.seen.clear()
        with pytest.raises(InvalidRequestError):
            api._send(_bad_submission(), SIMULATOR)
        # The device was checked again (it is fine), and the service's own refusal was raised.
        assert transport.seen == ["submit", "get device"]


def _bad_submission() -> Any:
    from qiboconnection.operations import Submission

    return Submission(
        job_type="circuit", description="not an envelope", nshots=5, device_ids=[SIMULATOR], single=True
    )


# -- the round logic on its own ---------------------------------------------------------------------------


def page(ids: list[int], status: str = "running", last: bool = True, number: int = 1) -> dict[str, Any]:
    following = "page=None" if last else f"http://x/api/v1/jobs?page={number + 1}&per_page={len(ids)}"
    return {"items": [{"id": i, "status": status} for i in ids], "links": {"next": following}}


def test_pages_are_followed_only_until_every_job_is_seen() -> None:
    rounds = ListingRounds(page_size=3)
    pages = {1: page([9, 8, 7], last=False), 2: page([6, 5, 4], "completed", last=False, number=2)}
    asked: list[tuple[int, int]] = []

    def list_page(number: int, size: int) -> dict[str, Any]:
        asked.append((number, size))
        return pages[number]

    fetched: list[list[int]] = []

    def fetch(ids: list[int]) -> dict[int, Any]:
        fetched.append(ids)
        return {i: {"id": i, "status": "completed"} for i in ids}

    entries = listing_round(rounds, [8, 5], list_page, fetch)
    assert asked == [(1, 3), (2, 3)]
    assert fetched == [[5]]
    assert entries[8]["status"] == "running" and entries[5]["status"] == "completed"


def test_pages_are_sized_to_the_jobs_looked_for() -> None:
    rounds = ListingRounds()
    newest = list(range(1300, 0, -1))
    asked: list[tuple[int, int]] = []

    def list_page(number: int, size: int) -> dict[str, Any]:
        asked.append((number, size))
        ids = newest[(number - 1) * size : number * size]
        return page(ids, last=number * size >= len(newest), number=number)

    def fetch(ids: list[int]) -> dict[int, Any]:
        return {i: {"id": i, "status": "running"} for i in ids}

    # 200 jobs just submitted, the newest: one page of 250 summaries.
    listing_round(rounds, list(range(1300, 1100, -1)), list_page, fetch)
    assert asked == [(1, 250)] and rounds.reach == 200
    # 100 older jobs, 300 newer ones above them: pages as deep as the last round reached and a quarter
    # more (250) until the oldest is seen; the next round asks for pages as deep as that (400) and a
    # quarter more.
    asked.clear()
    listing_round(rounds, list(range(1000, 900, -1)), list_page, fetch)
    assert asked == [(1, 250), (2, 250)] and rounds.reach == 400
    asked.clear()
    listing_round(rounds, list(range(1000, 900, -1)), list_page, fetch)
    assert asked == [(1, 500)]
    # However many jobs, a page is never over the service's most.
    assert ListingRounds().first_page(5000) == (1, 1000)
    assert ListingRounds().first_page(2) == (1, 50)


def test_a_job_older_than_the_page_is_not_searched_for_further() -> None:
    rounds = ListingRounds(page_size=3)
    asked: list[int] = []

    def list_page(number: int, size: int) -> dict[str, Any]:
        asked.append(number)
        return page([9, 7, 6], last=False)

    entries = listing_round(rounds, [9, 8], list_page, lambda ids: {i: {"status": "completed"} for i in ids})
    # Job 8 lies between 9 and 6 but is not listed: it is not on a later page either.
    assert asked == [1]
    assert rounds.unlisted == {8}
    assert entries[8]["status"] == "completed"
    assert rounds.wanted([9, 8]) == set()  # one job left to look for: fetched directly


def test_a_failing_listing_falls_back_to_fetching_each_job() -> None:
    rounds = ListingRounds()

    def list_page(number: int, size: int) -> dict[str, Any]:
        raise QiboconnectionError("listing is down")

    fetched: list[list[int]] = []

    def fetch(ids: list[int]) -> dict[int, Any]:
        fetched.append(ids)
        return {i: {"status": "queued"} for i in ids}

    listing_round(rounds, [1, 2, 3], list_page, fetch)
    assert fetched == [[1, 2, 3]]
    assert not rounds.listing
    assert rounds.wanted([1, 2, 3]) == set()


def test_device_records_are_kept_for_a_while() -> None:
    now = [0.0]
    info = DeviceInfo(clock=lambda: now[0])
    device = Device({"id": 4, "name": "Sim", "status": "online"})
    info.keep(device)
    assert info.get(4) is device
    now[0] = DEVICE_INFO_SECONDS - 0.1
    assert info.get(4) is device
    now[0] = DEVICE_INFO_SECONDS + 0.1
    assert info.get(4) is None
    info.keep(device)
    info.forget(4)
    assert info.get(4) is None
    assert 10 <= DEVICE_INFO_SECONDS <= 30


def test_listing_pages_of_odd_shapes_end_the_search() -> None:
    rounds = ListingRounds()
    for body in (None, [], {"items": None}, {"items": [{"id": 1, "status": "queued"}], "links": ["next"]}):
        seen: dict[int, Any] = {}
        assert rounds.read(body, {1, 2}, seen) is None
    assert rounds.read({"items": [{"id": True}, "x", {"job_id": 2, "status": "queued"}]}, {2}, seen) is None
    assert seen[2]["status"] == "queued"
