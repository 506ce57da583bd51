"""Drives the released qiboconnection 0.23.2 client against a local server.

Run with the released client's interpreter, ``QUANTUM_SERVICE_URL`` set and the credentials in
``QAAS_USERNAME``/``QAAS_API_KEY`` (an admin). ``submit`` runs against a server without workers and
prints the ids it made as JSON; ``collect JOB_ID`` runs after workers started and checks the result.
Every check is an ``assert``; any failure exits non-zero.
"""

import json
import os
import sys
import time

from qibo import Circuit, gates
from requests import HTTPError

from qiboconnection.api import API
from qiboconnection.errors import RemoteExecutionException


def bell() -> Circuit:
    circuit = Circuit(2)
    circuit.add(gates.H(0))
    circuit.add(gates.CNOT(0, 1))
    circuit.add(gates.M(0, 1))
    return circuit


def login() -> API:
    return API.login(username=os.environ["QAAS_USERNAME"], api_key=os.environ["QAAS_API_KEY"])


def submit() -> dict:
    api = login()
    assert api.ping() == "OK"
    devices = api.list_devices()
    names = {device.id: device.status for device in devices._devices}
    assert names[1] == "online" and len(names) >= 3, names
    api.select_device_id(1)
    bell_job = api.execute(bell(), nshots=1000, device_id=1)
    doomed = api.execute(bell(), nshots=10, device_id=1, name="doomed")
    deleted = api.execute(bell(), nshots=10, device_id=1, name="deleted")
    queued = api.get_job(doomed)
    assert queued.status == "queued" and queued.queue_position == 1, queued
    api.cancel_job(doomed)
    assert api.get_job(doomed).status == "cancelled"
    api.delete_job(deleted)
    try:
        api.get_job(deleted)
    except RemoteExecutionException as exc:
        assert "does not exist" in str(exc)
    else:
        raise AssertionError("a deleted job was still found")
    listing = api.list_jobs()
    listed = {int(i) for i in listing.dataframe["id"]}
    assert bell_job in listed and doomed in listed and deleted not in listed, listed

    # A spoiled access token is refreshed with the refresh token and the call retried.
    api._connection._authorisation_access_token = "spoiled"
    assert len(api.list_devices()._devices) >= 3

    runcard_id = api.save_runcard(
        name="galadriel",
        description="first",
        runcard_dict={"qubits": 5},
        device_id=1,
        user_id=api.user_id,
        qililab_version="0.27.0",
    )
    runcard = api.get_runcard(runcard_id=runcard_id)
    assert runcard.runcard == {"qubits": 5} and runcard.name == "galadriel"
    assert api.get_runcard(runcard_name="galadriel").id == runcard_id
    assert [r.id for r in api.list_runcards()] == [runcard_id]
    runcard.description = "second"
    runcard.runcard = {"qubits": 6}
    updated = api.update_runcard(runcard)
    assert updated.description == "second" and updated.runcard == {"qubits": 6}
    api.delete_runcard(runcard_id)
    assert api.list_runcards() == []

    calibration_id = api.save_calibration(
        name="morning",
        description="first",
        calibration_serialized="serialized calibration",
        device_id=1,
        user_id=api.user_id,
        qililab_version="0.27.0",
    )
    calibration = api.get_calibration(calibration_id=calibration_id)
    assert calibration.calibration == "serialized calibration"
    assert api.get_calibration(calibration_name="morning").id == calibration_id
    assert [c.id for c in api.list_calibrations()] == [calibration_id]
    calibration.description = "second"
    assert api.update_calibration(calibration).description == "second"
    api.delete_calibration(calibration_id)
    assert api.list_calibrations() == []

    try:
        api.cancel_job(10**9)
    except HTTPError as exc:
        assert exc.response.status_code == 404
    else:
        raise AssertionError("cancelling a missing job succeeded")
    return {"bell_job": bell_job, "cancelled": doomed, "deleted": deleted}


def collect(job_id: int) -> dict:
    api = login()
    deadline = time.monotonic() + 60
    while True:
        job = api.get_job(job_id)
        if job.status in ("completed", "error"):
            break
        assert time.monotonic() < deadline, f"job {job_id} still {job.status}"
        time.sleep(0.1)
    assert job.status == "completed", job
    (entry,) = job.result
    counts = entry["counts"]
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 1000, counts
    circuits = job.description["data"]
    assert len(circuits) == 1 and isinstance(circuits[0], Circuit) and circuits[0].nqubits == 2
    assert job.queue_position == 0 and job.name == "-" and job.summary == "-"
    return {"counts": counts}


if __name__ == "__main__":
    if sys.argv[1] == "submit":
        print(json.dumps(submit()))
    else:
        print(json.dumps(collect(int(sys.argv[2]))))
