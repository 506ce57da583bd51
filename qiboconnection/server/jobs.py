"""The job queue and its pool of worker threads."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from qiboconnection.server.db import Store
from qiboconnection.server.errors import ApiProblem
from qiboconnection.server.payloads import decode_description, encode_result
from qiboconnection.server.simulator import JobFailed, echo_result, run_circuits

logger = logging.getLogger("qiboconnection.server.jobs")

#: How long workers reuse a device's settings (qubit limit, type) before reading them again.
DEVICE_SETTINGS_SECONDS = 1.0
#: What running a job gives: (job_id, status, result, error, duration in seconds).
Outcome = tuple[int, str, str | None, str | None, float]


def _discarded(job_id: int) -> None:
    logger.info("job %d was cancelled or deleted while running; its result is discarded", job_id)


class JobManager:
    """Feeds queued job ids to ``workers`` threads that run them and store the outcome.

    The database is the source of truth: a worker only runs a job it managed to move from
    ``queued`` to ``running``, and only stores a result if the job is still ``running`` then, so a
    job cancelled or deleted meanwhile keeps that state. Jobs a stopped server left behind are
    queued again at start.
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
        self._devices: dict[int, tuple[float, dict[str, Any]]] = {}

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

    def submit(self, job_id: int) -> None:
        """Hand a freshly stored job to the workers (without workers it just stays queued)."""
        if self._workers:
            self._queue.put(job_id)

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
        device = self._device(job["device_id"])
        features = device.get("static_features") or {}
        max_qubits = int(features.get("max_qubits", 20))
        with_state = device.get("type") == "simulator_device"
        return run_circuits(payload, job["number_shots"], max_qubits, with_state)

    def _device(self, device_id: int) -> dict[str, Any]:
        """The device's settings, read at most every :data:`DEVICE_SETTINGS_SECONDS`."""
        now = time.monotonic()
        cached = self._devices.get(device_id)
        if cached is not None and now - cached[0] < DEVICE_SETTINGS_SECONDS:
            return cached[1]
        device = self._store.device_settings(device_id) or {}
        self._devices[device_id] = (now, device)
        return device
