"""Waiting for jobs: backoff schedule, only pending jobs fetched, timeout, progress only on a terminal."""

from __future__ import annotations

import io

import pytest

from qiboconnection._sync.waiting import wait_for_jobs, wait_rounds
from qiboconnection.errors import JobTimeoutError
from qiboconnection.polling import Progress, is_final


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def test_final_statuses() -> None:
    assert all(is_final(status) for status in ("completed", "error", "cancelled", "canceled", "COMPLETED"))
    assert not any(is_final(status) for status in ("not sent", "pending", "queued", "running", None, 3))


def test_backoff_schedule_and_only_pending_jobs_are_fetched() -> None:
    clock = FakeClock()
    remaining = {1: 7, 2: 9}
    fetched: list[int] = []

    def fetch(job_id: int) -> dict:
        fetched.append(job_id)
        remaining[job_id] -= 1
        return {"job_id": job_id, "status": "completed" if remaining[job_id] <= 0 else "running"}

    records = wait_for_jobs([1, 2], fetch, timeout=100, interval=0.1, sleep=clock.sleep, clock=clock)
    assert {job_id: record["status"] for job_id, record in records.items()} == {
        1: "completed",
        2: "completed",
    }
    assert fetched == [1, 2] * 7 + [2, 2]
    # From 10 ms, x1.5 a round, up to the interval; job 1 finishing in the seventh round starts the
    # backoff again from the 50 ms floor.
    assert clock.sleeps == pytest.approx([0.01, 0.015, 0.0225, 0.03375, 0.050625, 0.0759375, 0.05, 0.075])


def test_jobs_finishing_every_round_never_make_polling_faster_than_the_floor() -> None:
    # 40 jobs, one finishing per round, polled as fast as allowed: after the first pauses grow to the
    # 50 ms floor, every pause stays there, so the number of rounds is bounded by the time taken.
    clock = FakeClock()
    rounds = 0

    def fetch_round(pending: list[int]) -> dict[int, dict]:
        nonlocal rounds
        rounds += 1
        return {job_id: {"status": "completed" if job_id <= rounds else "running"} for job_id in pending}

    wait_rounds(range(1, 41), fetch_round, timeout=100, interval=0, sleep=clock.sleep, clock=clock)
    assert rounds == 40
    assert clock.sleeps[:4] == pytest.approx([0.01, 0.015, 0.0225, 0.03375])
    assert all(pause >= 0.05 for pause in clock.sleeps[4:])
    assert len(clock.sleeps) == 39


def test_timeout_names_the_unfinished_jobs() -> None:
    clock = FakeClock()
    with pytest.raises(JobTimeoutError, match=r"Jobs 2 did not finish within 1 s") as caught:
        wait_for_jobs(
            [1, 2],
            lambda job_id: {"status": "completed" if job_id == 1 else "queued"},
            timeout=1,
            interval=60,
            sleep=clock.sleep,
            clock=clock,
        )
    assert caught.value.job_ids == [2]
    assert isinstance(caught.value, TimeoutError)
    assert sum(clock.sleeps) == pytest.approx(1.0)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_only_on_a_terminal() -> None:
    jobs = {1: {"status": "queued", "queue_position": 4}, 2: {"status": "running"}}
    terminal = Terminal()
    progress = Progress(terminal)
    progress.update(jobs, 12.3)
    progress.close()
    assert terminal.getvalue() == "\rJobs: 1 queued, 1 running, queue position 4 | 12 s\n"
    for stream, enabled in ((io.StringIO(), True), (Terminal(), False)):
        quiet = Progress(stream, enabled=enabled)
        quiet.update(jobs, 1.0)
        quiet.close()
        assert stream.getvalue() == ""


def test_pools_keep_order_bound_concurrency_and_raise_the_first_error() -> None:
    import asyncio
    import threading

    from qiboconnection.concurrency import AsyncPool, Pool
    from qiboconnection.errors import NotFoundError

    running, most = 0, 0
    lock = threading.Lock()
    called: list[int] = []

    def fetch(job_id: int) -> dict:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            called.append(job_id)
        try:
            if job_id == 13:
                raise NotFoundError("Job 13 not found", 404)
            threading.Event().wait(0.002)
            return {"job_id": job_id}
        finally:
            with lock:
                running -= 1

    ids = list(range(40, 0, -1))
    with Pool(4) as pool:
        assert pool.map(fetch, [i for i in ids if i != 13]) == [{"job_id": i} for i in ids if i != 13]
        called.clear()
        with pytest.raises(NotFoundError, match="Job 13"):
            pool.map(fetch, ids)
        # The error is raised once every item has run, each once.
        assert sorted(called) == sorted(ids)
    assert 1 < most <= 4

    async def afetch(job_id: int) -> dict:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.001)
        running -= 1
        if job_id == 13:
            raise NotFoundError("Job 13 not found", 404)
        return {"job_id": job_id}

    async def run() -> None:
        async with AsyncPool(3) as pool:
            assert await pool.map(afetch, [1, 2, 3, 4, 5]) == [{"job_id": i} for i in [1, 2, 3, 4, 5]]
            with pytest.raises(NotFoundError, match="Job 13"):
                await pool.map(afetch, ids)

    most = 0
    asyncio.run(run())
    assert most == 3


def test_watch_reports_each_status_once_with_the_queue_position_of_that_moment() -> None:
    from qiboconnection.polling import FETCH_FAILED, JobUpdate, Watch

    seen: list[JobUpdate] = []
    watch = Watch(seen.append)
    rounds = [
        {1: {"status": "queued", "queue_position": 3}, 2: {"status": "queued", "queue_position": 4}},
        {1: {"status": "queued", "queue_position": 1}, 2: FETCH_FAILED},
        {1: {"status": "running", "queue_position": 0}, 2: {"status": "queued", "queue_position": 2}},
        {1: {"status": "completed", "queue_position": 0}, 2: {"status": "error"}},
    ]
    for records in rounds:
        watch.observe(records)
    assert seen == [
        JobUpdate(1, "queued", 3),
        JobUpdate(2, "queued", 4),
        JobUpdate(1, "running", 0),
        JobUpdate(1, "completed", None),
        JobUpdate(2, "error", None),
    ]
