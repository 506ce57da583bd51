"""Where jobs run: the :class:`Executor` interface and its implementation on local worker processes.

An executor takes :class:`~qiboconnection.server.worker.JobSpec` objects and resolves, for each, a
:class:`concurrent.futures.Future` with its :class:`~qiboconnection.server.worker.Outcome`. It runs at
most :attr:`Executor.capacity` jobs at once, enforces :class:`Limits` on each, and can stop a job at
any moment (:meth:`Executor.cancel`). Scheduling (which job goes next), the database and the HTTP side
stay with the job manager, so another executor (a cluster engine, say) can replace this one without
touching them.

:class:`ProcessExecutor` keeps one long-lived process per slot, started from a ``forkserver`` that has
qibo imported already, so that a fresh warm worker costs a fork (tens of milliseconds) rather than an
import (seconds). Stopping a job, because it was cancelled or ran past its time limit, kills its
process and starts a fresh one in its slot; the memory the job held goes back to the system at once.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any, Protocol

from qiboconnection.server.worker import JobSpec, Outcome, worker_main

logger = logging.getLogger("qiboconnection.server.executor")

#: Workers in a row that end before they are ready, after which the executor stops starting them.
MAX_FAILED_STARTS = 3
#: Modules the forkserver imports once, so that every worker forked from it starts with them.
PRELOADED = ["numpy", "qibo", "qiboconnection.server.worker"]


@dataclass(frozen=True)
class Limits:
    """Per-job limits: seconds of running time, and bytes of memory beyond what a warm worker holds."""

    time: float
    memory: int

    def __post_init__(self) -> None:
        if not self.time > 0:
            raise ValueError(f"the per-job time limit must be positive, not {self.time}")
        if self.memory <= 0:
            raise ValueError(f"the per-job memory limit must be positive, not {self.memory}")


class Executor(Protocol):
    """Runs jobs, at most :attr:`capacity` at once, each within :attr:`limits`."""

    @property
    def capacity(self) -> int: ...

    @property
    def limits(self) -> Limits: ...

    def start(self) -> None:
        """Get ready to run jobs (start and warm the workers); returns without waiting for them."""

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every worker is warm; False if ``timeout`` seconds pass first."""

    def submit(self, job: JobSpec) -> Future[Outcome]:
        """Run ``job`` as soon as a worker is free; the future gives its outcome."""

    def cancel(self, job_id: int, reason: str) -> bool:
        """Stop ``job_id`` if it is waiting or running here; its outcome is ``cancelled`` with ``reason``."""

    def stop(self) -> None:
        """Stop every worker; jobs still here end ``interrupted``. The executor cannot start again."""


def _context() -> Any:
    """The forkserver context with qibo preloaded, where the platform has one; spawn otherwise."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # Takes effect when the forkserver starts, once per server process; later calls change nothing.
        context.set_forkserver_preload(PRELOADED)
        return context
    return multiprocessing.get_context("spawn")


class _Slot:
    """One worker process, the job it runs, and the ends of its two pipes the server holds."""

    def __init__(self, context: Any, memory: int) -> None:
        self.conn, child_conn = context.Pipe()
        lifeline_read, self.lifeline = context.Pipe(duplex=False)
        self.process = context.Process(
            target=worker_main, args=(child_conn, lifeline_read, memory), name="qaas-job-worker", daemon=True
        )
        self.process.start()
        child_conn.close()
        lifeline_read.close()
        self.ready = False
        self.pid: int | None = self.process.pid
        self.job: JobSpec | None = None
        self.future: Future[Outcome] | None = None
        self.deadline = 0.0

    @property
    def idle(self) -> bool:
        return self.ready and self.job is None

    def end(self, kill: bool) -> None:
        """End the process (killed, or asked to finish) and close the server's ends of its pipes."""
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                self.process.kill()
        self.lifeline.close()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()
        self.process.close()


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is None:
        return "for an unknown reason"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (the system may have run out of memory)" if -exitcode == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"with exit code {exitcode}"


class ProcessExecutor:
    """An :class:`Executor` on ``workers`` local worker processes (see the module's description).

    One thread of the server process watches every worker's pipe and process, the time limits and the
    cancel requests, and hands waiting jobs to idle workers in the order they were submitted.
    """

    def __init__(self, workers: int, limits: Limits, context: Any = None) -> None:
        if workers < 1:
            raise ValueError("a process executor needs at least one worker")
        self._workers = workers
        self._limits = limits
        self._context = context if context is not None else _context()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._slots: list[_Slot] = []
        self._pending: deque[tuple[JobSpec, Future[Outcome]]] = deque()
        self._cancels: dict[int, str] = {}
        self._wake_read, self._wake = self._context.Pipe(duplex=False)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._failed_starts = 0
        self._broken: str | None = None

    @property
    def capacity(self) -> int:
        return self._workers

    @property
    def limits(self) -> Limits:
        return self._limits

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stopping:
                return
            self._slots = [_Slot(self._context, self._limits.memory) for _ in range(self._workers)]
            self._thread = threading.Thread(target=self._watch, name="qaas-executor", daemon=True)
            self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._ready:
            while not all(slot.ready for slot in self._slots):
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping or self._broken is not None:
                    return False
                self._ready.wait(left)
            return self._broken is None

    def pids(self) -> dict[int, int | None]:
        """The process id of each worker, and the id of the job it runs (None when idle)."""
        with self._lock:
            return {
                slot.pid: slot.job.job_id if slot.job else None
                for slot in self._slots
                if slot.pid is not None
            }

    def submit(self, job: JobSpec) -> Future[Outcome]:
        future: Future[Outcome] = Future()
        with self._lock:
            if self._stopping:
                future.set_result(Outcome("interrupted"))
                return future
            if self._broken is not None:
                future.set_result(Outcome("error", error=self._broken))
                return future
            self._pending.append((job, future))
        self._poke()
        return future

    def cancel(self, job_id: int, reason: str) -> bool:
        with self._lock:
            here = any(slot.job is not None and slot.job.job_id == job_id for slot in self._slots)
            here = here or any(spec.job_id == job_id for spec, _ in self._pending)
            if here:
                self._cancels[job_id] = reason
        if here:
            self._poke()
        return here

    def stop(self) -> None:
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            thread = self._thread
        self._poke()
        if thread is not None:
            thread.join(30)
        with self._lock:
            slots, self._slots = self._slots, []
            pending = list(self._pending)
            self._pending.clear()
        for slot in slots:
            if slot.future is not None:
                slot.future.set_result(Outcome("interrupted"))
            slot.end(kill=slot.job is not None)
        for _, future in pending:
            future.set_result(Outcome("interrupted"))
        self._wake.close()
        self._wake_read.close()

    # the watching thread
    def _poke(self) -> None:
        with contextlib.suppress(OSError):  # stopped meanwhile: the thread has ended
            self._wake.send_bytes(b"")

    def _watch(self) -> None:
        try:
            self._watch_loop()
        except Exception as exc:  # a worker could not be started: say so rather than hang every job
            logger.exception("the executor's watching thread failed")
            self._break(f"The server's job workers failed: {type(exc).__name__}: {exc}.")

    def _watch_loop(self) -> None:
        while True:
            with self._lock:
                if self._stopping:
                    return
                slots = list(self._slots)
                deadlines = [slot.deadline for slot in slots if slot.job is not None]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            objects: list[Any] = [self._wake_read]
            for slot in slots:
                objects += [slot.conn, slot.process.sentinel]
            ready = wait(objects, timeout)
            if self._wake_read in ready:
                while self._wake_read.poll():
                    self._wake_read.recv_bytes()
            for slot in slots:
                current = slot in self._slots  # not replaced or given up on meanwhile
                if current and (slot.conn in ready or slot.process.sentinel in ready):
                    self._receive(slot)
            self._enforce()
            self._dispatch()

    def _receive(self, slot: _Slot) -> None:
        """Read what ``slot``'s worker sent; replace it if it ended."""
        try:
            while slot.conn.poll():
                message = slot.conn.recv()
                if message[0] == "ready":
                    with self._ready:
                        self._failed_starts = 0
                        slot.ready = True
                        self._ready.notify_all()
                elif message[0] == "done":
                    _, job_id, outcome, retire = message
                    if retire:
                        self._replace(slot)
                    self._resolve(slot, job_id, outcome)
                    if retire:
                        return
        except (EOFError, OSError):
            pass
        if slot.process.exitcode is None and slot.process.is_alive():
            return
        how = _how_it_ended(slot.process.exitcode)
        if not slot.ready:
            self._failed_starts += 1
            if self._failed_starts >= MAX_FAILED_STARTS:
                self._break(f"The server's job workers cannot start (the last one ended {how}).")
                return
            logger.warning("a worker process ended %s while starting; starting another", how)
        elif slot.job is not None:
            logger.warning("the worker process of job %d ended %s", slot.job.job_id, how)
            reason = f"The worker process running the job ended unexpectedly ({how})."
            job_id = slot.job.job_id
            self._replace(slot)
            self._resolve(slot, job_id, Outcome("error", error=reason))
            return
        else:
            logger.warning("an idle worker process ended %s; starting another", how)
        self._replace(slot)

    def _break(self, reason: str) -> None:
        """Give up on starting workers: every job here, and every job submitted later, ends ``error``."""
        logger.error("%s Jobs end in error until the server is restarted.", reason)
        with self._ready:
            self._broken = reason
            slots, self._slots = self._slots, []
            pending = list(self._pending)
            self._pending.clear()
            self._ready.notify_all()
        for slot in slots:
            if slot.future is not None:
                slot.future.set_result(Outcome("error", error=reason))
            slot.end(kill=True)
        for _, future in pending:
            future.set_result(Outcome("error", error=reason))

    def _resolve(self, slot: _Slot, job_id: int, outcome: Outcome) -> None:
        with self._lock:
            future = slot.future
            slot.job, slot.future = None, None
            self._cancels.pop(job_id, None)
        if future is not None and not future.done():
            future.set_result(outcome)

    def _replace(self, slot: _Slot) -> None:
        """Kill ``slot``'s process and start a fresh worker in its place.

        The old process is reaped by a thread of its own: tearing down a large address space takes a
        while, and this thread has the fresh worker's first message to read meanwhile.
        """
        slot.process.kill()
        fresh = _Slot(self._context, self._limits.memory)
        with self._lock:
            self._slots[self._slots.index(slot)] = fresh
        threading.Thread(target=slot.end, args=(True,), name="qaas-reaper", daemon=True).start()

    def _enforce(self) -> None:
        """Stop the jobs that were cancelled or ran past the time limit."""
        now = time.monotonic()
        stopped: list[tuple[_Slot, Outcome]] = []
        dropped: list[tuple[Future[Outcome], Outcome]] = []
        with self._lock:
            for slot in self._slots:
                job = slot.job
                if job is None:
                    continue
                reason = self._cancels.get(job.job_id)
                if reason is not None:
                    stopped.append((slot, Outcome("cancelled", error=reason)))
                elif now >= slot.deadline:
                    limit = f"{self._limits.time:g}"
                    message = f"The job ran past the per-job time limit of {limit} s; it was stopped."
                    stopped.append((slot, Outcome("error", error=message, duration=self._limits.time)))
            if self._cancels:
                kept: deque[tuple[JobSpec, Future[Outcome]]] = deque()
                for spec, future in self._pending:
                    reason = self._cancels.pop(spec.job_id, None)
                    if reason is None:
                        kept.append((spec, future))
                    else:
                        dropped.append((future, Outcome("cancelled", error=reason)))
                self._pending = kept
        for future, outcome in dropped:
            future.set_result(outcome)
        for slot, outcome in stopped:
            assert slot.job is not None
            job_id = slot.job.job_id
            logger.info("stopping job %d: %s", job_id, outcome.error)
            self._replace(slot)
            self._resolve(slot, job_id, outcome)

    def _dispatch(self) -> None:
        """Send waiting jobs to idle workers."""
        while True:
            with self._lock:
                slot = next((slot for slot in self._slots if slot.idle), None)
                if slot is None or not self._pending:
                    return
                spec, future = self._pending.popleft()
                slot.job, slot.future = spec, future
                slot.deadline = time.monotonic() + self._limits.time
            try:
                slot.conn.send(spec)
            except (OSError, ValueError):
                # The worker died between two looks; its job goes back first in line.
                with self._lock:
                    slot.job, slot.future = None, None
                    self._pending.appendleft((spec, future))
                self._replace(slot)


ExecutorFactory = Callable[[int, Limits], Executor]


def process_executor(workers: int, limits: Limits) -> Executor:
    """The default :data:`ExecutorFactory`: a :class:`ProcessExecutor`."""
    return ProcessExecutor(workers, limits)
