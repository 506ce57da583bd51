"""The ``API`` class users import: log in, pick devices, run jobs, fetch results, manage runcards."""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from qiboconnection.config import Settings
from qiboconnection.errors import JobFailedError, NotFoundError, QiboconnectionError
from qiboconnection.models.devices import Device, Devices
from qiboconnection.models.jobs import JobData, JobListing
from qiboconnection.models.runcards import Calibration, Runcard
from qiboconnection.operations import (
    Request,
    Submission,
    check_device,
    check_ids,
    check_program,
    check_wait,
    device_of,
    device_refusal,
    job_id_of,
    job_ids_of,
    job_record_of,
    plan_submission,
    qasm_description,
)
from qiboconnection.session import _is_cancelled, _Session
from qiboconnection.typings.connection import ConnectionConfiguration
from qiboconnection.typings.vqa import VQA

if TYPE_CHECKING:
    import httpx

    from qiboconnection.batch import BatchOutcome
    from qiboconnection.remote_job import RemoteJob
    from qiboconnection.transport import Reply, Retry

__all__ = ["API", "VQA", "ConnectionConfiguration"]

logger = logging.getLogger("qiboconnection.api")

#: Job records fetched at once in each polling round of :meth:`API.wait` (the listing tells which).
WAIT_CONCURRENCY = 20


class API(_Session):
    """A session with the Quantum-as-a-Service.

    Logs in when created (bad credentials raise :class:`~qiboconnection.errors.AuthenticationError` at
    once) and keeps one pooled HTTP connection; use it as a context manager or call :meth:`close`.
    The service URL comes from ``QUANTUM_SERVICE_URL`` and the request timeout from
    ``QIBOCONNECTION_TIMEOUT`` (see :mod:`qiboconnection.config`).

    Before a submission the device is checked (it exists, is online, takes that many shots); a device
    that passed is not asked about again for
    :data:`~qiboconnection.operations.DEVICE_INFO_SECONDS` seconds. The service still checks every
    submission: when it refuses one for the device's sake, the session fetches the device again and
    raises the same error a fresh check would (``DeviceNotAvailableError``, ``NotFoundError``).

    Args:
        configuration: username and API key.
        settings: overrides the settings read from the environment.
        transport: an httpx transport to use instead of the network (for tests).
    """

    _repr_name = "API"
    _logger = logger

    def __init__(
        self,
        configuration: ConnectionConfiguration,
        *,
        settings: Settings | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(configuration, settings)
        from qiboconnection import __version__
        from qiboconnection.transport import build_client

        self._client = build_client(
            self._settings,
            self._auth,
            client_version=__version__,
            transport=transport if transport is not None else _default_transport(),
        )
        self._sleep: Callable[[float], None] = time.sleep
        try:
            self._login()
        except BaseException:
            self.close()
            raise

    @classmethod
    def login(
        cls, username: str | None = None, api_key: str | None = None, *, account: str | None = None
    ) -> API:
        """Log in and return the authenticated session.

        With no arguments, the credentials come from ``QIBOCONNECTION_USERNAME`` and
        ``QIBOCONNECTION_API_KEY``, else from the saved account ``default`` (whose URL is used when
        ``QUANTUM_SERVICE_URL`` is unset); ``account`` picks another saved account.

        Raises:
            AuthenticationError: the credentials were refused.
            AccountNotFoundError: no credentials given, in the environment or saved.
        """
        from qiboconnection.accounts import resolve, settings_for

        credentials = resolve(username, api_key, account=account)
        return cls(
            configuration=ConnectionConfiguration(username=credentials.username, api_key=credentials.api_key),
            settings=settings_for(credentials),
        )

    # -- saved accounts --------------------------------------------------------------------------------

    @staticmethod
    def save_account(
        username: str,
        api_key: str,
        url: str | None = None,
        name: str = "default",
        overwrite: bool = False,
    ) -> None:
        """Save credentials (file mode 0600 in the user's config directory) for ``API.login()``.

        Raises:
            AccountExistsError: ``name`` is taken and ``overwrite`` is False.
            AccountFileError: the accounts file is corrupt.
        """
        from qiboconnection.accounts import save_account

        save_account(username, api_key, url=url, name=name, overwrite=overwrite)

    @staticmethod
    def list_accounts() -> list[dict[str, Any]]:
        """The saved accounts as ``{"name", "username", "url"}`` (API keys are never listed)."""
        from qiboconnection.accounts import list_accounts

        return list_accounts()

    @staticmethod
    def delete_account(name: str) -> None:
        """Forget a saved account (AccountNotFoundError when there is none by that name)."""
        from qiboconnection.accounts import delete_account

        delete_account(name)

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

    def _run(self, request: Request) -> Reply:
        return self._call(request.op, request.what, mode=request.mode, **request.kwargs)

    def _pages(self, op: Any, what: str, **kwargs: Any) -> list[dict[str, Any]]:
        from qiboconnection.transport import iterate_pages

        return list(
            iterate_pages(
                op, self._client, policy=self._settings.retry, what=what, sleep=self._sleep, **kwargs
            )
        )

    # -- health --------------------------------------------------------------------------------------

    def ping(self) -> str:
        """``"OK"`` when the service is up; ConnectionException otherwise."""
        from qaas_client.api.health import get_status

        try:
            reply = self._call(get_status, "check the service status")
        except QiboconnectionError as error:
            raise self._unreachable(error) from error
        return self._ping_answer(reply)

    # -- devices -------------------------------------------------------------------------------------

    def list_devices(self) -> Devices:
        """Every device (all pages)."""
        from qaas_client.api.devices import list_devices

        self._devices = Devices([Device(record) for record in self._pages(list_devices, "list devices")])
        self._device_info.forget()
        return self._devices

    def _get_device(self, device_id: int) -> Device:
        from qiboconnection.operations import get_device_request

        device = device_of(self._run(get_device_request(device_id)))
        self._keep_device(device)
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
        devices = [self._get_device(device_id) for device_id in check_ids(device_ids, "device_ids")]
        self._selected_devices = devices
        logger.info("Devices selected: %s", ", ".join(str(device.name) for device in devices))

    def _set_device_status(self, device_id: int, status: str) -> Device:
        from qiboconnection.operations import set_device_status_request

        reply = self._run(set_device_status_request(device_id, status))
        self._device_info.forget(device_id)
        device = (
            Device(reply.data) if isinstance(reply.data, dict) and reply.data else self._get_device(device_id)
        )
        self._keep_device(device)
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
                a circuit qibo cannot read back from OpenQASM, one without measurement on a quantum device.
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
        encoded: tuple[str, str] | None = None,
    ) -> list[int] | int:
        submission = plan_submission(
            circuit=circuit,
            qprogram=qprogram,
            anneal_program_args=anneal_program_args,
            vqa=vqa,
            nshots=nshots,
            device_ids=device_ids,
            device_id=device_id,
            name=name,
            summary=summary,
            selected_ids=self._selected_ids(),
            encoded=encoded,
            warn_stacklevel=warn_stacklevel,
        )
        for target in dict.fromkeys(submission.device_ids):
            check_program(self._usable_device(target, nshots), submission)
        job_ids = [self._send(submission, target) for target in submission.device_ids]
        return job_ids[0] if submission.single else job_ids

    def _usable_device(self, device_id: int, nshots: int, *, fresh: bool = False) -> Device:
        """The device, after checking it exists, is online and takes ``nshots``.

        A device that passed recently is checked from its kept record (see :class:`API`), unless ``fresh``.
        """
        device = None if fresh else self._device_info.get(device_id)
        if device is None:
            device = self._get_device(device_id)
            check_device(device, nshots)
            self._device_info.keep(device)
        else:
            check_device(device, nshots)
        return device

    def _recheck_device(self, device_id: int, nshots: int) -> None:
        """After a refused submission: fetch the device again and raise what a fresh check finds wrong.

        The device may have gone offline (or away) since it was checked; a device still fine, or a
        check that cannot be made, raises nothing and the refusal stands.
        """
        self._device_info.forget(device_id)
        try:
            self._usable_device(device_id, nshots, fresh=True)
        except (NotFoundError, ValueError):
            raise
        except QiboconnectionError as error:
            logger.debug("Could not check device %s again: %s", device_id, error)

    def _send(self, submission: Submission, device_id: int) -> int:
        """Submit to one device; returns the job id and records the job in :attr:`jobs`."""
        try:
            reply = self._run(self._submit_request(submission, device_id))
        except QiboconnectionError as error:
            if device_refusal(error):
                self._recheck_device(device_id, submission.nshots)
            raise
        job_id = job_id_of(reply)
        self._record_job(submission, device_id, job_id)
        logger.info("Job %s queued on device %s", job_id, device_id)
        return job_id

    def submit(  # noqa: PLR0917 - same arguments as execute
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
    ) -> RemoteJob | list[RemoteJob]:
        """Like :meth:`execute`, but return job handles: one :class:`~qiboconnection.remote_job.RemoteJob`
        when ``device_id`` is given, else a list (one per device).

        ``job.status()``, ``job.wait()``, ``job.result()``, ``job.cancel()`` and ``job.refresh()`` act on it.
        """
        from qiboconnection.remote_job import RemoteJob

        ids = self._execute(
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
        jobs_by_id = {job.id: job for job in self._jobs[-(1 if isinstance(ids, int) else len(ids)) :]}

        def handle(job_id: int) -> RemoteJob:
            job = jobs_by_id.get(job_id)
            return RemoteJob(
                self,
                job_id,
                device_id=job.device_id if job else None,
                job_type=job.job_type if job else None,
            )

        return handle(ids) if isinstance(ids, int) else [handle(job_id) for job_id in ids]

    def submit_qasm(
        self, qasm: str, device_id: int, nshots: int = 10, name: str = "-", summary: str = "-"
    ) -> RemoteJob:
        """Send an OpenQASM 2.0 program as given (after checking that qibo can read it); returns its handle.

        Raises:
            ValueError: the text is not OpenQASM 2.0 that qibo can read, or bad nshots.
        """
        from qiboconnection.remote_job import RemoteJob

        job_id = self._execute(
            circuit=None,
            qprogram=None,
            anneal_program_args=None,
            vqa=None,
            nshots=nshots,
            device_ids=None,
            device_id=device_id,
            name=name,
            summary=summary,
            warn_stacklevel=3,
            encoded=qasm_description(qasm),
        )
        assert isinstance(job_id, int)
        return RemoteJob(self, job_id, device_id=device_id, job_type="circuit")

    def _job_record(self, job_id: int) -> dict[str, Any]:
        from qiboconnection.operations import get_job_request

        return job_record_of(self._run(get_job_request(job_id)), job_id)

    def _listing_page(self, page: int, per_page: int) -> Any:
        """The body of one page of the user's job listing."""
        from qiboconnection.operations import list_jobs_request

        return self._run(list_jobs_request(page, per_page)).data

    def get_job(self, job_id: int) -> JobData:
        """A job's metadata, decoded result (None until completed) and decoded description."""
        return self._fetched_job(job_id, self._job_record(job_id))

    def _result_of(self, record: dict[str, Any]) -> Any:
        job = self._job_data(record)
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
        return [self._result_of(self._job_record(job_id)) for job_id in check_ids(job_ids, "job_ids")]

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

        Polling starts fast and slows down to one check every ``interval`` seconds (0: as often as the
        polling floor allows).

        Raises:
            JobFailedError: a job ended in error (the service's reason is in the message).
            JobTimeoutError: (a ``TimeoutError``) the jobs were not done after ``timeout`` seconds.
        """
        check_wait(timeout, interval)
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
        return self._final_results(self.wait(ids, timeout=timeout, interval=interval))

    def wait(
        self, job_ids: Sequence[int | RemoteJob], timeout: float | None = 3600, interval: float = 60
    ) -> list[JobData]:
        """Wait until every job (ids or handles) is final; return them in order, failed ones included.

        Polling starts fast and slows down to one round every ``interval`` seconds (0: as often as the
        polling floor allows), faster again while jobs keep finishing. With several jobs, each round reads
        their statuses from one job listing request and fetches only the jobs that became final (up to
        :data:`WAIT_CONCURRENCY` at a time); see :class:`~qiboconnection.polling.ListingRounds`.
        ``timeout=None`` waits for ever.

        Raises:
            JobTimeoutError: (a ``TimeoutError``) some jobs were not final after ``timeout`` seconds.
        """
        from concurrent.futures import ThreadPoolExecutor

        from qiboconnection.polling import ListingRounds, Progress, fetch_each, wait_rounds

        ids = job_ids_of(job_ids)
        limit, pause = check_wait(timeout, interval, allow_no_timeout=True)
        workers = min(WAIT_CONCURRENCY, len(set(ids)))
        rounds = ListingRounds()
        with ThreadPoolExecutor(
            max_workers=max(workers - 1, 1), thread_name_prefix="qiboconnection-wait"
        ) as pool:

            def fetch(pending: list[int]) -> dict[int, Any]:
                if len(pending) == 1:
                    return {pending[0]: self._job_record(pending[0])}
                return fetch_each(self._job_record, pending, pool, workers)

            def round_(pending: list[int]) -> dict[int, Any]:
                return rounds.round(pending, self._listing_page, fetch)

            records = wait_rounds(
                ids,
                round_,
                timeout=limit,
                interval=pause,
                progress=Progress(sys.stderr, enabled=self.show_progress),
                sleep=self._sleep,
            )
        return self._waited_jobs(records, ids)

    def list_jobs(self, favourites: bool = False) -> JobListing:
        """The user's jobs (all pages), as summaries without results."""
        from qaas_client.api.jobs import list_jobs

        if not isinstance(favourites, bool):
            raise TypeError("favourites must be a bool")
        return JobListing.from_records(self._pages(list_jobs, "list jobs", favourites=favourites))

    def cancel_job(self, job_id: int) -> None:
        """Cancel a job that has not finished (ConflictError if it already has).

        A cancel retried after a lost answer that then meets a 409 succeeds when the job is cancelled:
        the first attempt did it.
        """
        from qiboconnection.errors import ConflictError
        from qiboconnection.operations import cancel_job_request

        try:
            self._run(cancel_job_request(job_id))
        except ConflictError as error:
            # Only a retried cancel: its first attempt may have cancelled the job before its answer was lost.
            if error.attempts < 2 or not _is_cancelled(self._job_record(job_id)):
                raise
        logger.info("Job %s cancelled", job_id)

    def delete_job(self, job_id: int) -> None:
        """Delete a job (admin)."""
        from qiboconnection.operations import delete_job_request

        self._run(delete_job_request(job_id))
        logger.info("Job %s deleted", job_id)

    def run_batch(
        self,
        circuits: Sequence[Any],
        device_id: int,
        *,
        nshots: int = 10,
        max_parallel: int = 10,
        timeout: float | None = None,
        interval: float = 1.0,
    ) -> list[BatchOutcome]:
        """Run many circuits and return one outcome per circuit, in the same order.

        Small circuits are packed into shared jobs (a circuit job carries a list of programs; see
        :mod:`qiboconnection.batch`): consecutive circuits go together, at most 50 per job and within a
        result-size budget, spread so that up to ``max_parallel`` jobs run at once (200 small circuits
        with ``max_parallel=10`` make 10 jobs of 20). An item that is itself a list of circuits, or a
        circuit too large to pack, is a job of its own. At most ``max_parallel`` requests are in flight
        (a thread pool over this session's pooled connection). The device is checked once. Waiting goes
        in rounds that each read the unfinished jobs' statuses from one job listing request and fetch
        only the jobs that became final.

        Each :class:`~qiboconnection.batch.BatchOutcome` has ``ok``, ``result`` (that circuit's own
        decoded result) and ``job_id``/``job`` (the job that ran it, shared with the rest of its pack),
        or ``error``. Failures stay per circuit: a pack that fails, is refused or whose result cannot be
        read is sent again as one job per circuit, within the same timeout, so only the faulty circuit
        carries an error. A cancellation or timeout applies to every circuit of its pack. ``timeout``
        bounds the wait once the jobs are sent (None: no limit); circuits of unfinished jobs get a
        ``JobTimeoutError``. ``interval`` caps the pause between rounds (0: poll at the floor).

        Raises:
            NotFoundError / DeviceNotAvailableError: the device does not exist or takes no jobs.
            ValueError / TypeError: bad arguments.
        """
        from qiboconnection.batch import run_sync

        return run_sync(
            self,
            circuits,
            device_id=device_id,
            nshots=nshots,
            max_parallel=max_parallel,
            timeout=timeout,
            interval=interval,
        )

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
        from qiboconnection.stored_records import RUNCARD, new_runcard

        runcard = new_runcard(name, description, runcard_dict, device_id, user_id, qililab_version)
        self._runcard = RUNCARD.record_of(self._run(RUNCARD.create(runcard)))
        return self._runcard.id  # type: ignore[return-value]

    def get_runcard(self, runcard_id: int | None = None, runcard_name: str | None = None) -> Runcard:
        """A runcard by id or by name (admin)."""
        from qiboconnection.stored_records import RUNCARD

        return RUNCARD.record_of(self._run(RUNCARD.get(runcard_id, runcard_name)))

    def list_runcards(self) -> list[Runcard]:
        """Every runcard (admin)."""
        from qiboconnection.stored_records import RUNCARD

        return RUNCARD.records_of(self._pages(*RUNCARD.listing()))

    def update_runcard(self, runcard: Runcard) -> Runcard:
        """Replace a stored runcard with ``runcard`` (which must have an id) (admin)."""
        from qiboconnection.stored_records import RUNCARD

        self._runcard = RUNCARD.record_of(self._run(RUNCARD.update(runcard)))
        return self._runcard

    def delete_runcard(self, runcard_id: int) -> None:
        """Delete a runcard (admin)."""
        from qiboconnection.stored_records import RUNCARD

        self._run(RUNCARD.delete(runcard_id))
        logger.info("Runcard %s deleted", runcard_id)

    # -- calibrations ---------------------------------------------------------------------------------

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
        from qiboconnection.stored_records import CALIBRATION, new_calibration

        calibration = new_calibration(
            name, description, calibration_serialized, device_id, user_id, qililab_version
        )
        self._calibration = CALIBRATION.record_of(self._run(CALIBRATION.create(calibration)))
        return self._calibration.id  # type: ignore[return-value]

    def get_calibration(
        self, calibration_id: int | None = None, calibration_name: str | None = None
    ) -> Calibration:
        """A calibration by id or by name (admin)."""
        from qiboconnection.stored_records import CALIBRATION

        return CALIBRATION.record_of(self._run(CALIBRATION.get(calibration_id, calibration_name)))

    def list_calibrations(self) -> list[Calibration]:
        """Every calibration (admin)."""
        from qiboconnection.stored_records import CALIBRATION

        return CALIBRATION.records_of(self._pages(*CALIBRATION.listing()))

    def update_calibration(self, calibration: Calibration) -> Calibration:
        """Replace a stored calibration with ``calibration`` (which must have an id) (admin)."""
        from qiboconnection.stored_records import CALIBRATION

        self._calibration = CALIBRATION.record_of(self._run(CALIBRATION.update(calibration)))
        return self._calibration

    def delete_calibration(self, calibration_id: int) -> None:
        """Delete a calibration (admin)."""
        from qiboconnection.stored_records import CALIBRATION

        self._run(CALIBRATION.delete(calibration_id))
        logger.info("Calibration %s deleted", calibration_id)


def _default_transport() -> httpx.BaseTransport | None:
    """A :class:`~qiboconnection.transport.KeepAliveTransport` keeping a connection for each thread of a
    wait or batch, unless the environment names proxies (httpx then routes them itself)."""
    from urllib.request import getproxies

    from qiboconnection.transport import KeepAliveTransport

    return None if getproxies() else KeepAliveTransport(max_idle=2 * WAIT_CONCURRENCY)
