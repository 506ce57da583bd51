"""Waiting for jobs to reach a final status.

Polling starts fast and backs off (x1.5 per round, capped by the caller's interval), asks only about
jobs not yet final, and shows a one-line progress display on stderr when stderr is a terminal.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from qiboconnection.errors import JobTimeoutError

__all__ = ["FINAL_STATUSES", "Progress", "is_final", "wait_for_jobs"]

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
    """Fetch each job until all are final; return the last record of each, by job id.

    Raises:
        JobTimeoutError: some jobs were not final after ``timeout`` seconds.
    """
    pending = list(dict.fromkeys(job_ids))
    latest: dict[int, Mapping[str, Any]] = {}
    started = clock()
    delay = FIRST_DELAY
    cap = max(interval, FIRST_DELAY)
    try:
        while True:
            for job_id in pending:
                latest[job_id] = fetch(job_id)
            pending = [job_id for job_id in pending if not is_final(latest[job_id].get("status"))]
            elapsed = clock() - started
            if progress is not None:
                progress.update(latest, elapsed)
            if not pending:
                return latest
            remaining = timeout - elapsed
            if remaining <= 0:
                raise JobTimeoutError(pending, timeout)
            logger.debug("%d jobs still running; next check in %.2f s", len(pending), min(delay, remaining))
            sleep(min(delay, remaining))
            delay = min(delay * GROWTH, cap)
    finally:
        if progress is not None:
            progress.close()
