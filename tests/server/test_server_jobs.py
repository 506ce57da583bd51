"""Submitting, running, reading, cancelling and deleting jobs."""

from __future__ import annotations

import sqlite3

import jwt

from .http_support import (
    BELL_QASM,
    assert_problem,
    client_for,
    decode_envelope,
    description,
    job_body,
    tokens,
    wait_for_job,
)


def test_bell_circuit_runs_on_the_simulator(clients):
    alice = clients("alice")
    response = alice.post("/circuits", json=job_body(number_shots=1000, name="bell"))
    assert response.status_code == 201, response.text
    job_id = response.json()["job_id"]
    job = wait_for_job(alice, job_id)
    assert job["status"] == "completed", job
    assert job["queue_position"] == 0
    assert job["name"] == "bell" and job["number_shots"] == 1000 and job["job_type"] == "circuit"
    (entry,) = decode_envelope(job["result"])
    assert set(entry["counts"]) <= {"00", "11"}
    assert sum(entry["counts"].values()) == 1000
    assert min(entry["counts"].values()) > 300
    assert set(entry["probabilities"]) == {"00", "11"}
    assert all(abs(p - 0.5) < 1e-9 for p in entry["probabilities"].values())
    assert len(entry["samples"]) == 1000
    assert all(sample in ([0, 0], [1, 1]) for sample in entry["samples"])
    assert set(entry["final_state"]) == {"0", "3"}
    assert complex(entry["final_state"]["0"]) == complex(entry["final_state"]["3"])
    assert abs(abs(complex(entry["final_state"]["0"])) ** 2 - 0.5) < 1e-9
    assert set(entry["final_state_probabilities"]) == {"0", "3"}


def test_several_circuits_give_one_entry_each(clients):
    alice = clients("alice")
    one_qubit = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nx q[0];\nmeasure q[0] -> c[0];'
    no_measure = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nx q[1];'
    job_id = alice.post(
        "/circuits", json=job_body([BELL_QASM, one_qubit, no_measure], number_shots=10)
    ).json()["job_id"]
    job = wait_for_job(alice, job_id)
    assert job["status"] == "completed", job
    bell, flipped, unmeasured = decode_envelope(job["result"])
    assert sum(bell["counts"].values()) == 10
    assert flipped["counts"] == {"1": 10}
    assert unmeasured["counts"] == {"01": 10}


def test_bad_qasm_and_too_many_qubits_end_in_error(clients):
    alice = clients("alice")
    broken = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nfrobnicate q[0];'
    job = wait_for_job(alice, alice.post("/circuits", json=job_body([broken])).json()["job_id"])
    assert job["status"] == "error"
    assert job["result"] is None
    assert "Circuit 0 is not valid OpenQASM" in job["error"]
    wide = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[25];\nh q[0];'
    job = wait_for_job(alice, alice.post("/circuits", json=job_body([BELL_QASM, wide])).json()["job_id"])
    assert job["status"] == "error"
    assert "Circuit 1 uses 25 qubits" in job["error"] and "at most 20" in job["error"]


def test_other_job_types_echo_their_payload(clients):
    alice = clients("alice")
    cases = {
        "qprogram": "serialized-qprogram",
        "annealing_program": {"anneal": [1, 2, 3]},
        "other": [1, "two"],
    }
    for job_type, payload in cases.items():
        job_id = alice.post("/circuits", json=job_body(payload, job_type=job_type, number_shots=7)).json()[
            "job_id"
        ]
        job = wait_for_job(alice, job_id)
        assert job["status"] == "completed", job
        result = decode_envelope(job["result"])
        assert result["echo"] == payload
        assert result["job_type"] == job_type and result["number_shots"] == 7
        assert "no hardware" in result["note"]
    vqa = job_body(job_type="vqa")
    vqa["description"] = description({"ansatz": "x"}, init_params=[0.1], optimizer_params={"maxiter": 3})
    job = wait_for_job(alice, alice.post("/circuits", json=vqa).json()["job_id"])
    result = decode_envelope(job["result"])
    assert result["echo"] == {"ansatz": "x"}
    assert result["init_params"] == [0.1] and result["optimizer_params"] == {"maxiter": 3}


def test_devices_that_take_no_jobs(qaas_server, clients):
    alice = clients("alice")
    for kind, status in (("maintenance", "maintenance"), ("offline", "offline")):
        device_id = qaas_server.devices[kind]
        response = alice.post("/circuits", json=job_body(device_id=device_id))
        assert_problem(response, 409, f"Device {device_id}", status)
    assert_problem(alice.post("/circuits", json=job_body(device_id=4242)), 404, "4242")


def test_submission_rules(qaas_server, clients):
    alice = clients("alice")
    assert_problem(
        alice.post("/circuits", json=job_body(number_shots=1_000_001)), 422, "number_shots", "1000000"
    )
    bob_id = jwt.decode(tokens(qaas_server, "bob")["accessToken"], options={"verify_signature": False})[
        "user_id"
    ]
    assert_problem(alice.post("/circuits", json=job_body(user_id=bob_id)), 403, "user_id")
    alice_id = jwt.decode(tokens(qaas_server, "alice")["accessToken"], options={"verify_signature": False})[
        "user_id"
    ]
    response = alice.post("/circuits", json=job_body(user_id=alice_id))
    assert response.status_code == 201
    assert alice.get(f"/jobs/{response.json()['job_id']}").json()["user_id"] == alice_id


def test_users_cannot_see_each_others_jobs(qaas_server, clients):
    alice, bob, admin = clients("alice"), clients("bob"), clients("admin")
    job_id = alice.post("/circuits", json=job_body(name="alice-private")).json()["job_id"]
    missing = f"Requested job with 'job_id': {job_id}, does not exist."
    assert assert_problem(bob.get(f"/jobs/{job_id}"), 404)["detail"] == missing
    assert (
        assert_problem(bob.put(f"/jobs/cancel/{job_id}", json={"job_id": job_id}), 404)["detail"] == missing
    )
    assert all(item["id"] != job_id for item in bob.get("/jobs", params={"per_page": 1000}).json()["items"])
    assert any(item["id"] == job_id for item in alice.get("/jobs", params={"per_page": 1000}).json()["items"])
    absent = 10**12
    assert assert_problem(bob.get(f"/jobs/{absent}"), 404)["detail"] == (
        f"Requested job with 'job_id': {absent}, does not exist."
    )
    assert admin.get(f"/jobs/{job_id}").json()["name"] == "alice-private"


def test_cancel_and_delete(make_server):
    with make_server(workers=0) as server:
        alice, admin = client_for(server, "alice"), client_for(server, "admin")
        first = alice.post("/circuits", json=job_body()).json()["job_id"]
        second = alice.post("/circuits", json=job_body()).json()["job_id"]
        third = alice.post("/circuits", json=job_body()).json()["job_id"]
        assert [alice.get(f"/jobs/{j}").json()["queue_position"] for j in (first, second, third)] == [0, 1, 2]
        devices = alice.get("/devices").json()["items"]
        assert devices[0]["number_pending_jobs"] == 3
        response = alice.put(f"/jobs/cancel/{first}", json={"job_id": first})
        assert response.status_code == 204 and response.content == b""
        assert alice.get(f"/jobs/{first}").json()["status"] == "cancelled"
        assert alice.get(f"/jobs/{third}").json()["queue_position"] == 1
        assert_problem(alice.put(f"/jobs/cancel/{first}", json={"job_id": first}), 409, "cancelled")
        assert_problem(alice.put(f"/jobs/cancel/{second}", json={"job_id": third}), 400, "job_id")
        # A running job can be cancelled; the worker's result is then discarded.
        assert server.app.store.claim_job(second)["status"] == "running"
        assert alice.get(f"/jobs/{second}").json()["status"] == "running"
        assert alice.put(f"/jobs/cancel/{second}", json={"job_id": second}).status_code == 204
        assert server.app.store.finish_job(second, "completed", "{}", None, 0.1) is False
        assert alice.get(f"/jobs/{second}").json()["status"] == "cancelled"
        assert alice.get(f"/jobs/{second}").json()["result"] is None
        # Deleting is for admins.
        assert_problem(alice.delete(f"/jobs/{third}"), 403, "admin")
        assert admin.delete(f"/jobs/{third}").status_code == 204
        assert_problem(alice.get(f"/jobs/{third}"), 404, "does not exist")
        assert_problem(admin.delete(f"/jobs/{third}"), 404, "does not exist")


def test_finished_jobs_cannot_be_cancelled(clients):
    alice = clients("alice")
    job_id = alice.post("/circuits", json=job_body()).json()["job_id"]
    assert wait_for_job(alice, job_id)["status"] == "completed"
    assert_problem(alice.put(f"/jobs/cancel/{job_id}", json={"job_id": job_id}), 409, "completed")
    assert alice.get(f"/jobs/{job_id}").json()["status"] == "completed"


def test_idempotency_key_never_creates_a_second_job(clients):
    alice, bob = clients("alice"), clients("bob")
    body = job_body(name="once")
    headers = {"Idempotency-Key": "retry-me-1"}
    before = alice.get("/jobs").json()["total"]
    first = alice.post("/circuits", json=body, headers=headers)
    again = alice.post("/circuits", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["job_id"] == again.json()["job_id"]
    assert alice.get("/jobs").json()["total"] == before + 1
    different = alice.post("/circuits", json=job_body(name="other"), headers=headers)
    assert_problem(different, 422, "Idempotency-Key")
    # Keys belong to their user.
    bobs = bob.post("/circuits", json=body, headers=headers)
    assert bobs.status_code == 201 and bobs.json()["job_id"] != first.json()["job_id"]
    without_key = alice.post("/circuits", json=body)
    assert without_key.json()["job_id"] != first.json()["job_id"]


def test_restart_runs_jobs_left_queued_or_running(make_server, tmp_path):
    db_path = tmp_path / "durable.sqlite3"
    with make_server(db_path=db_path, workers=0) as server:
        users = server.users
        alice = client_for(server, "alice")
        job_ids = [alice.post("/circuits", json=job_body(number_shots=50)).json()["job_id"] for _ in range(3)]
        assert {alice.get(f"/jobs/{j}").json()["status"] for j in job_ids} == {"queued"}
    # A server that stopped in the middle of a job leaves it running.
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE jobs SET status = 'running' WHERE id = ?", (job_ids[0],))
    with make_server(db_path=db_path, users=users, workers=2) as server:
        alice = client_for(server, "alice")
        for job_id in job_ids:
            job = wait_for_job(alice, job_id)
            assert job["status"] == "completed", job
            assert sum(decode_envelope(job["result"])[0]["counts"].values()) == 50
        assert alice.get("/jobs").json()["total"] == 3


def test_jobs_of_prepared_programs_run_on_the_event_loop(make_server):
    """A repeated small program completes straight from queued (no worker claims it), with a result
    as good as a worker's."""
    from qiboconnection.server.simulator import run_prepared

    with make_server() as server, client_for(server, "alice") as alice:
        program = BELL_QASM.replace("h q[0];", "h q[0];\nx q[1];\nx q[1];")
        first = alice.post("/circuits", json=job_body([program], number_shots=500)).json()["job_id"]
        assert wait_for_job(alice, first)["status"] == "completed"
        assert run_prepared([program], 500, 20, True) is not None, "the first job prepared the program"
        ids = [
            alice.post("/circuits", json=job_body([program], number_shots=500)).json()["job_id"]
            for _ in range(20)
        ]
        claimed: list[int] = []
        store = server.app.store
        claim = store.claim_job
        store.claim_job = lambda job_id: claimed.append(job_id) or claim(job_id)
        try:
            for job_id in ids:
                job = wait_for_job(alice, job_id)
                assert job["status"] == "completed", job
                (entry,) = decode_envelope(job["result"])
                assert set(entry["counts"]) <= {"00", "11"} and sum(entry["counts"].values()) == 500
                assert len(entry["samples"]) == 500 and set(entry["final_state"]) == {"0", "3"}
                assert job["started_at"] <= job["finished_at"] and job["duration"] >= 0
        finally:
            store.claim_job = claim
        assert claimed == []


def test_prepared_programs_are_drawn_only_when_small():
    from qiboconnection.server import simulator

    program = BELL_QASM.replace("cx q[0],q[1];", "cx q[0],q[1];\nz q[0];")
    assert simulator.run_prepared([program], 10, 20, True) is None, "not prepared yet"
    simulator.run_circuits([program], 10, 20, True)
    (entry,) = simulator.run_prepared([program], 10, 20, True)
    assert sum(entry["counts"].values()) == 10
    assert simulator.run_prepared([program], 10, 1, True) is None, "wider than the device"
    too_many = simulator.PREPARED_MAX_VALUES // 2 + 1
    assert simulator.run_prepared([program], too_many, 20, False) is None
    assert len(simulator.run_prepared([program] * 3, 100, 20, False)) == 3


def test_a_job_cancelled_before_the_loop_runs_it_stays_cancelled(make_server):
    from qiboconnection.server.jobs import Submitted
    from qiboconnection.server.simulator import run_circuits

    run_circuits([BELL_QASM], 10, 20, True)
    with make_server(workers=0) as server, client_for(server, "alice") as alice:
        device = server.app.store.device_settings(1)
        kept, cancelled = (alice.post("/circuits", json=job_body()).json()["job_id"] for _ in range(2))
        assert alice.put(f"/jobs/cancel/{cancelled}", json={"job_id": cancelled}).status_code == 204
        for job_id in (kept, cancelled):
            server.app.jobs._run_here(job_id, 1, Submitted([BELL_QASM], 100, device))
        assert alice.get(f"/jobs/{kept}").json()["status"] == "completed"
        job = alice.get(f"/jobs/{cancelled}").json()
        assert job["status"] == "cancelled" and job["result"] is None
