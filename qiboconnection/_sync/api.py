"""``APIBase``: every operation of a session with the QaaS, as methods over ``httpx.Client``.

:class:`~qiboconnection.async_api.AsyncAPI` is this class; :class:`~qiboconnection.api.API` is its
synchronous twin, generated from this file (``scripts/unasync.py``).
"""

# Written from qiboconnection/_async/api.py by scripts/unasync.py: edit that file, not this one.

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

from qiboconnection._sync.remote_job import RemoteJob
from qiboconnection._sync.waiting import listing_round, wait_rounds
from qiboconnection.batching import Batch, BatchJob, BatchOutcome, check_batch
from qiboconnection.concurrency import Pool, sleep, within
from qiboconnection.config import Settings
from qiboconnection.errors import ConflictError, JobFailedError, NotFoundError, QiboconnectionError
from qiboconnection.models.devices import Device, Devices
from qiboconnection.models.jobs import JobData, JobListing
from qiboconnection.models.runcards import Calibration, Runcard
from qiboconnection.operations import (
    Request,
    Retry,
    Submission,
    cancel_job_request,
    check_device,
    check_ids,
    check_program,
    check_wait,
    delete_job_request,
    device_of,
    device_refusal,
    get_device_request,
    get_job_request,
    job_ids_of,
    job_record_of,
    list_devices_request,
    list_jobs_request,
    plan_submission,
    qasm_description,
    set_device_status_request,
    status_request,
)
from qiboconnection.polling import ListingRounds, Pace, Progress, Record, UpdateHook
from qiboconnection.session import Session, is_cancelled
from qiboconnection.typings.connection import ConnectionConfiguration

if TYPE_CHECKING:
    import httpx
    from qaas_client.models.job_created import JobCreated

    from qiboconnection.typings.vqa import VQA

__all__ = ["WAIT_CONCURRENCY", "APIBase"]

logger = logging.getLogger("qiboconnection.api")

#: Job records fetched at once in each polling round of :meth:`APIBase.wait` (the listing tells which).
WAIT_CONCURRENCY = 20


class APIBase(Session):
    """A session with the Quantum-as-a-Service.

    Device checks before a submission: the device exists, is online and takes that many shots; a device
    that passed is not asked about again for :data:`~qiboconnection.operations.DEVICE_INFO_SECONDS`
    seconds. The service still checks every submission: when it refuses one for the device's sake, the
    session fetches the device again and raises what a fresh check finds (``DeviceNotAvailableError``,
    ``NotFoundError``).

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
        super().__init__(configuration, settings)
        from qiboconnection.clients import build_clients
        from qiboconnection.config import CLIENT_VERSION

        self._client = build_clients(
            self._settings, self._auth, client_version=CLIENT_VERSION, transport=transport
        )
        self._sleep = sleep

    @classmethod
    def login(
        cls,
        username: str | None = None,
        api_key: str | None = None,
        *,
        account: str | None = None,
        settings: Settings | None = None,
    ) -> Self:
        """Log in and return the session.

        With no arguments, the credentials come from ``QIBOCONNECTION_USERNAME`` and
        ``QIBOCONNECTION_API_KEY``, else from the saved account ``default`` (whose URL is used when
        ``QUANTUM_SERVICE_URL`` is unset); ``account`` picks another saved account.

        Args:
            username: the QaaS user name (give ``api_key`` with it).
            api_key: that user's API key.
            account: the name of a saved account to log in with (see :meth:`save_account`).
            settings: overrides the settings read from the environment (and the saved account's URL).

        Returns:
            The session, logged in.

        Raises:
            AuthenticationError: the credentials were refused.
            AccountNotFoundError: no credentials given, in the environment or saved.
            ConnectionException: the service could not be reached.
        """
        from qiboconnection.accounts import resolve, settings_for

        credentials = resolve(username, api_key, account=account)
        api = cls(
            ConnectionConfiguration(username=credentials.username, api_key=credentials.api_key),
            settings=settings if settings is not None else settings_for(credentials),
        )
        api.open()
        return api

    # -- saved accounts --------------------------------------------------------------------------------

    @staticmethod
    def save_account(
        username: str, api_key: str, url: str | None = None, name: str = "default", overwrite: bool = False
    ) -> None:
        """Save credentials (file mode 0600 in the user's config directory) for ``login()``.

        The credentials are not checked here; the ``qiboconnection login`` command checks them first.

        Args:
            username: the QaaS user name.
            api_key: that user's API key.
            url: the service URL to use with this account (None: ``QUANTUM_SERVICE_URL`` or the hosted
                service at login).
            name: the account's name; ``default`` is the one ``login()`` uses without arguments.
            overwrite: replace an account saved under the same name.

        Raises:
            AccountExistsError: ``name`` is taken and ``overwrite`` is False.
            AccountFileError: the accounts file is corrupt.
        """
        from qiboconnection.accounts import save_account

        save_account(username, api_key, url=url, name=name, overwrite=overwrite)

    @staticmethod
    def list_accounts() -> list[dict[str, Any]]:
        """The saved accounts as ``{"name", "username", "url"}`` (API keys are never listed).

        Returns:
            One dict per saved account, in name order (empty when there is none).

        Raises:
            AccountFileError: the accounts file is corrupt.
        """
        from qiboconnection.accounts import list_accounts

        return list_accounts()

    @staticmethod
    def delete_account(name: str) -> None:
        """Forget a saved account (AccountNotFoundError when there is none by that name).

        Args:
            name: the account's name.

        Raises:
            AccountNotFoundError: no account is saved under ``name``.
            AccountFileError: the accounts file is corrupt.
        """
        from qiboconnection.accounts import delete_account

        delete_account(name)

    # -- lifecycle -------------------------------------------------------------------------------------

    def open(self) -> None:
        """Log in unless logged in already; on failure the connections are closed and the error raised.

        Raises:
            AuthenticationError: the credentials were refused.
            ConnectionException: the service could not be reached.
        """
        from qiboconnection._sync.calls import retrying

        if self._auth.logged_in:
            return

        def login() -> object:
            return within(self._settings.timeout, self._auth.login_sync)

        try:
            retrying(
                login,
                mode=Retry.IDEMPOTENT,
                what=f"log in as {self._auth.username!r}",
                policy=self._settings.retry,
                sleep=self._sleep,
            )
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.get_httpx_client().close()
        self._auth.token_client.get_httpx_client().close()

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self, request: Request[Any]) -> Any:
        from qiboconnection._sync.calls import call

        settings = self._settings
        return call(self._client, request, policy=settings.retry, timeout=settings.timeout, sleep=self._sleep)

    def _pages(self, page_request: Any) -> list[Any]:
        from qiboconnection._sync.calls import pages

        settings = self._settings
        return pages(
            self._client, page_request, policy=settings.retry, timeout=settings.timeout, sleep=self._sleep
        )

    # -- health and devices ----------------------------------------------------------------------------

    def ping(self) -> str:
        """``"OK"`` when the service is up.

        Returns:
            The string ``"OK"``.

        Raises:
            ConnectionException: the service is not answering, or not as it should.
        """
        try:
            answer: str = self._run(status_request())
        except QiboconnectionError as error:
            raise self._unreachable(error) from error
        return self._ping_answer(answer)

    def list_devices(self) -> Devices:
        """Every device (all pages).

        Returns:
            The devices, a sequence of :class:`~qiboconnection.models.devices.Device` that prints as a
            table.

        Raises:
            RemoteExecutionException: the service answered with an error.
            ConnectionException: the service could not be reached.
        """
        models = self._pages(list_devices_request)
        self._devices = Devices([device_of(model) for model in models])
        self._device_info.forget()
        return self._devices

    def get_device(self, device_id: int) -> Device:
        """One device (NotFoundError when there is none with that id).

        Args:
            device_id: the device's id.

        Returns:
            The device's record, as the service has it now.

        Raises:
            NotFoundError: there is no device with that id.
            ConnectionException: the service could not be reached.
        """
        device = device_of(self._run(get_device_request(device_id)))
        self._keep_device(device)
        return device

    def select_device_id(self, device_id: int) -> None:
        """Select the device :meth:`execute` uses when given none (deprecated: pass ``device_id``).

        Args:
            device_id: the device's id.

        Raises:
            NotFoundError: there is no device with that id.

        Deprecated:
            Emits a ``DeprecationWarning``; pass ``device_id`` to :meth:`execute` or :meth:`submit`.
        """
        warnings.warn(
            "select_device_id() is deprecated; pass device_id to execute() instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        device = self.get_device(device_id)
        self._selected_devices = [device]
        logger.info("Device %s selected", device.name)

    def select_device_ids(self, device_ids: list[int]) -> None:
        """Select the devices :meth:`execute` uses when given none (one job per device).

        Args:
            device_ids: the devices' ids.

        Raises:
            NotFoundError: one of the devices does not exist (the selection is then unchanged).
            TypeError: ``device_ids`` is not a list of ints.
        """
        devices = [self.get_device(device_id) for device_id in check_ids(device_ids, "device_ids")]
        self._selected_devices = devices
        logger.info("Devices selected: %s", ", ".join(str(device.name) for device in devices))

    def _set_device_status(self, device_id: int, status: str) -> Device:
        device = device_of(self._run(set_device_status_request(device_id, status)))
        self._device_info.forget(device_id)
        self._keep_device(device)
        logger.info("Device %s is now %s", device_id, status)
        return device

    def set_device_to_online(self, device_id: int) -> Device:
        """Put a device online, so it takes remote jobs (admin).

        Args:
            device_id: the device's id.

        Returns:
            The device's record after the change.

        Raises:
            PermissionDeniedError: the user is not an admin.
            NotFoundError: there is no device with that id.
        """
        return self._set_device_status(device_id, "online")

    def set_device_to_maintenance(self, device_id: int) -> Device:
        """Put a device into maintenance, so it takes no remote jobs (admin).

        Args:
            device_id: the device's id.

        Returns:
            The device's record after the change.

        Raises:
            PermissionDeniedError: the user is not an admin.
            NotFoundError: there is no device with that id.
        """
        return self._set_device_status(device_id, "maintenance")

    # -- jobs ------------------------------------------------------------------------------------------

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

        Give exactly one of ``circuit``, ``qprogram``, ``anneal_program_args`` and ``vqa``. Each device is
        checked first: it exists, is online and takes ``nshots``.

        Args:
            circuit: a qibo ``Circuit``, or a list of them run as one job.
            qprogram: a serialized QProgram (qililab's ``serialize(qprogram)``).
            anneal_program_args: the arguments of an annealing program, as a dict.
            vqa: a variational quantum algorithm (:class:`~qiboconnection.typings.vqa.VQA`).
            nshots: the number of shots.
            device_ids: run on each of these devices, one job per device.
            device_id: run on this device (give this or ``device_ids``; with neither, the devices chosen
                with :meth:`select_device_ids`).
            name: the job's name.
            summary: the job's summary.

        Returns:
            The job id when ``device_id`` is given, else the list of job ids (one per device).

        Raises:
            ValueError: no program or several, no device, both device_id and device_ids, bad nshots, a
                circuit qibo cannot read back from OpenQASM, one without measurement on a quantum device.
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
        """The device, after checking it exists, is online and takes ``nshots`` (kept records reused
        unless ``fresh``)."""
        device = None if fresh else self._device_info.get(device_id)
        if device is None:
            device = self.get_device(device_id)
            check_device(device, nshots)
            self._device_info.keep(device)
        else:
            check_device(device, nshots)
        return device

    def _recheck_device(self, device_id: int, nshots: int) -> None:
        """After a refused submission: fetch the device again and raise what a fresh check finds wrong.

        The device may have gone offline (or away) since it was checked; a device still fine, or a check
        that cannot be made, raises nothing and the refusal stands.
        """
        self._device_info.forget(device_id)
        try:
            self._usable_device(device_id, nshots, fresh=True)
        except (NotFoundError, ValueError):
            raise
        except QiboconnectionError as error:
            logger.debug("Could not check device %s again: %s", device_id, error)

    def _send(
        self, submission: Submission, device_id: int, request: Request[JobCreated] | None = None
    ) -> int:
        """Submit to one device (with ``request`` when given: a submission sent again keeps its
        ``Idempotency-Key``); returns the job id and records the job in :attr:`jobs`."""
        try:
            created = self._run(request or self._submit_request(submission, device_id))
        except QiboconnectionError as error:
            if device_refusal(error):
                self._recheck_device(device_id, submission.nshots)
            raise
        job_id: int = created.job_id
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
        """Like :meth:`execute`, but return job handles: one when ``device_id`` is given, else a list.

        Args:
            circuit: a qibo ``Circuit``, or a list of them run as one job.
            qprogram: a serialized QProgram.
            anneal_program_args: the arguments of an annealing program, as a dict.
            vqa: a variational quantum algorithm.
            nshots: the number of shots.
            device_ids: run on each of these devices, one job per device.
            device_id: run on this device.
            name: the job's name.
            summary: the job's summary.

        Returns:
            A :class:`~qiboconnection.remote_job.RemoteJob` when ``device_id`` is given, else a list
            of them (one per device).

        Raises:
            ValueError: as for :meth:`execute`.
            NotFoundError: a device does not exist.
            DeviceNotAvailableError: a device is not online.
        """
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
        recorded = {job.id: job for job in self._jobs[-(1 if isinstance(ids, int) else len(ids)) :]}

        def handle(job_id: int) -> RemoteJob:
            job = recorded.get(job_id)
            return RemoteJob(
                self, job_id, device_id=job.device_id if job else None, job_type=job.job_type if job else None
            )

        return handle(ids) if isinstance(ids, int) else [handle(job_id) for job_id in ids]

    def submit_qasm(
        self, qasm: str, device_id: int, nshots: int = 10, name: str = "-", summary: str = "-"
    ) -> RemoteJob:
        """Send an OpenQASM 2.0 program as given (after checking that qibo can read it); returns its handle.

        Args:
            qasm: the program's text.
            device_id: the device to run it on.
            nshots: the number of shots.
            name: the job's name.
            summary: the job's summary.

        Returns:
            The job's handle.

        Raises:
            NotFoundError: the device does not exist.
            DeviceNotAvailableError: the device is not online.
            ValueError: the text is not OpenQASM 2.0 that qibo can read, or bad nshots.
        """
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
        if not isinstance(job_id, int):
            raise QiboconnectionError(f"One job was expected for device {device_id}, not {job_id!r}")
        return RemoteJob(self, job_id, device_id=device_id, job_type="circuit")

    def _job_record(self, job_id: int) -> dict[str, Any]:
        return job_record_of(self._run(get_job_request(job_id)), job_id)

    def _listing_page(self, page: int, per_page: int) -> dict[str, Any]:
        """The body of one page of the user's job listing."""
        listing: dict[str, Any] = (self._run(list_jobs_request(page, per_page))).to_dict()
        return listing

    def get_job(self, job_id: int) -> JobData:
        """A job's metadata, decoded result (None until completed) and decoded description.

        A job that ended in error is returned too (with its ``error``), and logged as a warning.

        Args:
            job_id: the job's id.

        Returns:
            The job's record, its result decoded (a list of
            :class:`~qiboconnection.results.QaaSCircuitResult` for a circuit job).

        Raises:
            NotFoundError: there is no such job (or it is another user's).
            ResultDecodeError: the result or description cannot be decoded, or is over the size limit.
        """
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
        """A job's decoded result, or None until completed (deprecated: use ``get_job(job_id).result``).

        Args:
            job_id: the job's id.

        Returns:
            The decoded result, or None while the job is not completed.

        Raises:
            JobFailedError: the job ended in error.
            NotFoundError: there is no such job.

        Deprecated:
            Emits a ``DeprecationWarning``; use ``get_job(job_id).result`` or a job handle's ``result()``.
        """
        warnings.warn(
            "get_result() is deprecated; use get_job(job_id).result instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._result_of(self._job_record(job_id))

    def get_results(self, job_ids: list[int]) -> list[Any]:
        """Decoded results of several jobs (deprecated: use ``get_job(job_id).result``).

        Args:
            job_ids: the jobs' ids.

        Returns:
            Their decoded results in the same order, None for a job not completed yet.

        Raises:
            JobFailedError: one of the jobs ended in error.
            NotFoundError: one of the jobs does not exist.

        Deprecated:
            Emits a ``DeprecationWarning``; use ``get_job(job_id).result`` or :meth:`wait`.
        """
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

        Args:
            circuit: a qibo ``Circuit``, or a list of them run as one job.
            qprogram: a serialized QProgram.
            nshots: the number of shots.
            device_ids: run on each of these devices, one job per device.
            device_id: run on this device.
            timeout: the most seconds to wait for the jobs.
            interval: the longest pause between two checks, in seconds.

        Returns:
            One decoded result per job, in order (for a circuit job, a list with one
            :class:`~qiboconnection.results.QaaSCircuitResult` per circuit).

        Raises:
            ValueError: as for :meth:`execute`.
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
        self,
        job_ids: Sequence[int | RemoteJob],
        timeout: float | None = 3600,
        interval: float = 60,
        on_update: UpdateHook | None = None,
    ) -> list[JobData]:
        """Wait until every job (ids or handles) is final; return them in order, failed ones included.

        Polling starts fast and slows down to one round every ``interval`` seconds (0: as often as the
        polling floor allows), faster again while jobs keep finishing. With several jobs, each round reads
        their statuses from one job listing request and fetches only the jobs that became final (up to
        :data:`WAIT_CONCURRENCY` at a time); see :class:`~qiboconnection.polling.ListingRounds`.
        ``timeout=None`` waits for ever. ``on_update`` is called with a
        :class:`~qiboconnection.polling.JobUpdate` (job id, status, queue position when known) for every
        change of status seen, once each and in order, as notebooks and progress bars
        want; the progress line on a terminal stays.

        Args:
            job_ids: job ids or handles (:class:`~qiboconnection.remote_job.RemoteJob`).
            timeout: the most seconds to wait, or None for no limit.
            interval: the longest pause between two rounds, in seconds.
            on_update: called with each change of a job's status seen.

        Returns:
            The jobs' final records, in the order of ``job_ids``.

        Raises:
            JobTimeoutError: (a ``TimeoutError``) some jobs were not final after ``timeout`` seconds.
        """
        ids = job_ids_of(job_ids)
        limit, pause = check_wait(timeout, interval, allow_no_timeout=True)
        rounds = ListingRounds()
        with Pool(min(WAIT_CONCURRENCY, max(len(set(ids)), 1)), "qiboconnection-wait") as pool:

            def fetch(pending: list[int]) -> dict[int, Record | BaseException]:
                records = pool.map(self._job_record, pending)
                return dict(zip(pending, records, strict=True))

            def one_round(pending: list[int]) -> dict[int, Record | BaseException]:
                return listing_round(rounds, pending, self._listing_page, fetch)

            records = wait_rounds(
                ids,
                one_round,
                timeout=limit,
                interval=pause,
                progress=Progress(sys.stderr, enabled=self.show_progress),
                sleep=self._sleep,
                on_update=on_update,
            )
        return self._waited_jobs(records, ids)

    def list_jobs(self, favourites: bool = False) -> JobListing:
        """The user's jobs (all pages), as summaries without results.

        Args:
            favourites: only the jobs marked as favourite.

        Returns:
            The jobs, a sequence of summaries that prints as a table.

        Raises:
            TypeError: ``favourites`` is not a bool.
            ConnectionException: the service could not be reached.
        """
        if not isinstance(favourites, bool):
            raise TypeError(f"favourites must be a bool, not {type(favourites).__name__}")

        def page_request(page: int, per_page: int) -> Request[Any]:
            return list_jobs_request(page, per_page, favourites)

        models = self._pages(page_request)
        return JobListing.from_records([model.to_dict() for model in models])

    def cancel_job(self, job_id: int) -> None:
        """Cancel a job that has not finished (ConflictError if it already has).

        A cancel sent again after a lost answer that then meets a 409 succeeds when the job is cancelled:
        the first attempt did it.

        Args:
            job_id: the job's id.

        Raises:
            ConflictError: the job has already finished.
            NotFoundError: there is no such job.
        """
        try:
            self._run(cancel_job_request(job_id))
        except ConflictError as error:
            if error.attempts < 2 or not is_cancelled(self._job_record(job_id)):
                raise
        logger.info("Job %s cancelled", job_id)

    def delete_job(self, job_id: int) -> None:
        """Delete a job (admin).

        Args:
            job_id: the job's id.

        Raises:
            PermissionDeniedError: the user is not an admin.
            NotFoundError: there is no such job.
        """
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
        on_update: UpdateHook | None = None,
    ) -> list[BatchOutcome]:
        """Run many circuits and return one outcome per circuit, in the same order.

        Small circuits are packed into shared jobs (a circuit job carries a list of programs; see
        :mod:`qiboconnection.batching`): consecutive circuits go together, at most 50 per job and within a
        result-size budget, spread so that up to ``max_parallel`` jobs run at once (200 small circuits with
        ``max_parallel=10`` make 10 jobs of 20). An item that is itself a list of circuits, or a circuit
        too large to pack, is a job of its own. At most ``max_parallel`` requests are in flight. The
        device is checked once. Waiting goes in rounds that each read the unfinished jobs' statuses from
        one job listing request and fetch only the jobs that became final.

        Each :class:`~qiboconnection.batching.BatchOutcome` has ``ok``, ``result`` (that circuit's own
        decoded result) and ``job_id``/``job`` (the job that ran it, shared with the rest of its pack), or
        ``error``. Failures stay per circuit: a pack that fails, is refused or whose result cannot be read
        is sent again as one job per circuit, within the same timeout, so only the faulty circuit carries
        an error. A status read or result fetch that fails is tried again in the next round, until the
        timeout. A cancellation or timeout applies to every circuit of its pack. ``timeout`` bounds the
        wait once the jobs are sent (None: no limit); circuits of unfinished jobs get a
        ``JobTimeoutError``. ``interval`` caps the pause between rounds (0: poll at the floor).
        ``on_update`` is called with each change of a job's status seen, as in :meth:`wait`.

        Args:
            circuits: qibo circuits; an item that is a list of circuits runs as a job of its own.
            device_id: the device to run them on.
            nshots: the number of shots of each circuit.
            max_parallel: the most jobs running, and requests in flight, at once.
            timeout: the most seconds to wait once the jobs are sent, or None for no limit.
            interval: the longest pause between two rounds, in seconds.
            on_update: called with each change of a job's status seen.

        Returns:
            One :class:`~qiboconnection.batching.BatchOutcome` per item of ``circuits``, in order.

        Raises:
            NotFoundError: the device does not exist.
            DeviceNotAvailableError: the device takes no jobs now.
            ValueError: ``nshots``, ``max_parallel``, ``timeout`` or ``interval`` out of range.
            TypeError: ``circuits`` is not a sequence, or an argument has the wrong type.
        """
        limit = check_batch(
            circuits,
            device_id=device_id,
            nshots=nshots,
            max_parallel=max_parallel,
            timeout=timeout,
            interval=interval,
        )
        items = list(circuits)
        device = self._usable_device(device_id, nshots)
        batch = Batch(
            items,
            device_id=device_id,
            nshots=nshots,
            max_parallel=max_parallel,
            max_result_bytes=self._settings.max_result_bytes,
            device=device,
        )

        def send(job: BatchJob) -> tuple[BatchJob, int | BaseException]:
            if job.request is None:
                job.request = self._submit_request(job.submission, device_id)
            try:
                return job, self._send(job.submission, device_id, job.request)
            except Exception as error:
                return job, error

        def fetch(job_id: int) -> tuple[int, Record | BaseException]:
            try:
                return job_id, self._job_record(job_id)
            except Exception as error:
                return job_id, error

        with Pool(max_parallel, "qiboconnection-batch") as pool:

            def send_all(jobs: list[BatchJob]) -> None:
                while jobs:
                    answers = pool.map(send, jobs)
                    jobs = [more for job, answer in answers for more in batch.sent(job, answer)]

            def fetch_many(pending: list[int]) -> dict[int, Record | BaseException]:
                return dict(pool.map(fetch, pending))

            send_all(batch.first)
            rounds = ListingRounds()
            pace = Pace(
                limit, interval, Progress(sys.stderr, enabled=self.show_progress), on_update=on_update
            )
            try:
                while batch.pending:
                    entries = listing_round(rounds, list(batch.waiting), self._listing_page, fetch_many)
                    send_all(batch.settle(entries) + batch.to_resend())
                    delay = pace.next(batch.shown(), batch.pending, batch.finished)
                    if delay is None:
                        break
                    self._sleep(delay)
            finally:
                pace.close()
        return batch.finish(limit)

    # -- runcards --------------------------------------------------------------------------------------

    def save_runcard(  # noqa: PLR0917 - signature kept from the released client
        self,
        name: str,
        description: str,
        runcard_dict: dict[str, Any],
        device_id: int,
        user_id: int,
        qililab_version: str,
    ) -> int:
        """Store a runcard (admin); returns its id.

        Args:
            name: the runcard's name.
            description: what it is for.
            runcard_dict: the runcard's contents.
            device_id: the device it belongs to.
            user_id: the user who stores it.
            qililab_version: the qililab version it was made with.

        Returns:
            The stored runcard's id (the record is :attr:`last_runcard`).

        Raises:
            PermissionDeniedError: the user is not an admin.
            InvalidRequestError: the service refused the record.
        """
        from qiboconnection.stored_records import RUNCARD, new_runcard

        runcard = new_runcard(name, description, runcard_dict, device_id, user_id, qililab_version)
        self._runcard = RUNCARD.record_of(self._run(RUNCARD.create(runcard)))
        return _stored_id(self._runcard)

    def get_runcard(self, runcard_id: int | None = None, runcard_name: str | None = None) -> Runcard:
        """A runcard by id or by name (admin).

        Args:
            runcard_id: the runcard's id.
            runcard_name: its name (give the id or the name, not both).

        Returns:
            The runcard.

        Raises:
            ValueError: neither an id nor a name was given, or both.
            NotFoundError: there is no such runcard.
            PermissionDeniedError: the user is not an admin.
        """
        from qiboconnection.stored_records import RUNCARD

        return RUNCARD.record_of(self._run(RUNCARD.get(runcard_id, runcard_name)))

    def list_runcards(self) -> list[Runcard]:
        """Every runcard (admin).

        Returns:
            The runcards, all pages.

        Raises:
            PermissionDeniedError: the user is not an admin.
        """
        from qiboconnection.stored_records import RUNCARD

        models = self._pages(RUNCARD.listing)
        return RUNCARD.records_of(models)

    def update_runcard(self, runcard: Runcard) -> Runcard:
        """Replace a stored runcard with ``runcard`` (which must have an id) (admin).

        Args:
            runcard: the new record, with the id of the one it replaces.

        Returns:
            The runcard as stored (also :attr:`last_runcard`).

        Raises:
            ValueError: ``runcard`` has no id.
            NotFoundError: there is no runcard with that id.
            PermissionDeniedError: the user is not an admin.
        """
        from qiboconnection.stored_records import RUNCARD

        self._runcard = RUNCARD.record_of(self._run(RUNCARD.update(runcard)))
        return self._runcard

    def delete_runcard(self, runcard_id: int) -> None:
        """Delete a runcard (admin).

        Args:
            runcard_id: the runcard's id.

        Raises:
            NotFoundError: there is no runcard with that id.
            PermissionDeniedError: the user is not an admin.
        """
        from qiboconnection.stored_records import RUNCARD

        self._run(RUNCARD.delete(runcard_id))
        logger.info("Runcard %s deleted", runcard_id)

    # -- calibrations ----------------------------------------------------------------------------------

    def save_calibration(  # noqa: PLR0917 - signature kept from the released client
        self,
        name: str,
        description: str,
        calibration_serialized: str,
        device_id: int,
        user_id: int,
        qililab_version: str,
    ) -> int:
        """Store a calibration (admin); returns its id.

        Args:
            name: the calibration's name.
            description: what it is for.
            calibration_serialized: the serialized calibration.
            device_id: the device it belongs to.
            user_id: the user who stores it.
            qililab_version: the qililab version it was made with.

        Returns:
            The stored calibration's id (the record is :attr:`last_calibration`).

        Raises:
            PermissionDeniedError: the user is not an admin.
            InvalidRequestError: the service refused the record.
        """
        from qiboconnection.stored_records import CALIBRATION, new_calibration

        calibration = new_calibration(
            name, description, calibration_serialized, device_id, user_id, qililab_version
        )
        self._calibration = CALIBRATION.record_of(self._run(CALIBRATION.create(calibration)))
        return _stored_id(self._calibration)

    def get_calibration(
        self, calibration_id: int | None = None, calibration_name: str | None = None
    ) -> Calibration:
        """A calibration by id or by name (admin).

        Args:
            calibration_id: the calibration's id.
            calibration_name: its name (give the id or the name, not both).

        Returns:
            The calibration.

        Raises:
            ValueError: neither an id nor a name was given, or both.
            NotFoundError: there is no such calibration.
            PermissionDeniedError: the user is not an admin.
        """
        from qiboconnection.stored_records import CALIBRATION

        return CALIBRATION.record_of(self._run(CALIBRATION.get(calibration_id, calibration_name)))

    def list_calibrations(self) -> list[Calibration]:
        """Every calibration (admin).

        Returns:
            The calibrations, all pages.

        Raises:
            PermissionDeniedError: the user is not an admin.
        """
        from qiboconnection.stored_records import CALIBRATION

        models = self._pages(CALIBRATION.listing)
        return CALIBRATION.records_of(models)

    def update_calibration(self, calibration: Calibration) -> Calibration:
        """Replace a stored calibration with ``calibration`` (which must have an id) (admin).

        Args:
            calibration: the new record, with the id of the one it replaces.

        Returns:
            The calibration as stored (also :attr:`last_calibration`).

        Raises:
            ValueError: ``calibration`` has no id.
            NotFoundError: there is no calibration with that id.
            PermissionDeniedError: the user is not an admin.
        """
        from qiboconnection.stored_records import CALIBRATION

        self._calibration = CALIBRATION.record_of(self._run(CALIBRATION.update(calibration)))
        return self._calibration

    def delete_calibration(self, calibration_id: int) -> None:
        """Delete a calibration (admin).

        Args:
            calibration_id: the calibration's id.

        Raises:
            NotFoundError: there is no calibration with that id.
            PermissionDeniedError: the user is not an admin.
        """
        from qiboconnection.stored_records import CALIBRATION

        self._run(CALIBRATION.delete(calibration_id))
        logger.info("Calibration %s deleted", calibration_id)


def _stored_id(record: Runcard | Calibration) -> int:
    if not isinstance(record.id, int):
        raise QiboconnectionError(f"The service stored the {type(record).__name__.lower()} without an id")
    return record.id
