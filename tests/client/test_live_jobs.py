"""Devices and jobs over real HTTP against the local server."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from qibo import Circuit, gates

from qiboconnection._sync.waiting import wait_for_jobs
from qiboconnection.api import API
from qiboconnection.errors import (
    AuthenticationError,
    ConflictError,
    ConnectionException,
    DeviceNotAvailableError,
    InvalidRequestError,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    PermissionDeniedError,
)
from qiboconnection.models.jobs import JobData
from qiboconnection.results import QaaSCircuitResult
from qiboconnection.typings.connection import ConnectionConfiguration
from qiboconnection.typings.vqa import VQA

from .circuits import SIMULATOR, bell, flip
from .conftest import connect


def finished(api: API, job_id: int) -> JobData:
    """The job once it reached a final status."""
    wait_for_jobs([job_id], api._job_record, timeout=30, interval=0.2)
    return api.get_job(job_id)


def test_login_from_the_environment_and_ping(qaas_env: Any) -> None:
    credential = qaas_env.users["alice"]
    with API.login(credential.username, credential.api_key) as api:
        assert api.ping() == "OK"
        assert isinstance(api.user_id, int)
        assert api.jobs == []
        assert api.last_runcard is None
        assert api.last_calibration is None
        with pytest.raises(IndexError, match="No job"):
            _ = api.last_job


def test_wrong_credentials_fail_at_login(qaas_env: Any) -> None:
    with pytest.raises(AuthenticationError) as caught:
        API.login("mallory", "not-a-real-key-123")
    assert caught.value.status_code == 401
    with pytest.raises(AuthenticationError):
        API(ConnectionConfiguration(qaas_env.users["alice"].username, "wrong-key-for-alice"))


def test_unreachable_service_is_a_connection_error(make_server: Any) -> None:
    with make_server(workers=0) as server:
        api = connect(server, "alice")
    with pytest.raises(ConnectionException, match="not answering"):
        api.ping()
    with pytest.raises(ConnectionException, match="gave up after 2 attempts"):
        api.list_devices()


def test_list_devices(alice: API, qaas_server: Any) -> None:
    devices = alice.list_devices()
    by_id = {device.id: device for device in devices}
    assert set(qaas_server.devices.values()) <= set(by_id)
    simulator = by_id[SIMULATOR]
    assert simulator.status == "online"
    assert simulator.type == "simulator_device"
    assert simulator.static_features["max_shots"] >= 1000
    assert by_id[qaas_server.devices["maintenance"]].status == "maintenance"
    assert by_id[qaas_server.devices["offline"]].status == "offline"


def test_execute_and_return_results_for_one_circuit(alice: API) -> None:
    [results] = alice.execute_and_return_results(circuit=bell(), nshots=200, device_id=SIMULATOR, interval=1)
    [result] = results
    assert isinstance(result, QaaSCircuitResult)
    frequencies = result.frequencies()
    assert sum(frequencies.values()) == 200
    assert set(frequencies) <= {"00", "11"}
    assert result.samples().shape == (200, 2)
    assert result.probabilities().shape == (4,)
    assert abs(result.state()[0]) == pytest.approx(2**-0.5)
    assert result["counts"] == dict(frequencies)
    assert alice.last_job.job_type == "circuit"


def test_execute_several_circuits_then_get_job(alice: API) -> None:
    circuits = [bell(), flip()]
    job_id = alice.execute(
        circuit=circuits, nshots=50, device_id=SIMULATOR, name="pair", summary="two circuits"
    )
    assert isinstance(job_id, int)
    assert alice.last_job.id == job_id
    [results] = alice.execute_and_return_results(circuit=flip(), nshots=5, device_id=SIMULATOR, interval=1)
    assert results[0].frequencies() == Counter({"1": 5})
    job = alice.get_job(job_id)
    assert job.job_id == job_id
    assert job.status == "completed"
    assert job.name == "pair"
    assert job.summary == "two circuits"
    assert job.number_shots == 50
    assert [circuit.to_qasm() for circuit in job.description] == [circuit.to_qasm() for circuit in circuits]
    assert len(job.result) == 2
    assert job.result[1].frequencies() == Counter({"1": 50})
    with pytest.warns(DeprecationWarning, match="get_job"):
        assert alice.get_result(job_id)[1]["counts"] == {"1": 50}
    with pytest.warns(DeprecationWarning, match="get_job"):
        assert len(alice.get_results([job_id, job_id])) == 2


def test_selected_devices_and_deprecated_paths(qaas_server: Any) -> None:
    with connect(qaas_server, "bob") as api:
        with pytest.raises(ValueError, match="No device selected"):
            api.execute(circuit=flip())
        api.select_device_ids([SIMULATOR])
        job_ids = api.execute(circuit=flip(), nshots=3)
        assert isinstance(job_ids, list)
        assert len(job_ids) == 1
        with pytest.warns(DeprecationWarning, match="select_device_id"):
            api.select_device_id(SIMULATOR)
        with pytest.warns(DeprecationWarning, match="device_ids") as record:
            assert len(api.execute(circuit=flip(), device_ids=[SIMULATOR])) == 1
        assert record[0].filename == __file__
        with pytest.warns(DeprecationWarning, match="device_ids") as record:
            [[result]] = api.execute_and_return_results(circuit=flip(), device_ids=[SIMULATOR], interval=1)
        assert record[0].filename == __file__
        assert result.frequencies() == Counter({"1": 10})
        assert [job.id for job in api.jobs][:1] == job_ids


def test_other_job_types_round_trip(alice: API) -> None:
    qprogram_id = alice.execute(qprogram='{"qprogram": "serialized"}', device_id=SIMULATOR, nshots=7)
    anneal_id = alice.execute(anneal_program_args={"anneal": [0.1, 0.2]}, device_id=SIMULATOR)
    vqa = VQA(vqa_dict={"ansatz": "hea"}, init_params=[0.5, 1.5], optimizer_params={"maxiter": 3})
    vqa_id = alice.execute(vqa=vqa, device_id=SIMULATOR)
    [qprogram, anneal, vqa_result] = [finished(alice, job_id) for job_id in (qprogram_id, anneal_id, vqa_id)]
    assert qprogram.job_type == "qprogram"
    assert qprogram.description == '{"qprogram": "serialized"}'
    assert qprogram.result["echo"] == '{"qprogram": "serialized"}'
    assert anneal.job_type == "annealing_program"
    assert anneal.description == {"anneal": [0.1, 0.2]}
    assert vqa_result.description == {
        "vqa_dict": {"ansatz": "hea"},
        "init_params": [0.5, 1.5],
        "optimizer_params": {"maxiter": 3},
    }
    assert vqa_result.result["init_params"] == [0.5, 1.5]


def test_list_jobs(alice: API, bob: API) -> None:
    job_id = bob.execute(circuit=flip(), device_id=SIMULATOR)
    listing = bob.list_jobs()
    ids = [item.id for item in listing.items]
    assert job_id in ids
    assert all(item.user_id == bob.user_id for item in listing)
    assert str(job_id) in listing.to_table()
    assert job_id not in [item.id for item in alice.list_jobs()]
    assert isinstance(bob.list_jobs(favourites=True).items, list)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, ValueError, "Nothing to run"),
        ({"circuit": "bell", "qprogram": "x"}, ValueError, "not circuit and qprogram"),
        ({"circuit": "bell", "device_id": 1, "device_ids": [1]}, ValueError, "not both"),
        ({"circuit": "bell", "nshots": 0}, ValueError, "nshots must be a positive int"),
        ({"circuit": "bell", "nshots": 2.5}, ValueError, "nshots must be a positive int"),
        ({"circuit": "bell", "nshots": True}, ValueError, "nshots must be a positive int"),
        ({"circuit": "bell", "nshots": 10**9}, ValueError, "over device 1's limit"),
        ({"circuit": "iswap"}, ValueError, "uses gate 'iswap'"),
        ({"circuit": ["bell", "not a circuit"]}, TypeError, "circuit 1 must be a qibo Circuit, not str"),
        ({"circuit": []}, ValueError, "empty list"),
        ({"qprogram": 5}, TypeError, "qprogram must be"),
        ({"vqa": {"vqa_dict": {}}}, TypeError, "vqa must be"),
    ],
)
def test_bad_arguments_are_refused_before_sending(
    alice: API, kwargs: dict, error: type, message: str
) -> None:
    def build(value: Any) -> Any:
        if value == "bell":
            return bell()
        if value == "iswap":
            circuit = Circuit(2)
            circuit.add([gates.iSWAP(0, 1), gates.M(0, 1)])
            return circuit
        if isinstance(value, list):
            return [build(item) for item in value]
        return value

    kwargs = {key: build(value) if key == "circuit" else value for key, value in kwargs.items()}
    if "device_ids" not in kwargs:
        kwargs.setdefault("device_id", SIMULATOR)
    before = len(alice.jobs)
    with pytest.raises(error, match=message):
        alice.execute(**kwargs)
    assert len(alice.jobs) == before


def test_devices_that_cannot_take_jobs(alice: API, qaas_server: Any) -> None:
    for key, status in (("maintenance", "maintenance"), ("offline", "offline")):
        with pytest.raises(DeviceNotAvailableError, match=f"is {status}, not online"):
            alice.execute(circuit=bell(), device_id=qaas_server.devices[key])
    with pytest.raises(NotFoundError):
        alice.execute(circuit=bell(), device_id=987654)
    with pytest.raises(NotFoundError):
        alice.select_device_ids([987654])


def test_missing_job(alice: API) -> None:
    with pytest.raises(NotFoundError, match="does not exist") as caught:
        alice.get_job(987654)
    assert caught.value.detail


def test_failed_job_reports_the_server_reason(alice: API) -> None:
    wide = Circuit(21)
    wide.add(gates.H(0))
    wide.add(gates.M(*range(21)))
    with pytest.raises(JobFailedError, match="21 qubits") as caught:
        alice.execute_and_return_results(circuit=wide, device_id=SIMULATOR, interval=1)
    job = alice.get_job(caught.value.job_id)
    assert job.status == "error"
    assert "21 qubits" in job.error
    assert job.result is None
    assert job.failed


def test_invalid_payload_on_a_low_level_submission(alice: API) -> None:
    from qaas_client.api.jobs import submit_job
    from qaas_client.models.job_created import JobCreated
    from qaas_client.models.job_submission import JobSubmission

    from qiboconnection._sync.calls import call
    from qiboconnection.operations import Retry, request
    from qiboconnection.serialization import encode_envelope

    body = JobSubmission(
        user_id=alice.user_id,
        device_id=SIMULATOR,
        number_shots=10,
        job_type="circuit",
        description=encode_envelope(["this is not qasm"]),
    )
    with pytest.raises(InvalidRequestError, match="not an OpenQASM program"):
        call(
            alice._client,
            request("submit a job", Retry.CONNECT_ONLY, JobCreated, submit_job, body=body),
            policy=alice._settings.retry,
            timeout=alice._settings.timeout,
        )


def test_timeout_cancel_and_delete(make_server: Any) -> None:
    with (
        make_server(workers=0) as server,
        connect(server, "alice") as user,
        connect(server, "admin") as admin,
    ):
        with pytest.raises(JobTimeoutError) as caught:
            user.execute_and_return_results(circuit=bell(), device_id=SIMULATOR, timeout=0.3, interval=0.1)
        assert isinstance(caught.value, TimeoutError)
        [job_id] = caught.value.job_ids
        assert user.get_job(job_id).status in {"queued", "pending"}
        user.cancel_job(job_id)
        assert user.get_job(job_id).status == "cancelled"
        with pytest.raises(ConflictError):
            user.cancel_job(job_id)
        with pytest.raises(PermissionDeniedError):
            user.delete_job(job_id)
        admin.delete_job(job_id)
        with pytest.raises(NotFoundError):
            user.get_job(job_id)
        with pytest.raises(NotFoundError):
            admin.delete_job(job_id)


def test_device_status_changes_need_an_admin(alice: API, admin: API, qaas_server: Any) -> None:
    galadriel = qaas_server.devices["maintenance"]
    with pytest.raises(PermissionDeniedError):
        alice.set_device_to_online(galadriel)
    try:
        assert admin.set_device_to_online(galadriel).status == "online"
        assert {d.id: d.status for d in alice.list_devices()}[galadriel] == "online"
    finally:
        assert admin.set_device_to_maintenance(galadriel).status == "maintenance"
    with pytest.raises(NotFoundError):
        admin.set_device_to_online(987654)


def test_wait_returns_final_jobs_in_order(alice: API) -> None:
    ok = alice.execute(circuit=flip(), device_id=SIMULATOR)
    wide = Circuit(21)
    wide.add(gates.H(0))
    wide.add(gates.M(*range(21)))
    failing = alice.execute(circuit=wide, device_id=SIMULATOR)
    jobs = alice.wait([failing, ok], timeout=30, interval=0.5)
    assert [job.job_id for job in jobs] == [failing, ok]
    assert [job.status for job in jobs] == ["error", "completed"]
    assert "21 qubits" in jobs[0].error
    assert jobs[1].result[0].frequencies() == Counter({"1": 10})
    before = len(alice.jobs)
    for bad in ({"timeout": 0}, {"interval": -1}, {"timeout": "1"}):
        with pytest.raises(ValueError, match="must be a positive number of seconds"):
            alice.execute_and_return_results(circuit=flip(), device_id=SIMULATOR, **bad)
    assert len(alice.jobs) == before
