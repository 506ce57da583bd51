"""Real hosted responses, quoted from WIRE.md, go through the generated client without loss."""

from __future__ import annotations

import copy
import json

import httpx
import pytest
from qaas_client import Client
from qaas_client.api.auth import refresh_authorisation_token
from qaas_client.api.devices import get_device, list_devices
from qaas_client.api.health import get_status
from qaas_client.api.jobs import get_job, list_jobs, submit_job
from qaas_client.models import (
    AccessTokenResponse,
    Device,
    DevicePage,
    Job,
    JobPage,
    JobSubmission,
    Problem,
)

BASE = "https://pro-api.qaas.qilimanjaro.tech"

LEGACY_DEVICE = {
    "device_id": 9,
    "device_name": "Galadriel",
    "device_type": "quantum_device",
    "status": 2,
    "number_pending_jobs": 3,
    "channel_id": 12,
    "characteristics": {"type": "qpu", "qubits": 5},
    "calibration_details": {"t1": [20.1, 22.5]},
    "provider": "Qilimanjaro",
}

CURRENT_DEVICE = {
    "id": 1,
    "name": "Qibo simulator",
    "status": "online",
    "type": "simulator_device",
    "number_pending_jobs": 0,
    "slurm_partition": "sim",
    "static_features": {"max_qubits": 20},
    "dynamic_features": {"load": 0.1},
}

LAST_PAGE = {
    "items": [CURRENT_DEVICE, LEGACY_DEVICE],
    "total": 2,
    "per_page": 50,
    "self": f"{BASE}/api/v1/devices?page=1&per_page=50",
    "links": {
        "first": f"{BASE}/api/v1/devices?page=1&per_page=50",
        "prev": f"{BASE}/api/v1/devices?page=None&per_page=50",
        "next": f"{BASE}/api/v1/devices?page=None&per_page=50",
        "last": f"{BASE}/api/v1/devices?page=1&per_page=50",
    },
}

CANCELED_JOB = {
    "job_id": 8310,
    "user_id": 3,
    "device_id": 9,
    "status": "canceled",
    "job_type": "circuit",
    "queue_position": None,
    "description": '{"data": "H4sI", "encoding": "utf-8", "compression": "gzip"}',
    "number_shots": 1000,
    "result": None,
    "name": "-",
    "summary": "-",
    "duration": None,
    "created_at": "2024-05-10T09:31:02.001",
    "favourite": False,
}

MISSING_JOB = {
    "title": "Bad Request",
    "status": 400,
    "detail": "Requested job with 'job_id': 8310, does not exist.",
}


def _client(handler) -> Client:
    client = Client(base_url=BASE)
    client.set_httpx_client(httpx.Client(base_url=BASE, transport=httpx.MockTransport(handler)))
    return client


def _json(status: int, body, content_type: str = "application/json"):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=json.dumps(body), headers={"content-type": content_type})

    return handler


def test_legacy_device_keeps_legacy_keys_and_unknown_fields():
    device = Device.from_dict(copy.deepcopy(LEGACY_DEVICE))
    assert device.device_id == 9
    assert device.device_name == "Galadriel"
    assert device.device_type == "quantum_device"
    assert device.status == 2
    assert device.additional_properties["characteristics"] == {"type": "qpu", "qubits": 5}
    assert device.additional_properties["provider"] == "Qilimanjaro"
    assert device.to_dict() == LEGACY_DEVICE


def test_current_device_round_trips():
    device = Device.from_dict(copy.deepcopy(CURRENT_DEVICE))
    assert (device.id, device.name, device.type_, device.status) == (
        1,
        "Qibo simulator",
        "simulator_device",
        "online",
    )
    assert device.to_dict() == CURRENT_DEVICE


@pytest.mark.parametrize("status", ["online", "maintenance", "offline", "retired", 0, 2.5])
def test_device_status_accepts_any_string_or_number(status):
    assert Device.from_dict({**CURRENT_DEVICE, "status": status}).status == status


def test_last_page_with_page_none_through_list_devices():
    response = list_devices.sync_detailed(client=_client(_json(200, LAST_PAGE)), page=1, per_page=50)
    page = response.parsed
    assert isinstance(page, DevicePage)
    assert "page=None" in page.links.next_
    assert page.total == 2
    assert [d.to_dict() for d in page.items] == [CURRENT_DEVICE, LEGACY_DEVICE]
    assert page.to_dict() == LAST_PAGE


def test_canceled_job_with_extra_fields_through_get_job():
    response = get_job.sync_detailed(8310, client=_client(_json(200, CANCELED_JOB)))
    job = response.parsed
    assert isinstance(job, Job)
    assert job.status == "canceled"
    assert job.result is None
    assert job.queue_position is None
    assert job.additional_properties == {
        "duration": None,
        "created_at": "2024-05-10T09:31:02.001",
        "favourite": False,
    }
    assert job.to_dict() == CANCELED_JOB


def test_unknown_job_status_and_type_are_kept():
    job = Job.from_dict({**CANCELED_JOB, "status": "paused", "job_type": "pulse_schedule"})
    assert (job.status, job.job_type) == ("paused", "pulse_schedule")


def test_job_listing_summaries():
    body = {
        **LAST_PAGE,
        "self": f"{BASE}/api/v1/jobs?page=1",
        "items": [
            {
                "id": 7,
                "status": "canceled",
                "user_id": 3,
                "device_id": 9,
                "job_type": "circuit",
                "number_shots": 10,
            },
            {
                "id": 8,
                "status": "completed",
                "user_id": 3,
                "device_id": 1,
                "job_type": "qprogram",
                "number_shots": 100,
                "favourite": True,
            },
        ],
    }
    page = list_jobs.sync_detailed(client=_client(_json(200, body)), favourites=False).parsed
    assert isinstance(page, JobPage)
    assert [item.status for item in page.items] == ["canceled", "completed"]
    assert page.items[1].additional_properties == {"favourite": True}
    assert page.to_dict() == body


def test_missing_job_problem_document():
    response = get_job.sync_detailed(
        8310, client=_client(_json(400, MISSING_JOB, "application/problem+json"))
    )
    assert response.status_code == 400
    assert isinstance(response.parsed, Problem)
    assert "does not exist" in response.parsed.detail
    assert response.parsed.to_dict() == MISSING_JOB


def test_device_not_found_problem_keeps_extra_members():
    body = {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No device 4",
        "trace": "x1",
    }
    response = get_device.sync_detailed(4, client=_client(_json(404, body, "application/problem+json")))
    assert isinstance(response.parsed, Problem)
    assert response.parsed.additional_properties == {"trace": "x1"}


@pytest.mark.parametrize("issued_at", ["1764064800", 1764064800])
def test_refresh_answer_with_null_refresh_token(issued_at):
    body = {
        "accessToken": "a.b.c",
        "refreshToken": None,
        "tokenType": "bearer",
        "expiresIn": 3600,
        "issuedAt": issued_at,
    }
    response = refresh_authorisation_token.sync_detailed(client=_client(_json(201, body)))
    assert isinstance(response.parsed, AccessTokenResponse)
    assert response.parsed.refresh_token is None
    assert response.parsed.issued_at == issued_at
    assert response.parsed.to_dict() == body


def test_status_is_a_json_string():
    assert get_status.sync_detailed(client=_client(_json(200, "OK"))).parsed == "OK"


def test_submission_body_matches_the_wire():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"job_id": 11})

    body = JobSubmission.from_dict(
        {
            "user_id": None,
            "device_id": 1,
            "number_shots": 10,
            "job_type": "circuit",
            "description": '{"data": "x", "encoding": "utf-8", "compression": "gzip"}',
            "name": "-",
            "summary": "-",
        }
    )
    response = submit_job.sync_detailed(client=_client(handler), body=body, idempotency_key="k-1")
    assert response.status_code == 201
    assert response.parsed.job_id == 11
    sent = json.loads(seen[0].content)
    assert sent == {
        "user_id": None,
        "device_id": 1,
        "number_shots": 10,
        "job_type": "circuit",
        "description": '{"data": "x", "encoding": "utf-8", "compression": "gzip"}',
        "name": "-",
        "summary": "-",
    }
    assert seen[0].url.path == "/api/v1/circuits"
    assert seen[0].headers["Idempotency-Key"] == "k-1"
