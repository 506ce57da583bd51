"""Decoded results: qibo-style accessors over the service's per-circuit dicts."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from qiboconnection.results import QaaSCircuitResult, decode_job_result
from qiboconnection.serialization import encode_envelope

BELL = {
    "probabilities": {"00": 0.5, "11": 0.5},
    "counts": {"00": 3, "11": 1},
    "samples": [[0, 0], [1, 1], [0, 0], [0, 0]],
    "final_state": {"0": "(0.7071067811865475+0j)", "1": "0j", "2": "0j", "3": "(0.7071067811865475+0j)"},
    "final_state_probabilities": {"0": 0.5, "3": 0.5},
}


def test_dict_behaviour_is_kept() -> None:
    result = QaaSCircuitResult(BELL)
    assert result["counts"] == {"00": 3, "11": 1}
    assert set(result.keys()) == set(BELL)
    assert result.to_dict() == BELL
    assert result == BELL
    assert dict(result) == BELL
    assert isinstance(result, dict)
    assert json.loads(json.dumps(result)) == BELL


def test_qibo_style_accessors() -> None:
    result = QaaSCircuitResult(BELL)
    assert result.nqubits == 2
    assert result.nshots == 4
    assert result.frequencies() == Counter({"00": 3, "11": 1})
    assert result.frequencies(binary=False) == Counter({0: 3, 3: 1})
    np.testing.assert_allclose(result.probabilities(), [0.5, 0, 0, 0.5])
    assert result.probabilities_dict() == {"00": 0.5, "11": 0.5}
    samples = result.samples()
    assert samples.shape == (4, 2)
    assert samples.dtype == np.int64
    assert samples.tolist() == BELL["samples"]
    assert result.samples(binary=False).tolist() == [0, 3, 0, 0]
    np.testing.assert_allclose(result.state(), np.array([1, 0, 0, 1]) / np.sqrt(2))


def test_bitstrings_are_qubit_zero_first() -> None:
    result = QaaSCircuitResult({"counts": {"10": 5}, "probabilities": {"10": 1.0}})
    np.testing.assert_allclose(result.probabilities(), [0, 0, 1, 0])
    assert result.samples().tolist() == [[1, 0]] * 5


def test_without_samples_they_come_from_counts_and_vice_versa() -> None:
    from_counts = QaaSCircuitResult({"counts": {"01": 2, "00": 1}})
    assert sorted(map(tuple, from_counts.samples().tolist())) == [(0, 0), (0, 1), (0, 1)]
    assert from_counts.probabilities_dict() == {"00": 1 / 3, "01": 2 / 3}
    from_samples = QaaSCircuitResult({"samples": [[1], [1], [0]]})
    assert from_samples.frequencies() == Counter({"1": 2, "0": 1})


def test_state_with_bitstring_keys_and_odd_literals() -> None:
    state = QaaSCircuitResult(
        {"final_state": {"00": "1j", "01": "(-0-0.5j)", "10": "(1e-05+2e-07j)", "11": 0.25}}
    )
    np.testing.assert_allclose(state.state(), [1j, -0.5j, 1e-05 + 2e-07j, 0.25])


def test_state_missing_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="final_state"):
        QaaSCircuitResult({"counts": {"0": 1}}).state()


def test_large_state_vector_decodes_exactly() -> None:
    size = 1 << 20
    rng = np.random.default_rng(7)
    amplitudes = rng.normal(size=size) + 1j * rng.normal(size=size)
    table = {str(index): str(value) for index, value in enumerate(amplitudes.tolist())}
    decoded = QaaSCircuitResult({"final_state": table}).state()
    assert decoded.shape == (size,)
    np.testing.assert_array_equal(decoded, amplitudes)


def test_decode_job_result_by_type() -> None:
    circuits = decode_job_result(encode_envelope([BELL, BELL]), "circuit", job_id=1)
    assert len(circuits) == 2
    assert all(isinstance(item, QaaSCircuitResult) for item in circuits)
    assert decode_job_result(encode_envelope({"energy": -1}), "vqa") == {"energy": -1}
    assert decode_job_result(None, "circuit") is None
    single = decode_job_result(encode_envelope(BELL), "circuit")
    assert isinstance(single, list)
    assert single[0]["counts"] == BELL["counts"]
