"""Waiting for jobs to reach a final status.

Polling goes in rounds: each round asks only about jobs not yet final, then waits; the wait starts
fast and backs off (x1.5 per round, capped by the caller's interval). A one-line progress display
(status counts, best queue position, elapsed time) goes to stderr when stderr is a terminal.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TextIO

from qiboconnection.errors import JobTimeoutError

__all__ = [
    "FINAL_STATUSES",
    "Backoff",
    "Progress",
    "async_wait_rounds",
    "is_final",
    "wait_for_jobs",
    "wait_rounds",
]

logger = logging.getLogger("qiboconnection.polling")

FINAL_STATUSES = frozenset({"completed", "error", "cancelled", "canceled"})
FIRST_DELAY = 0.05
GROWTH = 1.5


def is_final(status: Any) -> bool:
    """Whether a job status is final (``completed``, ``error``, ``cancelled`` or ``canceled``)."""
    return isinstance(status, str) and status.lower() in FINAL_STATUSES


class Progress:
    """A one-line status display on a terminal; silent when the stream is not a TTY or it is disabled."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self._stream = stream if stream is not None else sys.stderr
        isatty = getattr(self._stream, "isatty", None)
        self.active = bool(enabled and callable(isatty) and isatty())
        self._width = 0

    def update(self, jobs: Mapping[int, Mapping[str, Any]], elapsed: float) -> None:
        """Redraw the line with status counts, the best queue position and the elapsed time."""
        if not self.active:
            return
        counts = Counter(str(job.get("status", "?")) for job in jobs.values())
        parts = [f"{count} {status}" for status, count in sorted(counts.items())]
        positions = [
            job["queue_position"]
            for job in jobs.values()
            if isinstance(job.get("queue_position"), int) and not is_final(job.get("status"))
        ]
        if positions:
            parts.append(f"queue position {min(positions)}")
        line = f"Jobs: {', '.join(parts)} | {elapsed:.0f} s"
        self._stream.write("\r" + line.ljust(self._width))
        self._stream.flush()
        self._width = len(line)

    def close(self) -> None:
        """End the line."""
        if self.active and self._width:
            self._stream.write("\n")
            self._stream.flush()


class Backoff:
    """Delays between polling rounds: start at :data:`FIRST_DELAY`, grow x1.5, capped at ``interval``.

    An ``interval`` of 0 keeps polling at the floor, :data:`FIRST_DELAY`.
    """

    def __init__(self, interval: float) -> None:
        self._delay = FIRST_DELAY
        self._cap = max(interval, FIRST_DELAY)

    def next(self) -> float:
        """The delay before the next round."""
        delay = self._delay
        self._delay = min(self._delay * GROWTH, self._cap)
        return delay


Record = Mapping[str, Any]
#: Fetches the current records of the given jobs in one round; an exception in place of a record
#: makes that job final (its fetch failed), leaving the others to continue.
RoundFetcher = Callable[[list[int]], Mapping[int, "Record | BaseException"]]
AsyncRoundFetcher = Callable[[list[int]], Awaitable[Mapping[int, "Record | BaseException"]]]


def _settled(entry: Record | BaseException) -> bool:
    return isinstance(entry, BaseException) or is_final(entry.get("status"))


def _shown(latest: Mapping[int, Record | BaseException]) -> dict[int, Record]:
    return {
        job_id: entry if not isinstance(entry, BaseException) else {"status": "failed"}
        for job_id, entry in latest.items()
    }


class _Rounds:
    """The bookkeeping of a wait, shared by the synchronous and asynchronous loops."""

    def __init__(
        self,
        job_ids: Iterable[int],
        *,
        timeout: float,
        interval: float,
        progress: Progress | None,
        clock: Callable[[], float],
    ) -> None:
        self.pending = list(dict.fromkeys(job_ids))
        self.latest: dict[int, Record | BaseException] = {}
        self._timeout = timeout
        self._progress = progress
        self._clock = clock
        self._started = clock()
        self._backoff = Backoff(interval)

    def record(self, entries: Mapping[int, Record | BaseException]) -> float | None:
        """Store a round's records; the delay before the next round, or None when every job is final."""
        self.latest.update(entries)
        self.pending = [job_id for job_id in self.pending if not _settled(self.latest[job_id])]
        elapsed = self._clock() - self._started
        if self._progress is not None:
            self._progress.update(_shown(self.latest), elapsed)
        if not self.pending:
            return None
        remaining = self._timeout - elapsed
        if remaining <= 0:
            raise JobTimeoutError(self.pending, self._timeout)
        delay = min(self._backoff.next(), remaining)
        logger.debug("%d jobs still running; next check in %.2f s", len(self.pending), delay)
        return delay

    def close(self) -> None:
        if self._progress is not None:
            self._progress.close()


def wait_rounds(
    job_ids: Iterable[int],
    fetch_round: RoundFetcher,
    *,
    timeout: float,
    interval: float,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[int, Record | BaseException]:
    """Poll in rounds (each asks only about jobs not yet final) until all are final; return the last entries.

    Raises:
        JobTimeoutError: some jobs were not final after ``timeout`` seconds.
    """
    rounds = _Rounds(job_ids, timeout=timeout, interval=interval, progress=progress, clock=clock)
    try:
        while rounds.pending:
            delay = rounds.record(fetch_round(list(rounds.pending)))
            if delay is None:
                break
            sleep(delay)
        return rounds.latest
    finally:
        rounds.close()


async def async_wait_rounds(
    job_ids: Iterable[int],
    fetch_round: AsyncRoundFetcher,
    *,
    timeout: float,
    interval: float,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[int, Record | BaseException]:
    """The asynchronous twin of :func:`wait_rounds`."""
    rounds = _Rounds(job_ids, timeout=timeout, interval=interval, progress=progress, clock=clock)
    try:
        while rounds.pending:
            delay = rounds.record(await fetch_round(list(rounds.pending)))
            if delay is None:
                break
            await asyncio.sleep(delay)
        return rounds.latest
    finally:
        rounds.close()


def wait_for_jobs(
    job_ids: Iterable[int],
    fetch: Callable[[int], Mapping[str, Any]],
    *,
    timeout: float,
    interval: float,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[int, Mapping[str, Any]]:
    """Fetch each job (one at a time, errors propagate) until all are final; return the last record of each.

    Raises:
        JobTimeoutError: some jobs were not final after ``timeout`` seconds.
    """
    latest = wait_rounds(
        job_ids,
        lambda pending: {job_id: fetch(job_id) for job_id in pending},
        timeout=timeout,
        interval=interval,
        progress=progress,
        sleep=sleep,
        clock=clock,
    )
    return {job_id: entry for job_id, entry in latest.items() if not isinstance(entry, BaseException)}
