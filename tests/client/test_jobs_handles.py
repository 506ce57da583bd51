"""Job handles, waits with interval 0 and the synchronous batch, over real HTTP against the local server."""

from __future__ import annotations

import io
import re
from collections import Counter
from typing import Any

import pytest

from qiboconnection.api import API
from qiboconnection.errors import (
    ConflictError,
    DeviceNotAvailableError,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
)
from qiboconnection.models.jobs import JobData
from qiboconnection.polling import Progress
from qiboconnection.remote_job import RemoteJob

from .circuits import SIMULATOR, bell, flip, wide
from .conftest import connect


def test_submit_status_wait_result_refresh(alice: API) -> None:
    job = alice.submit(circuit=bell(), device_id=SIMULATOR, nshots=50, name="handle")
    assert isinstance(job, RemoteJob)
    assert job.id == job.job_id == alice.last_job.id
    assert job.device_id == SIMULATOR
    assert job.data is None and not job.done
    assert job.status() in {"queued", "running", "completed"}
    record = job.wait(timeout=30, interval=0)
    assert isinstance(record, JobData)
    assert record.status == "completed" and job.done
    [result] = job.result()
    counts = result.frequencies()
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 50
    assert job.refresh() is job
    assert job.data.name == "handle"
    assert job.queue_position is None or job.queue_position >= 0


def test_submit_to_several_devices_gives_a_list(alice: API) -> None:
    with pytest.warns(DeprecationWarning, match="device_ids"):
        jobs = alice.submit(circuit=flip(), device_ids=[SIMULATOR, SIMULATOR], nshots=2)
    assert isinstance(jobs, list) and len(jobs) == 2
    assert jobs[0].id != jobs[1].id
    finished = alice.wait(jobs, timeout=30, interval=0)
    assert [job.job_id for job in finished] == [job.id for job in jobs]
    assert all(job.result[0].frequencies() == Counter({"1": 2}) for job in finished)


def test_failed_job_result_raises_with_the_reason(alice: API) -> None:
    job = alice.submit(circuit=wide(), device_id=SIMULATOR)
    with pytest.raises(JobFailedError, match="21 qubits") as caught:
        job.result(timeout=30, interval=0.1)
    assert caught.value.job_id == job.id
    assert job.last_status == "error"


def test_interval_zero_is_accepted_and_negative_refused(alice: API) -> None:
    [[result]] = alice.execute_and_return_results(circuit=flip(), device_id=SIMULATOR, nshots=3, interval=0)
    assert result.frequencies() == Counter({"1": 3})
    job_id = alice.execute(circuit=flip(), device_id=SIMULATOR)
    [job] = alice.wait([job_id], timeout=30, interval=0)
    assert job.status == "completed"
    before = len(alice.jobs)
    for bad in ({"interval": -1}, {"interval": float("nan")}, {"timeout": -5}):
        with pytest.raises(ValueError, match="must be a positive number"):
            alice.execute_and_return_results(circuit=flip(), device_id=SIMULATOR, **bad)
    with pytest.raises(ValueError, match="interval"):
        alice.wait([job_id], interval=-0.5)
    with pytest.raises(ValueError, match="timeout"):
        alice.submit(circuit=flip(), device_id=SIMULATOR).result(timeout=0)
    assert len(alice.jobs) == before + 1


def test_cancel_queue_position_and_timeout(make_server: Any) -> None:
    with make_server(workers=0) as server, connect(server, "alice") as api:
        first = api.submit(circuit=bell(), device_id=SIMULATOR)
        second = api.submit(circuit=bell(), device_id=SIMULATOR)
        assert first.status() == "queued"
        assert second.queue_position is None  # nothing fetched yet
        assert second.refresh() is second
        assert isinstance(second.queue_position, int)
        assert second.queue_position > first.queue_position
        with pytest.raises(JobTimeoutError) as caught:
            second.wait(timeout=0.2, interval=0)
        assert caught.value.job_ids == [second.id]
        first.cancel()
        assert first.data is None
        assert first.status() == "cancelled"
        with pytest.raises(JobFailedError, match="cancelled"):
            first.result(timeout=5)
        with pytest.raises(ConflictError):
            first.cancel()
        missing = RemoteJob(api, 987654)
        with pytest.raises(NotFoundError):
            missing.status()


def test_sync_batch_keeps_order_and_failures(alice: API, qaas_server: Any) -> None:
    items: list[Any] = [bell() for _ in range(12)]
    items[3] = wide()
    items[7] = "not a circuit"
    outcomes = alice.run_batch(items, SIMULATOR, nshots=8, max_parallel=4, timeout=60, interval=0.2)
    assert [outcome.index for outcome in outcomes] == list(range(12))
    assert [outcome.ok for outcome in outcomes] == [n not in {3, 7} for n in range(12)]
    # 10 small circuits, 4 jobs at once: packs of at most 3 consecutive circuits; the wide circuit and
    # the item that is not a circuit end a pack.
    packs = {
        "batch-0-2": range(3),
        "batch-4-6": range(4, 7),
        "batch-8-9": range(8, 10),
        "batch-10-11": range(10, 12),
    }
    for outcome in outcomes:
        if outcome.ok:
            counts = outcome.result.frequencies()
            assert set(counts) <= {"00", "11"} and sum(counts.values()) == 8
            assert outcome.job.name == next(name for name, held in packs.items() if outcome.index in held)
    assert isinstance(outcomes[3].error, JobFailedError)
    assert "21 qubits" in str(outcomes[3].error)
    assert outcomes[3].job.name == "batch-3"
    assert isinstance(outcomes[7].error, TypeError) and outcomes[7].job_id is None
    with pytest.raises(DeviceNotAvailableError):
        alice.run_batch([bell()], qaas_server.devices["maintenance"])
    with pytest.raises(NotFoundError):
        alice.run_batch([bell()], 987654)


def test_progress_shows_counts_on_a_terminal_only(alice: API) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    progress = Progress(terminal)
    job_id = alice.execute(circuit=flip(), device_id=SIMULATOR)
    from qiboconnection._sync.waiting import wait_for_jobs

    wait_for_jobs([job_id], alice._job_record, timeout=30, interval=0, progress=progress)
    shown = terminal.getvalue()
    assert shown.startswith("\rJobs: ") and shown.endswith("\n")
    assert re.search(r"\rJobs: 1 completed \| \d+ s *\n$", shown), shown
    alice.show_progress = False
    assert not Progress(Terminal(), enabled=alice.show_progress).active


def test_wait_rounds_ask_only_about_unfinished_jobs() -> None:
    import httpx

    from .fakes import FakeHosted, json_response

    finishing_after = {1: 1, 2: 3, 3: 2}
    fetches = dict.fromkeys(finishing_after, 0)

    def get_job(request: httpx.Request, match: Any) -> httpx.Response:
        job_id = int(match[1])
        fetches[job_id] += 1
        status = "completed" if fetches[job_id] >= finishing_after[job_id] else "running"
        return json_response(
            {
                "job_id": job_id,
                "user_id": 7,
                "device_id": 1,
                "status": status,
                "job_type": "qprogram",
                "number_shots": 10,
                "description": "",
                "result": None,
            }
        )

    fake = FakeHosted()
    fake.routes["GET /api/v1/jobs/(\\d+)"] = get_job
    sleeps: list[float] = []
    with fake.api() as api:
        api._sleep = sleeps.append
        jobs = api.wait([3, 1, 2], timeout=60, interval=0)
    assert [job.job_id for job in jobs] == [3, 1, 2]
    assert all(job.status == "completed" for job in jobs)
    assert fetches == {1: 1, 2: 3, 3: 2}
    # Jobs finish in each round, and the pauses still grow from the first one towards the 50 ms floor.
    assert sleeps == pytest.approx([0.01, 0.015])


def heavy(qubits: int = 18, layers: int = 12, seed: float = 0.0) -> Any:
    """A circuit the simulator takes a while over (its angles make it a program not seen before)."""
    from qibo import Circuit, gates

    circuit = Circuit(qubits)
    for layer in range(layers):
        circuit.add(gates.RY(q, theta=0.1 * layer + 0.01 * q + seed) for q in range(qubits))
        circuit.add(gates.CNOT(q, q + 1) for q in range(qubits - 1))
    circuit.add(gates.M(*range(qubits)))
    return circuit


def test_on_update_sees_each_status_change_once_and_in_order(make_server: Any) -> None:
    from qiboconnection.polling import JobUpdate

    order = ["queued", "running", "completed"]
    with make_server(workers=1) as server, connect(server, "alice") as api:
        busy = api.submit(circuit=heavy(), device_id=SIMULATOR, nshots=10)
        job = api.submit(circuit=heavy(qubits=3, layers=1, seed=0.5), device_id=SIMULATOR, nshots=10)
        seen: list[JobUpdate] = []
        job.wait(timeout=120, interval=0, on_update=seen.append)
        batch_seen: list[JobUpdate] = []
        outcomes = api.run_batch(
            [flip(), flip()], SIMULATOR, nshots=5, timeout=60, on_update=batch_seen.append
        )
        busy.wait(timeout=120, interval=0)
    statuses = [update.status for update in seen]
    assert {update.job_id for update in seen} == {job.id}
    assert statuses[-1] == "completed"
    assert len(statuses) == len(set(statuses))  # once each
    assert statuses == sorted(statuses, key=order.index)  # in the order a job passes through them
    assert "queued" in statuses  # it waited behind the busy job
    queued = [update for update in seen if update.status == "queued"]
    assert all(isinstance(update.queue_position, int) for update in queued)
    assert all(update.queue_position is None for update in seen if update.status == "completed")
    assert all(outcome.ok for outcome in outcomes)
    assert {update.job_id for update in batch_seen} == {outcome.job_id for outcome in outcomes}
    assert [update.status for update in batch_seen][-1] == "completed"


def test_on_update_must_be_callable(alice: API) -> None:
    with pytest.raises(TypeError, match="on_update must be callable"):
        alice.wait([1], timeout=1, on_update="print")  # type: ignore[arg-type]
