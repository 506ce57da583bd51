"""The job queue and its pool of worker threads."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from qiboconnection.server.db import Store, utc_now
from qiboconnection.server.errors import ApiProblem
from qiboconnection.server.payloads import decode_description, encode_result
from qiboconnection.server.simulator import JobFailed, echo_result, run_circuits, run_prepared

logger = logging.getLogger("qiboconnection.server.jobs")

#: What running a job gives: (job_id, status, result, error, duration in seconds).
Outcome = tuple[int, str, str | None, str | None, float]


@dataclass(frozen=True)
class Submitted:
    """What the submission already decoded of a circuit job: its programs, shots and device."""

    programs: list[str]
    nshots: int
    device: dict[str, Any]


def _discarded(job_id: int) -> None:
    logger.info("job %d was cancelled or deleted while running; its result is discarded", job_id)


class JobManager:
    """Feeds queued job ids to ``workers`` threads that run them and store the outcome.

    The database is the source of truth: a worker only runs a job it managed to move from
    ``queued`` to ``running``, and only stores a result if the job is still ``running`` then, so a
    job cancelled or deleted meanwhile keeps that state. Jobs a stopped server left behind are
    queued again at start.

    A circuit job whose programs are all prepared already and small (see
    :func:`~qiboconnection.server.simulator.run_prepared`) is drawn on the event loop that took the
    submission, right after the answer goes out, and stored with one statement that applies only
    while the job is still queued; handing it to a thread would cost more than running it.
    """

    def __init__(self, store: Store, workers: int, max_decompressed: int) -> None:
        self._store = store
        self._workers = workers
        self._max_decompressed = max_decompressed
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._started = False
        self._recovered = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Re-queue unfinished jobs and start the workers (idempotent)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            # Jobs left running belong to a previous process only the first time round; after a
            # stop/start in this process a slow worker may still be finishing one of them.
            pending = self._store.queued_ids() if self._recovered else self._store.requeue_interrupted()
            self._recovered = True
            for job_id in pending:
                self._queue.put(job_id)
            if pending:
                logger.info("re-queued %d unfinished jobs", len(pending))
            for index in range(self._workers):
                thread = threading.Thread(target=self._work, name=f"qaas-worker-{index}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers after their current job; queued jobs stay queued in the database."""
        with self._lock:
            if not self._started:
                return
            self._started = False
            threads, self._threads = self._threads, []
            # Drain ids so the workers see their stop signal next; the jobs stay queued in the database.
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            for _ in threads:
                self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def submit(self, job_id: int, submitted: Submitted | None = None) -> None:
        """Hand a freshly stored job to the workers (without workers it just stays queued).

        ``submitted`` (circuit jobs) lets a small job with prepared programs run on the calling
        event loop instead.
        """
        if not self._workers:
            return
        if submitted is not None and self._started:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                loop.call_soon(self._run_here, job_id, submitted)
                return
        self._queue.put(job_id)

    def _run_here(self, job_id: int, submitted: Submitted) -> None:
        """Run a submitted job on this thread if its programs are prepared and small, else queue it."""
        if not self._started:
            return  # it stays queued in the database; the next start queues it again
        started, started_at = time.perf_counter(), utc_now()
        max_qubits, with_state = _circuit_settings(submitted.device)
        try:
            entries = run_prepared(submitted.programs, submitted.nshots, max_qubits, with_state)
        except JobFailed:
            entries = None  # a worker runs it and records the failure as it always does
        if entries is None:
            self._queue.put(job_id)
            return
        try:
            result = encode_result(entries)
            stored = self._store.finish_queued(job_id, result, started_at, time.perf_counter() - started)
        except Exception:
            logger.exception("could not store the outcome of job %d; a worker runs it again", job_id)
            self._queue.put(job_id)
            return
        if not stored:
            _discarded(job_id)

    def _work(self) -> None:
        # A finished job's outcome is stored together with the claim of the next job (one
        # transaction per job), or at once when no job is waiting.
        pending: Outcome | None = None
        while True:
            if pending is None:
                job_id = self._queue.get()
            else:
                try:
                    job_id = self._queue.get_nowait()
                except queue.Empty:
                    self._store_outcome(pending)
                    pending = None
                    continue
            if job_id is None:
                if pending is not None:
                    self._store_outcome(pending)
                return
            try:
                stored, job = self._store.finish_and_claim(pending, job_id)
            except Exception:
                logger.exception("worker could not claim job %d", job_id)
                if pending is not None:
                    self._store_outcome(pending)
                pending = None
                continue
            if stored is False and pending is not None:
                _discarded(pending[0])
            pending = None
            if job is not None:
                pending = self._run(job)

    def _store_outcome(self, outcome: Outcome) -> None:
        try:
            stored = self._store.finish_job(*outcome)
        except Exception:
            logger.exception("worker could not store the outcome of job %d", outcome[0])
            return
        if not stored:
            _discarded(outcome[0])
        else:
            logger.debug("job %d %s in %.3f s", outcome[0], outcome[1], outcome[4])

    def _run(self, job: dict[str, Any]) -> Outcome:
        job_id = job["id"]
        started = time.perf_counter()
        status, result, error = "completed", None, None
        try:
            result = encode_result(self._execute(job))
        except JobFailed as exc:
            status, error = "error", str(exc)
        except ApiProblem as exc:
            status, error = "error", exc.detail
        except Exception as exc:
            logger.exception("job %d failed unexpectedly", job_id)
            status, error = "error", f"The server could not run the job: {type(exc).__name__}."
        return job_id, status, result, error, time.perf_counter() - started

    def _execute(self, job: dict[str, Any]) -> Any:
        envelope, payload = decode_description(job["description"], self._max_decompressed)
        if job["job_type"] != "circuit":
            return echo_result(job["job_type"], payload, envelope, job["number_shots"])
        max_qubits, with_state = _circuit_settings(self._store.device_settings(job["device_id"]) or {})
        return run_circuits(payload, job["number_shots"], max_qubits, with_state)


def _circuit_settings(device: dict[str, Any]) -> tuple[int, bool]:
    """The widest circuit a device runs, and whether its results carry the final state."""
    features = device.get("static_features") or {}
    return int(features.get("max_qubits", 20)), device.get("type") == "simulator_device"
