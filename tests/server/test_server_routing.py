"""What connexion's routing, validation and security answer for the job operations' odd requests.

Every request goes through the connexion application built from openapi.yaml; these are the answers
a busy client's most frequent operations (reading, submitting and listing jobs) give when a request
is not the plain one.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .http_support import assert_problem, client_for, job_body, tokens, wait_for_job

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def setup(qaas_server: Any) -> dict[str, Any]:
    alice = tokens(qaas_server, "alice")
    with client_for(qaas_server, "alice") as client:
        created = client.post("/circuits", json=job_body())
        assert created.status_code == 201, created.text
        job_id = created.json()["job_id"]
        wait_for_job(client, job_id)
    with client_for(qaas_server, "bob") as client:
        bobs = client.post("/circuits", json=job_body()).json()["job_id"]
    return {"alice": alice["accessToken"], "refresh": alice["refreshToken"], "job": job_id, "bobs": bobs}


def _send(server: Any, token: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers.setdefault("Authorization", f"Bearer {token}")
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as client:
        return client.request(method, path, headers=headers, **kwargs)


def test_reading_a_job(qaas_server: Any, setup: dict[str, Any]) -> None:
    token, job = setup["alice"], setup["job"]
    answered = _send(qaas_server, token, "GET", f"/jobs/{job}")
    assert answered.status_code == 200 and answered.json()["status"] == "completed"
    assert _send(qaas_server, token, "GET", f"/jobs/0{job}").json()["job_id"] == job
    for path in [f"/jobs/{setup['bobs']}", "/jobs/999999", "/jobs/0", "/jobs/-1"]:
        assert_problem(_send(qaas_server, token, "GET", path), 404, "does not exist")
    assert _send(qaas_server, token, "GET", "/jobs/x").status_code == 404
    assert_problem(_send(qaas_server, token, "GET", "/jobs/9223372036854775808"), 400, "job_id")
    assert_problem(_send(qaas_server, None, "GET", f"/jobs/{job}"), 401, "No authorization")
    assert_problem(_send(qaas_server, "not-a-token", "GET", f"/jobs/{job}"), 401, "not valid")
    assert_problem(_send(qaas_server, setup["refresh"], "GET", f"/jobs/{job}"), 401, "access token")
    lower = {"Authorization": f"bearer {token}"}
    assert _send(qaas_server, None, "GET", f"/jobs/{job}", headers=lower).status_code == 200
    basic = {"Authorization": f"Basic {token}"}
    assert_problem(_send(qaas_server, None, "GET", f"/jobs/{job}", headers=basic), 401)
    version = {"X-Client-Version": "0.30.0"}
    assert _send(qaas_server, token, "GET", f"/jobs/{job}", headers=version).status_code == 200
    too_long = {"X-Client-Version": "v" * 101}
    assert_problem(
        _send(qaas_server, token, "GET", f"/jobs/{job}", headers=too_long), 400, "X-Client-Version"
    )
    extra = _send(qaas_server, token, "GET", f"/jobs/{job}", params={"extra": "1"})
    assert_problem(extra, 400, "extra")


def test_submitting_a_job(qaas_server: Any, setup: dict[str, Any]) -> None:
    token = setup["alice"]
    assert _send(qaas_server, token, "POST", "/circuits", json=job_body()).status_code == 201
    raw = httpx.Request("POST", "http://x", json=job_body()).content
    for content, kind, status, fragment in [
        (raw, "text/plain", 415, "Content-type"),
        (raw, "application/json; charset=utf-8", 201, None),
        (b'{"device_id": 1,', "application/json", 400, "not valid JSON"),
        (b"", "application/json", 400, "RequestBody"),
        (raw.replace(b"100", b"NaN", 1), "application/json", 400, "number_shots"),
    ]:
        answer = _send(
            qaas_server, token, "POST", "/circuits", content=content, headers={"Content-Type": kind}
        )
        if fragment is None:
            assert answer.status_code == status, answer.text
        else:
            assert_problem(answer, status, fragment)
    assert_problem(_send(qaas_server, None, "POST", "/circuits", json=job_body()), 401)
    for key in ("k" * 201, ""):
        answer = _send(
            qaas_server, token, "POST", "/circuits", json=job_body(), headers={"Idempotency-Key": key}
        )
        assert_problem(answer, 400, "Idempotency-Key")
    for field in ("device_id", "number_shots", "user_id"):
        answer = _send(qaas_server, token, "POST", "/circuits", json=job_body(**{field: 2**63}))
        assert_problem(answer, 400, field)


def test_listing_jobs(qaas_server: Any, setup: dict[str, Any]) -> None:
    token = setup["alice"]
    for params in [{}, {"page": "2", "per_page": "1"}, {"favourites": "true"}, {"favourites": "True"}]:
        assert _send(qaas_server, token, "GET", "/jobs", params=params).status_code == 200, params
    first = _send(qaas_server, token, "GET", "/jobs", params={"per_page": "1"}).json()
    assert len(first["items"]) == 1 and first["links"]["next"].endswith("page=2&per_page=1")
    last = _send(qaas_server, token, "GET", "/jobs", params={"page": str(2**63 - 1), "per_page": "1000"})
    assert last.status_code == 200 and last.json()["items"] == [], last.text
    for params, name in [
        ({"favourites": "1"}, "favourites"),
        ({"page": "0"}, "page"),
        ({"page": str(2**63)}, "page"),
        ({"per_page": "1001"}, "per_page"),
        ({"per_page": "abc"}, "per_page"),
        ({"unknown": "1"}, "unknown"),
    ]:
        assert_problem(_send(qaas_server, token, "GET", "/jobs", params=params), 400, name)
    assert_problem(_send(qaas_server, None, "GET", "/jobs"), 401)


def test_a_method_a_path_does_not_take_is_405_with_allow(qaas_server: Any, setup: dict[str, Any]) -> None:
    token = setup["alice"]
    for method, path, allowed in [
        ("DELETE", "/circuits", "POST"),
        ("PATCH", f"/jobs/{setup['job']}", "DELETE, GET, HEAD"),
        ("POST", "/jobs", "GET, HEAD"),
        ("POST", f"/jobs/cancel/{setup['job']}", "PUT"),
    ]:
        answered = _send(qaas_server, token, method, path)
        assert_problem(answered, 405)
        assert answered.headers["allow"] == allowed


def test_path_parameters_are_handed_to_connexion_in_each_operation() -> None:
    from qiboconnection.server.routing import operation_parameters
    from qiboconnection.server.spec import load_spec

    spec = load_spec()
    moved = operation_parameters(spec)
    job_path = "/api/v1/jobs/{job_id}"
    assert spec["paths"][job_path]["parameters"] == [{"$ref": "#/components/parameters/JobId"}]
    assert "parameters" not in moved["paths"][job_path]
    for method in ("get", "delete"):
        listed = moved["paths"][job_path][method]["parameters"]
        assert listed.count({"$ref": "#/components/parameters/JobId"}) == 1
        assert len(spec["paths"][job_path][method]["parameters"]) == len(listed) - 1
    assert moved["paths"]["/api/v1/jobs"] is spec["paths"]["/api/v1/jobs"]

    # An operation's own parameter of the same place and name stands instead of the path's.
    own = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
    shadowed = {
        "paths": {
            "/x/{job_id}": {"parameters": spec["paths"][job_path]["parameters"], "get": {"parameters": [own]}}
        },
        "components": spec["components"],
    }
    assert operation_parameters(shadowed)["paths"]["/x/{job_id}"]["get"]["parameters"] == [own]
