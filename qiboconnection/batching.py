"""Running many circuits at once: how they are packed into shared jobs and what becomes of each.

This module does no I/O: :class:`Batch` takes what became of the jobs and answers the jobs to send
next. The loop that sends and polls is ``qiboconnection._async.batch`` (and its synchronous twin): at
most ``max_parallel`` requests are in flight, and the device is checked once.

Packing
    A circuit job may carry a list of OpenQASM programs; the service answers one result entry per
    program, in order. A batch uses that to send far fewer jobs than circuits:

    - Every item is encoded first. An item that cannot be (not a qibo Circuit, a gate qibo cannot read back, ...)
      gets that error in its outcome and no job.
    - The *size* of a circuit is the most values its result entry can hold: ``2**nqubits`` amplitudes
      of a simulator's final state plus ``nshots * nqubits`` sampled bits. Circuits at consecutive
      positions are packed into one job of at most :data:`PACK_MAX_CIRCUITS` circuits and
      :data:`PACK_BUDGET` total size. A circuit whose size alone is over the budget gets a job of its
      own.
    - Packs are spread so that up to ``max_parallel`` jobs run at once: with ``n`` packable circuits
      in the batch a pack holds at most ``ceil(n / max_parallel)`` of them, and each run of
      consecutive packable circuits is cut into packs of nearly equal length. 200 small circuits with
      ``max_parallel=10`` make 10 jobs of 20; no more circuits than ``max_parallel`` make one job each.
    - An item that is itself a list of circuits stays one job of its own, as does a circuit over the
      budget; such items and items that cannot be encoded end a run, so every pack holds the circuits
      of consecutive positions.
    - Jobs are named ``batch-{index}`` when they hold one item and ``batch-{first}-{last}`` when they
      are a pack of the circuits at positions ``first`` to ``last``.

    Each circuit still gets its own :class:`BatchOutcome`, in submission order: its ``result`` is its
    entry of the job's result list, decoded exactly as the result of a job of its own
    (:class:`~qiboconnection.results.QaaSCircuitResult`); ``job_id`` and ``job`` are the shared job's.

Failures stay per circuit
    A pack that ends in error (one of its circuits is too wide for the device or is not a program the
    service runs, say), whose result cannot be decoded or does not hold one entry per circuit, or
    that the service refuses to take (a 400, 413 or 422 answer: too large, say) is sent again as one
    job per circuit, within the same timeout, so that each circuit ends with its own result or its
    own error. A pack that was cancelled, that is still unfinished when the timeout ends, or whose
    record cannot be fetched passes that error (``JobFailedError``, ``JobTimeoutError``, the fetch
    error) to each of its circuits; it is not sent again, since that could run a circuit twice. Any
    other failure to send a job (the device went offline, the connection failed) goes to each circuit
    it carries.

Waiting
    Once the first jobs are sent, the batch polls in rounds, each reading the statuses of the
    unfinished jobs from the job listing and fetching only the jobs that became final (see
    :class:`~qiboconnection.polling.ListingRounds`); pauses between rounds start short, grow up to
    ``interval`` and start short again when jobs finish (see :class:`~qiboconnection.polling.Backoff`).
    The jobs that replace a failed pack are sent during the round that found it, and awaited with the
    others. ``timeout`` bounds the whole wait, from the end of the first sending; jobs still unfinished
    then give their circuits a ``JobTimeoutError``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qiboconnection.errors import (
    ConnectionException,
    InvalidRequestError,
    JobFailedError,
    JobTimeoutError,
    QiboconnectionError,
    RemoteExecutionException,
)
from qiboconnection.models.jobs import JobData
from qiboconnection.operations import (
    Request,
    Retry,
    Submission,
    check_int,
    check_program,
    check_wait,
    plan_submission,
    result_of_job,
)
from qiboconnection.polling import is_final, shown

if TYPE_CHECKING:
    from qiboconnection.models.devices import Device
    from qiboconnection.polling import Record

__all__ = [
    "DEFAULT_BATCH_INTERVAL",
    "DEFAULT_MAX_PARALLEL",
    "PACK_BUDGET",
    "PACK_MAX_CIRCUITS",
    "Batch",
    "BatchJob",
    "BatchOutcome",
    "circuit_size",
]

logger = logging.getLogger("qiboconnection.batching")

DEFAULT_MAX_PARALLEL = 10
#: Longest pause, in seconds, between two polling rounds of a batch (polling starts faster).
DEFAULT_BATCH_INTERVAL = 1.0
#: Most circuits packed into one job.
PACK_MAX_CIRCUITS = 50
#: Most total size (see :func:`circuit_size`) of the circuits packed into one job.
PACK_BUDGET = 1 << 16


@dataclass
class BatchOutcome:
    """What became of one item of a batch.

    Attributes:
        index: the item's position in the batch.
        job_id: the id of the job that ran it, shared with the other circuits of its pack (None when
            no job could be sent).
        result: the decoded result (for a single circuit its
            :class:`~qiboconnection.results.QaaSCircuitResult`, for a list of circuits the list), or None.
        error: why this item has no result (encoding or submission error, failed or cancelled job,
            timeout, decoding).
        job: the final record of the job that ran it (the pack's, shared with its other circuits),
            when there is one.
    """

    index: int
    job_id: int | None = None
    result: Any = None
    error: BaseException | None = None
    job: JobData | None = None

    @property
    def ok(self) -> bool:
        """Whether the item ran and its result was decoded."""
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


def circuit_size(nqubits: int, nshots: int) -> int:
    """The most values a circuit's result entry can hold: final-state amplitudes plus sampled bits."""
    return int(2**nqubits) + nshots * nqubits


def _single(item: Any) -> bool:
    return not (isinstance(item, Sequence) and not isinstance(item, str | bytes))


def _even_slices(positions: list[int], most: int) -> list[list[int]]:
    """``positions`` cut into the fewest slices of at most ``most``, of lengths differing by one at most."""
    count = math.ceil(len(positions) / most)
    base, extra = divmod(len(positions), count)
    slices, start = [], 0
    for number in range(count):
        end = start + base + (number < extra)
        slices.append(positions[start:end])
        start = end
    return slices


def _within_budget(positions: list[int], sizes: Mapping[int, int]) -> list[list[int]]:
    """``positions`` cut, in order, into packs whose total size stays within :data:`PACK_BUDGET`."""
    packs: list[list[int]] = [[]]
    total = 0
    for position in positions:
        if packs[-1] and total + sizes[position] > PACK_BUDGET:
            packs.append([])
            total = 0
        packs[-1].append(position)
        total += sizes[position]
    return packs


@dataclass
class BatchJob:
    """One job of a batch: the positions of the items it carries, in order, and what it is."""

    positions: list[int]
    submission: Submission
    #: ``"pack"`` (several circuits), ``"circuit"`` (one) or ``"list"`` (an item that is a list).
    kind: str
    job_id: int | None = None
    #: The submission request once built: sent again as it is, with the same ``Idempotency-Key``.
    request: Request[Any] | None = None

    @property
    def resendable(self) -> bool:
        """Whether a submission whose answer was lost may be sent again: its key is honoured."""
        return self.request is not None and self.request.mode is Retry.IDEMPOTENT


class Batch:
    """The bookkeeping of one batch, shared by the synchronous and asynchronous runs; it does no I/O.

    :meth:`sent` and :meth:`settle` take what became of jobs and answer the jobs to send next (the
    circuits of a failed pack, one job each).
    """

    def __init__(
        self,
        items: list[Any],
        *,
        device_id: int,
        nshots: int,
        max_parallel: int,
        max_result_bytes: int,
        device: Device | None = None,
    ) -> None:
        self.items = items
        self.device = device
        self.device_id = device_id
        self.nshots = nshots
        self.max_result_bytes = max_result_bytes
        self.outcomes = [BatchOutcome(index=index) for index in range(len(items))]
        #: Sent jobs not yet final, by id.
        self.waiting: dict[int, BatchJob] = {}
        #: Jobs whose submission failed on the way but may be sent again without running twice (it never
        #: reached the service, or the service honours its ``Idempotency-Key``), with the error; sent
        #: again, as the same request, in the next round, until the timeout.
        self.unsent: list[tuple[BatchJob, BaseException]] = []
        #: The last record (or fetch error) of every job seen, for the progress line.
        self.latest: dict[int, Record | BaseException] = {}
        #: How many jobs have become final so far.
        self.finished = 0
        self._qasm: dict[int, str] = {}
        #: Positions that have their result or their error.
        self._answered: set[int] = set()
        self.first = self._plan(max_parallel)

    # -- planning ------------------------------------------------------------------------------------

    def _plan(self, max_parallel: int) -> list[BatchJob]:
        """Encode every item and group them into the batch's first jobs, in order."""
        from qiboconnection.programs import circuits_to_qasm, qasm_refusal_of

        # Each segment is a run of packable positions, or one position that gets a job of its own.
        segments: list[list[int] | int] = []
        run: list[int] = []
        sizes: dict[int, int] = {}

        def end_run() -> None:
            nonlocal run
            if run:
                segments.append(run)
                run = []

        for index, item in enumerate(self.items):
            if not _single(item):
                end_run()
                segments.append(index)
                continue
            try:
                [qasm] = circuits_to_qasm(item)
                refusal = qasm_refusal_of(self.device, [qasm])
                if refusal is not None:
                    raise ValueError(refusal)
            except Exception as error:
                self._fail([index], error)
                end_run()
                continue
            self._qasm[index] = qasm
            size = circuit_size(item.nqubits, self.nshots)
            if size > PACK_BUDGET:
                end_run()
                segments.append(index)
                continue
            sizes[index] = size
            run.append(index)
        end_run()

        packable = sum(len(segment) for segment in segments if isinstance(segment, list))
        most = max(1, min(PACK_MAX_CIRCUITS, math.ceil(packable / max_parallel)))
        jobs: list[BatchJob] = []
        for segment in segments:
            if isinstance(segment, int):
                job = self._list_job(segment) if segment not in self._qasm else self._job([segment])
                if job is not None:
                    jobs.append(job)
                continue
            for part in _even_slices(segment, most):
                jobs.extend(self._job(pack) for pack in _within_budget(part, sizes))
        return jobs

    def _submission(self, name: str, **program: Any) -> Submission:
        return plan_submission(
            nshots=self.nshots, device_ids=None, device_id=self.device_id, name=name, summary="-", **program
        )

    def _job(self, positions: list[int]) -> BatchJob:
        """The job of one circuit (``batch-{index}``) or a pack of several (``batch-{first}-{last}``)."""
        from qiboconnection.serialization import encode_envelope

        description = encode_envelope([self._qasm[position] for position in positions])
        if len(positions) == 1:
            name, kind = f"batch-{positions[0]}", "circuit"
        else:
            name, kind = f"batch-{positions[0]}-{positions[-1]}", "pack"
        return BatchJob(positions, self._submission(name, encoded=("circuit", description)), kind)

    def _list_job(self, index: int) -> BatchJob | None:
        """The job of an item that is a list of circuits; None (the error in its outcome) if it cannot be."""
        try:
            submission = self._submission(f"batch-{index}", circuit=self.items[index])
            if self.device is not None:
                check_program(self.device, submission)
        except Exception as error:
            self._fail([index], error)
            return None
        return BatchJob([index], submission, "list")

    def _fail(self, positions: list[int], error: BaseException) -> None:
        """Give each of ``positions`` the error."""
        for position in positions:
            self.outcomes[position].error = error
            self._answered.add(position)

    def _give(self, position: int, result: Any) -> None:
        """Give ``position`` its decoded result."""
        self.outcomes[position].result = result
        self._answered.add(position)

    def _split(self, job: BatchJob, reason: str) -> list[BatchJob]:
        """A failed pack's circuits, one job each; their outcomes start again."""
        logger.info(
            "Batch: %s (%s); sending its %d circuits one job each",
            job.submission.name,
            reason,
            len(job.positions),
        )
        for position in job.positions:
            outcome = self.outcomes[position]
            outcome.job_id, outcome.job, outcome.result, outcome.error = None, None, None, None
            self._answered.discard(position)
        return [self._job([position]) for position in job.positions]

    # -- what became of the jobs ---------------------------------------------------------------------

    def sent(self, job: BatchJob, answer: int | BaseException) -> list[BatchJob]:
        """Record a job's id, or why it could not be sent; answers the jobs to send instead, if any."""
        if isinstance(answer, BaseException):
            if isinstance(answer, ConnectionException) and (answer.never_sent or job.resendable):
                logger.info(
                    "Batch: %s could not be sent (%s); sending it again next round",
                    job.submission.name,
                    answer,
                )
                self.unsent.append((job, answer))
                return []
            if job.kind == "pack" and isinstance(answer, InvalidRequestError):
                return self._split(job, f"refused: {answer}")
            self._fail(job.positions, answer)
            return []
        job.job_id = answer
        for position in job.positions:
            self.outcomes[position].job_id = answer
        self.waiting[answer] = job
        return []

    def settle(self, entries: Mapping[int, Record | BaseException]) -> list[BatchJob]:
        """Take a round's records: read the jobs that became final; answers the jobs to send next."""
        following: list[BatchJob] = []
        for job_id, entry in entries.items():
            self.latest[job_id] = entry
            job = self.waiting.get(job_id)
            if job is None:
                continue
            if isinstance(entry, BaseException):
                if _passing(entry):
                    logger.info("Batch: reading job %s failed (%s); trying again next round", job_id, entry)
                    continue
                del self.waiting[job_id]
                self.finished += 1
                self._fail(job.positions, entry)
                continue
            if not is_final(entry.get("status")):
                continue
            del self.waiting[job_id]
            self.finished += 1
            following += self._read(job, JobData(entry, max_result_bytes=self.max_result_bytes))
        return following

    def _read(self, job: BatchJob, data: JobData) -> list[BatchJob]:
        """Give a final job's result entries (or its failure) to its items; a failed pack is split."""
        for position in job.positions:
            self.outcomes[position].job = data
        try:
            result = result_of_job(data)
        except JobFailedError as error:
            if job.kind == "pack" and data.failed:
                return self._split(job, f"job {job.job_id} failed: {error.reason}")
            self._fail(job.positions, error)
            return []
        except Exception as error:
            if job.kind == "pack":
                return self._split(job, f"the result of job {job.job_id} could not be read: {error}")
            self._fail(job.positions, error)
            return []
        if job.kind == "list":
            self._give(job.positions[0], result)
        elif job.kind == "circuit":
            single = isinstance(result, list) and len(result) == 1
            self._give(job.positions[0], result[0] if single else result)
        elif not isinstance(result, list) or len(result) != len(job.positions):
            entries = len(result) if isinstance(result, list) else type(result).__name__
            return self._split(
                job, f"job {job.job_id} answered {entries} results for {len(job.positions)} circuits"
            )
        else:
            for position, entry in zip(job.positions, result, strict=True):
                self._give(position, entry)
        return []

    def shown(self) -> dict[int, Record]:
        """The latest records for the progress line (a failed fetch shows as ``failed``)."""
        return shown(self.latest)

    @property
    def pending(self) -> int:
        """Jobs still to hear from: sent and not final, or never sent yet."""
        return len(self.waiting) + len(self.unsent)

    def to_resend(self) -> list[BatchJob]:
        """The jobs whose submission is to be sent again now (see :attr:`unsent`)."""
        jobs = [job for job, _ in self.unsent]
        self.unsent = []
        return jobs

    def finish(self, timeout: float) -> list[BatchOutcome]:
        """Give the jobs still unfinished a ``JobTimeoutError``; the outcomes, in order.

        Every item must by now have a result or an error; one that has neither would be a circuit lost
        on the way, and is reported as such instead of passing for a success.
        """
        for job, error in self.unsent:
            self._fail(job.positions, error)
        for job_id, job in self.waiting.items():
            entry = self.latest.get(job_id)
            data = (
                JobData(entry, max_result_bytes=self.max_result_bytes) if isinstance(entry, Mapping) else None
            )
            for position in job.positions:
                self.outcomes[position].job = data
            self._fail(job.positions, JobTimeoutError([job_id], timeout))
        lost = [outcome.index for outcome in self.outcomes if outcome.index not in self._answered]
        for index in lost:
            self._fail([index], QiboconnectionError(f"Batch item {index} got neither a result nor an error"))
        if lost:
            logger.error("Batch: %d items got neither a result nor an error", len(lost))
        if self.waiting:
            logger.warning("Batch: %d jobs did not finish within %g s", len(self.waiting), timeout)
        failed = sum(not outcome.ok for outcome in self.outcomes)
        if failed:
            logger.warning("%d of %d batch items have no result", failed, len(self.outcomes))
        return self.outcomes


def _passing(error: BaseException) -> bool:
    """Whether a failed read of a job may succeed later (connection, 5xx, 429), not a refusal for good."""
    if isinstance(error, RemoteExecutionException):
        return error.status_code >= 500 or error.status_code == 429
    return isinstance(error, ConnectionException)
