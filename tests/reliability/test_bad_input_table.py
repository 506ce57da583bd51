"""Bad input, table-driven: each row is one input, on the client or the server side, and what it must get.

Server rows send raw HTTP and must get a 4xx problem document naming the problem (never a 500). Client
rows call the API and must raise a clear error before anything is sent (checked by counting the
requests that reach the wire), or, for corrupt results, when the result is read.

With ``QIBOCONNECTION_BAD_INPUT_TABLE=FILE`` the table of what each input got is written to FILE (Markdown).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from qiboconnection.api import API
from qiboconnection.config import RetryPolicy, Settings
from qiboconnection.errors import (
    DeviceNotAvailableError,
    NotFoundError,
    QiboconnectionError,
    ResultDecodeError,
)
from qiboconnection.typings.connection import ConnectionConfiguration

from .support import BELL_QASM, assertion, client_for, description, job_body, x_circuit

MAX_BODY = 256 * 1024
MAX_INFLATED = 1024 * 1024
QUICK = RetryPolicy(max_attempts=2, budget=5.0, backoff_base=0.01, backoff_cap=0.05)


@dataclass(frozen=True)
class Row:
    side: str
    given: str
    expected: str
    got: str


def _envelope(data: str, **extra: Any) -> str:
    return json.dumps({"data": data, "encoding": "utf-8", "compression": "gzip", **extra})


def _gz64(raw: bytes) -> str:
    return base64.b64encode(gzip.compress(raw)).decode()


def _raw(content: bytes, content_type: str = "application/json") -> dict[str, Any]:
    return {"content": content, "headers": {"Content-Type": content_type}}


def _oversized_stream() -> Any:
    yield b'{"summary": "'
    for _ in range(MAX_BODY // 65536 + 2):
        yield b"x" * 65536
    yield b'"}'


# (what is sent, method, path, request kwargs, expected status, fragment the problem's detail names)
def server_cases(
    server: Any, alice_id: int, bob_id: int
) -> list[tuple[str, str, str, dict[str, Any], int, str]]:
    bomb = base64.b64encode(gzip.compress(b'["' + b"A" * (MAX_INFLATED + 1) + b'"]', 9)).decode()
    login = f"{server.url}/api/v1/authorisation-tokens"
    good_assertion = assertion(server.url, "alice", "whatever-key")
    return [
        (
            'malformed JSON `{"device_id": 1,`',
            "POST",
            "/circuits",
            _raw(b'{"device_id": 1,'),
            400,
            "not valid JSON",
        ),
        ("invalid UTF-8 bytes in the body", "POST", "/circuits", _raw(b'{"name": "\xff\xfe"}'), 400, "UTF-8"),
        ("a JSON array instead of an object", "POST", "/circuits", _raw(b"[1, 2, 3]"), 400, "object"),
        ("an empty body", "POST", "/circuits", _raw(b""), 400, ""),
        (
            "a form-encoded body",
            "POST",
            "/circuits",
            _raw(b"device_id=1", "application/x-www-form-urlencoded"),
            415,
            "",
        ),
        ('device_id `"one"`', "POST", "/circuits", {"json": job_body(device_id="one")}, 400, "device_id"),
        ("number_shots 0", "POST", "/circuits", {"json": job_body(number_shots=0)}, 400, "number_shots"),
        ("number_shots -5", "POST", "/circuits", {"json": job_body(number_shots=-5)}, 400, "number_shots"),
        ("number_shots 1.5", "POST", "/circuits", {"json": job_body(number_shots=1.5)}, 400, "number_shots"),
        (
            "number_shots over the device limit (1000001)",
            "POST",
            "/circuits",
            {"json": job_body(number_shots=1_000_001)},
            422,
            "at most 1000000",
        ),
        (
            "unknown job_type `teleportation`",
            "POST",
            "/circuits",
            {"json": job_body(job_type="teleportation")},
            400,
            "job_type",
        ),
        (
            "description 42 (not a string)",
            "POST",
            "/circuits",
            {"json": job_body(description=42)},
            400,
            "description",
        ),
        (
            "no description",
            "POST",
            "/circuits",
            {"json": {k: v for k, v in job_body().items() if k != "description"}},
            400,
            "description",
        ),
        (
            "description that is not JSON",
            "POST",
            "/circuits",
            {"json": job_body(description="not json")},
            422,
            "description is not a JSON",
        ),
        (
            "description.data not base64",
            "POST",
            "/circuits",
            {"json": job_body(description=_envelope("!!!"))},
            422,
            "base64",
        ),
        (
            "description.data not gzip",
            "POST",
            "/circuits",
            {"json": job_body(description=_envelope(base64.b64encode(b"plain").decode()))},
            422,
            "gzip",
        ),
        (
            "description.data truncated gzip",
            "POST",
            "/circuits",
            {"json": job_body(description=_envelope(base64.b64encode(gzip.compress(b"[1]")[:-6]).decode()))},
            422,
            "gzip",
        ),
        (
            "description.data a gzip bomb (1 KiB inflating past 1 MiB)",
            "POST",
            "/circuits",
            {"json": job_body(description=_envelope(bomb))},
            413,
            "inflates",
        ),
        (
            "description.data gzip of Latin-1 text",
            "POST",
            "/circuits",
            {"json": job_body(description=_envelope(_gz64('["caf\xe9"]'.encode("latin-1"))))},
            422,
            "UTF-8",
        ),
        (
            "circuit payload an object, not a list",
            "POST",
            "/circuits",
            {"json": job_body(description=description({"qasm": BELL_QASM}))},
            422,
            "non-empty list",
        ),
        (
            "circuit payload an empty list",
            "POST",
            "/circuits",
            {"json": job_body(description=description([]))},
            422,
            "non-empty list",
        ),
        (
            "QASM without the OPENQASM header",
            "POST",
            "/circuits",
            {"json": job_body(description=description(["h q[0];"]))},
            422,
            "not an OpenQASM",
        ),
        (
            "compression `zip`",
            "POST",
            "/circuits",
            {"json": job_body(description=_envelope(_gz64(b"[]"), compression="zip"))},
            422,
            "compression",
        ),
        (
            "body over the 256 KiB limit (Content-Length)",
            "POST",
            "/circuits",
            {"json": job_body(summary="x" * (MAX_BODY + 1))},
            413,
            "limit",
        ),
        (
            "body over the limit, streamed without Content-Length",
            "POST",
            "/circuits",
            _raw(_oversized_stream()),
            413,
            "limit",
        ),
        ("unknown device 4242", "POST", "/circuits", {"json": job_body(device_id=4242)}, 404, "4242"),
        (
            "offline device",
            "POST",
            "/circuits",
            {"json": job_body(device_id=server.devices["offline"])},
            409,
            "offline",
        ),
        ("another user's user_id", "POST", "/circuits", {"json": job_body(user_id=bob_id)}, 403, "user_id"),
        ("device_id 2**70", "POST", "/circuits", {"json": job_body(device_id=2**70)}, 400, "64-bit"),
        (
            "a lone surrogate `\\ud800` in name",
            "POST",
            "/circuits",
            _raw(json.dumps(job_body(name="\ud800")).encode()),
            400,
            "Unicode",
        ),
        ("JSON nested 100000 deep", "POST", "/circuits", _raw(b"[" * 100_000 + b"]" * 100_000), 400, ""),
        ("job id `abc` in the path", "GET", "/jobs/abc", {}, 404, ""),
        ("job id 2**70 in the path", "GET", f"/jobs/{2**70}", {}, 400, "64-bit"),
        ("per_page 1001", "GET", "/jobs?per_page=1001", {}, 400, "per_page"),
        ("page `None`", "GET", "/jobs?page=None", {}, 400, "page"),
        (
            "cancel body naming another job_id",
            "PUT",
            "/jobs/cancel/1",
            {"json": {"job_id": 2}},
            400,
            "job_id",
        ),
        (
            "login assertion not base64",
            "POST",
            login,
            {"json": {"grantType": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "%%%"}},
            400,
            "assertion",
        ),
        (
            "login with grantType `password`",
            "POST",
            login,
            {"json": {"grantType": "password", "assertion": good_assertion}},
            400,
            "grantType",
        ),
        (
            "user_id of the caller (accepted)",
            "POST",
            "/circuits",
            {"json": job_body(user_id=alice_id)},
            201,
            "",
        ),
        (
            "a gzip-encoded body (Content-Encoding: gzip)",
            "POST",
            "/circuits",
            {
                "content": gzip.compress(json.dumps(job_body()).encode()),
                "headers": {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            },
            415,
            "Content-Encoding",
        ),
        (
            "Idempotency-Key of 201 characters",
            "POST",
            "/circuits",
            {"json": job_body(), "headers": {"Idempotency-Key": "k" * 201}},
            400,
            "Idempotency-Key",
        ),
        (
            "Idempotency-Key `table-key`, first use",
            "POST",
            "/circuits",
            {"json": job_body(name="first"), "headers": {"Idempotency-Key": "table-key"}},
            201,
            "",
        ),
        (
            "Idempotency-Key `table-key` again with another body",
            "POST",
            "/circuits",
            {"json": job_body(name="second"), "headers": {"Idempotency-Key": "table-key"}},
            422,
            "different submission",
        ),
        (
            "login assertion of 100 000 characters (a 75 KB username)",
            "POST",
            login,
            {"json": {"grantType": GRANT, "assertion": assertion(server.url, "u" * 75_000, "whatever-key")}},
            400,
            "assertion has 100",
        ),
        (
            "login with a 6000-character username",
            "POST",
            login,
            {"json": {"grantType": GRANT, "assertion": assertion(server.url, "u" * 6000, "whatever-key")}},
            401,
            "Wrong username or API key",
        ),
    ]


def _problem_text(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", "")
    except (ValueError, AttributeError):
        detail = response.text[:120]
    return f"{response.status_code} {detail}"[:160]


class CountingTransport(httpx.BaseTransport):
    """The real transport, counting what reaches the wire."""

    def __init__(self) -> None:
        self._real = httpx.HTTPTransport()
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path}")
        return self._real.handle_request(request)

    def close(self) -> None:
        self._real.close()


def _measure_only() -> Any:
    from qibo import Circuit, gates

    circuit = Circuit(2)
    circuit.add(gates.M(0, 1))
    return circuit


def _empty_circuit() -> Any:
    from qibo import Circuit

    return Circuit(2)


def _iswap() -> Any:
    from qibo import Circuit, gates

    circuit = Circuit(2)
    circuit.add([gates.H(0), gates.iSWAP(0, 1), gates.M(0, 1)])
    return circuit


# (what is given, the circuit, the counts it must give on the simulator): circuits a simulator runs.
def accepted_circuits() -> list[tuple[str, Callable[[], Any], dict[str, int]]]:
    return [
        ("a circuit with only measurements (a readout check of 00)", _measure_only, {"00": 10}),
        ("a circuit with no measurement, on the simulator", lambda: x_circuit_unmeasured("10"), {"10": 10}),
        ("an empty Circuit(2), on the simulator", _empty_circuit, {"00": 10}),
    ]


def x_circuit_unmeasured(bits: str) -> Any:
    from qibo import Circuit, gates

    circuit = Circuit(len(bits))
    circuit.add([gates.X(q) for q, bit in enumerate(bits) if bit == "1"])
    return circuit


def client_cases(server: Any) -> list[tuple[str, Callable[[API], Any], type[BaseException], str, bool]]:
    """(what is given, the call, the error expected, a fragment of its message, whether a request may be sent)."""
    bell = x_circuit("11")
    offline, maintenance = server.devices["offline"], server.devices["maintenance"]
    return [
        (
            'nshots `"10"` (a string)',
            lambda api: api.execute(bell, nshots="10", device_id=1),
            ValueError,
            "nshots",
            False,
        ),
        ("nshots 0", lambda api: api.execute(bell, nshots=0, device_id=1), ValueError, "nshots", False),
        ("nshots -1", lambda api: api.execute(bell, nshots=-1, device_id=1), ValueError, "nshots", False),
        ("nshots True", lambda api: api.execute(bell, nshots=True, device_id=1), ValueError, "nshots", False),
        (
            "nshots 1000001, over the device's limit",
            lambda api: api.execute(bell, nshots=1_000_001, device_id=1),
            ValueError,
            "limit",
            True,
        ),
        (
            "a string instead of a Circuit",
            lambda api: api.execute("H 0", nshots=10, device_id=1),
            TypeError,
            "qibo Circuit",
            False,
        ),
        (
            "an empty list of circuits",
            lambda api: api.execute([], nshots=10, device_id=1),
            ValueError,
            "empty",
            False,
        ),
        (
            "an iSWAP circuit (qibo writes `iswap`, which its parser does not define)",
            lambda api: api.execute(_iswap(), nshots=10, device_id=1),
            ValueError,
            "uses gate 'iswap'",
            False,
        ),
        (
            "unknown device 999",
            lambda api: api.execute(bell, nshots=10, device_id=999),
            NotFoundError,
            "999",
            True,
        ),
        (
            "offline device",
            lambda api: api.execute(bell, nshots=10, device_id=offline),
            DeviceNotAvailableError,
            "offline",
            True,
        ),
        (
            "device in maintenance",
            lambda api: api.execute(bell, nshots=10, device_id=maintenance),
            DeviceNotAvailableError,
            "maintenance",
            True,
        ),
        (
            'device_id `"1"` (a string)',
            lambda api: api.execute(bell, nshots=10, device_id="1"),
            TypeError,
            "device_id",
            False,
        ),
        ("no device at all", lambda api: api.execute(bell, nshots=10), ValueError, "No device", False),
        (
            "both device_id and device_ids",
            lambda api: api.execute(bell, nshots=10, device_id=1, device_ids=[1]),
            ValueError,
            "not both",
            False,
        ),
        (
            "qprogram 42 (not a string)",
            lambda api: api.execute(qprogram=42, nshots=10, device_id=1),
            TypeError,
            "qprogram",
            False,
        ),
        (
            "anneal_program_args a list",
            lambda api: api.execute(anneal_program_args=[1], nshots=10, device_id=1),
            TypeError,
            "dict",
            False,
        ),
        (
            "a circuit and a qprogram together",
            lambda api: api.execute(bell, qprogram="x", nshots=10, device_id=1),
            ValueError,
            "only one",
            False,
        ),
        (
            "nothing to run",
            lambda api: api.execute(nshots=10, device_id=1),
            ValueError,
            "Nothing to run",
            False,
        ),
        (
            "submit_qasm of text that is not QASM",
            lambda api: api.submit_qasm("hello world", device_id=1),
            ValueError,
            "OpenQASM",
            False,
        ),
        (
            "submit_qasm of an empty text",
            lambda api: api.submit_qasm("   ", device_id=1),
            ValueError,
            "empty",
            False,
        ),
        ('get_job(`"5"`)', lambda api: api.get_job("5"), TypeError, "job_id", False),
        ("wait(timeout=-1)", lambda api: api.wait([1], timeout=-1), ValueError, "timeout", False),
        (
            "wait(interval=-1)",
            lambda api: api.wait([1], timeout=5, interval=-1),
            ValueError,
            "interval",
            False,
        ),
        ("cancel_job(1.5)", lambda api: api.cancel_job(1.5), TypeError, "job_id", False),
    ]


# (what the stored result is, the raw ``result`` column, fragment of the ResultDecodeError)
def corrupt_results() -> list[tuple[str, str, str]]:
    inflating = gzip.compress(b"[" + b"0," * MAX_INFLATED + b"0]", 9)
    bomb = base64.b64encode(inflating).decode()
    bomb_hidden = base64.b64encode(inflating + gzip.compress(b"")).decode()
    return [
        ("result that is not JSON or base64", "%%% not a result %%%", "neither an envelope"),
        ("result envelope whose data is not base64", _envelope("!!!"), "base64"),
        ("result envelope whose data is not gzip", _envelope(base64.b64encode(b"plain").decode()), "gzip"),
        ("result envelope holding gzip of non-JSON", _envelope(_gz64(b"{oops")), "JSON"),
        (
            "result gzip bomb (inflating past the 1 MiB client limit)",
            _envelope(bomb),
            "QIBOCONNECTION_MAX_RESULT_BYTES",
        ),
        (
            "result gzip bomb whose last gzip member states a size of 0",
            _envelope(bomb_hidden),
            "over the 1048576 byte limit",
        ),
        (
            "result envelope with compression `lzma`",
            _envelope(_gz64(b"[]"), compression="lzma"),
            "compression",
        ),
    ]


# (what the stored result's table holds, the result entry, fragment of the ResultDecodeError of state())
def corrupt_tables() -> list[tuple[str, dict[str, Any], str]]:
    return [
        (
            "final_state index 10^15 (a 2^50-entry array)",
            {"counts": {"1": 1}, "final_state": {"0": "(1+0j)", "1000000000000000": "(0+0j)"}},
            "2^50 entries",
        ),
        (
            "final_state index 10^30 (past int64)",
            {"counts": {"1": 1}, "final_state": {"0": "(1+0j)", "1" + "0" * 30: "(0+0j)"}},
            "out of range",
        ),
        (
            "final_state index -1",
            {"counts": {"1": 1}, "final_state": {"-1": "(1+0j)"}},
            "index -1, out of range",
        ),
        (
            "final_state key `abc`",
            {"counts": {"1": 1}, "final_state": {"abc": "(1+0j)"}},
            "neither a bitstring nor an index",
        ),
    ]


def _write_table(rows: list[Row]) -> None:
    target = os.environ.get("QIBOCONNECTION_BAD_INPUT_TABLE")
    if not target:
        return
    lines = ["| # | side | input | expected | got |", "| --- | --- | --- | --- | --- |"]
    for number, row in enumerate(rows, 1):
        cells = [
            str(number),
            row.side,
            row.given,
            row.expected,
            row.got.replace("|", "\\|").replace("\n", " "),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    Path(target).write_text("\n".join(lines) + "\n")


def test_bad_input_table(make_server):
    rows: list[Row] = []
    with make_server(workers=1, max_body_bytes=MAX_BODY, max_decompressed_bytes=MAX_INFLATED) as server:
        alice_http, bob_http = client_for(server, "alice"), client_for(server, "bob")
        with alice_http, bob_http:
            import jwt

            alice_id = jwt.decode(
                alice_http.headers["authorization"][7:], options={"verify_signature": False}
            )["user_id"]
            bob_id = jwt.decode(bob_http.headers["authorization"][7:], options={"verify_signature": False})[
                "user_id"
            ]
            for given, method, path, kwargs, status, fragment in server_cases(server, alice_id, bob_id):
                response = alice_http.request(method, path, **kwargs)
                rows.append(Row("server", given, f"{status} {fragment}".strip(), _problem_text(response)))
                assert response.status_code == status, (given, response.text)
                if status >= 400:
                    assert response.headers["content-type"].startswith("application/problem+json"), given
                    assert fragment in response.json()["detail"], (given, response.json())

            # A program that has the header but does not parse is accepted; the job then fails, saying why.
            bad_qasm = (
                'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nfrobnicate q[0];\nmeasure q[0] -> c[0];'
            )
            created = alice_http.post("/circuits", json=job_body(description=description([bad_qasm])))
            assert created.status_code == 201
            job_id = created.json()["job_id"]
            job = _wait(alice_http, job_id)
            rows.append(
                Row(
                    "server",
                    "QASM with the header but an unknown gate",
                    "201, then job `error` naming it",
                    f"201, job {job['status']}: {job['error']}"[:160],
                )
            )
            assert job["status"] == "error" and job["error"]

            # A request of a few kilobytes that would hold a worker for minutes, cancelled while it runs.
            wedged = alice_http.post("/circuits", json=job_body(description=description([_wedged_qasm()])))
            wedged_id = wedged.json()["job_id"]
            _wait_running(alice_http, wedged_id)
            cancel = alice_http.put(f"/jobs/cancel/{wedged_id}", json={"job_id": wedged_id})
            stopped = _wait(alice_http, wedged_id)
            following = _wait(alice_http, alice_http.post("/circuits", json=job_body()).json()["job_id"])
            rows.append(
                Row(
                    "server",
                    "a 110 000-gate circuit (a request of a few KiB), cancelled while it runs",
                    "201, 204, job `cancelled`, the next job completes",
                    f"{wedged.status_code}, {cancel.status_code}, job {stopped['status']},"
                    f" next job {following['status']}",
                )
            )
            assert (wedged.status_code, cancel.status_code) == (201, 204)
            assert stopped["status"] == "cancelled" and following["status"] == "completed"

        transport = CountingTransport()
        alice = server.users["alice"]
        settings = Settings(base_url=server.url, retry=QUICK, progress=False, max_result_bytes=MAX_INFLATED)
        with API(
            ConnectionConfiguration(username=alice.username, api_key=alice.api_key),
            settings=settings,
            transport=transport,
        ) as api:
            for given, action, error, fragment, may_send in client_cases(server):
                transport.sent.clear()
                with pytest.raises(error, match=None) as raised:
                    action(api)
                got = f"{type(raised.value).__name__}: {raised.value}"
                submitted = [line for line in transport.sent if line.startswith("POST")]
                rows.append(
                    Row(
                        "client",
                        given,
                        f"{error.__name__} ({fragment}), nothing submitted",
                        f"{got} [requests: {len(transport.sent)}]"[:200],
                    )
                )
                assert fragment in str(raised.value), (given, got)
                assert not submitted, (given, transport.sent)
                if not may_send:
                    assert transport.sent == [], (given, transport.sent)
            for given, build, counts in accepted_circuits():
                job_id = api.execute(build(), nshots=10, device_id=1)
                [job] = api.wait([job_id], timeout=60, interval=0.05)
                got = f"{job.status}: counts {dict(job.result[0].frequencies()) if job.result else None}"
                rows.append(Row("client", given, f"runs: completed, counts {counts}", got))
                assert job.status == "completed" and dict(job.result[0].frequencies()) == counts, (given, got)

            # An online quantum device refuses a circuit without measurement before anything is submitted.
            quantum = server.devices["maintenance"]
            admin = server.users["admin"]
            with API(
                ConnectionConfiguration(username=admin.username, api_key=admin.api_key), settings=settings
            ) as admin_api:
                admin_api.set_device_to_online(quantum)
                try:
                    transport.sent.clear()
                    with pytest.raises(ValueError) as raised:
                        api.execute(x_circuit_unmeasured("1"), nshots=10, device_id=quantum)
                    got = f"{type(raised.value).__name__}: {raised.value}"
                    rows.append(
                        Row(
                            "client",
                            "a circuit with no measurement, on an online quantum device",
                            "ValueError (device, no measurement), nothing submitted",
                            f"{got} [requests: {len(transport.sent)}]"[:200],
                        )
                    )
                    assert f"Device {quantum} (Galadriel) is a quantum_device" in got
                    assert "no measurement" in got
                    assert not [line for line in transport.sent if line.startswith("POST")]
                finally:
                    admin_api.set_device_to_maintenance(quantum)

            job_ids = []
            for given, raw, fragment in corrupt_results():
                job_ids.append((given, raw, fragment, api.execute(x_circuit("1"), nshots=1, device_id=1)))
            api.wait([job_id for *_, job_id in job_ids], timeout=60, interval=0.1)
            with sqlite3.connect(server.db_path) as conn:
                for _, raw, _, job_id in job_ids:
                    conn.execute(
                        "UPDATE jobs SET status = 'completed', result = ? WHERE id = ?", (raw, job_id)
                    )
            for given, _, fragment, job_id in job_ids:
                with pytest.raises(ResultDecodeError) as raised:
                    api.get_job(job_id).result  # noqa: B018 - reading the property decodes
                got = f"{type(raised.value).__name__}: {raised.value}"
                rows.append(Row("client", given, f"ResultDecodeError ({fragment})", got[:200]))
                assert fragment in str(raised.value), (given, got)
                assert isinstance(raised.value, QiboconnectionError)
            table_jobs = []
            for given, entry, fragment in corrupt_tables():
                table_jobs.append(
                    (given, entry, fragment, api.execute(x_circuit("1"), nshots=1, device_id=1))
                )
            api.wait([job_id for *_, job_id in table_jobs], timeout=60, interval=0.1)
            with sqlite3.connect(server.db_path) as conn:
                for _, entry, _, job_id in table_jobs:
                    conn.execute(
                        "UPDATE jobs SET status = 'completed', result = ? WHERE id = ?",
                        (_envelope(_gz64(json.dumps([entry]).encode())), job_id),
                    )
            for given, _, fragment, job_id in table_jobs:
                [result] = api.get_job(job_id).result
                with pytest.raises(ResultDecodeError) as raised:
                    result.state()
                got = f"{type(raised.value).__name__}: {raised.value}"
                rows.append(
                    Row(
                        "client",
                        f"result whose {given}, read with state()",
                        f"ResultDecodeError ({fragment})",
                        got[:200],
                    )
                )
                assert fragment in str(raised.value), (given, got)
    rows += hostile_answer_rows()
    _write_table(rows)
    assert len(rows) >= 30
    assert all("500" not in row.got.split(" ")[0] for row in rows)


#: What a hostile or broken service's answer to ``get_job(1)`` gives (see ``hostile_server.py``).
HOSTILE_ANSWERS = [
    ("an answer with no length that never ends", "endless", "AnswerTooLargeError"),
    ("a chunked answer that never ends", "endless_chunked", "AnswerTooLargeError"),
    ("a 1 MB gzip body inflating to 1 GiB", "gzip_bomb", "AnswerTooLargeError"),
    ("a body dripping a byte every 0.2 s", "drip", "RequestTimeoutError"),
    ("headers dripping a byte every 0.2 s", "drip_headers", "RequestTimeoutError"),
    ("`Content-Length: 10**12`", "giant_length", "AnswerTooLargeError"),
    ("a chunk size of 2**64 - 1", "giant_chunk", "AnswerTooLargeError"),
    ("a 307 redirect elsewhere", "redirect", "RemoteExecutionException"),
    ("a 200 HTML page", "html_200", "QiboconnectionError"),
    ("a 5 MB HTML error page (500)", "html_500", "ServerError"),
    ("the record of another job", "other_job", "QiboconnectionError"),
]


def hostile_answer_rows() -> list[Row]:
    """Each hostile answer against the client: the error it raises (and that it is one of ours)."""
    import time

    from .hostile_server import gzip_bomb, hostile

    rows = []
    settings = dict(timeout=1.0, max_answer_bytes=8 << 20, progress=False, retry=QUICK)
    for given, mode, expected in HOSTILE_ANSWERS:
        with hostile(mode, gzip_bomb(256 << 20) if mode == "gzip_bomb" else b"") as server:
            started = time.monotonic()
            with (
                pytest.raises(QiboconnectionError) as raised,
                API(
                    ConnectionConfiguration("mallory", "key"),
                    settings=Settings(base_url=server.url, **settings),
                ) as api,
            ):
                api.get_job(1)
            seconds = time.monotonic() - started
        got = f"{type(raised.value).__name__}: {raised.value}"
        rows.append(
            Row(
                "client",
                f"service answers {given}",
                f"{expected}, in bounded time",
                f"{got[:160]} [{seconds:.1f} s]",
            )
        )
        assert type(raised.value).__name__ == expected, (given, got)
        assert len(str(raised.value)) < 1000 and seconds < 10, (given, got, seconds)
    return rows


def _wait(client: httpx.Client, job_id: int) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 30
    while True:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("completed", "error", "cancelled"):
            return job
        assert time.monotonic() < deadline
        time.sleep(0.05)


GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _wedged_qasm() -> str:
    # 9 characters of JSON each (the newline escaped): just under the 1 MiB inflation limit of the table.
    gates = "h q[0];\n" * 110_000
    return f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[20];\ncreg c[20];\n{gates}measure q[0] -> c[0];'


def _wait_running(client: httpx.Client, job_id: int) -> None:
    import time

    deadline = time.monotonic() + 30
    while client.get(f"/jobs/{job_id}").json()["status"] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.02)
