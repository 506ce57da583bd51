"""Malformed, mistyped and oversized requests get a 4xx problem naming the problem, never a 500."""

from __future__ import annotations

import base64
import gzip
import json

import httpx
import pytest

from .http_support import BELL_QASM, assert_problem, description, job_body


def _post_raw(client, path, content, content_type="application/json"):
    return client.post(path, content=content, headers={"Content-Type": content_type})


def test_malformed_json_and_invalid_utf8(clients):
    alice = clients("alice")
    assert_problem(_post_raw(alice, "/circuits", b'{"device_id": 1,'), 400)
    assert_problem(_post_raw(alice, "/circuits", b'{"device_id": 1, "name": "\xff\xfe"}'), 400)
    assert_problem(_post_raw(alice, "/circuits", b"\xff\xfe\xfd"), 400)
    assert_problem(_post_raw(alice, "/circuits", b"[1, 2, 3]"), 400)
    assert_problem(_post_raw(alice, "/circuits", b""), 400)
    unsupported = _post_raw(alice, "/circuits", b"device_id=1", "application/x-www-form-urlencoded")
    assert 400 <= unsupported.status_code < 500
    assert unsupported.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("device_id", "one"),
        ("number_shots", "many"),
        ("number_shots", 0),
        ("number_shots", 1.5),
        ("job_type", "teleportation"),
        ("description", 42),
        ("description", ""),
        ("user_id", "me"),
        ("name", "x" * 300),
    ],
)
def test_wrong_types_are_400(clients, field, value):
    alice = clients("alice")
    assert_problem(alice.post("/circuits", json=job_body(**{field: value})), 400, field)


def test_missing_fields_are_400(clients):
    alice = clients("alice")
    for field in ("device_id", "number_shots", "job_type", "description"):
        body = job_body()
        del body[field]
        assert_problem(alice.post("/circuits", json=body), 400, field)


def _envelope(data, **extra):
    return json.dumps({"data": data, "encoding": "utf-8", "compression": "gzip", **extra})


def test_bad_descriptions_are_422(clients):
    alice = clients("alice")
    gz = base64.b64encode(gzip.compress(b"{not json")).decode()
    latin = base64.b64encode(gzip.compress('["caf\xe9"]'.encode("latin-1"))).decode()
    cases = {
        "not json at all": "description is not a JSON string",
        json.dumps(["a", "list"]): "JSON object",
        json.dumps({"encoding": "utf-8"}): "description.data",
        _envelope("!!!not base64!!!"): "not valid base64",
        _envelope("ñandú"): "not valid base64",
        _envelope(base64.b64encode(b"plain text, not gzip").decode()): "not valid gzip",
        _envelope(gz): "does not hold JSON",
        _envelope(latin): "UTF-8",
        _envelope(base64.b64encode(gzip.compress(b"[]")).decode(), compression="zip"): "compression",
        _envelope(base64.b64encode(gzip.compress(b"[]")).decode(), encoding="latin-1"): "encoding",
        _envelope(base64.b64encode(gzip.compress(b"[]")).decode()): "non-empty list",
        description({"qasm": BELL_QASM}): "non-empty list",
        description([BELL_QASM, "h q[0];"]): "Circuit 1",
        description([BELL_QASM, 7]): "Circuit 1",
    }
    for value, fragment in cases.items():
        assert_problem(alice.post("/circuits", json=job_body(description=value)), 422, fragment)
    truncated = base64.b64encode(gzip.compress(json.dumps([BELL_QASM]).encode())[:-12]).decode()
    assert_problem(alice.post("/circuits", json=job_body(description=_envelope(truncated))), 422, "gzip")
    assert_problem(alice.post("/circuits", json=job_body(7, job_type="qprogram")), 422, "qprogram")
    assert_problem(
        alice.post("/circuits", json=job_body([1], job_type="annealing_program")), 422, "annealing"
    )


def test_gzip_bomb_is_413(clients, qaas_server):
    alice = clients("alice")
    limit = qaas_server.config.max_decompressed_bytes
    bomb = gzip.compress(b'["' + b"A" * (limit + 1024) + b'"]', compresslevel=9)
    assert len(bomb) < 1024 * 1024
    response = alice.post("/circuits", json=job_body(description=_envelope(base64.b64encode(bomb).decode())))
    assert_problem(response, 413, "inflates")


def test_oversized_body_is_413(clients, qaas_server):
    alice = clients("alice")
    limit = qaas_server.config.max_body_bytes
    body = job_body(summary="x" * (limit + 10))
    assert_problem(alice.post("/circuits", json=body), 413, "limit")

    def chunks():
        yield b'{"summary": "'
        for _ in range(limit // (1024 * 1024) + 1):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    streamed = alice.post("/circuits", content=chunks(), headers={"Content-Type": "application/json"})
    assert_problem(streamed, 413, "limit")
    record = {"name": "big", "runcard": "x" * (limit + 1), "device_id": 1, "user_id": 1}
    assert_problem(clients("admin").post("/runcards", json=record), 413)


def test_bad_parameters_are_400(clients):
    alice = clients("alice")
    assert_problem(alice.get("/jobs/abc"), 404)
    assert_problem(alice.get("/jobs", params={"per_page": 1001}), 400, "per_page")
    assert_problem(alice.get("/jobs", params={"page": 0}), 400, "page")
    assert_problem(alice.get("/jobs", params={"page": "None"}), 400, "page")
    assert_problem(alice.get(f"/jobs/{2**70}"), 400, "job_id", "64-bit")
    assert_problem(alice.post("/circuits", json=job_body(device_id=2**70)), 400, "device_id", "64-bit")
    assert_problem(alice.get("/devices", params={"page": 2**63, "per_page": 1000}), 400, "page", "64-bit")
    past_every_row = alice.get("/devices", params={"page": 2**62, "per_page": 1000})
    assert past_every_row.status_code == 200 and past_every_row.json()["items"] == [], past_every_row.text
    assert_problem(clients("admin").put("/devices/1", json={"status": "broken"}), 400, "status")
    assert_problem(alice.put("/jobs/cancel/1", json=[1]), 400)
    assert 400 <= alice.get("/no/such/path").status_code < 500


def test_pathological_text_and_nesting(clients, qaas_server):
    alice = clients("alice")
    surrogate = json.dumps(job_body(name="\ud800")).encode()  # an ASCII escape of a lone surrogate
    assert_problem(_post_raw(alice, "/circuits", surrogate), 400, "Unicode")
    deep = b"[" * 200_000 + b"]" * 200_000
    assert_problem(_post_raw(alice, "/circuits", deep), 400)
    deep_payload = _envelope(base64.b64encode(gzip.compress(b"[" * 100_000 + b"]" * 100_000)).decode())
    assert_problem(alice.post("/circuits", json=job_body(description=deep_payload)), 422, "JSON")
    endpoint = f"{qaas_server.url}/api/v1/authorisation-tokens"
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    for assertion_text in (
        '{"username": "alice", "api_key": "k", "audience": "a", "iat": NaN}',
        '{"username": "alice", "api_key": "k", "audience": "a", "iat": Infinity}',
        "[" * 50_000 + "]" * 50_000,
        '{"username": "\\ud800", "api_key": "k", "audience": "a", "iat": 1}',
    ):
        encoded = base64.urlsafe_b64encode(assertion_text.encode()).decode()
        response = httpx.post(endpoint, json={"grantType": grant, "assertion": encoded})
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
