"""The polling loops of a wait: rounds until every job is final, and the listing round that learns
which jobs are final from the job listing (the bookkeeping is in :mod:`qiboconnection.polling`)."""

# Written from qiboconnection/_async/waiting.py by scripts/unasync.py: edit that file, not this one.

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from qiboconnection.concurrency import sleep
from qiboconnection.errors import QiboconnectionError
from qiboconnection.polling import ListingRounds, Progress, Record, Rounds, UpdateHook

__all__ = ["listing_round", "wait_for_jobs", "wait_rounds"]

Entries = Mapping[int, "Record | BaseException"]


def listing_round(
    rounds: ListingRounds,
    pending: list[int],
    list_page: Callable[[int, int], Any],
    fetch: Callable[[list[int]], Entries],
) -> dict[int, Record | BaseException]:
    """One round: ``list_page(page, per_page)`` answers a listing page's body, ``fetch(ids)`` records."""
    wanted = rounds.wanted(pending)
    seen: dict[int, Record] = {}
    if wanted:
        unseen = set(wanted)
        page: tuple[int, int] | None = rounds.first_page(len(wanted))
        try:
            for _ in range(rounds.page_limit):
                if page is None:
                    break
                page = rounds.read(list_page(*page), unseen, seen)
        except QiboconnectionError as error:
            rounds.failed(error)
            wanted, seen = set(), {}
    to_fetch, entries = rounds.settle(pending, wanted, seen)
    result: dict[int, Record | BaseException] = dict(entries)
    if to_fetch:
        result.update(fetch(to_fetch))
    return result


def wait_rounds(
    job_ids: Iterable[int],
    fetch_round: Callable[[list[int]], Entries],
    *,
    timeout: float,
    interval: float,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = sleep,
    clock: Callable[[], float] = time.monotonic,
    on_update: UpdateHook | None = None,
) -> dict[int, Record | BaseException]:
    """Poll in rounds (each asks only about jobs not yet final) until all are final; the last entries.

    ``on_update`` is called with each change of a job's status seen (see
    :class:`~qiboconnection.polling.Watch`).

    Raises:
        JobTimeoutError: some jobs were not final after ``timeout`` seconds.
    """
    rounds = Rounds(
        job_ids, timeout=timeout, interval=interval, progress=progress, clock=clock, on_update=on_update
    )
    try:
        while rounds.pending:
            delay = rounds.record(fetch_round(list(rounds.pending)))
            if delay is None:
                break
            sleep(delay)
        return rounds.latest
    finally:
        rounds.close()


def wait_for_jobs(
    job_ids: Iterable[int],
    fetch: Callable[[int], Record],
    *,
    timeout: float,
    interval: float,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[int, Record]:
    """Fetch each job (one at a time, errors propagate) until all are final; the last record of each.

    Raises:
        JobTimeoutError: some jobs were not final after ``timeout`` seconds.
    """

    def fetch_round(pending: list[int]) -> Entries:
        return {job_id: fetch(job_id) for job_id in pending}

    latest = wait_rounds(
        job_ids, fetch_round, timeout=timeout, interval=interval, progress=progress, sleep=sleep, clock=clock
    )
    return {job_id: entry for job_id, entry in latest.items() if not isinstance(entry, BaseException)}
