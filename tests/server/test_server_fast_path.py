"""The fast path answers exactly what the connexion application answers.

Two servers share one database (and so its users, jobs and token secret): the first answers the job
operations on its fast path, the second (``fast_path=False``, no workers) always through connexion.
The same requests go to both; status, content type, the headers that matter and the bodies must agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .http_support import BELL_QASM, client_for, description, job_body, tokens, wait_for_job

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def lanes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    from tests.conftest import default_credentials, serve

    db = tmp_path_factory.mktemp("lanes") / "lanes.sqlite3"
    users = default_credentials()
    with (
        serve(db, users) as fast,
        serve(db, users, workers=0, fast_path=False, audiences=(f"{fast.url}/api/v1",)) as slow,
    ):
        assert fast.app._http is not slow.app._http
        yield fast, slow


def _send(server: Any, token: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers.setdefault("Authorization", f"Bearer {token}")
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as client:
        return client.request(method, path, headers=headers, **kwargs)


def _same(fast: Any, slow: Any, token: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Send one request to both servers; assert the answers agree; return the fast one."""
    a = _send(fast, token, method, path, **kwargs)
    b = _send(slow, token, method, path, **kwargs)
    where = f"{method} {path} {kwargs}"
    assert a.status_code == b.status_code, f"{where}: {a.status_code} {a.text} / {b.status_code} {b.text}"
    assert a.headers["content-type"] == b.headers["content-type"], where
    assert a.headers.get("x-idempotency-keys") == b.headers.get("x-idempotency-keys"), where
    assert a.headers.get("retry-after") == b.headers.get("retry-after"), where
    left, right = a.json(), b.json()
    if isinstance(left, dict) and "job_id" in left and method == "POST":
        # Each lane stored its own job; both answer a fresh id.
        assert isinstance(left["job_id"], int) and isinstance(right["job_id"], int), where
        left, right = {**left, "job_id": 0}, {**right, "job_id": 0}
    assert _portless(left, fast, slow) == _portless(right, fast, slow), where
    return a


def _portless(value: Any, *servers: Any) -> Any:
    """Links name the server that answered; compare them without its address."""
    if isinstance(value, str):
        for server in servers:
            value = value.replace(server.url, "<server>")
        return value
    if isinstance(value, dict):
        return {k: _portless(v, *servers) for k, v in value.items()}
    if isinstance(value, list):
        return [_portless(v, *servers) for v in value]
    return value


@pytest.fixture(scope="module")
def setup(lanes: tuple[Any, Any]) -> dict[str, Any]:
    fast, _ = lanes
    alice = tokens(fast, "alice")
    with client_for(fast, "alice") as client:
        created = client.post("/circuits", json=job_body())
        assert created.status_code == 201, created.text
        job_id = created.json()["job_id"]
        wait_for_job(client, job_id)
    with client_for(fast, "bob") as client:
        bobs = client.post("/circuits", json=job_body()).json()["job_id"]
    return {"alice": alice["accessToken"], "refresh": alice["refreshToken"], "job": job_id, "bobs": bobs}


def test_get_job_answers_agree(lanes: tuple[Any, Any], setup: dict[str, Any]) -> None:
    fast, slow = lanes
    token, job = setup["alice"], setup["job"]
    answered = _same(fast, slow, token, "GET", f"/jobs/{job}")
    assert answered.status_code == 200 and answered.json()["status"] == "completed"
    for path in [f"/jobs/{setup['bobs']}", "/jobs/999999", "/jobs/0", f"/jobs/0{job}", "/jobs/-1", "/jobs/x"]:
        _same(fast, slow, token, "GET", path)
    _same(fast, slow, token, "GET", "/jobs/99999999999999999999")
    _same(fast, slow, None, "GET", f"/jobs/{job}")
    _same(fast, slow, "not-a-token", "GET", f"/jobs/{job}")
    _same(fast, slow, setup["refresh"], "GET", f"/jobs/{job}")
    _same(fast, slow, None, "GET", f"/jobs/{job}", headers={"Authorization": f"bearer {token}"})
    _same(fast, slow, None, "GET", f"/jobs/{job}", headers={"Authorization": f"Basic {token}"})
    _same(fast, slow, token, "GET", f"/jobs/{job}", headers={"X-Client-Version": "0.30.0"})
    _same(fast, slow, token, "GET", f"/jobs/{job}", headers={"X-Client-Version": "v" * 101})
    _same(fast, slow, token, "GET", f"/jobs/{job}", params={"extra": "1"})


def test_submit_job_answers_agree(lanes: tuple[Any, Any], setup: dict[str, Any]) -> None:
    fast, slow = lanes
    token = setup["alice"]
    bodies: list[Any] = [
        job_body(),
        job_body(user_id=None, name="x" * 255),
        {k: v for k, v in job_body().items() if k not in ("name", "summary", "user_id")},
        job_body(user_id=12345),
        job_body(device_id=999),
        job_body(device_id=2),
        job_body(device_id=3),
        job_body(number_shots=0),
        job_body(number_shots=10**7),
        job_body(number_shots=1.5),
        job_body(number_shots=True),
        job_body(number_shots="10"),
        job_body(job_type="teleport"),
        job_body(job_type="qprogram", description=description("program")),
        job_body(description="not json"),
        job_body(description=description(["not qasm"])),
        job_body(description=""),
        job_body(name="x" * 256),
        job_body(extra_field={"kept": True}),
        [job_body()],
        "text",
    ]
    for body in bodies:
        _same(fast, slow, token, "POST", "/circuits", json=body)
    raw = httpx.Request("POST", "http://x", json=job_body()).content
    for content, kind in [
        (raw, "text/plain"),
        (raw, "application/json; charset=latin-1"),
        (b"{", "application/json"),
        (b"", "application/json"),
        (raw.replace(b'"number_shots": 100', b'"number_shots": NaN'), "application/json"),
    ]:
        _same(fast, slow, token, "POST", "/circuits", content=content, headers={"Content-Type": kind})
    _same(fast, slow, None, "POST", "/circuits", json=job_body())
    _same(fast, slow, token, "POST", "/circuits", json=job_body(), headers={"Idempotency-Key": "k" * 201})
    _same(fast, slow, token, "POST", "/circuits", json=job_body(), headers={"Idempotency-Key": ""})


def test_an_idempotency_key_is_one_job_on_either_lane(lanes: tuple[Any, Any], setup: dict[str, Any]) -> None:
    fast, slow = lanes
    token = setup["alice"]
    body = job_body(description=description([BELL_QASM, BELL_QASM]))
    key = {"Idempotency-Key": "lanes-1"}
    first = _send(fast, token, "POST", "/circuits", json=body, headers=key)
    again = _send(slow, token, "POST", "/circuits", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json()["job_id"] == again.json()["job_id"]
    assert first.headers["x-idempotency-keys"] == "honoured"
    other = job_body(number_shots=7)
    refused = _same(fast, slow, token, "POST", "/circuits", json=other, headers=key)
    assert refused.status_code == 422


def test_listing_answers_agree(lanes: tuple[Any, Any], setup: dict[str, Any]) -> None:
    fast, slow = lanes
    token = setup["alice"]
    for params in [
        {},
        {"page": "1", "per_page": "2"},
        {"page": "2", "per_page": "1"},
        {"page": "999", "per_page": "1000"},
        {"favourites": "true"},
        {"favourites": "false", "page": "1"},
        {"favourites": "True"},
        {"favourites": "1"},
        {"page": "0"},
        {"page": "01"},
        {"per_page": "1001"},
        {"per_page": "abc"},
        {"unknown": "1"},
        [("page", "1"), ("page", "2")],
    ]:
        _same(fast, slow, token, "GET", "/jobs", params=params)
    first = _same(fast, slow, token, "GET", "/jobs", params={"per_page": "2"}).json()
    assert len(first["items"]) == 2 and first["links"]["next"].endswith("page=2&per_page=2")
    _same(fast, slow, None, "GET", "/jobs")


def test_the_fast_path_serves_the_frequent_requests(lanes: tuple[Any, Any], setup: dict[str, Any]) -> None:
    """Plain requests are answered on the fast path itself (the fallback is not reached)."""
    from qiboconnection.server.fast_path import FastPath

    fast, _ = lanes
    lane = fast.app._http
    assert isinstance(lane, FastPath)
    reached: list[str] = []
    fallback = lane._fallback

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])
        await fallback(scope, receive, send)

    lane._fallback = spy
    try:
        token = setup["alice"]
        assert _send(fast, token, "GET", f"/jobs/{setup['job']}").status_code == 200
        assert _send(fast, token, "POST", "/circuits", json=job_body()).status_code == 201
        assert _send(fast, token, "GET", "/jobs", params={"per_page": "5"}).status_code == 200
        assert reached == []
        assert _send(fast, token, "GET", "/devices").status_code == 200
        assert _send(fast, token, "GET", "/jobs", params={"favourites": "True"}).status_code == 200
        assert reached == ["/api/v1/devices", "/api/v1/jobs"]
    finally:
        lane._fallback = fallback


def test_a_method_a_path_does_not_take_is_405_with_allow(
    lanes: tuple[Any, Any], setup: dict[str, Any]
) -> None:
    fast, slow = lanes
    token = setup["alice"]
    for method, path, allowed in [
        ("DELETE", "/circuits", "POST"),
        ("PATCH", f"/jobs/{setup['job']}", "DELETE, GET"),
        ("POST", "/jobs", "GET"),
    ]:
        answered = _same(fast, slow, token, method, path)
        assert answered.status_code == 405, answered.text
        assert answered.headers["allow"] == allowed
