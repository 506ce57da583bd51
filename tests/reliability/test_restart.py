"""Restart: the server process is killed (SIGKILL) with jobs queued and running, then started again on
the same port and database; a client waiting meanwhile gets every result, and no job runs twice."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from qiboconnection.config import RetryPolicy

from .support import job_rows, session

JOBS = 10
# Wide and shallow, so that a job takes far longer to simulate (about a second) than to submit (a few
# tens of milliseconds): jobs are still queued when the server is killed, however slow the machine.
NQUBITS = 18
# Layers of H pairs (an identity).
DEPTH = 6
# Patient enough to wait across a restart of a few seconds, on every call.
POLICY = RetryPolicy(max_attempts=200, budget=60.0, backoff_base=0.05, backoff_cap=0.25)


def slow_circuit(flip: int) -> Any:
    """An identity made of many H pairs, then X on qubit ``flip``: it always reads a single 1 there."""
    from qibo import Circuit, gates

    circuit = Circuit(NQUBITS)
    for _ in range(DEPTH):
        circuit.add([gates.H(q) for q in range(NQUBITS)])
    circuit.add(gates.X(flip))
    circuit.add(gates.M(*range(NQUBITS)))
    return circuit


def expected_bits(flip: int) -> str:
    return "".join("1" if q == flip else "0" for q in range(NQUBITS))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    db: Path, port: int, user: str, timeout: float = 60.0, workers: int = 1
) -> subprocess.Popen[str]:
    """``python -m qiboconnection serve`` on 127.0.0.1:``port``; returns once it prints its URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qiboconnection",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--db",
            str(db),
            "--user",
            user,
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("export QUANTUM_SERVICE_URL="):
            return process
        assert time.monotonic() < deadline, "the server did not start in time"
    raise AssertionError(f"the server exited with {process.wait()} before printing its URL")


def stop(*processes: subprocess.Popen[str] | None) -> None:
    """Stop the servers still running: SIGTERM, then SIGKILL after 10 s."""
    for process in processes:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_client_waits_across_a_killed_and_restarted_server(tmp_path):
    db = tmp_path / "qaas.sqlite3"
    port = free_port()
    key = "alice-" + secrets.token_urlsafe(16)
    user = f"alice:{key}"
    timings: dict[str, float] = {}
    first = start_server(db, port, user)
    second: subprocess.Popen[str] | None = None
    try:
        url = f"http://127.0.0.1:{port}"
        with session(url, "alice", key, POLICY) as api:
            jobs = [api.submit(slow_circuit(n % NQUBITS), device_id=1, nshots=32) for n in range(JOBS)]
            waited: dict[str, Any] = {}

            def wait_for_all() -> None:
                try:
                    waited["records"] = api.wait(jobs, timeout=120, interval=0.2)
                except BaseException as error:
                    waited["error"] = error

            waiter = threading.Thread(target=wait_for_all)
            waiter.start()
            # Kill once one job is done and another is running, so some are queued, one is running.
            wait_until(
                lambda: {"completed", "running"} <= {row[1] for row in job_rows(db)}, 60, "a running job"
            )
            statuses = [row[1] for row in job_rows(db)]
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            killed_at = time.monotonic()
            # A submission made while the server is down waits for it too (the request never got there).
            late: dict[str, Any] = {}

            def submit_late() -> None:
                late["job"] = api.submit(slow_circuit(3), device_id=1, nshots=32)

            submitter = threading.Thread(target=submit_late)
            submitter.start()
            time.sleep(0.5)
            second = start_server(db, port, user)
            timings["outage"] = time.monotonic() - killed_at
            submitter.join(60)
            waiter.join(120)
            assert not waiter.is_alive() and not submitter.is_alive()
            timings["after restart"] = time.monotonic() - killed_at
            assert "error" not in waited, waited.get("error")
            late_record = api.wait([late["job"]], timeout=60, interval=0.2)[0]
        assert statuses.count("completed") >= 1 and statuses.count("queued") >= 1, statuses
        records = waited["records"]
        for n, record in enumerate(records):
            assert record.status == "completed", record
            assert dict(record.result[0].frequencies()) == {expected_bits(n % NQUBITS): 32}
        assert dict(late_record.result[0].frequencies()) == {expected_bits(3): 32}
        rows = job_rows(db)
        assert len(rows) == JOBS + 1
        assert [row[0] for row in rows] == sorted([job.id for job in jobs] + [late["job"].id])
        assert {row[1] for row in rows} == {"completed"}
        print(f"\nrestart: statuses at the kill {statuses}; timings {timings}")
    finally:
        stop(first, second)


def _batch_across_an_outage(tmp_path: Path, monkeypatch: Any, kill_when: str) -> None:
    """Run a batch of 200 one-circuit jobs with the default retry policy; kill the server when
    ``kill_when`` (``"submitting"``: 40 jobs stored; ``"waiting"``: all 200 stored) and start it again
    6 s later on the same port and database."""
    from qiboconnection import batching
    from qiboconnection.api import API
    from qiboconnection.config import Settings
    from qiboconnection.typings.connection import ConnectionConfiguration

    from .support import x_circuit

    monkeypatch.setattr(batching, "PACK_MAX_CIRCUITS", 1)
    db = tmp_path / "qaas.sqlite3"
    port = free_port()
    key = "alice-" + secrets.token_urlsafe(16)
    user = f"alice:{key}"
    bits = [format(n % 64, "06b") for n in range(200)]
    # While waiting, the first server runs nothing: the kill surely lands before any job is done.
    first = start_server(db, port, user, workers=1 if kill_when == "submitting" else 0)
    second: subprocess.Popen[str] | None = None
    try:
        settings = Settings(base_url=f"http://127.0.0.1:{port}", progress=False)
        with API(ConnectionConfiguration("alice", key), settings=settings) as api:
            ran: dict[str, Any] = {}

            def run() -> None:
                try:
                    ran["outcomes"] = api.run_batch([x_circuit(b) for b in bits], 1, nshots=5, timeout=180)
                except BaseException as error:
                    ran["error"] = error

            runner = threading.Thread(target=run)
            runner.start()
            stored = 40 if kill_when == "submitting" else len(bits)
            wait_until(lambda: len(job_rows(db)) >= stored, 60, f"{stored} stored jobs")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            statuses = [row[1] for row in job_rows(db)]
            time.sleep(6)
            second = start_server(db, port, user)
            runner.join(180)
            assert not runner.is_alive()
        assert "error" not in ran, ran.get("error")
        outcomes = ran["outcomes"]
        failed = [(outcome.index, outcome.error) for outcome in outcomes if not outcome.ok]
        assert failed == []
        for outcome, expected in zip(outcomes, bits, strict=True):
            assert dict(outcome.result.frequencies()) == {expected: 5}
        rows = job_rows(db)
        assert len(rows) == len(bits) == len({outcome.job_id for outcome in outcomes})
        assert {row[1] for row in rows} == {"completed"}
        if kill_when == "submitting":
            assert len(statuses) < len(bits), statuses
        else:
            assert set(statuses) == {"queued"}, statuses
    finally:
        stop(first, second)


def test_a_batch_rides_out_an_outage_while_submitting(tmp_path: Path, monkeypatch: Any) -> None:
    _batch_across_an_outage(tmp_path, monkeypatch, "submitting")


def test_a_batch_rides_out_an_outage_while_waiting(tmp_path: Path, monkeypatch: Any) -> None:
    _batch_across_an_outage(tmp_path, monkeypatch, "waiting")
