"""The simulator's result entries, checked directly (no HTTP)."""

from __future__ import annotations

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
