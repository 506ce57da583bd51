"""Shapes only the hosted service sends, fed through the API methods."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs

import httpx
import pytest

from qiboconnection.errors import DeviceNotAvailableError, JobFailedError, NotFoundError, ResultDecodeError
from qiboconnection.models.devices import Device
from qiboconnection.results import QaaSCircuitResult
from qiboconnection.serialization import encode_envelope

from .fakes import BASE_URL, FakeHosted, json_response, page, problem

LEGACY_DEVICE = {
    "device_id": 9,
    "device_name": "Galadriel",
    "device_type": "quantum_device",
    "status": 2,
    "number_pending_jobs": 4,
    "channel_id": 12,
    "characteristics": {"type": "qpu"},
    "calibration_details": {"t1": 30},
    "provider": "Qilimanjaro",
}
SIMULATOR = {
    "id": 1,
    "name": "Qibo simulator",
    "status": "online",
    "type": "simulator_device",
    "number_pending_jobs": 0,
    "slurm_partition": "sim",
    "static_features": {"max_qubits": 20, "max_shots": 1000},
    "dynamic_features": {},
}
MAINTENANCE = {**SIMULATOR, "id": 2, "name": "Sauron", "status": "maintenance"}


def devices_fake() -> FakeHosted:
    fake = FakeHosted()

    def list_devices(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        query = parse_qs(request.url.query.decode())
        number, per_page = int(query["page"][0]), int(query["per_page"][0])
        items = [[LEGACY_DEVICE, SIMULATOR], [MAINTENANCE]][number - 1]
        return json_response(page(items, f"{BASE_URL}/api/v1/devices", number, 2, per_page))

    devices = {1: SIMULATOR, 2: MAINTENANCE, 9: LEGACY_DEVICE}
    fake.routes["GET /api/v1/devices"] = list_devices
    fake.routes["GET /api/v1/devices/(\\d+)"] = lambda request, match: (
        json_response(devices[int(match[1])])
        if int(match[1]) in devices
        else problem(400, f"Requested device with 'device_id': {match[1]}, does not exist.")
    )
    return fake


def test_all_device_pages_with_legacy_keys_numeric_status_and_extras() -> None:
    fake = devices_fake()
    devices = fake.api().list_devices()
    assert [device.id for device in devices] == [9, 1, 2]
    legacy = devices[0]
    assert (legacy.name, legacy.type, legacy.status) == ("Galadriel", "quantum_device", 2)
    assert legacy.provider == "Qilimanjaro"
    assert legacy.characteristics == {"type": "qpu"}
    assert legacy.to_dict() == {
        "id": 9,
        "name": "Galadriel",
        "status": 2,
        "type": "quantum_device",
        "number_pending_jobs": 4,
    }
    expanded = legacy.to_dict(expand=True)
    assert expanded["channel_id"] == 12
    assert expanded["calibration_details"] == {"t1": 30}
    assert "device_id" not in expanded
    assert json.loads(legacy.toJSON(expand=True)) == expanded
    assert str(legacy) == "<Device: id=9, name='Galadriel', status='2', type='quantum_device'>"
    assert json.loads(devices.toJSON())[1]["name"] == "Qibo simulator"
    assert devices.select_device(1).static_features == {"max_qubits": 20, "max_shots": 1000}
    with pytest.raises(ValueError, match="Device 5 not found"):
        devices.select_device(5)
    pages = [
        parse_qs(r.url.query.decode())
        for r in fake.sent("GET", "/api/v1/devices")
        if r.url.path.endswith("devices")
    ]
    assert [(q["page"], q["per_page"]) for q in pages] == [(["1"], ["1000"]), (["2"], ["1000"])]
    with pytest.raises(AttributeError, match="no field 'missing'"):
        _ = legacy.missing


def test_hosted_400_does_not_exist_is_not_found() -> None:
    fake = devices_fake()
    with pytest.raises(NotFoundError, match="does not exist"):
        fake.api().execute(qprogram="{}", device_id=404)
    assert not fake.sent("POST", "/api/v1/circuits")


def test_validation_against_the_device_happens_before_sending() -> None:
    fake = devices_fake()
    api = fake.api()
    with pytest.raises(DeviceNotAvailableError, match=r"Device 2 \(Sauron\) is maintenance, not online"):
        api.execute(qprogram="{}", device_id=2)
    with pytest.raises(ValueError, match="nshots=1001 is over device 1's limit of 1000 shots"):
        api.execute(qprogram="{}", device_id=1, nshots=1001)
    assert not fake.sent("POST", "/api/v1/circuits")


def jobs_fake(records: dict[int, list[dict]]) -> FakeHosted:
    fake = devices_fake()
    submitted = iter(sorted(records))

    def get_job(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        job_id = int(match[1])
        if job_id not in records:
            return problem(400, f"Requested job with 'job_id': {job_id}, does not exist.", "Bad Request")
        history = records[job_id]
        return json_response(history.pop(0) if len(history) > 1 else history[0])

    fake.routes["GET /api/v1/jobs/(\\d+)"] = get_job
    fake.routes["POST /api/v1/circuits"] = lambda request, match: json_response(
        {"job_id": next(submitted)}, 201
    )
    return fake


def job(
    job_id: int, status: str, result: str | None = None, job_type: str = "qprogram", **extra: object
) -> dict:
    return {
        "job_id": job_id,
        "user_id": 7,
        "device_id": 1,
        "status": status,
        "job_type": job_type,
        "queue_position": 3 if status == "queued" else 0,
        "description": encode_envelope("qprogram text"),
        "number_shots": 10,
        "result": result,
        "name": "-",
        "summary": "-",
        **extra,
    }


def test_legacy_result_and_extra_fields_through_get_job() -> None:
    legacy = base64.urlsafe_b64encode(json.dumps({"energy": -1.5}).encode()).decode()
    fake = jobs_fake(
        {5: [job(5, "completed", legacy, duration=1.25, created_at="2024-01-02", favourite=True)]}
    )
    data = fake.api().get_job(5)
    assert data.result == {"energy": -1.5}
    assert data.description == "qprogram text"
    assert data.duration == 1.25
    assert data.created_at == "2024-01-02"
    assert data.favourite is True
    assert data.error is None
    assert data.raw_result == legacy


def test_old_canceled_spelling_is_final() -> None:
    fake = jobs_fake({6: [job(6, "queued"), job(6, "canceled")]})
    api = fake.api()
    api._sleep = lambda _: None
    assert api.execute_and_return_results(qprogram="x", device_id=1, interval=1) == [None]
    assert len(fake.sent("GET", "/api/v1/jobs/6")) == 2


def test_failed_job_raises_with_the_reason_and_get_job_reports_it() -> None:
    reason = "Circuit 0 uses 21 qubits; this device runs at most 20."
    fake = jobs_fake({7: [job(7, "running"), job(7, "error", error=reason)]})
    api = fake.api()
    api._sleep = lambda _: None
    with pytest.raises(JobFailedError, match=re.escape(reason)) as caught:
        api.execute_and_return_results(qprogram="x", device_id=1)
    assert caught.value.job_id == 7
    data = api.get_job(7)
    assert (data.status, data.error, data.result) == ("error", reason, None)
    with pytest.raises(JobFailedError), pytest.warns(DeprecationWarning):
        api.get_result(7)


def test_missing_job_is_not_found() -> None:
    fake = jobs_fake({})
    with pytest.raises(NotFoundError, match="8310, does not exist") as caught:
        fake.api().get_job(8310)
    assert caught.value.status_code == 400


def test_circuit_results_through_get_job() -> None:
    counts = {"probabilities": {"0": 1.0}, "counts": {"0": 10}, "samples": [[0]] * 10}
    fake = jobs_fake({8: [job(8, "completed", encode_envelope([counts]), job_type="circuit")]})
    result = fake.api().get_job(8).result
    assert isinstance(result[0], QaaSCircuitResult)
    assert result[0].frequencies() == {"0": 10}


def test_job_listing_pages_and_table() -> None:
    fake = FakeHosted()
    items = [
        {
            "id": 1,
            "status": "completed",
            "user_id": 7,
            "device_id": 1,
            "job_type": "circuit",
            "number_shots": 10,
        },
        {
            "id": 2,
            "status": "canceled",
            "user_id": 7,
            "device_id": 9,
            "job_type": "vqa",
            "number_shots": 5,
            "x": 1,
        },
    ]

    def list_jobs(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        query = parse_qs(request.url.query.decode())
        assert query["favourites"] == ["false"]
        number = int(query["page"][0])
        return json_response(page([items[number - 1]], f"{BASE_URL}/api/v1/jobs", number, 2, 1))

    fake.routes["GET /api/v1/jobs"] = list_jobs
    listing = fake.api().list_jobs()
    assert [item.id for item in listing.items] == [1, 2]
    assert listing[1].x == 1
    table = str(listing)
    assert table.splitlines()[0].split() == [
        "id",
        "status",
        "job_type",
        "device_id",
        "number_shots",
        "user_id",
    ]
    assert "canceled" in table
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs pandas"):
            _ = listing.dataframe
    else:
        assert list(listing.dataframe["id"]) == [1, 2]


def test_device_object_is_read_only_and_compares_by_fields() -> None:
    device = Device(SIMULATOR)
    assert device == Device(dict(SIMULATOR))
    assert device.max_shots == 1000
    assert device.is_online
    with pytest.raises(AttributeError):
        device.name = "x"  # type: ignore[misc]


def test_corrupt_or_oversized_results_fail_on_access_naming_the_job() -> None:
    corrupt = json.dumps({"data": "!!!!", "encoding": "utf-8", "compression": "gzip"})
    big = encode_envelope([{"counts": {"0": 1}, "padding": "x" * 5000}])
    fake = jobs_fake(
        {20: [job(20, "completed", corrupt, job_type="circuit")], 21: [job(21, "completed", big)]}
    )
    api = fake.api(max_result_bytes=1000)
    data = api.get_job(20)
    assert data.status == "completed"
    with pytest.raises(ResultDecodeError, match=r"job 20.*not valid base64"):
        _ = data.result
    with pytest.raises(ResultDecodeError, match=r"job 21.*over the 1000 byte limit"):
        _ = api.get_job(21).result
