"""What a job handle knows without asking the service: its id, device and the last record fetched.

The handles themselves (:class:`~qiboconnection.remote_job.RemoteJob` and
:class:`~qiboconnection.remote_job.AsyncRemoteJob`) add the calls that ask.
"""

from __future__ import annotations

from qiboconnection.models.jobs import JobData
from qiboconnection.polling import is_final

__all__ = ["DEFAULT_INTERVAL", "JobState"]

#: Longest pause, in seconds, between two status checks of a handle's ``wait`` (polling starts faster).
DEFAULT_INTERVAL = 2.0


class JobState:
    """What a handle knows without asking: id, device and the last record fetched."""

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

    def _kept(self) -> JobData:
        if self._data is None:
            raise RuntimeError(f"Job {self._id} has no record yet")
        return self._data

    def _forget(self) -> None:
        self._data = None

    def __repr__(self) -> str:
        status = self.last_status or "unknown"
        return f"<{type(self).__name__} id={self._id} device={self.device_id} status={status!r}>"

    @property
    def queue_position(self) -> int | None:
        """The job's place in its device's queue, in the last record fetched (``refresh()`` updates it)."""
        value = getattr(self._data, "queue_position", None)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JobState) and type(other) is type(self) and other.id == self._id

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._id))
