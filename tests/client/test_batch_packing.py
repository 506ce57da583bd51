"""Batches pack small circuits into shared jobs, over real HTTP against the local server.

Every test counts what the server stored (its jobs table, read with SQLite) next to what the client
answered, so a circuit lost or run twice shows.
"""

from __future__ import annotations

import asyncio
import gzip
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from qibo import Circuit, gates

from qiboconnection.api import API
from qiboconnection.async_api import AsyncAPI
from qiboconnection.batching import PACK_BUDGET, PACK_MAX_CIRCUITS, BatchOutcome, circuit_size
from qiboconnection.config import RetryPolicy, Settings
from qiboconnection.errors import JobFailedError, JobTimeoutError
from qiboconnection.serialization import b64decode_any, encode_envelope, loads
from qiboconnection.typings.connection import ConnectionConfiguration

from .circuits import SIMULATOR, bell, flip, wide
from .conftest import FAST_RETRY, connect


def job_rows(db_path: Path) -> list[tuple[int, str, str]]:
    """(id, status, name) of every job the server stored, in order."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        return [tuple(row) for row in conn.execute("SELECT id, status, name FROM jobs ORDER BY id")]


async def login(server: Any, username: str = "alice", **settings: Any) -> AsyncAPI:
    credential = server.users[username]
    settings = {"retry": FAST_RETRY, "progress": False, **settings}
    return await AsyncAPI.login(
        credential.username, credential.api_key, settings=Settings(base_url=server.url, **settings)
    )


def run_async_batch(server: Any, items: list[Any], **arguments: Any) -> list[BatchOutcome]:
    async def run() -> list[BatchOutcome]:
        async with await login(server) as api:
            return await api.run_batch(items, **arguments)

    return asyncio.run(run())


def marked(number: int) -> Circuit:
    """Three qubits that always read ``number``'s bits, with phases that make each program's text unique."""
    bits = format(number % 8, "03b")
    circuit = Circuit(3)
    circuit.add(gates.I(0))
    circuit.add([gates.X(q) for q, bit in enumerate(bits) if bit == "1"])
    for step in range(9):
        theta = (number * 0.7548776662466927 + step * 0.5698402909980532) % 1 * 6
        circuit.add(gates.RZ(step % 3, theta=theta))
    circuit.add(gates.M(0, 1, 2))
    return circuit


def is_bell(outcome: BatchOutcome, nshots: int) -> bool:
    counts = outcome.result.frequencies()
    return set(counts) <= {"00", "11"} and sum(counts.values()) == nshots


def names_by_job(outcomes: list[BatchOutcome]) -> dict[int, list[int]]:
    """The positions each job carried, by job id."""
    carried: dict[int, list[int]] = {}
    for outcome in outcomes:
        assert outcome.job_id is not None, outcome
        carried.setdefault(outcome.job_id, []).append(outcome.index)
    return carried


def test_200_bell_circuits_run_in_ten_jobs_of_twenty(make_server: Any) -> None:
    with make_server() as server:
        outcomes = run_async_batch(
            server, [bell() for _ in range(200)], device_id=SIMULATOR, nshots=10, timeout=120
        )
        rows = job_rows(server.db_path)
    assert [outcome.index for outcome in outcomes] == list(range(200))
    assert all(outcome.ok for outcome in outcomes), [o for o in outcomes if not o.ok][:3]
    assert all(is_bell(outcome, 10) for outcome in outcomes)
    carried = names_by_job(outcomes)
    assert sorted(carried.values()) == [list(range(n, n + 20)) for n in range(0, 200, 20)]
    assert [(row[0], row[2]) for row in rows] == sorted(
        (job_id, f"batch-{positions[0]}-{positions[-1]}") for job_id, positions in carried.items()
    )
    assert {row[1] for row in rows} == {"completed"}
    for outcome in outcomes:
        assert outcome.job.job_id == outcome.job_id
        assert outcome.job.name == f"batch-{carried[outcome.job_id][0]}-{carried[outcome.job_id][-1]}"
        assert len(outcome.job.result) == 20
    # Each circuit's result is its own entry of the pack's result list.
    first = outcomes[0].job.result
    assert [outcome.result for outcome in outcomes[:20]] == list(first)


def test_sync_batch_packs_up_to_the_most_circuits_per_job(make_server: Any) -> None:
    count = PACK_MAX_CIRCUITS * 3 + 1
    with make_server() as server, connect(server, "alice") as api:
        outcomes = api.run_batch(
            [flip() for _ in range(count)], SIMULATOR, nshots=3, max_parallel=2, interval=0.05
        )
        rows = job_rows(server.db_path)
        recorded = [job.id for job in api.jobs]
    assert [outcome.result.frequencies() for outcome in outcomes] == [Counter({"1": 3})] * count
    lengths = sorted(len(positions) for positions in names_by_job(outcomes).values())
    # 151 circuits, at most 50 a job, cut evenly: 38, 38, 38, 37.
    assert lengths == [37, 38, 38, 38]
    assert sorted(recorded) == [row[0] for row in rows]
    assert len(rows) == 4


def test_a_circuit_too_wide_for_the_device_fails_alone(make_server: Any) -> None:
    """Galadriel takes 5 qubits: a 6-qubit circuit fails its pack, which is sent again one job each."""
    items: list[Any] = [flip() if n % 2 else bell() for n in range(12)]
    items[4] = wide(6)
    with make_server() as server:
        with connect(server, "admin") as admin:
            admin.set_device_to_online(server.devices["maintenance"])
        with connect(server, "alice") as api:
            outcomes = api.run_batch(
                items, server.devices["maintenance"], nshots=5, max_parallel=2, timeout=60, interval=0.05
            )
        rows = job_rows(server.db_path)
    assert [outcome.ok for outcome in outcomes] == [n != 4 for n in range(12)]
    error = outcomes[4].error
    assert isinstance(error, JobFailedError) and "6 qubits" in str(error)
    assert outcomes[4].job.status == "error" and outcomes[4].job.name == "batch-4"
    for n, outcome in enumerate(outcomes):
        if n == 4:
            continue
        if n % 2:
            assert outcome.result.frequencies() == Counter({"1": 5})
        else:
            assert is_bell(outcome, 5)
        assert outcome.job.name == (f"batch-{n}" if n < 6 else "batch-6-11")
    # The failed pack, the six circuits it held one job each, and the pack that ran: each circuit
    # has exactly one job that gave its outcome.
    assert sorted((row[2], row[1]) for row in rows[:2]) == [
        ("batch-0-5", "error"),
        ("batch-6-11", "completed"),
    ]
    assert sorted((row[2], row[1]) for row in rows[2:]) == [
        (f"batch-{n}", "error" if n == 4 else "completed") for n in range(6)
    ]
    assert {outcome.job_id for outcome in outcomes} == {row[0] for row in rows if row[2] != "batch-0-5"}


def test_mixed_widths_are_packed_within_the_budget(make_server: Any) -> None:
    nshots = 10
    items: list[Any] = [bell(), flip(), wide(15), wide(15), wide(15), bell(), wide(17), bell(), flip()]
    assert (
        circuit_size(15, nshots) * 2 > PACK_BUDGET >= circuit_size(15, nshots) + circuit_size(2, nshots) * 2
    )
    assert circuit_size(17, nshots) > PACK_BUDGET
    with make_server() as server:
        outcomes = run_async_batch(
            server, items, device_id=SIMULATOR, nshots=nshots, max_parallel=2, timeout=120
        )
        rows = job_rows(server.db_path)
    assert all(outcome.ok for outcome in outcomes), [o.error for o in outcomes if not o.ok]
    # 8 packable circuits over 2 jobs at once: at most 4 a pack; the 17-qubit circuit ends the first
    # run and goes alone; the budget splits the second half of the first run.
    carried = names_by_job(outcomes)
    assert sorted(carried.values()) == [[0, 1, 2], [3], [4, 5], [6], [7, 8]]
    assert sorted(row[2] for row in rows) == sorted(
        ["batch-0-2", "batch-3", "batch-4-5", "batch-6", "batch-7-8"]
    )
    for outcome in outcomes:
        counts = outcome.result.frequencies()
        assert sum(counts.values()) == nshots
        width = items[outcome.index].nqubits
        if width >= 15:
            assert set(counts) <= {"0" * width, "1" + "0" * (width - 1)}, counts
    assert outcomes[1].result.frequencies() == Counter({"1": nshots})
    assert is_bell(outcomes[7], nshots)


def test_a_list_item_is_a_job_of_its_own_and_ends_a_pack(make_server: Any) -> None:
    items: list[Any] = [bell(), [flip(), bell()], bell(), flip(), bell(), "not a circuit", flip(), flip()]
    with make_server() as server:
        outcomes = run_async_batch(server, items, device_id=SIMULATOR, nshots=6, max_parallel=1, timeout=60)
        rows = job_rows(server.db_path)
    assert [outcome.ok for outcome in outcomes] == [n != 5 for n in range(8)]
    assert isinstance(outcomes[5].error, TypeError) and outcomes[5].job_id is None
    first, second = outcomes[1].result
    assert first.frequencies() == Counter({"1": 6})
    assert set(second.frequencies()) <= {"00", "11"}
    assert outcomes[1].job.name == "batch-1"
    assert is_bell(outcomes[0], 6) and is_bell(outcomes[2], 6) and is_bell(outcomes[4], 6)
    assert [outcomes[n].result.frequencies() for n in (3, 6, 7)] == [Counter({"1": 6})] * 3
    assert sorted(row[2] for row in rows) == ["batch-0", "batch-1", "batch-2-4", "batch-6-7"]
    assert outcomes[2].job_id == outcomes[3].job_id == outcomes[4].job_id


def test_a_pack_the_service_refuses_is_sent_one_job_each(make_server: Any) -> None:
    """A server taking small bodies only (413 beyond): each pack is refused, each circuit then runs alone."""
    circuits = [marked(n) for n in range(12)]
    single = max(len(encode_envelope([circuit.to_qasm()])) for circuit in circuits)
    smallest_pack = min(
        len(encode_envelope([circuit.to_qasm() for circuit in circuits[n : n + 6]])) for n in (0, 6)
    )
    # A submission body is its description (quotes escaped) and under 300 bytes more.
    limit = single + 400
    assert smallest_pack > limit + 100, (single, smallest_pack)
    with make_server(max_body_bytes=limit) as server:
        outcomes = run_async_batch(
            server, circuits, device_id=SIMULATOR, nshots=4, max_parallel=2, timeout=60
        )
        rows = job_rows(server.db_path)
    for n, outcome in enumerate(outcomes):
        assert outcome.ok, outcome
        assert outcome.result.frequencies() == Counter({format(n % 8, "03b"): 4})
        assert outcome.job.name == f"batch-{n}"
    assert sorted(row[2] for row in rows) == sorted(f"batch-{n}" for n in range(12))
    assert len({outcome.job_id for outcome in outcomes}) == 12


def test_a_pack_result_that_cannot_be_decoded_is_run_again_one_job_each(make_server: Any) -> None:
    """With a result cap that one circuit's result fits in but six do not, packs give way to single jobs."""
    with make_server() as server:
        with connect(server, "alice") as api:
            [job] = api.wait([api.execute(flip(), nshots=4, device_id=SIMULATOR)], timeout=30, interval=0)
        one = len(gzip.decompress(b64decode_any(loads(job.raw_result)["data"])))
        with connect(server, "alice", max_result_bytes=one * 2) as api:
            outcomes = api.run_batch(
                [flip() for _ in range(12)], SIMULATOR, nshots=4, max_parallel=2, interval=0.05
            )
        rows = job_rows(server.db_path)
    assert [outcome.result.frequencies() for outcome in outcomes] == [Counter({"1": 4})] * 12
    assert [outcome.job.name for outcome in outcomes] == [f"batch-{n}" for n in range(12)]
    # The first job above, the two packs (completed, their results over the cap), then one job per circuit.
    assert sorted(row[2] for row in rows[1:3]) == ["batch-0-5", "batch-6-11"]
    assert sorted(row[2] for row in rows[3:]) == sorted(f"batch-{n}" for n in range(12))
    assert {row[1] for row in rows} == {"completed"}


def test_a_timeout_applies_to_every_circuit_of_a_pack(make_server: Any) -> None:
    with make_server(workers=0) as server:
        outcomes = run_async_batch(
            server,
            [bell() for _ in range(6)],
            device_id=SIMULATOR,
            nshots=5,
            max_parallel=2,
            timeout=0.3,
            interval=0,
        )
        rows = job_rows(server.db_path)
    ids = {row[2]: row[0] for row in rows}
    assert sorted(ids) == ["batch-0-2", "batch-3-5"] and {row[1] for row in rows} == {"queued"}
    for outcome in outcomes:
        assert isinstance(outcome.error, JobTimeoutError)
        assert outcome.error.job_ids == [outcome.job_id]
        assert outcome.job.status == "queued"
    assert [outcome.job_id for outcome in outcomes] == [ids["batch-0-2"]] * 3 + [ids["batch-3-5"]] * 3


def test_a_cancelled_pack_fails_each_of_its_circuits_and_is_not_sent_again(make_server: Any) -> None:
    async def cancel_both(api: AsyncAPI) -> None:
        for _ in range(500):
            if len(api.jobs) == 2:
                break
            await asyncio.sleep(0.01)
        for job in list(api.jobs):
            await api.cancel_job(job.id)

    async def run(server: Any) -> list[BatchOutcome]:
        async with await login(server) as api:
            circuits = [flip() for _ in range(4)]
            outcomes, _ = await asyncio.gather(
                api.run_batch(circuits, SIMULATOR, nshots=5, max_parallel=2, timeout=30, interval=0),
                cancel_both(api),
            )
            return outcomes

    with make_server(workers=0) as server:
        outcomes = asyncio.run(run(server))
        rows = job_rows(server.db_path)
    ids = {row[2]: row[0] for row in rows}
    assert sorted(ids) == ["batch-0-1", "batch-2-3"] and {row[1] for row in rows} == {"cancelled"}
    for outcome in outcomes:
        assert isinstance(outcome.error, JobFailedError) and "cancelled" in str(outcome.error)
        assert outcome.job.status == "cancelled"
    assert [outcome.job_id for outcome in outcomes] == [ids["batch-0-1"]] * 2 + [ids["batch-2-3"]] * 2


def test_packs_through_faults_are_neither_lost_nor_doubled(make_server: Any) -> None:
    """A server failing 30 % of requests (errors, 429, dropped connections, delays): the packs are
    retried through it, each created once, and every circuit gets its own right result."""
    patient = RetryPolicy(max_attempts=10, budget=60.0, backoff_base=0.02, backoff_cap=0.3)
    circuits = [marked(n) for n in range(150)]
    with make_server(fault_rate=0.3, fault_seed=11, fault_max_latency=0.05) as server:
        credential = server.users["alice"]
        settings = Settings(base_url=server.url, retry=patient, progress=False)
        with API(ConnectionConfiguration(credential.username, credential.api_key), settings=settings) as api:
            outcomes = api.run_batch(circuits, SIMULATOR, nshots=4, max_parallel=6, interval=0.05)
        faults = dict(server.app.faults.counts)
        rows = job_rows(server.db_path)
    assert sum(faults.values()) > 0, faults
    assert [outcome.error for outcome in outcomes if not outcome.ok] == []
    for n, outcome in enumerate(outcomes):
        assert outcome.result.frequencies() == Counter({format(n % 8, "03b"): 4}), n
    carried = names_by_job(outcomes)
    assert sorted(carried.values()) == [list(range(n, n + 25)) for n in range(0, 150, 25)]
    assert sorted(carried) == [row[0] for row in rows]
    assert {row[1] for row in rows} == {"completed"}


def test_on_a_quantum_device_only_the_unmeasured_circuit_of_a_batch_is_refused(make_server: Any) -> None:
    unmeasured = Circuit(1)
    unmeasured.add(gates.X(0))
    with make_server(workers=1) as server, connect(server, "admin") as admin, connect(server, "alice") as api:
        quantum = server.devices["maintenance"]
        admin.set_device_to_online(quantum)
        outcomes = api.run_batch([flip(), unmeasured, flip()], quantum, nshots=5, timeout=60)
        jobs = job_rows(server.db_path)
    assert [outcome.ok for outcome in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, ValueError)
    assert f"Device {quantum} (Galadriel) is a quantum_device" in str(outcomes[1].error)
    assert "no measurement" in str(outcomes[1].error)
    assert outcomes[1].job_id is None
    assert all(dict(outcome.result.frequencies()) == {"1": 5} for outcome in (outcomes[0], outcomes[2]))
    assert len(jobs) == 2
