"""Waiting for jobs to reach a final status.

Polling goes in rounds: each round asks only about jobs not yet final, then waits; the first wait is
short (:data:`FIRST_DELAY`, for jobs about to finish), and the waits grow x1.5 per round, capped by the
caller's interval (never below :data:`POLL_FLOOR`). Whenever a round finds jobs finished, the wait
drops back to :data:`POLL_FLOOR` (when longer), so a stream of finishing jobs is followed closely
without polling faster than the floor once the first rounds are over. A one-line
progress display (status counts, best queue position, elapsed time) goes to stderr when stderr is a
terminal.

With several jobs to watch, a round learns their statuses from the job listing (newest first, in pages
sized to the jobs looked for, at most :data:`LISTING_PAGE_SIZE`; see :class:`ListingRounds`) and
fetches each job once, when the listing shows it final. A job the listing does not show is fetched on
its own from then on.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from qiboconnection.errors import JobTimeoutError

__all__ = [
    "FETCH_FAILED",
    "FINAL_STATUSES",
    "LISTING_MAX_PAGES",
    "LISTING_MIN_JOBS",
    "LISTING_MIN_PAGE",
    "LISTING_PAGE_SIZE",
    "POLL_FLOOR",
    "Backoff",
    "JobUpdate",
    "ListingRounds",
    "Pace",
    "Progress",
    "Record",
    "Rounds",
    "UpdateHook",
    "Watch",
    "is_final",
    "next_page",
    "shown",
]

logger = logging.getLogger("qiboconnection.polling")

FINAL_STATUSES = frozenset({"completed", "error", "cancelled", "canceled"})
#: Seconds of the first pause of a wait (most jobs of a round of submissions are done by then or soon).
FIRST_DELAY = 0.01
#: Factor by which each pause grows over the previous one.
GROWTH = 1.5
#: Shortest pause once the first pauses have grown to it: where a wait with ``interval`` 0 settles, and
#: where the pauses start over from when jobs finish.
POLL_FLOOR = 0.05
#: Fewest unfinished jobs for which a round reads the job listing instead of fetching each job.
LISTING_MIN_JOBS = 2
#: Most job summaries asked for per listing page (the most the service gives at once).
LISTING_PAGE_SIZE = 1000
#: Fewest job summaries asked for per listing page (the service's own default page).
LISTING_MIN_PAGE = 50
#: How deep one round reads the listing, in full pages of :data:`LISTING_PAGE_SIZE` (smaller pages are
#: read in as many more); jobs not found by then are fetched one by one.
LISTING_MAX_PAGES = 5


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
    """Delays between polling rounds: start at :data:`FIRST_DELAY`, grow x1.5, capped at ``interval``
    (or at :data:`POLL_FLOOR` when ``interval`` is shorter).

    An ``interval`` of 0 polls at the floor, :data:`POLL_FLOOR`, once the first delays have grown to it.
    """

    def __init__(self, interval: float) -> None:
        self._delay = FIRST_DELAY
        self._cap = max(interval, POLL_FLOOR)

    def next(self) -> float:
        """The delay before the next round."""
        delay = self._delay
        self._delay = min(self._delay * GROWTH, self._cap)
        return delay

    def reset(self) -> None:
        """Start again from :data:`POLL_FLOOR` (jobs are finishing: keep up with them); a delay still
        growing from :data:`FIRST_DELAY` towards it goes on growing."""
        self._delay = min(self._delay, POLL_FLOOR)


Record = Mapping[str, Any]
#: What the progress line shows for a job whose last fetch failed (not a status of the service's).
FETCH_FAILED: Record = MappingProxyType({"status": "failed"})


@dataclass(frozen=True)
class JobUpdate:
    """A change seen in a job while waiting: its status, and its queue position when the service gave one."""

    job_id: int
    status: str
    queue_position: int | None = None


#: Called with each :class:`JobUpdate` of a wait (``on_update=`` of ``wait``, ``RemoteJob.wait`` and
#: ``run_batch``).
UpdateHook = Callable[[JobUpdate], object]


class Watch:
    """Calls a hook with every change of status seen in the records of a wait, once each, in the order
    seen; the first sight of a job counts as a change. Each :class:`JobUpdate` carries the queue position
    the record gave with that status (a position moving within one status is not a change)."""

    def __init__(self, hook: UpdateHook) -> None:
        if not callable(hook):
            raise TypeError(f"on_update must be callable, not {type(hook).__name__}")
        self._hook = hook
        self._last: dict[int, str] = {}

    def observe(self, records: Mapping[int, Record]) -> None:
        """Take a round's records (in job order) and report what changed."""
        for job_id, record in records.items():
            if record is FETCH_FAILED or not isinstance(record, Mapping):
                continue
            status = record.get("status")
            if not isinstance(status, str) or self._last.get(job_id) == status:
                continue
            self._last[job_id] = status
            position = record.get("queue_position")
            known = isinstance(position, int) and not isinstance(position, bool) and not is_final(status)
            self._hook(JobUpdate(job_id, status, position if known else None))


def _settled(entry: Record | BaseException) -> bool:
    return isinstance(entry, BaseException) or is_final(entry.get("status"))


def shown(latest: Mapping[int, Record | BaseException]) -> dict[int, Record]:
    """The records of a wait as the progress line shows them (a failed fetch as :data:`FETCH_FAILED`)."""
    return {
        job_id: entry if not isinstance(entry, BaseException) else FETCH_FAILED
        for job_id, entry in latest.items()
    }


class Pace:
    """When to poll again: the :class:`Backoff` between rounds, the progress line, the ``on_update`` hook
    and the deadline.

    ``timeout`` counts from the creation of the pace; ``clock`` is :func:`time.monotonic` unless given.
    """

    def __init__(
        self,
        timeout: float,
        interval: float,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_update: UpdateHook | None = None,
    ) -> None:
        self.timeout = timeout
        self._progress = progress
        self._watch = Watch(on_update) if on_update is not None else None
        self._clock = clock
        self._started = clock()
        self._backoff = Backoff(interval)
        self._finished = 0

    def next(self, shown: Mapping[int, Record], waiting: int, finished: int) -> float | None:
        """After a round: show ``shown``; the pause before the next round, or None when no job is
        ``waiting`` or the time is up. ``finished`` counts the jobs final so far; when it grows, the
        backoff starts again from its floor."""
        elapsed = self._clock() - self._started
        if self._watch is not None:
            self._watch.observe(shown)
        if self._progress is not None:
            self._progress.update(shown, elapsed)
        if finished > self._finished:
            self._finished = finished
            self._backoff.reset()
        remaining = self.timeout - elapsed
        if not waiting or remaining <= 0:
            return None
        return min(self._backoff.next(), remaining)

    def close(self) -> None:
        """End the progress line."""
        if self._progress is not None:
            self._progress.close()


class Rounds:
    """The bookkeeping of a wait (the loops are in ``qiboconnection._async.waiting`` and its twin)."""

    def __init__(
        self,
        job_ids: Iterable[int],
        *,
        timeout: float,
        interval: float,
        progress: Progress | None,
        clock: Callable[[], float],
        on_update: UpdateHook | None = None,
    ) -> None:
        self.pending = list(dict.fromkeys(job_ids))
        self.latest: dict[int, Record | BaseException] = {}
        self._total = len(self.pending)
        self._pace = Pace(timeout, interval, progress, clock, on_update)

    def record(self, entries: Mapping[int, Record | BaseException]) -> float | None:
        """Store a round's records; the delay before the next round, or None when every job is final."""
        self.latest.update(entries)
        self.pending = [job_id for job_id in self.pending if not _settled(self.latest[job_id])]
        waiting = len(self.pending)
        delay = self._pace.next(shown(self.latest), waiting, self._total - waiting)
        if delay is None:
            if self.pending:
                raise JobTimeoutError(self.pending, self._pace.timeout)
            return None
        logger.debug("%d jobs still running; next check in %.2f s", waiting, delay)
        return delay

    def close(self) -> None:
        """End the progress line, if one is shown."""
        self._pace.close()


def _job_id_in(item: Any) -> int | None:
    job_id = item.get("id", item.get("job_id")) if isinstance(item, Mapping) else None
    return job_id if isinstance(job_id, int) and not isinstance(job_id, bool) else None


class ListingRounds:
    """Polling rounds that read the job listing to learn which jobs are final.

    Each round reads the listing (newest first), following pages only until every job looked for has
    been seen, and then fetches just the jobs the listing shows final (for their results). A job the
    listing does not show (an admin waiting on another user's job, a service that lists differently) is
    fetched on its own in this and every later round, and a listing that fails makes every later round
    fetch jobs one by one, so a wait never hangs on the listing. Jobs fewer than ``min_jobs`` are
    fetched directly: one request each is no more than the listing.

    Pages are sized to the round: the jobs looked for, or as deep as the last round found one of them
    when that is more, and a quarter more for jobs submitted since (at least :data:`LISTING_MIN_PAGE`,
    at most ``page_size``): waiting for 200 jobs just submitted reads 250 summaries, not a full page.
    """

    def __init__(
        self,
        *,
        page_size: int = LISTING_PAGE_SIZE,
        max_pages: int = LISTING_MAX_PAGES,
        min_jobs: int = LISTING_MIN_JOBS,
    ) -> None:
        self.page_size = page_size
        self.max_pages = max_pages
        self.min_jobs = min_jobs
        #: Jobs a listing did not show; fetched one by one.
        self.unlisted: set[int] = set()
        #: Whether rounds still read the listing (False once it failed).
        self.listing = True
        #: How deep in the listing the last round found the deepest job it looked for (0: not yet).
        self.reach = 0
        self._size = page_size
        self._read = 0

    def first_page(self, wanted: int) -> tuple[int, int]:
        """Start a round that looks for ``wanted`` jobs: the first page to read (number, size)."""
        needed = max(wanted, self.reach)
        self._size = min(self.page_size, max(LISTING_MIN_PAGE, needed + needed // 4))
        self._read = 0
        self.reach = 0
        return 1, self._size

    @property
    def page_limit(self) -> int:
        """Most pages this round reads: as many summaries as ``max_pages`` full pages."""
        return max(1, math.ceil(self.max_pages * self.page_size / self._size))

    def wanted(self, pending: list[int]) -> set[int]:
        """The jobs this round looks for in the listing (none: fetch every pending job)."""
        if not self.listing:
            return set()
        wanted = {job_id for job_id in pending if job_id not in self.unlisted}
        return wanted if len(wanted) >= self.min_jobs else set()

    def read(self, body: Any, unseen: set[int], seen: dict[int, Record]) -> tuple[int, int] | None:
        """Take one listing page: move the jobs of ``unseen`` it lists into ``seen``.

        Returns the next page to read (number, size), or None when there is no need or no next page.
        """
        items = body.get("items") if isinstance(body, Mapping) else None
        if not isinstance(items, list) or not items:
            return None
        ids = []
        for position, item in enumerate(items, start=self._read + 1):
            job_id = _job_id_in(item)
            if job_id is None:
                continue
            ids.append(job_id)
            if job_id in unseen:
                unseen.discard(job_id)
                seen[job_id] = item
                self.reach = position
        self._read += len(items)
        if not unseen:
            return None
        # Newest first by id: later pages hold only jobs older than this page's last one.
        if ids and ids == sorted(ids, reverse=True) and min(unseen) > ids[-1]:
            return None
        links = body.get("links")
        following = next_page(links.get("next") if isinstance(links, Mapping) else None)
        if following is None:
            return None
        return following[0], following[1] or self._size

    def settle(
        self, pending: list[int], wanted: set[int], seen: Mapping[int, Record]
    ) -> tuple[list[int], dict[int, Record]]:
        """After the listing: the jobs to fetch (final there, or not looked for or not found) and the
        entries of the others (their listing summaries)."""
        fetch: list[int] = []
        entries: dict[int, Record] = {}
        for job_id in pending:
            item = seen.get(job_id)
            if item is None:
                if job_id in wanted:
                    logger.debug("Job %s is not in the listing; fetching it on its own", job_id)
                    self.unlisted.add(job_id)
                fetch.append(job_id)
            elif is_final(item.get("status")):
                fetch.append(job_id)
            else:
                entries[job_id] = item
        return fetch, entries

    def failed(self, error: BaseException) -> None:
        """The listing failed: fetch jobs one by one from now on."""
        logger.info("Listing jobs failed (%s); fetching each job instead", error)
        self.listing = False


def next_page(link: object) -> tuple[int, int | None] | None:
    """Page number and size named by a ``links.next`` URL, or None on the last page (``page=None``)."""
    if not isinstance(link, str) or not link or "None" in link:
        return None
    query = parse_qs(urlsplit(link).query)
    try:
        page = int(query["page"][0])
    except (KeyError, IndexError, ValueError):
        return None
    try:
        per_page: int | None = int(query["per_page"][0])
    except (KeyError, IndexError, ValueError):
        per_page = None
    return page, per_page
