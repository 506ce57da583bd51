"""Running many circuits at once: one job each, submitted with bounded concurrency, awaited together.

The synchronous path (:meth:`API.run_batch <qiboconnection.api.API.run_batch>`) submits from a thread
pool over the session's pooled connection; the asynchronous one
(:meth:`AsyncAPI.run_batch <qiboconnection.async_api.AsyncAPI.run_batch>`) from tasks bounded by a
semaphore. The device is checked once per batch. Both then poll in rounds, each reading the statuses
of the unfinished jobs from the job listing and fetching only the jobs that became final (see
:class:`~qiboconnection.polling.ListingRounds`), and return one :class:`BatchOutcome` per circuit, in
submission order. A circuit that could not be submitted, a job
that failed, was cancelled or did not finish in time, or a result that could not be decoded makes its
own outcome fail; the others are kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qiboconnection.errors import JobTimeoutError
from qiboconnection.models.jobs import JobData
from qiboconnection.operations import Submission, check_int, check_wait, plan_submission, result_of_job
from qiboconnection.polling import is_final

if TYPE_CHECKING:
    from qiboconnection.api import API
    from qiboconnection.async_api import AsyncAPI
    from qiboconnection.polling import Record

__all__ = ["DEFAULT_BATCH_INTERVAL", "DEFAULT_MAX_PARALLEL", "BatchOutcome"]

logger = logging.getLogger("qiboconnection.batch")

DEFAULT_MAX_PARALLEL = 10
#: Longest pause, in seconds, between two polling rounds of a batch (polling starts faster).
DEFAULT_BATCH_INTERVAL = 1.0


@dataclass
class BatchOutcome:
    """What became of one circuit of a batch.

    Attributes:
        index: the circuit's position in the batch.
        job_id: the job's id (None when it could not be submitted).
        result: the decoded result (for a single circuit its
            :class:`~qiboconnection.results.QaaSCircuitResult`, for a list of circuits the list), or None.
        error: why this circuit has no result (submission error, failed or cancelled job, timeout, decoding).
        job: the job's final record, when there is one.
    """

    index: int
    job_id: int | None = None
    result: Any = None
    error: BaseException | None = None
    job: JobData | None = None

    @property
    def ok(self) -> bool:
        """Whether the circuit ran and its result was decoded."""
        return self.error is None

    def __repr__(self) -> str:
        state = "ok" if self.ok else f"error={self.error!s}"
        return f"BatchOutcome(index={self.index}, job_id={self.job_id}, {state})"


def check_batch(
    circuits: Any, *, device_id: Any, nshots: Any, max_parallel: Any, timeout: Any, interval: Any
) -> float:
    """Validate run_batch's arguments; returns the timeout in seconds (``inf`` for None)."""
    if isinstance(circuits, str | bytes) or not isinstance(circuits, Sequence):
        raise TypeError(f"circuits must be a list of qibo Circuits, not {type(circuits).__name__}")
    check_int(device_id, "device_id")
    if not isinstance(nshots, int) or isinstance(nshots, bool) or nshots <= 0:
        raise ValueError(f"nshots must be a positive int, not {nshots!r}")
    check_int(max_parallel, "max_parallel", minimum=1)
    limit, _ = check_wait(timeout, interval, allow_no_timeout=True)
    return limit


def encode_item(circuit: Any, device_id: int, nshots: int, index: int) -> Submission:
    """Encode one batch item (a circuit or a list of circuits), naming the job after its position."""
    return plan_submission(
        circuit=circuit,
        nshots=nshots,
        device_ids=None,
        device_id=device_id,
        name=f"batch-{index}",
        summary="-",
    )


def _single(item: Any) -> bool:
    return not (isinstance(item, Sequence) and not isinstance(item, str | bytes))


def finish(
    outcomes: list[BatchOutcome],
    items: Sequence[Any],
    latest: Mapping[int, Record | BaseException],
    timeout: float,
    max_result_bytes: int,
) -> list[BatchOutcome]:
    """Fill each submitted outcome from its job's last entry (record, fetch error or missing = timeout)."""
    for outcome in outcomes:
        if outcome.job_id is None or outcome.error is not None:
            continue
        entry = latest.get(outcome.job_id)
        if entry is None:
            outcome.error = JobTimeoutError([outcome.job_id], timeout)
            continue
        if isinstance(entry, BaseException):
            outcome.error = entry
            continue
        job = JobData(entry, max_result_bytes=max_result_bytes)
        outcome.job = job
        if not is_final(getattr(job, "status", None)):
            outcome.error = JobTimeoutError([outcome.job_id], timeout)
            continue
        try:
            result = result_of_job(job)
        except Exception as error:
            outcome.error = error
            continue
        if _single(items[outcome.index]) and isinstance(result, list) and len(result) == 1:
            result = result[0]
        outcome.result = result
    failed = sum(not outcome.ok for outcome in outcomes)
    if failed:
        logger.warning("%d of %d batch jobs have no result", failed, len(outcomes))
    return outcomes


def run_sync(
    api: API,
    circuits: Sequence[Any],
    *,
    device_id: int,
    nshots: int,
    max_parallel: int,
    timeout: float | None,
    interval: float,
) -> list[BatchOutcome]:
    """The synchronous batch: a thread pool of ``max_parallel`` for submissions and for each polling round."""
    from qiboconnection.polling import ListingRounds, Progress, wait_rounds

    limit = check_batch(
        circuits,
        device_id=device_id,
        nshots=nshots,
        max_parallel=max_parallel,
        timeout=timeout,
        interval=interval,
    )
    items = list(circuits)
    api._usable_device(device_id, nshots)
    outcomes = [BatchOutcome(index=index) for index in range(len(items))]

    def submit(index: int) -> None:
        try:
            submission = encode_item(items[index], device_id, nshots, index)
            outcomes[index].job_id = api._send(submission, device_id)
        except Exception as error:
            outcomes[index].error = error

    def fetch(job_id: int) -> tuple[int, Record | BaseException]:
        try:
            return job_id, api._job_record(job_id)
        except Exception as error:
            return job_id, error

    with ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="qiboconnection-batch") as pool:
        list(pool.map(submit, range(len(items))))
        ids = [outcome.job_id for outcome in outcomes if outcome.job_id is not None]
        latest: dict[int, Any] = {}
        rounds = ListingRounds()

        def fetch_many(pending: list[int]) -> dict[int, Record | BaseException]:
            return dict(pool.map(fetch, pending))

        def round_(pending: list[int]) -> dict[int, Record | BaseException]:
            entries = rounds.round(pending, api._listing_page, fetch_many)
            latest.update(entries)
            return entries

        try:
            wait_rounds(
                ids,
                round_,
                timeout=limit,
                interval=interval,
                progress=Progress(enabled=api.show_progress),
                sleep=api._sleep,
            )
        except JobTimeoutError as error:
            logger.warning("Batch: %d jobs did not finish within %g s", len(error.job_ids), error.timeout)
    return finish(outcomes, items, latest, limit, api._settings.max_result_bytes)


async def run_async(
    api: AsyncAPI,
    circuits: Sequence[Any],
    *,
    device_id: int,
    nshots: int,
    max_parallel: int,
    timeout: float | None,
    interval: float,
) -> list[BatchOutcome]:
    """The asynchronous batch: submissions and rounds bounded by a semaphore of ``max_parallel``."""
    from qiboconnection.polling import ListingRounds, Progress, async_wait_rounds

    limit = check_batch(
        circuits,
        device_id=device_id,
        nshots=nshots,
        max_parallel=max_parallel,
        timeout=timeout,
        interval=interval,
    )
    items = list(circuits)
    await api._usable_device(device_id, nshots)
    outcomes = [BatchOutcome(index=index) for index in range(len(items))]
    gate = asyncio.Semaphore(max_parallel)

    async def bounded(action: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await action()

    async def submit(index: int) -> None:
        try:
            submission = encode_item(items[index], device_id, nshots, index)
            outcomes[index].job_id = await bounded(lambda: api._send(submission, device_id))
        except Exception as error:
            outcomes[index].error = error

    async def fetch(job_id: int) -> tuple[int, Record | BaseException]:
        try:
            return job_id, await bounded(lambda: api._job_record(job_id))
        except Exception as error:
            return job_id, error

    await asyncio.gather(*(submit(index) for index in range(len(items))))
    ids = [outcome.job_id for outcome in outcomes if outcome.job_id is not None]
    latest: dict[int, Any] = {}
    rounds = ListingRounds()

    async def fetch_many(pending: list[int]) -> dict[int, Record | BaseException]:
        return dict(await asyncio.gather(*(fetch(job_id) for job_id in pending)))

    async def round_(pending: list[int]) -> dict[int, Record | BaseException]:
        entries = await rounds.around(pending, api._listing_page, fetch_many)
        latest.update(entries)
        return entries

    try:
        await async_wait_rounds(
            ids, round_, timeout=limit, interval=interval, progress=Progress(enabled=api.show_progress)
        )
    except JobTimeoutError as error:
        logger.warning("Batch: %d jobs did not finish within %g s", len(error.job_ids), error.timeout)
    return finish(outcomes, items, latest, limit, api._settings.max_result_bytes)
