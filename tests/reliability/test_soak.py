"""Soak: 300 jobs through a server that injects 10 % faults of every kind; none lost, none doubled."""

from __future__ import annotations

import logging
import time

from qiboconnection import batching as batch
from qiboconnection.config import RetryPolicy

from .support import RetryCounter, bits_of, job_rows, session, x_circuit

JOBS = 300
NSHOTS = 16
# Patient enough that ten faults in a row on one call (p = 1e-10) are needed to fail a call.
POLICY = RetryPolicy(max_attempts=10, budget=60.0, backoff_base=0.02, backoff_cap=0.3)


def test_300_jobs_through_ten_percent_faults(make_server, caplog, monkeypatch):
    # One job per circuit (no packing), so that 300 submissions meet the faults.
    monkeypatch.setattr(batch, "PACK_MAX_CIRCUITS", 1)
    counter = RetryCounter()
    client_logger = logging.getLogger("qiboconnection.retries")
    client_logger.addHandler(counter)
    previous_level = client_logger.level
    client_logger.setLevel(logging.INFO)
    caplog.set_level(logging.INFO, logger="qiboconnection.server.handlers")
    started = time.monotonic()
    try:
        with make_server(fault_rate=0.1, fault_seed=7, fault_max_latency=0.1, workers=2) as server:
            alice = server.users["alice"]
            circuits = [x_circuit(bits_of(n)) for n in range(JOBS)]
            with session(server.url, alice.username, alice.api_key, POLICY) as api:
                outcomes = api.run_batch(circuits, device_id=1, nshots=NSHOTS, max_parallel=8, interval=0.2)
            faults = dict(server.app.faults.counts)
            rows = job_rows(server.db_path)
    finally:
        client_logger.removeHandler(counter)
        client_logger.setLevel(previous_level)
    elapsed = time.monotonic() - started

    failures = [outcome for outcome in outcomes if not outcome.ok]
    assert not failures, failures[:5]
    for index, outcome in enumerate(outcomes):
        assert dict(outcome.result.frequencies()) == {bits_of(index): NSHOTS}, (index, outcome)
    # Exactly one job per circuit on the server: no submission lost, none created twice.
    assert len(rows) == JOBS
    assert sorted(outcome.job_id for outcome in outcomes) == [row[0] for row in rows]
    assert sorted(row[2] for row in rows) == sorted(f"batch-{n}" for n in range(JOBS))
    assert {row[1] for row in rows} == {"completed"}
    # Every kind of fault happened, and the client retried through them.
    for kind in ("500", "502", "503"):
        assert faults.get(f"{kind} before", 0) + faults.get(f"{kind} after", 0) > 0, faults
    for kind in ("429", "latency", "drop"):
        assert faults.get(kind, 0) > 0, faults
    assert sum(counter.kinds.values()) > 0
    # Some submissions created their job but lost the answer; their retry got the same job back.
    replays = [r for r in caplog.records if r.getMessage().startswith("repeated submission")]
    assert replays
    print(
        f"\nsoak: {JOBS} jobs in {elapsed:.1f} s; faults injected {faults}; client retries {dict(counter.kinds)};"
        f" submissions answered again after a lost answer: {len(replays)}"
    )


ASYNC_JOBS = 150


def test_async_batch_through_ten_percent_faults(make_server, monkeypatch):
    import asyncio

    from qiboconnection.async_api import AsyncAPI
    from qiboconnection.config import Settings
    from qiboconnection.typings.connection import ConnectionConfiguration

    monkeypatch.setattr(batch, "PACK_MAX_CIRCUITS", 1)
    with make_server(fault_rate=0.1, fault_seed=8, fault_max_latency=0.1, workers=2) as server:
        alice = server.users["alice"]
        circuits = [x_circuit(bits_of(n)) for n in range(ASYNC_JOBS)]

        async def run() -> list:
            settings = Settings(base_url=server.url, retry=POLICY, progress=False)
            async with AsyncAPI(
                ConnectionConfiguration(username=alice.username, api_key=alice.api_key), settings=settings
            ) as api:
                return await api.run_batch(
                    circuits, device_id=1, nshots=NSHOTS, max_parallel=10, interval=0.2
                )

        outcomes = asyncio.run(run())
        faults = dict(server.app.faults.counts)
        rows = job_rows(server.db_path)
    assert [outcome.error for outcome in outcomes if not outcome.ok] == []
    for index, outcome in enumerate(outcomes):
        assert dict(outcome.result.frequencies()) == {bits_of(index): NSHOTS}, (index, outcome)
    assert len(rows) == ASYNC_JOBS
    assert sorted(outcome.job_id for outcome in outcomes) == [row[0] for row in rows]
    assert sum(faults.values()) > 0 and faults.get("drop", 0) > 0, faults
