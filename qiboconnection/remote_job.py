"""Handles on submitted jobs: ask their status, wait for them, read their result, cancel them.

:meth:`API.submit <qiboconnection.api.API.submit>` returns a :class:`RemoteJob`;
:meth:`AsyncAPI.submit <qiboconnection.async_api.AsyncAPI.submit>` an :class:`AsyncRemoteJob`, whose
methods that talk to the service are coroutines. Both keep the last record fetched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qiboconnection.models.jobs import JobData
from qiboconnection.operations import check_wait, result_of_job
from qiboconnection.polling import is_final

if TYPE_CHECKING:
    from qiboconnection.api import API
    from qiboconnection.async_api import AsyncAPI

__all__ = ["DEFAULT_INTERVAL", "AsyncRemoteJob", "RemoteJob"]

#: Longest pause, in seconds, between two status checks of a handle's ``wait`` (polling starts faster).
DEFAULT_INTERVAL = 2.0


class _JobState:
    """What both handles know without asking: id, device and the last record fetched."""

    def __init__(self, job_id: int, *, device_id: int | None = None, job_type: str | None = None) -> None:
        self._id = job_id
        self._device_id = device_id
        self._job_type = job_type
        self._data: JobData | None = None

    @property
    def id(self) -> int:
        """The job's identifier."""
        return self._id

    @property
    def job_id(self) -> int:
        """The job's identifier (same as :attr:`id`)."""
        return self._id

    @property
    def device_id(self) -> int | None:
        """The device the job was sent to."""
        if self._data is not None:
            return getattr(self._data, "device_id", self._device_id)
        return self._device_id

    @property
    def data(self) -> JobData | None:
        """The last record fetched (None before the first fetch)."""
        return self._data

    @property
    def last_status(self) -> str | None:
        """The status in the last record fetched, without asking the service."""
        return None if self._data is None else getattr(self._data, "status", None)

    @property
    def done(self) -> bool:
        """Whether the last record fetched has a final status (completed, error or cancelled)."""
        return is_final(self.last_status)

    def _keep(self, data: JobData) -> None:
        self._data = data

    def __repr__(self) -> str:
        status = self.last_status or "unknown"
        return f"<{type(self).__name__} id={self._id} device={self.device_id} status={status!r}>"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._id == self._id  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._id))


class RemoteJob(_JobState):
    """A job submitted through :class:`~qiboconnection.api.API`."""

    def __init__(
        self, api: API, job_id: int, *, device_id: int | None = None, job_type: str | None = None
    ) -> None:
        super().__init__(job_id, device_id=device_id, job_type=job_type)
        self._api = api

    def refresh(self) -> RemoteJob:
        """Fetch the job's current record (see :attr:`data`); returns the handle."""
        self._keep(self._api.get_job(self._id))
        return self

    def status(self) -> str:
        """The job's current status, fetched from the service."""
        return str(self.refresh().last_status)

    @property
    def queue_position(self) -> int | None:
        """The job's place in its device's queue (the last one seen; fetched if none was)."""
        if self._data is None:
            self.refresh()
        value = getattr(self._data, "queue_position", None)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def wait(self, timeout: float | None = None, interval: float = DEFAULT_INTERVAL) -> JobData:
        """Wait until the job is final (``timeout`` None waits for ever); returns its record.

        Raises:
            JobTimeoutError: (a ``TimeoutError``) the job was not final after ``timeout`` seconds.
        """
        if not self.done:
            [data] = self._api.wait([self._id], timeout=timeout, interval=interval)
            self._keep(data)
        assert self._data is not None
        return self._data

    def result(self, timeout: float | None = None, interval: float = DEFAULT_INTERVAL) -> Any:
        """The decoded result, waiting for it if needed.

        Raises:
            JobFailedError: the job ended in error (the service's reason is in the message) or was cancelled.
            JobTimeoutError: the job was not final after ``timeout`` seconds.
        """
        check_wait(timeout, interval, allow_no_timeout=True)
        return result_of_job(self.wait(timeout=timeout, interval=interval))

    def cancel(self) -> None:
        """Cancel the job (ConflictError if it already finished)."""
        self._api.cancel_job(self._id)
        self._data = None


class AsyncRemoteJob(_JobState):
    """A job submitted through :class:`~qiboconnection.async_api.AsyncAPI` (service calls are coroutines)."""

    def __init__(
        self, api: AsyncAPI, job_id: int, *, device_id: int | None = None, job_type: str | None = None
    ) -> None:
        super().__init__(job_id, device_id=device_id, job_type=job_type)
        self._api = api

    async def refresh(self) -> AsyncRemoteJob:
        """Fetch the job's current record (see :attr:`data`); returns the handle."""
        self._keep(await self._api.get_job(self._id))
        return self

    async def status(self) -> str:
        """The job's current status, fetched from the service."""
        await self.refresh()
        return str(self.last_status)

    @property
    def queue_position(self) -> int | None:
        """The queue position in the last record fetched (``await job.refresh()`` to update it)."""
        value = getattr(self._data, "queue_position", None)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    async def wait(self, timeout: float | None = None, interval: float = DEFAULT_INTERVAL) -> JobData:
        """Wait until the job is final (``timeout`` None waits for ever); returns its record."""
        if not self.done:
            [data] = await self._api.wait([self._id], timeout=timeout, interval=interval)
            self._keep(data)
        assert self._data is not None
        return self._data

    async def result(self, timeout: float | None = None, interval: float = DEFAULT_INTERVAL) -> Any:
        """The decoded result, waiting if needed (JobFailedError when the job failed or was cancelled)."""
        check_wait(timeout, interval, allow_no_timeout=True)
        return result_of_job(await self.wait(timeout=timeout, interval=interval))

    async def cancel(self) -> None:
        """Cancel the job (ConflictError if it already finished)."""
        await self._api.cancel_job(self._id)
        self._data = None
