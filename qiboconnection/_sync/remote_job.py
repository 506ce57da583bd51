"""``RemoteJob``: the handle of a job submitted through an synchronous session."""

# Written from qiboconnection/_async/remote_job.py by scripts/unasync.py: edit that file, not this one.

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qiboconnection.handles import DEFAULT_INTERVAL, JobState
from qiboconnection.models.jobs import JobData
from qiboconnection.operations import check_wait, result_of_job
from qiboconnection.polling import UpdateHook

if TYPE_CHECKING:
    from qiboconnection._sync.api import APIBase

__all__ = ["RemoteJob"]


class RemoteJob(JobState):
    """A submitted job: ask its status, wait for it, read its result, cancel it."""

    def __init__(
        self, api: APIBase, job_id: int, *, device_id: int | None = None, job_type: str | None = None
    ) -> None:
        super().__init__(job_id, device_id=device_id, job_type=job_type)
        self._api = api

    def refresh(self) -> RemoteJob:
        """Fetch the job's current record (see :attr:`data`); returns the handle.

        Returns:
            This handle, with :attr:`data`, :attr:`last_status` and :attr:`queue_position` updated.

        Raises:
            NotFoundError: the job no longer exists.
            ConnectionException: the service could not be reached.
        """
        self._keep(self._api.get_job(self._id))
        return self

    def status(self) -> str:
        """The job's current status, fetched from the service.

        Returns:
            ``queued``, ``pending``, ``running``, ``completed``, ``error`` or ``cancelled`` (or a newer
            status the service may add).

        Raises:
            NotFoundError: the job no longer exists.
        """
        self.refresh()
        return str(self.last_status)

    def wait(
        self,
        timeout: float | None = None,
        interval: float = DEFAULT_INTERVAL,
        on_update: UpdateHook | None = None,
    ) -> JobData:
        """Wait until the job is final (``timeout`` None waits for ever); returns its record.

        ``on_update`` is called with each change of the job's status seen (see ``wait``
        of the session).

        Args:
            timeout: the most seconds to wait, or None for no limit.
            interval: the longest pause between two checks, in seconds.
            on_update: called with a :class:`~qiboconnection.polling.JobUpdate` for each change seen.

        Returns:
            The job's final record (completed, error or cancelled).

        Raises:
            JobTimeoutError: (a ``TimeoutError``) the job was not final after ``timeout`` seconds.
        """
        if self._data is None or not self.done:
            [data] = self._api.wait([self._id], timeout=timeout, interval=interval, on_update=on_update)
            self._keep(data)
        return self._kept()

    def result(self, timeout: float | None = None, interval: float = DEFAULT_INTERVAL) -> Any:
        """The decoded result, waiting for it if needed.

        Args:
            timeout: the most seconds to wait, or None for no limit.
            interval: the longest pause between two checks, in seconds.

        Returns:
            The decoded result: for a circuit job, a list with one
            :class:`~qiboconnection.results.QaaSCircuitResult` per circuit.

        Raises:
            JobFailedError: the job ended in error (the service's reason is in the message) or was cancelled.
            JobTimeoutError: the job was not final after ``timeout`` seconds.
        """
        check_wait(timeout, interval, allow_no_timeout=True)
        return result_of_job(self.wait(timeout=timeout, interval=interval))

    def cancel(self) -> None:
        """Cancel the job (ConflictError if it already finished).

        Raises:
            ConflictError: the job has already finished.
        """
        self._api.cancel_job(self._id)
        self._forget()
