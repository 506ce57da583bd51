"""Circuits the device can run are sent; what it cannot run is refused before any job exists.

Each circuit runs through ``execute`` against the local server and is compared with qibo's own
simulation on the numpy backend.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from qibo import Circuit, gates

from qiboconnection.api import API

from .conftest import connect

SIMULATOR = 1


@pytest.fixture(scope="module", autouse=True)
def numpy_backend() -> Iterator[None]:
    import qibo

    before = qibo.get_backend().name
    qibo.set_backend("numpy")
    yield
    qibo.set_backend(before)


def _run(api: API, circuit: Circuit, nshots: int = 200) -> Any:
    job_id = api.execute(circuit, nshots=nshots, device_id=SIMULATOR)
    [job] = api.wait([job_id], timeout=60, interval=0.05)
    assert job.status == "completed", job.error
    [result] = job.result
    return result


def _qibo_state(circuit: Circuit) -> np.ndarray:
    """The final state qibo's numpy simulator gives for ``circuit`` without its measurements."""
    bare = Circuit(circuit.nqubits)
    bare.add([gate for gate in circuit.queue if not isinstance(gate, gates.M)])
    return np.asarray(bare().state(), dtype=complex)


def _jobs_in(db_path: Any) -> int:
    with sqlite3.connect(db_path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


def test_measurement_only_circuit_runs_and_reads_all_zeros(alice: API) -> None:
    circuit = Circuit(3)
    circuit.add(gates.M(0, 1, 2))
    result = _run(alice, circuit, nshots=50)
    expected = circuit.copy(deep=True)(nshots=50).frequencies(binary=True)
    assert dict(result.frequencies()) == dict(expected) == {"000": 50}
    assert result.state().tolist() == pytest.approx(_qibo_state(circuit).tolist())


@pytest.mark.parametrize("bits", ["1", "10", "011", "1101"])
def test_readout_of_prepared_basis_states_matches_qibo(alice: API, bits: str) -> None:
    circuit = Circuit(len(bits))
    circuit.add([gates.X(q) for q, bit in enumerate(bits) if bit == "1"])
    circuit.add(gates.M(*range(len(bits))))
    result = _run(alice, circuit, nshots=20)
    expected = circuit.copy(deep=True)(nshots=20).frequencies(binary=True)
    assert dict(result.frequencies()) == dict(expected) == {bits: 20}
    assert abs(np.vdot(_qibo_state(circuit), result.state())) ** 2 == pytest.approx(1.0, abs=1e-9)


def test_unmeasured_circuit_on_the_simulator_gives_qibos_final_state(alice: API) -> None:
    circuit = Circuit(3)
    circuit.add([gates.H(0), gates.CNOT(0, 1), gates.RY(2, theta=0.7), gates.CZ(1, 2)])
    assert not circuit.measurements
    result = _run(alice, circuit, nshots=300)
    reference = _qibo_state(circuit)
    state = result.state()
    assert state.shape == (8,)
    assert abs(np.vdot(reference, state)) ** 2 == pytest.approx(1.0, abs=1e-9)
    assert result.state_probabilities() == pytest.approx(np.abs(reference) ** 2, abs=1e-12)
    # With no measurement every qubit is read: probabilities and counts cover all three.
    assert result.probabilities() == pytest.approx(np.abs(reference) ** 2, abs=1e-12)
    assert result.nshots == 300
    assert all(len(key) == 3 for key in result.frequencies())
    assert set(result.frequencies()) <= {format(i, "03b") for i in np.flatnonzero(np.abs(reference) > 1e-12)}


def test_unmeasured_circuit_is_refused_on_a_quantum_device_before_any_job(make_server: Any) -> None:
    with make_server(workers=1) as server:
        quantum = server.devices["offline"]
        with connect(server, "admin") as admin:
            admin.set_device_to_online(quantum)
        circuit = Circuit(2)
        circuit.add([gates.H(0), gates.CNOT(0, 1)])
        with connect(server, "alice") as alice:
            device = alice.list_devices().select_device(quantum)
            assert device.type == "quantum_device" and device.is_online
            before = _jobs_in(server.db_path)
            with pytest.raises(
                ValueError, match=rf"Device {quantum} \(Radagast\) is a quantum_device"
            ) as raised:
                alice.execute(circuit, nshots=10, device_id=quantum)
            assert "no measurement" in str(raised.value)
            second = Circuit(2)
            second.add(gates.M(0))
            with pytest.raises(ValueError, match="circuit 1 has no measurement"):
                alice.execute([second, circuit], nshots=10, device_id=quantum)
            # The same check applies to OpenQASM sent as text; a comment naming measure does not count.
            text = circuit.to_qasm() + "\n// measure q[0] -> c[0];"
            with pytest.raises(ValueError, match="the circuit has no measurement"):
                alice.submit_qasm(text, device_id=quantum)
            assert _jobs_in(server.db_path) == before
            # The same circuit measured is taken by the quantum device, and a measurement-only one too.
            measured = Circuit(2)
            measured.add([gates.H(0), gates.CNOT(0, 1), gates.M(0, 1)])
            job_id = alice.execute([measured, second], nshots=10, device_id=quantum)
            assert isinstance(job_id, int)
            assert _jobs_in(server.db_path) == before + 1


def test_iswap_is_refused_naming_the_gate_before_any_job(alice: API, qaas_server: Any) -> None:
    circuit = Circuit(2)
    circuit.add([gates.H(0), gates.iSWAP(0, 1), gates.M(0, 1)])
    before = _jobs_in(qaas_server.db_path)
    with pytest.raises(ValueError, match=r"gate 'iswap' \(`iswap q\[0\],q\[1\]`\)") as raised:
        alice.execute(circuit, nshots=10, device_id=SIMULATOR)
    assert "cannot read back" in str(raised.value)
    with pytest.raises(ValueError, match=r"^circuit 1 uses gate 'iswap'"):
        alice.execute([Circuit(2), circuit], nshots=10, device_id=SIMULATOR)
    assert _jobs_in(qaas_server.db_path) == before


def test_count_keys_follow_measurement_order_as_qibo_gives_them(alice: API) -> None:
    circuit = Circuit(3)
    circuit.add([gates.X(0), gates.M(2, 0)])
    result = _run(alice, circuit, nshots=30)
    expected = circuit.copy(deep=True)(nshots=30).frequencies(binary=True)
    # Qubit 2 (measured first) reads 0 and qubit 0 reads 1: "01", not the qubit-order "10".
    assert dict(result.frequencies()) == dict(expected) == {"01": 30}
    assert result.samples().tolist() == [[0, 1]] * 30
    # probabilities are keyed by the measured qubits in ascending order: qubit 0, then qubit 2.
    assert result.probabilities_dict() == {"10": 1.0}


def test_qasm_problem_names_the_statement_or_gives_qibos_reason() -> None:
    from qiboconnection.programs import qasm_problem

    header = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\n'
    assert qasm_problem(header + "h q[0];\ncx q[0],q[1];") is None
    problem = qasm_problem(header + "h q[0];\nfrobnicate q[0],q[1];")
    assert problem is not None and problem.startswith("uses gate 'frobnicate' (`frobnicate q[0],q[1]`)")
    broken = qasm_problem(header + "h q[0")
    assert broken is not None and broken.startswith(
        "is written by qibo as OpenQASM that qibo cannot read back ("
    )
