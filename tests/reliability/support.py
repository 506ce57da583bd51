"""Building blocks of the reliability tests: sessions with patient retry policies, predictable circuits."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from qiboconnection.api import API
from qiboconnection.config import RetryPolicy, Settings
from qiboconnection.typings.connection import ConnectionConfiguration

NQUBITS = 5


class RetryCounter(logging.Handler):
    """Counts the client's "retrying" log lines, by the kind of failure they name."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.kinds: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "retrying in" not in message:
            return
        for marker in ("HTTP 500", "HTTP 502", "HTTP 503", "HTTP 429", "RemoteProtocolError", "ConnectError"):
            if marker in message:
                self.kinds[marker] += 1
                return
        self.kinds["other"] += 1


def session(url: str, username: str, api_key: str, policy: RetryPolicy, timeout: float = 10.0) -> API:
    """A logged-in session against ``url`` with ``policy`` and no progress line."""
    settings = Settings(base_url=url, retry=policy, progress=False, timeout=timeout)
    return API(ConnectionConfiguration(username=username, api_key=api_key), settings=settings)


def x_circuit(bits: str) -> Any:
    """A circuit that flips the qubits where ``bits`` has a 1 and measures them all: it always reads ``bits``."""
    from qibo import Circuit, gates

    circuit = Circuit(len(bits))
    circuit.add(gates.I(0))
    circuit.add([gates.X(q) for q, bit in enumerate(bits) if bit == "1"])
    circuit.add(gates.M(*range(len(bits))))
    return circuit


def bits_of(number: int) -> str:
    return format(number % (2**NQUBITS), f"0{NQUBITS}b")


def job_rows(db_path: Path) -> list[tuple[int, str, str]]:
    """(id, status, name) of every job in a server database, read directly with SQLite."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        return [tuple(row) for row in conn.execute("SELECT id, status, name FROM jobs ORDER BY id")]


GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
BELL_QASM = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'
    "h q[0];\ncx q[0],q[1];\nmeasure q[0] -> c[0];\nmeasure q[1] -> c[1];"
)


def assertion(url: str, username: str, api_key: str, **overrides: Any) -> str:
    """The URL-safe base64 JSON login assertion of the protocol."""
    payload = {"user_id": None, "username": username, "api_key": api_key, "audience": f"{url}/api/v1"}
    payload["iat"] = int(time.time())
    payload.update(overrides)
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def tokens(server: Any, name: str) -> dict[str, Any]:
    """Log ``name`` in over raw HTTP and return the token answer."""
    cred = server.users[name]
    body = {"grantType": GRANT_TYPE, "assertion": assertion(server.url, cred.username, cred.api_key)}
    response = httpx.post(f"{server.url}/api/v1/authorisation-tokens", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def client_for(server: Any, name: str) -> httpx.Client:
    """A raw httpx client for the API, authenticated as ``name``."""
    access = tokens(server, name)["accessToken"]
    return httpx.Client(
        base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {access}"}, timeout=30
    )


def description(payload: Any) -> str:
    data = base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()
    return json.dumps({"data": data, "encoding": "utf-8", "compression": "gzip"})


def job_body(**fields: Any) -> dict[str, Any]:
    """A valid circuit submission body, with ``fields`` replaced."""
    body = {
        "user_id": None,
        "device_id": 1,
        "number_shots": 10,
        "job_type": "circuit",
        "description": description([BELL_QASM]),
        "name": "test",
        "summary": "-",
    }
    body.update(fields)
    return body
