"""The job queue: which job runs next, handing it to the executor, and storing how it ended."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from qiboconnection.server.db import Store, utc_now
from qiboconnection.server.executor import Executor, ExecutorFactory, Limits, process_executor
from qiboconnection.server.payloads import encode_result
from qiboconnection.server.simulator import JobFailed, remember, run_prepared
from qiboconnection.server.worker import JobSpec, Outcome

logger = logging.getLogger("qiboconnection.server.jobs")

CANCELLED_REASON = "Cancelled on request; the job was stopped."
DELETED_REASON = "Deleted on request; the job was stopped."


@dataclass(frozen=True)
class Submitted:
    """What the submission already decoded of a circuit job: its programs, shots and device."""

    programs: list[str]
    nshots: int
    device: dict[str, Any]


def _discarded(job_id: int) -> None:
    logger.info("job %d was cancelled or deleted while running; its outcome is discarded", job_id)


class FairQueue:
    """Queued job ids, taken fairly across users: the oldest job of the user served longest ago.

    A user who never had a job taken comes first; ties go to the oldest job. So one user's hundred
    queued jobs delay another user's single job by at most one job per worker.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._by_user: dict[int, deque[int]] = {}
        self._served: dict[int, int] = {}
        self._turn = 0
        self._closed = False

    def put(self, job_id: int, user_id: int) -> None:
        with self._cond:
            self._by_user.setdefault(user_id, deque()).append(job_id)
            self._cond.notify()

    def take(self) -> int | None:
        """The next job id, waiting for one; None once the queue is closed."""
        with self._cond:
            while not self._by_user and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            user = min(self._by_user, key=lambda u: (self._served.get(u, -1), self._by_user[u][0]))
            jobs = self._by_user[user]
            job_id = jobs.popleft()
            if not jobs:
                del self._by_user[user]
            self._turn += 1
            self._served[user] = self._turn
            return job_id

    def close(self) -> None:
        """Wake every taker with None; what was queued is dropped (it stays queued in the database)."""
        with self._cond:
            self._closed = True
            self._by_user.clear()
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return sum(len(jobs) for jobs in self._by_user.values())


class JobManager:
    """Feeds queued jobs, fairly across users, to an :class:`~qiboconnection.server.executor.Executor`
    and stores how each ended.

    The database is the source of truth: a job is only sent to the executor once it moved from
    ``queued`` to ``running``, and its outcome is only stored if it is still ``running`` then, so a job
    cancelled or deleted meanwhile keeps that state (and its worker is stopped at once). Jobs a stopped
    server left running are queued again at start; stopping the executor puts the jobs it was running
    back in the queue.

    One dispatching thread per executor slot takes the next job, waits for its outcome and stores it.

    A circuit job whose programs are all prepared already and small (see
    :func:`~qiboconnection.server.simulator.run_prepared`) is drawn on the event loop that took the
    submission, right after the answer goes out, and stored with one statement that applies only
    while the job is still queued; handing it to a worker would cost more than drawing it. Workers
    send back the small programs they prepare, so such jobs are drawn here from their second run on.
    """

    def __init__(
        self,
        store: Store,
        workers: int,
        max_decompressed: int,
        limits: Limits,
        executor_factory: ExecutorFactory = process_executor,
    ) -> None:
        self._store = store
        self._workers = workers
        self._max_decompressed = max_decompressed
        self._limits = limits
        self._factory = executor_factory
        self._queue = FairQueue()
        self._threads: list[threading.Thread] = []
        self.executor: Executor | None = None
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Re-queue unfinished jobs, start the executor and its dispatchers (idempotent)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self._queue = FairQueue()
            pending = self._store.requeue_interrupted()
            if not self._workers:
                return
            for job_id, user_id in pending:
                self._queue.put(job_id, user_id)
            if pending:
                logger.info("queued %d unfinished jobs", len(pending))
            executor = self.executor = self._factory(self._workers, self._limits)
            executor.start()
            for index in range(executor.capacity):
                thread = threading.Thread(
                    target=self._dispatch,
                    args=(executor, self._queue),
                    name=f"qaas-dispatch-{index}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the executor's workers are warm (True at once without workers)."""
        executor = self.executor
        return executor is None or executor.wait_ready(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the executor and the dispatchers; jobs it was running are queued again."""
        with self._lock:
            if not self._started:
                return
            self._started = False
            threads, self._threads = self._threads, []
            self._queue.close()
            executor = self.executor
        if executor is not None:
            executor.stop()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def submit(self, job_id: int, user_id: int, submitted: Submitted | None = None) -> None:
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
                loop.call_soon(self._run_here, job_id, user_id, submitted)
                return
        self._queue.put(job_id, user_id)

    def cancel(self, job_id: int, deleted: bool = False) -> None:
        """Stop ``job_id`` wherever it runs (after the database marked it cancelled or deleted it)."""
        executor = self.executor
        if executor is not None and executor.cancel(job_id, DELETED_REASON if deleted else CANCELLED_REASON):
            logger.info("job %d stopped in its worker", job_id)

    def _run_here(self, job_id: int, user_id: int, submitted: Submitted) -> None:
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
            self._queue.put(job_id, user_id)
            return
        try:
            result = encode_result(entries)
            stored = self._store.finish_queued(job_id, result, started_at, time.perf_counter() - started)
        except Exception:
            logger.exception("could not store the outcome of job %d; a worker runs it again", job_id)
            self._queue.put(job_id, user_id)
            return
        if not stored:
            _discarded(job_id)

    def _dispatch(self, executor: Executor, queue: FairQueue) -> None:
        while True:
            job_id = queue.take()
            if job_id is None:
                return
            try:
                job = self._store.claim_job(job_id)
            except Exception:
                logger.exception("could not claim job %d", job_id)
                continue
            if job is None:
                continue  # cancelled or deleted while queued
            future = executor.submit(self._spec(job))
            # A cancel that came between the claim and the submission found nothing to stop.
            meta = self._store.job_meta(job_id)
            if meta is None or meta["status"] != "running":
                executor.cancel(job_id, DELETED_REASON if meta is None else CANCELLED_REASON)
            self._store_outcome(job_id, future.result())

    def _spec(self, job: dict[str, Any]) -> JobSpec:
        max_qubits, with_state = _circuit_settings(self._store.device_settings(job["device_id"]) or {})
        return JobSpec(
            job_id=job["id"],
            user_id=job["user_id"],
            job_type=job["job_type"],
            number_shots=job["number_shots"],
            description=job["description"],
            max_qubits=max_qubits,
            with_state=with_state,
            max_decompressed=self._max_decompressed,
        )

    def _store_outcome(self, job_id: int, outcome: Outcome) -> None:
        for qasm, program in outcome.prepared:
            remember(qasm, program)
        try:
            if outcome.status == "interrupted":
                self._store.requeue_job(job_id)
                return
            stored = self._store.finish_job(
                job_id, outcome.status, outcome.result, outcome.error, outcome.duration
            )
        except Exception:
            logger.exception("could not store the outcome of job %d", job_id)
            return
        if not stored:
            _discarded(job_id)
        else:
            logger.debug("job %d %s in %.3f s", job_id, outcome.status, outcome.duration)


def _circuit_settings(device: dict[str, Any]) -> tuple[int, bool]:
    """The widest circuit a device runs, and whether its results carry the final state."""
    features = device.get("static_features") or {}
    return int(features.get("max_qubits", 20)), device.get("type") == "simulator_device"
