"""The ``API`` class users import: log in, pick devices, run jobs, fetch results, manage runcards."""

from __future__ import annotations

import logging
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from qiboconnection.config import Settings
from qiboconnection.errors import (
    ConnectionException,
    DeviceNotAvailableError,
    JobFailedError,
    QiboconnectionError,
)
from qiboconnection.models.devices import Device, Devices
from qiboconnection.models.jobs import Job, JobData, JobListing
from qiboconnection.models.runcards import Calibration, Runcard
from qiboconnection.typings.connection import ConnectionConfiguration
from qiboconnection.typings.vqa import VQA

if TYPE_CHECKING:
    import httpx

    from qiboconnection.transport import Reply, Retry

__all__ = ["API", "VQA", "ConnectionConfiguration"]

logger = logging.getLogger("qiboconnection.api")


def _check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return value


def _check_ids(values: Any, name: str) -> list[int]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list of ints, not {type(values).__name__}")
    return [_check_int(value, f"{name}[{n}]") for n, value in enumerate(values)]


def _check_wait(timeout: Any, interval: Any) -> None:
    for name, value in (("timeout", timeout), ("interval", interval)):
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")


def _one_of(id_value: Any, name_value: Any, kind: str) -> None:
    if id_value is not None and name_value is not None:
        raise ValueError(f"Give either {kind}_id or {kind}_name, not both")
    if id_value is None and name_value is None:
        raise ValueError(f"Give one of {kind}_id or {kind}_name")


class API:
    """A session with the Quantum-as-a-Service.

    Logs in when created (bad credentials raise :class:`~qiboconnection.errors.AuthenticationError` at
    once) and keeps one pooled HTTP connection; use it as a context manager or call :meth:`close`.
    The service URL comes from ``QUANTUM_SERVICE_URL`` and the request timeout from
    ``QIBOCONNECTION_TIMEOUT`` (see :mod:`qiboconnection.config`).

    Args:
        configuration: username and API key.
        settings: overrides the settings read from the environment.
        transport: an httpx transport to use instead of the network (for tests).
    """

    def __init__(
        self,
        configuration: ConnectionConfiguration,
        *,
        settings: Settings | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not isinstance(configuration, ConnectionConfiguration):
            raise TypeError(
                f"configuration must be a ConnectionConfiguration, not {type(configuration).__name__}"
            )
        from qiboconnection import __version__
        from qiboconnection.auth import QaaSAuth
        from qiboconnection.transport import build_client

        self._settings = settings if settings is not None else Settings.from_env()
        self._auth = QaaSAuth(
            configuration.username,
            configuration.api_key,
            base_url=self._settings.base_url,
            audience=self._settings.audience,
            client_version=__version__,
            user_id=configuration.user_id,
        )
        self._client = build_client(
            self._settings, self._auth, client_version=__version__, transport=transport
        )
        self._sleep: Callable[[float], None] = time.sleep
        self.show_progress = self._settings.progress
        self._jobs: list[Job] = []
        self._devices: Devices | None = None
        self._selected_devices: list[Device] | None = None
        self._runcard: Runcard | None = None
        self._calibration: Calibration | None = None
        try:
            self._login()
        except BaseException:
            self.close()
            raise

    @classmethod
    def login(cls, username: str, api_key: str) -> API:
        """Log in with username and API key; returns the authenticated session."""
        return cls(configuration=ConnectionConfiguration(username=username, api_key=api_key))

    def _login(self) -> None:
        from qiboconnection.transport import Retry, retrying

        http = self._client.get_httpx_client()
        retrying(
            lambda: self._auth.sync_login(http),
            policy=self._settings.retry,
            mode=Retry.IDEMPOTENT,
            what=f"log in as {self._auth.username!r}",
            sleep=self._sleep,
        )

    # -- lifecycle -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.get_httpx_client().close()

    def __enter__(self) -> API:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<API user={self._auth.username!r} url={self._settings.base_url!r}>"

    # -- plumbing ------------------------------------------------------------------------------------

    def _call(self, op: Any, what: str, *, mode: Retry | None = None, **kwargs: Any) -> Reply:
        from qiboconnection.transport import Retry, call

        return call(
            op,
            self._client,
            policy=self._settings.retry,
            what=what,
            mode=mode or Retry.IDEMPOTENT,
            sleep=self._sleep,
            **kwargs,
        )

    def _pages(self, op: Any, what: str, **kwargs: Any) -> list[dict[str, Any]]:
        from qiboconnection.transport import iterate_pages

        return list(
            iterate_pages(
                op, self._client, policy=self._settings.retry, what=what, sleep=self._sleep, **kwargs
            )
        )

    # -- session information -------------------------------------------------------------------------

    @property
    def jobs(self) -> list[Job]:
        """Jobs launched in this session."""
        return self._jobs

    @property
    def last_job(self) -> Job:
        """The last job launched in this session."""
        if not self._jobs:
            raise IndexError("No job has been launched in this session")
        return self._jobs[-1]

    @property
    def last_runcard(self) -> Runcard | None:
        """The last runcard saved or updated in this session."""
        return self._runcard

    @property
    def last_calibration(self) -> Calibration | None:
        """The last calibration saved or updated in this session."""
        return self._calibration

    @property
    def user_id(self) -> int:
        """The logged-in user's id (from the access token)."""
        user_id = self._auth.user_id
        if user_id is None:
            raise ValueError("The user id is unknown: the access token does not carry one")
        return user_id

    # -- health --------------------------------------------------------------------------------------

    def ping(self) -> str:
        """``"OK"`` when the service is up; ConnectionException otherwise."""
        from qaas_client.api.health import get_status

        try:
            reply = self._call(get_status, "check the service status")
        except QiboconnectionError as error:
            raise ConnectionException(
                f"The service at {self._settings.base_url} is not answering: {error}"
            ) from error
        if reply.data != "OK":
            raise ConnectionException(
                f"The service at {self._settings.base_url} answered {reply.data!r}, not 'OK'"
            )
        return "OK"

    # -- devices -------------------------------------------------------------------------------------

    def list_devices(self) -> Devices:
        """Every device (all pages)."""
        from qaas_client.api.devices import list_devices

        self._devices = Devices([Device(record) for record in self._pages(list_devices, "list devices")])
        return self._devices

    def _get_device(self, device_id: int) -> Device:
        from qaas_client.api.devices import get_device

        _check_int(device_id, "device_id")
        device = Device(self._call(get_device, f"get device {device_id}", device_id=device_id).data)
        if self._devices is None:
            self._devices = Devices()
        self._devices.add_or_update(device)
        return device

    def select_device_id(self, device_id: int) -> None:
        """Select the device :meth:`execute` uses when given none (deprecated: pass ``device_id``)."""
        warnings.warn(
            "select_device_id() is deprecated; pass device_id to execute() instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        device = self._get_device(device_id)
        self._selected_devices = [device]
        logger.info("Device %s selected", device.name)

    def select_device_ids(self, device_ids: list[int]) -> None:
        """Select the devices :meth:`execute` uses when given none (one job per device)."""
        devices = [self._get_device(device_id) for device_id in _check_ids(device_ids, "device_ids")]
        self._selected_devices = devices
        logger.info("Devices selected: %s", ", ".join(str(device.name) for device in devices))

    def _set_device_status(self, device_id: int, status: str) -> Device:
        from qaas_client.api.devices import update_device_status
        from qaas_client.models.device_status_update import DeviceStatusUpdate

        _check_int(device_id, "device_id")
        reply = self._call(
            update_device_status,
            f"set device {device_id} {status}",
            device_id=device_id,
            body=DeviceStatusUpdate(status=status),  # type: ignore[arg-type]
        )
        device = (
            Device(reply.data) if isinstance(reply.data, dict) and reply.data else self._get_device(device_id)
        )
        if self._devices is None:
            self._devices = Devices()
        self._devices.add_or_update(device)
        logger.info("Device %s is now %s", device_id, status)
        return device

    def set_device_to_online(self, device_id: int) -> Device:
        """Put a device online, so it takes remote jobs (admin)."""
        return self._set_device_status(device_id, "online")

    def set_device_to_maintenance(self, device_id: int) -> Device:
        """Put a device into maintenance, so it takes no remote jobs (admin)."""
        return self._set_device_status(device_id, "maintenance")

    # -- jobs ----------------------------------------------------------------------------------------

    def execute(  # noqa: PLR0917 - signature kept from the released client
        self,
        circuit: Any = None,
        qprogram: str | None = None,
        anneal_program_args: dict[str, Any] | None = None,
        vqa: VQA | None = None,
        nshots: int = 10,
        device_ids: list[int] | None = None,
        device_id: int | None = None,
        name: str = "-",
        summary: str = "-",
    ) -> list[int] | int:
        """Send one program to run: a qibo Circuit (or list of them), a QProgram, annealing args or a VQA.

        Returns the job id when ``device_id`` is given, else the list of job ids (one per device).

        Raises:
            ValueError: no program or several, no device, both device_id and device_ids, bad nshots,
                a circuit without gates or measurements.
            NotFoundError: a device does not exist.
            DeviceNotAvailableError: a device is not online.
        """
        return self._execute(
            circuit=circuit,
            qprogram=qprogram,
            anneal_program_args=anneal_program_args,
            vqa=vqa,
            nshots=nshots,
            device_ids=device_ids,
            device_id=device_id,
            name=name,
            summary=summary,
            warn_stacklevel=3,
        )

    def _execute(
        self,
        *,
        circuit: Any,
        qprogram: str | None,
        anneal_program_args: dict[str, Any] | None,
        vqa: VQA | None,
        nshots: int,
        device_ids: list[int] | None,
        device_id: int | None,
        name: str,
        summary: str,
        warn_stacklevel: int,
    ) -> list[int] | int:
        from qiboconnection.programs import encode_program

        if device_id is not None and device_ids is not None:
            raise ValueError(
                "Give device_id or device_ids, not both (device_ids is deprecated; use device_id)"
            )
        if device_ids is not None:
            warnings.warn(
                "The device_ids argument is deprecated; use device_id instead.",
                DeprecationWarning,
                stacklevel=warn_stacklevel,
            )
        if not isinstance(nshots, int) or isinstance(nshots, bool) or nshots <= 0:
            raise ValueError(f"nshots must be a positive int, not {nshots!r}")
        if not isinstance(name, str) or not isinstance(summary, str):
            raise TypeError("name and summary must be strings")
        job_type, description = encode_program(
            circuit=circuit, qprogram=qprogram, anneal_program_args=anneal_program_args, vqa=vqa
        )
        if device_id is not None:
            target_ids = [_check_int(device_id, "device_id")]
        elif device_ids is not None:
            target_ids = _check_ids(device_ids, "device_ids")
        else:
            target_ids = [device.id for device in self._selected_devices or []]
        if not target_ids:
            raise ValueError("No device selected: pass device_id=... (see list_devices())")
        devices = [self._get_device(target) for target in target_ids]
        for device in devices:
            if isinstance(device.status, str) and not device.is_online:
                raise DeviceNotAvailableError(device.id, device.name, device.status)
            if device.max_shots is not None and nshots > device.max_shots:
                raise ValueError(
                    f"nshots={nshots} is over device {device.id}'s limit of {device.max_shots} shots"
                )
        job_ids = [
            self._submit(
                device, job_type=job_type, description=description, nshots=nshots, name=name, summary=summary
            )
            for device in devices
        ]
        return job_ids[0] if device_id is not None else job_ids

    def _submit(
        self, device: Device, *, job_type: str, description: str, nshots: int, name: str, summary: str
    ) -> int:
        from qaas_client.api.jobs import submit_job
        from qaas_client.models.job_submission import JobSubmission

        from qiboconnection.transport import Retry

        body = JobSubmission(
            user_id=self._auth.user_id,
            device_id=device.id,
            number_shots=nshots,
            job_type=job_type,  # type: ignore[arg-type]
            description=description,
            name=name,
            summary=summary,
        )
        extra: dict[str, Any] = {}
        mode = Retry.CONNECT_ONLY
        if self._settings.send_idempotency_key:
            extra["idempotency_key"] = str(uuid.uuid4())
            mode = Retry.IDEMPOTENT
        reply = self._call(
            submit_job, f"submit a {job_type} job to device {device.id}", mode=mode, body=body, **extra
        )
        job_id = reply.data.get("job_id") if isinstance(reply.data, dict) else None
        if not isinstance(job_id, int):
            raise QiboconnectionError(f"The service accepted the job but returned no job id: {reply.data!r}")
        self._jobs.append(
            Job(
                id=job_id,
                device_id=device.id,
                job_type=job_type,
                nshots=nshots,
                name=name,
                summary=summary,
                user_id=self._auth.user_id,
            )
        )
        logger.info("Job %s queued on device %s", job_id, device.id)
        return job_id

    def _job_record(self, job_id: int) -> dict[str, Any]:
        from qaas_client.api.jobs import get_job

        _check_int(job_id, "job_id")
        data = self._call(get_job, f"get job {job_id}", job_id=job_id).data
        if not isinstance(data, dict):
            raise QiboconnectionError(
                f"The service answered job {job_id} with {type(data).__name__}, not a record"
            )
        return data

    def get_job(self, job_id: int) -> JobData:
        """A job's metadata, decoded result (None until completed) and decoded description."""
        job = JobData(self._job_record(job_id), max_result_bytes=self._settings.max_result_bytes)
        if job.failed:
            logger.warning("Job %s failed: %s", job_id, job.error or "the service gave no reason")
        return job

    def _result_of(self, record: dict[str, Any]) -> Any:
        job = JobData(record, max_result_bytes=self._settings.max_result_bytes)
        status = str(record.get("status", "")).lower()
        if status == "error":
            raise JobFailedError(job.job_id, job.error)
        if status != "completed":
            logger.info("Job %s is %s; it has no result yet", job.job_id, record.get("status"))
            return None
        return job.result

    def get_result(self, job_id: int) -> Any:
        """A job's decoded result, or None until completed (deprecated: use ``get_job(job_id).result``)."""
        warnings.warn(
            "get_result() is deprecated; use get_job(job_id).result instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._result_of(self._job_record(job_id))

    def get_results(self, job_ids: list[int]) -> list[Any]:
        """Decoded results of several jobs (deprecated: use ``get_job(job_id).result``)."""
        warnings.warn(
            "get_results() is deprecated; use get_job(job_id).result instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return [self._result_of(self._job_record(job_id)) for job_id in _check_ids(job_ids, "job_ids")]

    def execute_and_return_results(  # noqa: PLR0917 - signature kept from the released client
        self,
        circuit: Any = None,
        qprogram: str | None = None,
        nshots: int = 10,
        device_ids: list[int] | None = None,
        device_id: int | None = None,
        timeout: int = 3600,
        interval: int = 60,
    ) -> list[Any]:
        """Run like :meth:`execute`, wait for the jobs and return their decoded results, in order.

        Raises:
            JobFailedError: a job ended in error (the service's reason is in the message).
            JobTimeoutError: (a ``TimeoutError``) the jobs were not done after ``timeout`` seconds.
        """
        _check_wait(timeout, interval)
        job_ids = self._execute(
            circuit=circuit,
            qprogram=qprogram,
            anneal_program_args=None,
            vqa=None,
            nshots=nshots,
            device_ids=device_ids,
            device_id=device_id,
            name="-",
            summary="-",
            warn_stacklevel=3,
        )
        ids = [job_ids] if isinstance(job_ids, int) else list(job_ids)
        results = []
        for job in self.wait(ids, timeout=timeout, interval=interval):
            if job.failed:
                raise JobFailedError(job.job_id, job.error)
            if str(job.status).lower() != "completed":
                logger.warning("Job %s ended %s; it has no result", job.job_id, job.status)
            results.append(job.result)
        return results

    def wait(self, job_ids: list[int], timeout: float = 3600, interval: float = 60) -> list[JobData]:
        """Wait until every job reaches a final status; return them in order (failed ones included).

        Polling starts fast and slows down to one round every ``interval`` seconds.

        Raises:
            JobTimeoutError: (a ``TimeoutError``) some jobs were not final after ``timeout`` seconds.
        """
        from qiboconnection.polling import Progress, wait_for_jobs

        ids = _check_ids(job_ids, "job_ids")
        _check_wait(timeout, interval)
        records = wait_for_jobs(
            ids,
            self._job_record,
            timeout=timeout,
            interval=interval,
            progress=Progress(sys.stderr, enabled=self.show_progress),
            sleep=self._sleep,
        )
        return [JobData(records[job_id], max_result_bytes=self._settings.max_result_bytes) for job_id in ids]

    def list_jobs(self, favourites: bool = False) -> JobListing:
        """The user's jobs (all pages), as summaries without results."""
        from qaas_client.api.jobs import list_jobs

        if not isinstance(favourites, bool):
            raise TypeError("favourites must be a bool")
        return JobListing.from_records(self._pages(list_jobs, "list jobs", favourites=favourites))

    def cancel_job(self, job_id: int) -> None:
        """Cancel a job that has not finished (ConflictError if it already has)."""
        from qaas_client.api.jobs import cancel_job
        from qaas_client.models.job_cancel import JobCancel

        _check_int(job_id, "job_id")
        self._call(cancel_job, f"cancel job {job_id}", job_id=job_id, body=JobCancel(job_id=job_id))
        logger.info("Job %s cancelled", job_id)

    def delete_job(self, job_id: int) -> None:
        """Delete a job (admin)."""
        from qaas_client.api.jobs import delete_job

        _check_int(job_id, "job_id")
        self._call(delete_job, f"delete job {job_id}", job_id=job_id)
        logger.info("Job %s deleted", job_id)

    # -- runcards ------------------------------------------------------------------------------------

    def save_runcard(  # noqa: PLR0917 - signature kept from the released client
        self,
        name: str,
        description: str,
        runcard_dict: dict,
        device_id: int,
        user_id: int,
        qililab_version: str,
    ) -> int:
        """Store a runcard (admin); returns its id."""
        from qaas_client.api.runcards import create_runcard
        from qaas_client.models.runcard_input import RuncardInput

        from qiboconnection.transport import Retry

        if not isinstance(runcard_dict, dict):
            raise TypeError("runcard_dict must be a dict")
        runcard = Runcard(
            name=name,
            description=description,
            runcard=runcard_dict,
            device_id=_check_int(device_id, "device_id"),
            user_id=_check_int(user_id, "user_id"),
            qililab_version=qililab_version,
        )
        body = RuncardInput.from_dict(runcard.to_input())
        reply = self._call(create_runcard, f"save runcard {name!r}", mode=Retry.CONNECT_ONLY, body=body)
        self._runcard = Runcard.from_record(reply.data)
        return self._runcard.id  # type: ignore[return-value]

    def get_runcard(self, runcard_id: int | None = None, runcard_name: str | None = None) -> Runcard:
        """A runcard by id or by name (admin)."""
        from qaas_client.api.runcards import get_runcard, get_runcard_by_name

        _one_of(runcard_id, runcard_name, "runcard")
        if runcard_id is not None:
            _check_int(runcard_id, "runcard_id")
            reply = self._call(get_runcard, f"get runcard {runcard_id}", runcard_id=runcard_id)
        else:
            reply = self._call(get_runcard_by_name, f"get runcard {runcard_name!r}", name=runcard_name)
        return Runcard.from_record(reply.data)

    def list_runcards(self) -> list[Runcard]:
        """Every runcard (admin)."""
        from qaas_client.api.runcards import list_runcards

        return [Runcard.from_record(record) for record in self._pages(list_runcards, "list runcards")]

    def update_runcard(self, runcard: Runcard) -> Runcard:
        """Replace a stored runcard with ``runcard`` (which must have an id) (admin)."""
        from qaas_client.api.runcards import update_runcard
        from qaas_client.models.runcard_input import RuncardInput

        if not isinstance(runcard, Runcard):
            raise TypeError("runcard must be a Runcard")
        if runcard.id is None:
            raise ValueError("The runcard has no id: save it first, or get it from the service")
        body = RuncardInput.from_dict(runcard.to_input())
        reply = self._call(update_runcard, f"update runcard {runcard.id}", runcard_id=runcard.id, body=body)
        self._runcard = Runcard.from_record(reply.data)
        return self._runcard

    def delete_runcard(self, runcard_id: int) -> None:
        """Delete a runcard (admin)."""
        from qaas_client.api.runcards import delete_runcard

        _check_int(runcard_id, "runcard_id")
        self._call(delete_runcard, f"delete runcard {runcard_id}", runcard_id=runcard_id)
        logger.info("Runcard %s deleted", runcard_id)

    # -- calibrations --------------------------------------------------------------------------------

    def save_calibration(  # noqa: PLR0917 - signature kept from the released client
        self,
        name: str,
        description: str,
        calibration_serialized: str,
        device_id: int,
        user_id: int,
        qililab_version: str,
    ) -> int:
        """Store a calibration (admin); returns its id."""
        from qaas_client.api.calibrations import create_calibration
        from qaas_client.models.calibration_input import CalibrationInput

        from qiboconnection.transport import Retry

        if not isinstance(calibration_serialized, str):
            raise TypeError("calibration_serialized must be a string")
        calibration = Calibration(
            name=name,
            description=description,
            calibration=calibration_serialized,
            device_id=_check_int(device_id, "device_id"),
            user_id=_check_int(user_id, "user_id"),
            qililab_version=qililab_version,
        )
        body = CalibrationInput.from_dict(calibration.to_input())
        reply = self._call(
            create_calibration, f"save calibration {name!r}", mode=Retry.CONNECT_ONLY, body=body
        )
        self._calibration = Calibration.from_record(reply.data)
        return self._calibration.id  # type: ignore[return-value]

    def get_calibration(
        self, calibration_id: int | None = None, calibration_name: str | None = None
    ) -> Calibration:
        """A calibration by id or by name (admin)."""
        from qaas_client.api.calibrations import get_calibration, get_calibration_by_name

        _one_of(calibration_id, calibration_name, "calibration")
        if calibration_id is not None:
            _check_int(calibration_id, "calibration_id")
            reply = self._call(
                get_calibration, f"get calibration {calibration_id}", calibration_id=calibration_id
            )
        else:
            reply = self._call(
                get_calibration_by_name, f"get calibration {calibration_name!r}", name=calibration_name
            )
        return Calibration.from_record(reply.data)

    def list_calibrations(self) -> list[Calibration]:
        """Every calibration (admin)."""
        from qaas_client.api.calibrations import list_calibrations

        return [
            Calibration.from_record(record) for record in self._pages(list_calibrations, "list calibrations")
        ]

    def update_calibration(self, calibration: Calibration) -> Calibration:
        """Replace a stored calibration with ``calibration`` (which must have an id) (admin)."""
        from qaas_client.api.calibrations import update_calibration
        from qaas_client.models.calibration_input import CalibrationInput

        if not isinstance(calibration, Calibration):
            raise TypeError("calibration must be a Calibration")
        if calibration.id is None:
            raise ValueError("The calibration has no id: save it first, or get it from the service")
        body = CalibrationInput.from_dict(calibration.to_input())
        reply = self._call(
            update_calibration,
            f"update calibration {calibration.id}",
            calibration_id=calibration.id,
            body=body,
        )
        self._calibration = Calibration.from_record(reply.data)
        return self._calibration

    def delete_calibration(self, calibration_id: int) -> None:
        """Delete a calibration (admin)."""
        from qaas_client.api.calibrations import delete_calibration

        _check_int(calibration_id, "calibration_id")
        self._call(delete_calibration, f"delete calibration {calibration_id}", calibration_id=calibration_id)
        logger.info("Calibration %s deleted", calibration_id)
