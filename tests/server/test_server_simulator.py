"""The simulator's result entries, checked directly (no HTTP)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from qiboconnection.server.payloads import decode_result, encode_result
from qiboconnection.server.simulator import JobFailed, _bitstrings, _complex_literals, run_circuits

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'


def test_bitstrings_and_complex_literals_match_python_formatting():
    rng = np.random.default_rng(7)
    indices = rng.integers(0, 2**12, size=200)
    assert _bitstrings(indices, 12) == [format(int(i), "012b") for i in indices]
    assert _bitstrings(np.array([0, 1]), 1) == ["0", "1"]
    amplitudes = rng.normal(size=50) + 1j * rng.normal(size=50)
    amplitudes[:4] = [0, 1j, -0.5, complex(-0.0, -0.0)]
    assert _complex_literals(amplitudes) == [str(complex(a)) for a in amplitudes]
    assert _complex_literals(np.array([], dtype=complex)) == []


def test_partial_measurement_gives_marginal_probabilities():
    qasm = HEADER + "qreg q[3];\ncreg c[2];\nx q[0];\nh q[2];\nmeasure q[0] -> c[0];\nmeasure q[2] -> c[1];"
    (entry,) = run_circuits([qasm], 200, max_qubits=5, with_state=True)
    assert set(entry["probabilities"]) == {"10", "11"}
    assert all(abs(p - 0.5) < 1e-9 for p in entry["probabilities"].values())
    assert set(entry["counts"]) <= {"10", "11"} and sum(entry["counts"].values()) == 200
    # Basis index with qubit 0 as the most significant bit: |100> and |101>.
    assert set(entry["final_state"]) == {"4", "5"}
    assert all(abs(complex(a) - 2**-0.5) < 1e-9 for a in entry["final_state"].values())


def test_devices_without_state_and_limits():
    qasm = HEADER + "qreg q[1];\ncreg c[1];\nx q[0];\nmeasure q[0] -> c[0];"
    (entry,) = run_circuits([qasm], 5, max_qubits=5, with_state=False)
    assert entry["counts"] == {"1": 5} and "final_state" not in entry
    with pytest.raises(JobFailed, match="uses 6 qubits"):
        run_circuits([HEADER + "qreg a[3];\nqreg b[3];\nx a[0];"], 5, max_qubits=5, with_state=True)


def test_result_envelope_round_trip():
    payload = [{"counts": {"00": 3}, "final_state": {"0": "(1+0j)"}}]
    assert decode_result(encode_result(payload)) == payload


def _full_run(qasm: str, nshots: int) -> dict:
    """The entry of a run straight through qibo, without the cache of prepared programs."""
    from qibo import Circuit, gates

    from qiboconnection.server.simulator import _execute

    circuit = Circuit.from_qasm(qasm)
    if not circuit.measurements:
        circuit.add(gates.M(*range(circuit.nqubits)))
    return _execute(0, circuit, nshots, with_state=True)


@pytest.mark.parametrize(
    "body",
    [
        # Measured out of qubit order: counts and samples follow the measurement order.
        "qreg q[3];\ncreg c[2];\nx q[1];\nh q[2];\nmeasure q[1] -> c[0];\nmeasure q[0] -> c[1];",
        "qreg q[3];\ncreg c[3];\nx q[0];\nh q[2];\nry(0.3) q[1];\nmeasure q[2] -> c[0];\n"
        "measure q[0] -> c[1];\nmeasure q[1] -> c[2];",
        "qreg a[2];\nqreg b[1];\ncreg d[2];\nx b[0];\nh a[1];\nmeasure a[1] -> d[0];\nmeasure b[0] -> d[1];",
        # No measurement: every qubit is measured.
        "qreg q[2];\nh q[0];\ncx q[0],q[1];",
    ],
)
def test_repeated_programs_give_what_a_full_qibo_run_gives(body):
    qasm = HEADER + body
    full = _full_run(qasm, 2000)
    for _ in range(3):
        (entry,) = run_circuits([qasm], 2000, max_qubits=5, with_state=True)
        assert list(entry) == list(full)
        assert entry["probabilities"] == full["probabilities"]
        assert entry["final_state"] == full["final_state"]
        assert entry["final_state_probabilities"] == full["final_state_probabilities"]
        # Same outcomes possible, each seen about as often as its probability says.
        assert set(entry["counts"]) == set(full["counts"])
        assert sum(entry["counts"].values()) == 2000
        measured_probabilities = {k: v / 2000 for k, v in full["counts"].items()}
        for key, count in entry["counts"].items():
            assert abs(count / 2000 - measured_probabilities[key]) < 0.1
        seen = Counter("".join(map(str, shot)) for shot in entry["samples"])
        assert seen == entry["counts"]


def test_each_run_draws_its_own_shots():
    qasm = HEADER + "qreg q[1];\ncreg c[1];\nh q[0];\nmeasure q[0] -> c[0];"
    runs = [run_circuits([qasm], 256, max_qubits=5, with_state=False)[0]["samples"] for _ in range(4)]
    # Four identical sequences of 256 fair coin flips would mean the shots are not drawn afresh.
    assert len({str(samples) for samples in runs}) > 1
    assert all(len(samples) == 256 for samples in runs)


def test_a_program_that_does_not_parse_fails_each_time_with_its_position():
    bad = HEADER + "qreg q[1];\nfoo q[0];"
    good = HEADER + "qreg q[1];\nx q[0];"
    for index in (0, 1, 1):
        with pytest.raises(JobFailed, match=f"Circuit {index} is not valid OpenQASM 2.0"):
            run_circuits([good] * index + [bad], 5, max_qubits=5, with_state=False)


def test_a_collapsing_program_runs_afresh_each_time():
    # Measuring a qubit and then using it collapses the state: nothing is reused but the parsed program.
    qasm = (
        HEADER
        + "qreg q[2];\ncreg c[2];\nh q[0];\nmeasure q[0] -> c[0];\ncx q[0],q[1];\nmeasure q[1] -> c[1];"
    )
    for _ in range(2):
        (entry,) = run_circuits([qasm], 50, max_qubits=5, with_state=True)
        assert sum(entry["counts"].values()) == 50
        assert sum(entry["probabilities"].values()) == pytest.approx(1.0)
