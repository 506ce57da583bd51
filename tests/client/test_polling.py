"""Waiting for jobs: backoff schedule, only pending jobs fetched, timeout, progress only on a terminal."""

from __future__ import annotations

import io

import pytest

from qiboconnection.errors import JobTimeoutError
from qiboconnection.polling import Progress, is_final, wait_for_jobs


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
    remaining = {1: 2, 2: 6}
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
    assert fetched == [1, 2, 1, 2, 2, 2, 2, 2]
    # Job 1 finishing in the second round starts the backoff again from the first delay.
    assert clock.sleeps == pytest.approx([0.05, 0.05, 0.075, 0.1, 0.1])


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
