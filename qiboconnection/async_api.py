"""``AsyncAPI``: the session of :class:`~qiboconnection.api.API` as coroutines over ``httpx.AsyncClient``.

It builds the same requests and reads the same answers as ``API`` (both go through
:mod:`qiboconnection.operations`, the generated client, :func:`qiboconnection.transport.acall` and the
same token auth); only the waiting is asynchronous::

    async with await AsyncAPI.login(username="alice", api_key="...") as api:
        outcomes = await api.run_batch(circuits, device_id=1, nshots=100)
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qiboconnection.config import Settings
from qiboconnection.errors import NotFoundError, QiboconnectionError
from qiboconnection.models.devices import Device, Devices
from qiboconnection.models.jobs import JobData, JobListing
from qiboconnection.models.runcards import Calibration, Runcard
from qiboconnection.operations import (
    Request,
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
    job_id_of,
    job_ids_of,
    job_record_of,
    list_jobs_request,
    plan_submission,
    qasm_description,
    set_device_status_request,
)
from qiboconnection.session import _is_cancelled, _Session
from qiboconnection.typings.connection import ConnectionConfiguration

if TYPE_CHECKING:
    import httpx

    from qiboconnection.batch import BatchOutcome
    from qiboconnection.remote_job import AsyncRemoteJob
    from qiboconnection.transport import Reply
    from qiboconnection.typings.vqa import VQA

__all__ = ["AsyncAPI"]

logger = logging.getLogger("qiboconnection.async_api")

#: Requests in flight at once on the default transport (worker threads, pooled connections).
TRANSPORT_THREADS = 16

#: Job records fetched at once in each polling round of :meth:`AsyncAPI.wait` (the listing tells which).
ROUND_CONCURRENCY = 10


class AsyncAPI(_Session):
    """An asynchronous session with the Quantum-as-a-Service.

    Create it with ``await AsyncAPI.login(...)`` (logged in at once), or construct it and log in with
    ``async with AsyncAPI(configuration) as api``. ``async with`` closes the connections on exit.
    Device checks before submissions reuse a device's record for a short while, as in
    :class:`~qiboconnection.api.API`.

    Args:
        configuration: username and API key.
        settings: overrides the settings read from the environment.
        transport: an httpx async transport to use instead of the network (for tests).
    """

    _repr_name = "AsyncAPI"
    _logger = logger
    _no_user_id_reason = "log in first"

    def __init__(
        self,
        configuration: ConnectionConfiguration,
        *,
        settings: Settings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(configuration, settings)
        from qiboconnection import __version__
        from qiboconnection.transport import build_async_client

        self._client = build_async_client(
            self._settings,
            self._auth,
            client_version=__version__,
            transport=transport if transport is not None else _default_transport(),
        )

    @classmethod
    async def login(
        cls,
        username: str | None = None,
        api_key: str | None = None,
        *,
        account: str | None = None,
        settings: Settings | None = None,
    ) -> AsyncAPI:
        """Log in and return the session.

        Without credentials, like :meth:`API.login <qiboconnection.api.API.login>`: the environment,
        then the saved account ``default``.

        Raises:
            AuthenticationError: the credentials were refused.
            AccountNotFoundError: no credentials given, in the environment or saved.
        """
        from qiboconnection.accounts import resolve, settings_for

        credentials = resolve(username, api_key, account=account)
        api = cls(
            ConnectionConfiguration(username=credentials.username, api_key=credentials.api_key),
            settings=settings if settings is not None else settings_for(credentials),
        )
        try:
            await api._login()
        except BaseException:
            await api.aclose()
            raise
        return api

    async def _login(self) -> None:
        from qiboconnection.transport import Retry, aretrying

        http = self._client.get_async_httpx_client()
        await aretrying(
            lambda: self._auth.async_login(http),
            policy=self._settings.retry,
            mode=Retry.IDEMPOTENT,
            what=f"log in as {self._auth.username!r}",
        )

    # -- lifecycle -------------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.get_async_httpx_client().aclose()

    async def close(self) -> None:
        """Close the HTTP connections (same as :meth:`aclose`)."""
        await self.aclose()

    async def __aenter__(self) -> AsyncAPI:
        if not self._auth.logged_in:
            try:
                await self._login()
            except BaseException:
                await self.aclose()
                raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- plumbing --------------------------------------------------------------------------------------

    async def _run(self, request: Request) -> Reply:
        from qiboconnection.transport import acall

        return await acall(
            request.op,
            self._client,
            policy=self._settings.retry,
            what=request.what,
            mode=request.mode,
            **request.kwargs,
        )

    async def _pages(self, op: Any, what: str, **kwargs: Any) -> list[dict[str, Any]]:
        from qiboconnection.transport import aiterate_pages

        return await aiterate_pages(op, self._client, policy=self._settings.retry, what=what, **kwargs)

    # -- health and devices ----------------------------------------------------------------------------

    async def ping(self) -> str:
        """``"OK"`` when the service is up; ConnectionException otherwise."""
        from qaas_client.api.health import get_status

        from qiboconnection.transport import Retry

        try:
            reply = await self._run(Request(get_status, "check the service status", Retry.IDEMPOTENT))
        except QiboconnectionError as error:
            raise self._unreachable(error) from error
        return self._ping_answer(reply)

    async def list_devices(self) -> Devices:
        """Every device (all pages)."""
        from qaas_client.api.devices import list_devices

        self._devices = Devices(
            [Device(record) for record in await self._pages(list_devices, "list devices")]
        )
        self._device_info.forget()
        return self._devices

    async def get_device(self, device_id: int) -> Device:
        """One device."""
        device = device_of(await self._run(get_device_request(device_id)))
        self._keep_device(device)
        return device

    async def select_device_ids(self, device_ids: list[int]) -> None:
        """Select the devices :meth:`execute` uses when given none (one job per device)."""
        self._selected_devices = [
            await self.get_device(device_id) for device_id in check_ids(device_ids, "device_ids")
        ]

    async def _set_device_status(self, device_id: int, status: str) -> Device:
        reply = await self._run(set_device_status_request(device_id, status))
        self._device_info.forget(device_id)
        if isinstance(reply.data, dict) and reply.data:
            return Device(reply.data)
        return await self.get_device(device_id)

    async def set_device_to_online(self, device_id: int) -> Device:
        """Put a device online (admin)."""
        return await self._set_device_status(device_id, "online")

    async def set_device_to_maintenance(self, device_id: int) -> Device:
        """Put a device into maintenance (admin)."""
        return await self._set_device_status(device_id, "maintenance")

    # -- jobs ------------------------------------------------------------------------------------------

    async def _usable_device(self, device_id: int, nshots: int, *, fresh: bool = False) -> Device:
        """The device, after checking it exists, is online and takes ``nshots`` (kept records reused)."""
        device = None if fresh else self._device_info.get(device_id)
        if device is None:
            device = await self.get_device(device_id)
            check_device(device, nshots)
            self._device_info.keep(device)
        else:
            check_device(device, nshots)
        return device

    async def _recheck_device(self, device_id: int, nshots: int) -> None:
        """After a refused submission: fetch the device again and raise what a fresh check finds wrong."""
        self._device_info.forget(device_id)
        try:
            await self._usable_device(device_id, nshots, fresh=True)
        except (NotFoundError, ValueError):
            raise
        except QiboconnectionError as error:
            logger.debug("Could not check device %s again: %s", device_id, error)

    async def _send(self, submission: Submission, device_id: int) -> int:
        try:
            reply = await self._run(self._submit_request(submission, device_id))
        except QiboconnectionError as error:
            if device_refusal(error):
                await self._recheck_device(device_id, submission.nshots)
            raise
        job_id = job_id_of(reply)
        self._record_job(submission, device_id, job_id)
        logger.info("Job %s queued on device %s", job_id, device_id)
        return job_id

    async def _execute(self, *, encoded: tuple[str, str] | None = None, **arguments: Any) -> list[int] | int:
        submission = plan_submission(
            encoded=encoded,
            warn_stacklevel=3,
            selected_ids=self._selected_ids(),
            **arguments,
        )
        for target in dict.fromkeys(submission.device_ids):
            check_program(await self._usable_device(target, submission.nshots), submission)
        job_ids = [await self._send(submission, target) for target in submission.device_ids]
        return job_ids[0] if submission.single else job_ids

    async def execute(  # noqa: PLR0917 - same arguments as API.execute
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
        """Send one program: the job id when ``device_id`` is given, else the list (see ``API.execute``)."""
        return await self._execute(
            circuit=circuit,
            qprogram=qprogram,
            anneal_program_args=anneal_program_args,
            vqa=vqa,
            nshots=nshots,
            device_ids=device_ids,
            device_id=device_id,
            name=name,
            summary=summary,
        )

    async def submit(  # noqa: PLR0917 - same arguments as API.execute
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
    ) -> AsyncRemoteJob | list[AsyncRemoteJob]:
        """Like :meth:`execute`, but return :class:`~qiboconnection.remote_job.AsyncRemoteJob` handles."""
        from qiboconnection.remote_job import AsyncRemoteJob

        ids = await self.execute(
            circuit=circuit,
            qprogram=qprogram,
            anneal_program_args=anneal_program_args,
            vqa=vqa,
            nshots=nshots,
            device_ids=device_ids,
            device_id=device_id,
            name=name,
            summary=summary,
        )
        job_types = {job.id: job for job in self._jobs}

        def handle(job_id: int) -> AsyncRemoteJob:
            job = job_types.get(job_id)
            return AsyncRemoteJob(
                self, job_id, device_id=job.device_id if job else None, job_type=job.job_type if job else None
            )

        return handle(ids) if isinstance(ids, int) else [handle(job_id) for job_id in ids]

    async def submit_qasm(
        self, qasm: str, device_id: int, nshots: int = 10, name: str = "-", summary: str = "-"
    ) -> AsyncRemoteJob:
        """Send an OpenQASM 2.0 program as given (once qibo can read it); returns its handle."""
        from qiboconnection.remote_job import AsyncRemoteJob

        job_id = await self._execute(
            nshots=nshots,
            device_ids=None,
            device_id=device_id,
            name=name,
            summary=summary,
            encoded=qasm_description(qasm),
        )
        assert isinstance(job_id, int)
        return AsyncRemoteJob(self, job_id, device_id=device_id, job_type="circuit")

    async def _job_record(self, job_id: int) -> dict[str, Any]:
        return job_record_of(await self._run(get_job_request(job_id)), job_id)

    async def _listing_page(self, page: int, per_page: int) -> Any:
        """The body of one page of the user's job listing."""
        return (await self._run(list_jobs_request(page, per_page))).data

    async def get_job(self, job_id: int) -> JobData:
        """A job's metadata, decoded result (None until completed) and decoded description."""
        return self._fetched_job(job_id, await self._job_record(job_id))

    async def wait(
        self, job_ids: Sequence[int | AsyncRemoteJob], timeout: float | None = 3600, interval: float = 60
    ) -> list[JobData]:
        """Wait until every job is final; return them in order.

        With several jobs, each round reads their statuses from one job listing request and fetches the
        jobs that became final concurrently (up to :data:`ROUND_CONCURRENCY` at a time), as
        :meth:`API.wait <qiboconnection.api.API.wait>` does. ``interval`` 0 polls as often as the polling
        floor allows; ``timeout`` None waits for ever.

        Raises:
            JobTimeoutError: (a ``TimeoutError``) some jobs were not final after ``timeout`` seconds.
        """
        import asyncio

        from qiboconnection.polling import ListingRounds, Progress, async_wait_rounds

        ids = job_ids_of(job_ids)
        limit, pause = check_wait(timeout, interval, allow_no_timeout=True)
        gate = asyncio.Semaphore(ROUND_CONCURRENCY)
        rounds = ListingRounds()

        async def fetch_one(job_id: int) -> dict[str, Any]:
            async with gate:
                return await self._job_record(job_id)

        async def fetch(pending: list[int]) -> dict[int, Any]:
            records = await asyncio.gather(*(fetch_one(job_id) for job_id in pending))
            return dict(zip(pending, records, strict=True))

        async def round_(pending: list[int]) -> dict[int, Any]:
            return await rounds.around(pending, self._listing_page, fetch)

        records = await async_wait_rounds(
            ids,
            round_,
            timeout=limit,
            interval=pause,
            progress=Progress(sys.stderr, enabled=self.show_progress),
        )
        return self._waited_jobs(records, ids)

    async def execute_and_return_results(  # noqa: PLR0917 - same arguments as API.execute_and_return_results
        self,
        circuit: Any = None,
        qprogram: str | None = None,
        nshots: int = 10,
        device_ids: list[int] | None = None,
        device_id: int | None = None,
        timeout: float = 3600,
        interval: float = 60,
    ) -> list[Any]:
        """Run like :meth:`execute`, wait for the jobs and return their decoded results, in order.

        Raises:
            JobFailedError: a job ended in error.
            JobTimeoutError: the jobs were not done after ``timeout`` seconds.
        """
        check_wait(timeout, interval)
        job_ids = await self._execute(
            circuit=circuit,
            qprogram=qprogram,
            nshots=nshots,
            device_ids=device_ids,
            device_id=device_id,
            name="-",
            summary="-",
        )
        ids = [job_ids] if isinstance(job_ids, int) else list(job_ids)
        return self._final_results(await self.wait(ids, timeout=timeout, interval=interval))

    async def run_batch(
        self,
        circuits: Sequence[Any],
        device_id: int,
        *,
        nshots: int = 10,
        max_parallel: int = 10,
        timeout: float | None = None,
        interval: float = 1.0,
    ) -> list[BatchOutcome]:
        """Run many circuits, small ones packed into shared jobs; one
        :class:`~qiboconnection.batch.BatchOutcome` each, in order.

        At most ``max_parallel`` requests are in flight (a semaphore). Packing, per-circuit failures,
        waiting and ``timeout`` are as in :meth:`API.run_batch <qiboconnection.api.API.run_batch>`.

        Raises:
            NotFoundError / DeviceNotAvailableError: the device does not exist or takes no jobs.
            ValueError / TypeError: bad arguments.
        """
        from qiboconnection.batch import run_async

        return await run_async(
            self,
            circuits,
            device_id=device_id,
            nshots=nshots,
            max_parallel=max_parallel,
            timeout=timeout,
            interval=interval,
        )

    async def list_jobs(self, favourites: bool = False) -> JobListing:
        """The user's jobs (all pages), as summaries without results."""
        from qaas_client.api.jobs import list_jobs

        if not isinstance(favourites, bool):
            raise TypeError("favourites must be a bool")
        return JobListing.from_records(await self._pages(list_jobs, "list jobs", favourites=favourites))

    async def cancel_job(self, job_id: int) -> None:
        """Cancel a job that has not finished (ConflictError if it already has).

        A retried cancel that meets a 409 succeeds when the job is cancelled (see :meth:`API.cancel_job`).
        """
        from qiboconnection.errors import ConflictError

        try:
            await self._run(cancel_job_request(job_id))
        except ConflictError as error:
            # Only a retried cancel: its first attempt may have cancelled the job before its answer was lost.
            if error.attempts < 2 or not _is_cancelled(await self._job_record(job_id)):
                raise
        logger.info("Job %s cancelled", job_id)

    async def delete_job(self, job_id: int) -> None:
        """Delete a job (admin)."""
        await self._run(delete_job_request(job_id))
        logger.info("Job %s deleted", job_id)

    # -- runcards --------------------------------------------------------------------------------------

    async def save_runcard(  # noqa: PLR0917 - same arguments as API.save_runcard
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
        self._runcard = RUNCARD.record_of(await self._run(RUNCARD.create(runcard)))
        return self._runcard.id  # type: ignore[return-value]

    async def get_runcard(self, runcard_id: int | None = None, runcard_name: str | None = None) -> Runcard:
        """A runcard by id or by name (admin)."""
        from qiboconnection.stored_records import RUNCARD

        return RUNCARD.record_of(await self._run(RUNCARD.get(runcard_id, runcard_name)))

    async def list_runcards(self) -> list[Runcard]:
        """Every runcard (admin)."""
        from qiboconnection.stored_records import RUNCARD

        return RUNCARD.records_of(await self._pages(*RUNCARD.listing()))

    async def update_runcard(self, runcard: Runcard) -> Runcard:
        """Replace a stored runcard with ``runcard`` (which must have an id) (admin)."""
        from qiboconnection.stored_records import RUNCARD

        self._runcard = RUNCARD.record_of(await self._run(RUNCARD.update(runcard)))
        return self._runcard

    async def delete_runcard(self, runcard_id: int) -> None:
        """Delete a runcard (admin)."""
        from qiboconnection.stored_records import RUNCARD

        await self._run(RUNCARD.delete(runcard_id))
        logger.info("Runcard %s deleted", runcard_id)

    # -- calibrations ----------------------------------------------------------------------------------

    async def save_calibration(  # noqa: PLR0917 - same arguments as API.save_calibration
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
        self._calibration = CALIBRATION.record_of(await self._run(CALIBRATION.create(calibration)))
        return self._calibration.id  # type: ignore[return-value]

    async def get_calibration(
        self, calibration_id: int | None = None, calibration_name: str | None = None
    ) -> Calibration:
        """A calibration by id or by name (admin)."""
        from qiboconnection.stored_records import CALIBRATION

        return CALIBRATION.record_of(await self._run(CALIBRATION.get(calibration_id, calibration_name)))

    async def list_calibrations(self) -> list[Calibration]:
        """Every calibration (admin)."""
        from qiboconnection.stored_records import CALIBRATION

        return CALIBRATION.records_of(await self._pages(*CALIBRATION.listing()))

    async def update_calibration(self, calibration: Calibration) -> Calibration:
        """Replace a stored calibration with ``calibration`` (which must have an id) (admin)."""
        from qiboconnection.stored_records import CALIBRATION

        self._calibration = CALIBRATION.record_of(await self._run(CALIBRATION.update(calibration)))
        return self._calibration

    async def delete_calibration(self, calibration_id: int) -> None:
        """Delete a calibration (admin)."""
        from qiboconnection.stored_records import CALIBRATION

        await self._run(CALIBRATION.delete(calibration_id))
        logger.info("Calibration %s deleted", calibration_id)


class ThreadedTransport:
    """An httpx asynchronous transport (``handle_async_request``, ``aclose``) that sends each request with the synchronous
    :class:`~qiboconnection.transport.KeepAliveTransport` on a worker thread.

    The session's default when no proxy is configured in the environment: the same requests and
    keep-alive connections as the synchronous ``API``, at a fraction of the per-request work of httpx's
    asynchronous stack, which is most of what a small call costs. At most ``threads`` requests are
    on the wire at once; the others wait their turn without blocking the event loop.
    """

    def __init__(self, threads: int = TRANSPORT_THREADS) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from qiboconnection.transport import KeepAliveTransport

        self._sync = KeepAliveTransport(max_idle=threads)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="qiboconnection-http")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        await request.aread()
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._sync.handle_request, request
        )

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._sync.close()

    async def __aenter__(self) -> ThreadedTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _default_transport() -> Any:
    """A :class:`ThreadedTransport`, unless the environment names proxies (httpx then routes them itself)."""
    from urllib.request import getproxies

    return None if getproxies() else ThreadedTransport()
