"""Fault injection: off by default, seeded and reproducible, bounded, and faithful to each kind."""

from __future__ import annotations

import httpx
import pytest

from qiboconnection.server.config import ServerConfig
from qiboconnection.server.faults import FAULT_KINDS, parse_kinds

from .http_support import BELL_QASM, description


def _token(server, name: str = "alice") -> dict[str, str]:
    user = server.app.store.user_by_name(name)
    token = server.app.tokens.issue(user["id"], user["role"], "access", f"{server.url}/api/v1")
    return {"Authorization": f"Bearer {token}"}


def _statuses(server, count: int) -> list[int]:
    headers = _token(server)
    out = []
    with httpx.Client(base_url=f"{server.url}/api/v1", headers=headers) as client:
        for _ in range(count):
            try:
                out.append(client.get("/devices").status_code)
            except httpx.TransportError:
                out.append(0)
    return out


def test_off_by_default(qaas_server):
    assert qaas_server.app.faults is None
    assert set(_statuses(qaas_server, 20)) == {200}


def test_seeded_and_reproducible(make_server):
    kinds = ("500", "503", "429", "drop")
    runs = []
    for seed in (11, 11, 12):
        with make_server(workers=0, fault_rate=0.5, fault_seed=seed, fault_kinds=kinds) as server:
            runs.append((_statuses(server, 40), dict(server.app.faults.counts)))
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0]
    statuses, counts = runs[0]
    # Drops are transport errors (0 here); every other fault is an HTTP error answer.
    assert {0, 200, 500, 503, 429} >= set(statuses) and len(set(statuses)) >= 4
    assert statuses.count(0) == counts.get("drop", 0)
    assert statuses.count(429) == counts.get("429", 0)


def test_status_is_never_faulted(make_server):
    with make_server(workers=0, fault_rate=1.0, fault_kinds=("500",)) as server:
        assert all(httpx.get(f"{server.url}/status").status_code == 200 for _ in range(10))
        assert set(_statuses(server, 5)) == {500}


def test_429_carries_retry_after(make_server):
    with make_server(workers=0, fault_rate=1.0, fault_kinds=("429",), fault_retry_after=3) as server:
        response = httpx.get(f"{server.url}/api/v1/devices", headers=_token(server))
    assert response.status_code == 429 and response.headers["retry-after"] == "3"
    assert response.json()["status"] == 429


def test_a_dropped_submission_answer_still_created_the_job(make_server):
    body = {
        "device_id": 1,
        "number_shots": 10,
        "job_type": "circuit",
        "description": description([BELL_QASM]),
    }
    with make_server(workers=0, fault_rate=1.0, fault_kinds=("drop",)) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(f"{server.url}/api/v1/circuits", json=body, headers=_token(server))
        assert server.app.store.job(1)["status"] == "queued"
        assert server.app.faults.counts == {"drop": 1}


def test_latency_is_bounded(make_server):
    with make_server(workers=0, fault_rate=1.0, fault_kinds=("latency",), fault_max_latency=0.05) as server:
        assert set(_statuses(server, 10)) == {200}
        assert server.app.faults.counts == {"latency": 10}
    with pytest.raises(ValueError, match="fault_max_latency"):
        ServerConfig(fault_rate=0.1, fault_max_latency=11)


def test_settings_are_checked():
    assert parse_kinds("all") == FAULT_KINDS
    assert parse_kinds(" 500, drop ") == ("500", "drop")
    for bad in ("", "500,404", "slow"):
        with pytest.raises(ValueError, match="fault kinds"):
            parse_kinds(bad)
    with pytest.raises(ValueError, match="fault_rate"):
        ServerConfig(fault_rate=-0.1)
    with pytest.raises(ValueError, match="fault_kinds"):
        ServerConfig(fault_rate=0.1, fault_kinds=("404",))
