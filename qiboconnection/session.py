"""``Session``: the state and bookkeeping that :class:`~qiboconnection.api.API` and
:class:`~qiboconnection.async_api.AsyncAPI` share, none of which sends a request."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from qiboconnection.config import Settings
from qiboconnection.errors import ConnectionException, JobFailedError, QiboconnectionError
from qiboconnection.models.devices import Device, Devices
from qiboconnection.models.jobs import Job, JobData
from qiboconnection.models.runcards import Calibration, Runcard
from qiboconnection.operations import DeviceInfo, Request, Submission, resend_submissions, submit_request
from qiboconnection.typings.connection import ConnectionConfiguration

if TYPE_CHECKING:
    from qaas_client.models.job_created import JobCreated

    from qiboconnection.auth import QaaSAuth

__all__ = ["Session", "is_cancelled"]

logger = logging.getLogger("qiboconnection.session")


class Session:
    """Settings, token auth and what a session remembers: its jobs, devices, selection, last runcard and
    calibration. Subclasses add the HTTP client and the calls that use it."""

    def __init__(self, configuration: ConnectionConfiguration, settings: Settings | None) -> None:
        if not isinstance(configuration, ConnectionConfiguration):
            raise TypeError(
                f"configuration must be a ConnectionConfiguration, not {type(configuration).__name__}"
            )
        from qiboconnection.auth import QaaSAuth

        self._settings = settings if settings is not None else Settings.from_env()
        self._auth: QaaSAuth = QaaSAuth(
            configuration.username,
            configuration.api_key,
            audience=self._settings.audience,
            user_id=configuration.user_id,
        )
        self.show_progress = self._settings.progress
        self._jobs: list[Job] = []
        self._devices: Devices | None = None
        self._device_info = DeviceInfo()
        self._selected_devices: list[Device] | None = None
        self._runcard: Runcard | None = None
        self._calibration: Calibration | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} user={self._auth.username!r} url={self._settings.base_url!r}>"

    # -- session information -------------------------------------------------------------------------

    @property
    def jobs(self) -> list[Job]:
        """Jobs launched in this session, oldest first (id, device, type; not their status)."""
        return self._jobs

    @property
    def last_job(self) -> Job:
        """The last job launched in this session.

        Raises:
            IndexError: no job has been launched in this session.
        """
        if not self._jobs:
            raise IndexError("No job has been launched in this session")
        return self._jobs[-1]

    @property
    def last_runcard(self) -> Runcard | None:
        """The last runcard saved or updated in this session (None when there is none)."""
        return self._runcard

    @property
    def last_calibration(self) -> Calibration | None:
        """The last calibration saved or updated in this session (None when there is none)."""
        return self._calibration

    @property
    def user_id(self) -> int:
        """The logged-in user's id (from the access token).

        Raises:
            ValueError: the session is not logged in, or its access token names no user.
        """
        user_id = self._auth.user_id
        if user_id is None:
            raise ValueError(
                "The user id is unknown: the session is not logged in, or its access token carries none"
            )
        return user_id

    # -- bookkeeping ---------------------------------------------------------------------------------

    def _keep_device(self, device: Device) -> None:
        """Add ``device`` to the session's devices, or update the one with its id."""
        if self._devices is None:
            self._devices = Devices()
        self._devices.add_or_update(device)

    def _selected_ids(self) -> list[int]:
        """Ids of the devices selected with ``select_device_ids`` (empty when none are)."""
        return [device.id for device in self._selected_devices or []]

    def _record_job(self, submission: Submission, device_id: int, job_id: int) -> None:
        """Remember a job just queued, for :attr:`jobs` and :attr:`last_job`."""
        self._jobs.append(
            Job(
                id=job_id,
                device_id=device_id,
                job_type=submission.job_type,
                nshots=submission.nshots,
                name=submission.name,
                summary=submission.summary,
                user_id=self._auth.user_id,
            )
        )

    # -- requests and answers ------------------------------------------------------------------------

    def _unreachable(self, error: QiboconnectionError) -> ConnectionException:
        """The error :meth:`ping` raises when the status check itself failed."""
        return ConnectionException(f"The service at {self._settings.base_url} is not answering: {error}")

    def _ping_answer(self, answer: str) -> str:
        """``"OK"`` when the status check answered so; ConnectionException otherwise."""
        if answer != "OK":
            raise ConnectionException(
                f"The service at {self._settings.base_url} answered {answer!r}, not 'OK'"
            )
        return "OK"

    def _submit_request(self, submission: Submission, device_id: int) -> Request[JobCreated]:
        """The request sending ``submission`` to one device, with this session's user and resend rules."""
        return submit_request(
            submission,
            device_id,
            user_id=self._auth.user_id,
            idempotency_key=self._settings.send_idempotency_key,
            resend=resend_submissions(self._settings, self._auth.honours_idempotency_keys),
        )

    def _job_data(self, record: dict[str, Any]) -> JobData:
        """A job record decoded within the session's result size limit."""
        return JobData(record, max_result_bytes=self._settings.max_result_bytes)

    def _fetched_job(self, job_id: int, record: dict[str, Any]) -> JobData:
        """What ``get_job`` returns for ``record``; a failed job is logged as a warning."""
        job = self._job_data(record)
        if job.failed:
            logger.warning("Job %s failed: %s", job_id, job.error or "the service gave no reason")
        return job

    def _waited_jobs(self, records: Mapping[int, Any], ids: list[int]) -> list[JobData]:
        """The final records a wait collected, decoded, in the order of ``ids``."""
        return [self._job_data(records[job_id]) for job_id in ids]

    def _final_results(self, jobs: Iterable[JobData]) -> list[Any]:
        """The decoded results of final jobs, in order (None for a job that ended without one).

        Raises:
            JobFailedError: a job ended in error.
        """
        results = []
        for job in jobs:
            if job.failed:
                raise JobFailedError(job.job_id, job.error)
            if str(job.status).lower() != "completed":
                logger.warning("Job %s ended %s; it has no result", job.job_id, job.status)
            results.append(job.result)
        return results


def is_cancelled(record: dict[str, Any]) -> bool:
    """Whether a job record says the job is cancelled (old records spell it ``canceled``)."""
    return str(record.get("status", "")).lower() in {"cancelled", "canceled"}
