"""AsyncAPI over real HTTP against the local server: session, devices, jobs, handles and batches."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from qiboconnection.async_api import AsyncAPI
from qiboconnection.errors import (
    AuthenticationError,
    ConflictError,
    DeviceNotAvailableError,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
)
from qiboconnection.remote_job import AsyncRemoteJob
from qiboconnection.results import QaaSCircuitResult
from qiboconnection.typings.connection import ConnectionConfiguration

from .circuits import SIMULATOR, bell, flip, wide
from .conftest import FAST_RETRY


def settings(server: Any) -> Any:
    from qiboconnection.config import Settings

    return Settings(base_url=server.url, retry=FAST_RETRY, progress=False)


async def login(server: Any, username: str = "alice") -> AsyncAPI:
    credential = server.users[username]
    return await AsyncAPI.login(credential.username, credential.api_key, settings=settings(server))


def test_login_ping_devices_and_listing(qaas_server: Any) -> None:
    async def run() -> None:
        async with await login(qaas_server) as api:
            assert await api.ping() == "OK"
            assert isinstance(api.user_id, int)
            devices = await api.list_devices()
            by_id = {device.id: device for device in devices}
            assert by_id[SIMULATOR].status == "online"
            assert (await api.get_device(SIMULATOR)).id == SIMULATOR
            job_id = await api.execute(circuit=flip(), device_id=SIMULATOR, nshots=7)
            assert isinstance(job_id, int)
            [job] = await api.wait([job_id], timeout=30, interval=0)
            assert job.status == "completed"
            assert job.result[0].frequencies() == Counter({"1": 7})
            listing = await api.list_jobs()
            assert job_id in {item.id for item in listing}
            assert [job.id for job in api.jobs] == [job_id]

    asyncio.run(run())


def test_context_manager_logs_in_and_bad_credentials_fail(qaas_server: Any) -> None:
    async def run() -> None:
        credential = qaas_server.users["bob"]
        api = AsyncAPI(
            ConnectionConfiguration(credential.username, "wrong-key-for-bob"), settings=settings(qaas_server)
        )
        with pytest.raises(AuthenticationError):
            async with api:
                pass
        with pytest.raises(AuthenticationError):
            await AsyncAPI.login("mallory", "not-a-real-key-123", settings=settings(qaas_server))
        async with AsyncAPI(
            ConnectionConfiguration(credential.username, credential.api_key), settings=settings(qaas_server)
        ) as good:
            assert await good.ping() == "OK"

    asyncio.run(run())


def test_handles_results_failures_and_errors(qaas_server: Any) -> None:
    async def run() -> None:
        async with await login(qaas_server) as api:
            job = await api.submit(circuit=bell(), device_id=SIMULATOR, nshots=100)
            assert isinstance(job, AsyncRemoteJob)
            assert job.last_status is None
            assert await job.status() in {"queued", "running", "completed"}
            [result] = await job.result(timeout=30, interval=0)
            assert isinstance(result, QaaSCircuitResult)
            assert set(result.frequencies()) <= {"00", "11"}
            assert sum(result.frequencies().values()) == 100
            assert job.done
            assert (await job.refresh()).last_status == "completed"

            failing = await api.submit(circuit=wide(), device_id=SIMULATOR)
            with pytest.raises(JobFailedError, match="21 qubits"):
                await failing.result(timeout=30, interval=0.1)

            [[only]] = await api.execute_and_return_results(
                circuit=flip(), device_id=SIMULATOR, nshots=3, interval=0
            )
            assert only.frequencies() == Counter({"1": 3})

            with pytest.raises(NotFoundError):
                await api.get_job(987654)
            with pytest.raises(DeviceNotAvailableError):
                await api.execute(circuit=bell(), device_id=qaas_server.devices["maintenance"])
            with pytest.raises(ValueError, match="interval must be"):
                await api.wait([job.id], interval=-1)

    asyncio.run(run())


def test_cancel_and_timeout_with_no_workers(make_server: Any) -> None:
    async def run(server: Any) -> None:
        async with await login(server) as api:
            job = await api.submit(circuit=bell(), device_id=SIMULATOR)
            with pytest.raises(JobTimeoutError):
                await job.wait(timeout=0.2, interval=0)
            assert job.queue_position is None or isinstance(job.queue_position, int)
            await job.refresh()
            assert job.last_status == "queued"
            assert isinstance(job.queue_position, int)
            await job.cancel()
            assert await job.status() == "cancelled"
            with pytest.raises(JobFailedError, match="cancelled"):
                await job.result(timeout=5)
            with pytest.raises(ConflictError):
                await job.cancel()

            outcomes = await api.run_batch(
                [bell(), bell()], device_id=SIMULATOR, nshots=5, timeout=0.3, interval=0
            )
            assert [outcome.ok for outcome in outcomes] == [False, False]
            assert all(isinstance(outcome.error, JobTimeoutError) for outcome in outcomes)
            assert all(isinstance(outcome.job_id, int) for outcome in outcomes)

    with make_server(workers=0) as server:
        asyncio.run(run(server))


def test_batch_of_200_bell_circuits_in_order(qaas_server: Any) -> None:
    circuits = [bell() for _ in range(200)]

    async def run() -> list[Any]:
        async with await login(qaas_server) as api:
            outcomes = await api.run_batch(circuits, device_id=SIMULATOR, nshots=10, timeout=120)
            ids = [job.id for job in api.jobs]
        # Packed 20 to a job (200 circuits, 10 jobs at once): one job sent per pack, none twice.
        assert sorted(ids) == sorted({outcome.job_id for outcome in outcomes})
        return outcomes

    outcomes = asyncio.run(run())
    assert len(outcomes) == 200
    assert sum(outcome.ok for outcome in outcomes) == 200
    assert [outcome.index for outcome in outcomes] == list(range(200))
    assert len({outcome.job_id for outcome in outcomes}) == 10
    for outcome in outcomes:
        counts = outcome.result.frequencies()
        assert set(counts) <= {"00", "11"}, counts
        assert sum(counts.values()) == 10
        assert outcome.job.status == "completed"
        first = outcome.index - outcome.index % 20
        assert outcome.job.name == f"batch-{first}-{first + 19}"


def test_batch_reports_each_failure_and_keeps_the_others(qaas_server: Any) -> None:
    items: list[Any] = [flip(), wide(), bell(), "not a circuit", [flip(), bell()], wide(22), flip()]

    async def run() -> list[Any]:
        async with await login(qaas_server) as api:
            return await api.run_batch(items, device_id=SIMULATOR, nshots=4, max_parallel=3, timeout=60)

    outcomes = asyncio.run(run())
    assert [outcome.ok for outcome in outcomes] == [True, False, True, False, True, False, True]
    assert outcomes[0].result.frequencies() == Counter({"1": 4})
    assert outcomes[6].result.frequencies() == Counter({"1": 4})
    assert set(outcomes[2].result.frequencies()) <= {"00", "11"}
    first, second = outcomes[4].result
    assert first.frequencies() == Counter({"1": 4})
    assert set(second.frequencies()) <= {"00", "11"}
    assert isinstance(outcomes[1].error, JobFailedError) and "21 qubits" in str(outcomes[1].error)
    assert isinstance(outcomes[5].error, JobFailedError) and "22 qubits" in str(outcomes[5].error)
    assert outcomes[1].job.status == "error"
    assert isinstance(outcomes[3].error, TypeError)
    assert outcomes[3].job_id is None


def test_batch_checks_the_device_and_arguments_first(qaas_server: Any) -> None:
    async def run() -> None:
        async with await login(qaas_server) as api:
            with pytest.raises(DeviceNotAvailableError):
                await api.run_batch([bell()], device_id=qaas_server.devices["offline"])
            with pytest.raises(NotFoundError):
                await api.run_batch([bell()], device_id=987654)
            with pytest.raises(ValueError, match="max_parallel"):
                await api.run_batch([bell()], device_id=SIMULATOR, max_parallel=0)
            with pytest.raises(TypeError, match="list of qibo Circuits"):
                await api.run_batch(bell(), device_id=SIMULATOR)
            assert await api.run_batch([], device_id=SIMULATOR) == []
            assert api.jobs == []

    asyncio.run(run())


def test_admin_members_runcards_calibrations_devices_and_delete(qaas_server: Any) -> None:
    import uuid

    from qiboconnection.errors import PermissionDeniedError
    from qiboconnection.models.runcards import Calibration, Runcard

    name = f"async-{uuid.uuid4().hex[:8]}"

    async def run() -> None:
        async with await login(qaas_server, "admin") as admin, await login(qaas_server, "bob") as bob:
            runcard_id = await admin.save_runcard(
                name, "first", {"a": [1, 2]}, SIMULATOR, admin.user_id, "0.27"
            )
            assert admin.last_runcard.id == runcard_id
            fetched = await admin.get_runcard(runcard_name=name)
            assert isinstance(fetched, Runcard) and fetched.runcard == {"a": [1, 2]}
            fetched.description = "second"
            assert (await admin.update_runcard(fetched)).description == "second"
            assert runcard_id in [runcard.id for runcard in await admin.list_runcards()]
            with pytest.raises(PermissionDeniedError):
                await bob.get_runcard(runcard_id=runcard_id)
            with pytest.raises(ValueError, match="not both"):
                await admin.get_runcard(runcard_id=runcard_id, runcard_name=name)
            await admin.delete_runcard(runcard_id)
            with pytest.raises(NotFoundError):
                await admin.get_runcard(runcard_id=runcard_id)

            calibration_id = await admin.save_calibration(
                name, "cal", "q0: 5e9", SIMULATOR, admin.user_id, "0.27"
            )
            calibration = await admin.get_calibration(calibration_id=calibration_id)
            assert isinstance(calibration, Calibration) and calibration.calibration == "q0: 5e9"
            calibration.calibration = "q0: 6e9"
            await admin.update_calibration(calibration)
            assert (await admin.get_calibration(calibration_name=name)).calibration == "q0: 6e9"
            assert calibration_id in [item.id for item in await admin.list_calibrations()]
            await admin.delete_calibration(calibration_id)
            with pytest.raises(NotFoundError):
                await admin.get_calibration(calibration_id=calibration_id)

            galadriel = qaas_server.devices["maintenance"]
            with pytest.raises(PermissionDeniedError):
                await bob.set_device_to_online(galadriel)
            try:
                assert (await admin.set_device_to_online(galadriel)).status == "online"
            finally:
                assert (await admin.set_device_to_maintenance(galadriel)).status == "maintenance"

            await bob.select_device_ids([SIMULATOR])
            job_id = await bob.execute(circuit=flip(), nshots=2)
            assert job_id == [bob.last_job.id]
            with pytest.raises(PermissionDeniedError):
                await bob.delete_job(job_id[0])
            await bob.wait(job_id, timeout=30, interval=0)
            await admin.delete_job(job_id[0])
            with pytest.raises(NotFoundError):
                await bob.get_job(job_id[0])

    asyncio.run(run())


def test_async_calls_retry_and_map_problems_like_sync() -> None:
    import httpx

    from qiboconnection.config import RetryPolicy, Settings
    from qiboconnection.errors import ServerError

    from .fakes import API_KEY, BASE_URL, FakeHosted, json_response, problem

    fake = FakeHosted()
    answers = {
        1: [
            problem(503, "busy", "Service Unavailable"),
            json_response({"id": 1, "name": "sim", "status": "online"}),
        ],
        2: [problem(503, "busy", "Service Unavailable")] * 3,
    }
    fake.routes["GET /api/v1/devices/(\\d+)"] = lambda request, match: answers[int(match[1])].pop(0)
    fake.routes["GET /api/v1/jobs/(\\d+)"] = lambda request, match: problem(
        400, f"Requested job with 'job_id': {match[1]}, does not exist.", "Bad Request"
    )
    settings = Settings(
        base_url=BASE_URL,
        retry=RetryPolicy(max_attempts=3, budget=5, backoff_base=0.01, backoff_cap=0.02),
        progress=False,
    )

    async def run() -> None:
        api = AsyncAPI(
            ConnectionConfiguration("hosted-user", API_KEY),
            settings=settings,
            transport=httpx.MockTransport(fake),
        )
        async with api:
            assert (await api.get_device(1)).name == "sim"
            with pytest.raises(ServerError, match="gave up after 3 attempts"):
                await api.get_device(2)
            with pytest.raises(NotFoundError, match="does not exist"):
                await api.get_job(8310)

    asyncio.run(run())
    assert len(fake.sent("GET", "/api/v1/devices/1")) == 2
    assert len(fake.sent("GET", "/api/v1/devices/2")) == 3
    assert fake.logins == 1


def test_a_hundred_concurrent_calls_run_on_the_event_loop_without_threads(qaas_server: Any) -> None:
    import threading

    async def run() -> None:
        async with await login(qaas_server) as api:
            job_id = await api.execute(circuit=flip(), device_id=SIMULATOR, nshots=3)
            await api.get_job(job_id)
            before = {thread.ident for thread in threading.enumerate()}
            seen: set[tuple[int | None, str]] = set()
            done = asyncio.Event()

            async def watch() -> None:
                while not done.is_set():
                    seen.update((thread.ident, thread.name) for thread in threading.enumerate())
                    await asyncio.sleep(0)

            watcher = asyncio.create_task(watch())
            jobs = await asyncio.gather(*(api.get_job(job_id) for _ in range(100)))
            done.set()
            await watcher
            assert [job.job_id for job in jobs] == [job_id] * 100
            assert [name for ident, name in seen if ident not in before] == []
            assert len(seen) >= len(before)

    asyncio.run(run())


def test_the_two_sessions_have_the_same_public_methods() -> None:
    import inspect

    from qiboconnection.api import API
    from qiboconnection.remote_job import RemoteJob

    def public(cls: type) -> dict[str, list[str]]:
        return {
            name: list(inspect.signature(member).parameters)
            for name, member in inspect.getmembers(cls)
            if not name.startswith("_") and callable(member)
        }

    sync, coroutines = public(API), public(AsyncAPI)
    assert coroutines.pop("aclose") == ["self"]  # the name asyncio code expects, beside close
    assert sync == coroutines
    assert public(RemoteJob) == public(AsyncRemoteJob)
    for name, member in inspect.getmembers(AsyncAPI):
        if name in {"save_account", "list_accounts", "delete_account"} or name.startswith("_"):
            continue
        if callable(member) and not isinstance(member, type):
            assert inspect.iscoroutinefunction(member), name
