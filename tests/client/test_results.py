"""Decoded results: qibo-style accessors over the service's per-circuit dicts."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import orjson
import pytest

from qiboconnection.errors import ResultDecodeError
from qiboconnection.results import QaaSCircuitResult, decode_job_result
from qiboconnection.serialization import encode_envelope, parse_complex_table, parse_number_table

from .damage import damage

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
    assert result.state_probabilities().tolist() == [0.5, 0, 0, 0.5]


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


def _lazy(entry: dict) -> QaaSCircuitResult:
    """A result decoded from the wire, with its large tables still held as JSON."""
    from qiboconnection.serialization import LAZY_TABLE_BYTES

    decoded = decode_job_result(encode_envelope([entry]), "circuit", job_id=3)[0]
    assert decoded._tables or len(json.dumps(entry)) < LAZY_TABLE_BYTES
    return decoded


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a.view(np.int64), b.view(np.int64)))


EDGE_LITERALS = ["0j", "-0j", "(1e-05-2.5e-07j)", "(-0-0j)", "(-0+0j)", "(0.5-0j)", "1j", "-2.5e-300j"]


def test_large_state_fast_path_matches_complex_exactly() -> None:
    rng = np.random.default_rng(11)
    size = 1 << 16
    scale = np.exp(rng.normal(size=(size, 2)) * 40)
    parts = rng.normal(size=(size, 2)) * scale
    literals = [str(complex(re, im)) for re, im in parts.tolist()]
    literals[: len(EDGE_LITERALS)] = EDGE_LITERALS
    literals[100:110] = [str(complex(0.0, x)) for x in rng.normal(size=10).tolist()]
    entry = {
        "counts": {"0" * 16: 1},
        "final_state": {str(i): text for i, text in enumerate(literals)},
        "final_state_probabilities": {str(i): float(p) for i, p in enumerate(rng.random(size).tolist())},
    }
    result = _lazy(entry)
    assert result._tables
    assert parse_complex_table(result._segment("final_state")) is not None  # the fast path read it
    assert parse_number_table(result._segment("final_state_probabilities")) is not None
    expected = np.array([complex(text) for text in literals], dtype=np.complex128)
    assert _same_bits(result.state(), expected)
    probabilities = np.array(list(entry["final_state_probabilities"].values()))
    assert _same_bits(result.state_probabilities(), probabilities)
    assert result._tables  # the accessors read the payload; the dict is not built yet
    assert result.to_dict() == entry
    assert list(result) == list(entry)


def test_large_tables_with_nan_and_odd_spellings_fall_back_exactly() -> None:
    size = 1 << 16
    odd = ["(nan+infj)", "(-inf-nanj)", "(1E5+2j)", "( 1+2j )", "+1j", ".5j", "5"]
    literals = [*odd, *[f"({i}e-3+{i}j)" for i in range(size - len(odd))]]
    result = _lazy({"final_state": {str(i): text for i, text in enumerate(literals)}})
    assert parse_complex_table(result._segment("final_state")) is None  # left to complex()
    decoded = result.state()
    np.testing.assert_array_equal(decoded, np.array([complex(text) for text in literals]))


def test_large_state_with_garbage_is_refused_clearly() -> None:
    size = 1 << 16
    literals = ["(0.5+0.5j)"] * size
    literals[77] = "(1+2j"
    result = _lazy({"final_state": {str(i): text for i, text in enumerate(literals)}})
    with pytest.raises(ValueError, match="malformed"):
        result.state()


def test_large_probabilities_with_bitstring_keys() -> None:
    nqubits = 16
    rng = np.random.default_rng(5)
    values = rng.random(1 << nqubits)
    order = rng.permutation(1 << nqubits)
    table = {format(int(i), f"0{nqubits}b"): float(values[i]) for i in order}
    result = _lazy({"counts": {"0" * nqubits: 3}, "probabilities": table})
    assert result._tables
    assert parse_number_table(result._segment("probabilities")) is not None
    assert _same_bits(result.probabilities(), values)
    assert result.nqubits == nqubits
    assert result.frequencies() == Counter({"0" * nqubits: 3})
    assert result["probabilities"] == table
    assert not result._tables


def test_lazy_result_behaves_as_the_plain_dict() -> None:
    size = 1 << 15
    entry = {
        "counts": {"00": 1},
        "final_state": {str(i): "(0.25+0j)" for i in range(size)},
        "samples": [[0, 0]],
    }
    for probe in (
        lambda r: r == entry,
        lambda r: dict(r) == entry,
        lambda r: json.loads(json.dumps(r)) == entry,
        lambda r: len(r) == 3 and "final_state" in r,
        lambda r: {**r} == entry,
        lambda r: r.get("final_state") == entry["final_state"],
        lambda r: sorted(r.keys()) == sorted(entry),
    ):
        assert probe(_lazy(entry))


def _table_segment(table: dict) -> np.ndarray:
    return np.frombuffer(json.dumps(table).encode(), dtype=np.uint8)


def test_complex_parser_agrees_with_complex_on_random_literals() -> None:
    rng = np.random.default_rng(2024)
    for _ in range(20):
        size = int(rng.integers(1, 400))
        pick = rng.integers(0, 5, size=size)
        # Magnitudes from 1e-300 to 1e300, so reprs with and without exponents both appear.
        parts = rng.normal(size=(size, 2)) * 10.0 ** rng.uniform(-300, 300, size=(size, 2))
        parts[pick == 0, 0] = 0.0  # pure imaginary: "bj"
        parts[pick == 1, 0] = -0.0
        parts[pick == 2, 1] = -0.0
        parts[pick == 3] = rng.integers(-3, 4, size=(int(np.sum(pick == 3)), 2))
        literals = [str(complex(re, im)) for re, im in parts.tolist()]
        keys = rng.permutation(size)
        table = {str(int(key)): text for key, text in zip(keys, literals, strict=True)}
        parsed = parse_complex_table(_table_segment(table))
        assert parsed is not None
        found, values = parsed
        expected = np.array([complex(text) for text in table.values()], dtype=np.complex128)
        assert np.array_equal(values.view(np.int64), expected.view(np.int64))
        assert np.array_equal(found.indices(None), np.array([int(key) for key in table]))


def test_complex_parser_declines_what_it_does_not_read() -> None:
    for text in ["(nan+infj)", "(1+2j", "1+2j)", "(1 +2j)", "(1--2j)", "(1+j)", "(+1j)", "1E5j", "abc", "()"]:
        table = {"0": "(0.5+0.5j)", "1": text, "2": "1j"}
        assert parse_complex_table(_table_segment(table)) is None, text
    assert parse_complex_table(_table_segment({"0": 1.5})) is None
    assert parse_complex_table(np.frombuffer(b'{"0": "1j" "1": "2j"}', dtype=np.uint8)) is None
    assert parse_complex_table(np.frombuffer(b'{"0": "1j", "1": "2j", }', dtype=np.uint8)) is None
    assert parse_complex_table(np.frombuffer(b'{"a": "1j"}', dtype=np.uint8)) is None


def test_number_parser_reads_json_numbers_exactly_and_declines_the_rest() -> None:
    rng = np.random.default_rng(3)
    values = [*(rng.normal(size=300) * 10.0 ** rng.uniform(-300, 300, size=300)).tolist(), 0, -0.0, 1, 1e308]
    table = {format(i, "09b"): value for i, value in enumerate(values)}
    parsed = parse_number_table(_table_segment(table))
    assert parsed is not None
    keys, decoded = parsed
    assert np.array_equal(decoded, np.array(values, dtype=np.float64))
    assert np.array_equal(keys.indices(9), np.arange(len(values)))
    for bad in ('{"0": "1"}', '{"0": null}', '{"0": true}', '{"0": [1]}', '{"0": 1 "1": 2}', '{"0": NaN}'):
        assert parse_number_table(np.frombuffer(bad.encode(), dtype=np.uint8)) is None, bad


@pytest.mark.parametrize("lazy", [False, True])
def test_huge_state_index_is_refused_naming_the_limit(lazy: bool) -> None:
    size = (1 << 16) if lazy else 4
    table = {str(i): "(0.5+0j)" for i in range(size)}
    table["1000000000000000"] = "(0.5+0j)"
    entry = {"counts": {"00": 1}, "final_state": table}
    result = _lazy(entry) if lazy else decode_job_result(encode_envelope([entry]), "circuit", job_id=4)[0]
    assert bool(result._tables) == lazy
    with pytest.raises(
        ResultDecodeError, match=r"2\^50 entries .* limit; set QIBOCONNECTION_MAX_RESULT_BYTES"
    ):
        result.state()


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"-3": "(1+0j)"}, "index -3, out of range"),
        ({"1" + "0" * 25: "(1+0j)"}, "out of range"),
        ({"x1": "(1+0j)"}, "neither a bitstring nor an index"),
    ],
)
def test_bad_state_keys_are_refused(table: dict, fragment: str) -> None:
    result = QaaSCircuitResult({"final_state": table}, job_id=6)
    with pytest.raises(ResultDecodeError, match=fragment) as raised:
        result.state()
    assert raised.value.job_id == 6


def test_long_bitstring_keys_are_refused_not_allocated() -> None:
    result = QaaSCircuitResult({"counts": {"0" * 70: 1}, "probabilities": {"0" * 70: 1.0}})
    with pytest.raises(ResultDecodeError, match="2\\^70 entries"):
        result.probabilities()


def test_sparse_state_over_unmeasured_qubits_is_placed_by_index() -> None:
    # A 20-qubit GHZ state read on two qubits: two entries, the second at index 2^20 - 1.
    result = QaaSCircuitResult({"counts": {"00": 2}, "final_state": {"0": "(0.5+0j)", "1048575": "(0.5+0j)"}})
    state = result.state()
    assert state.shape == (1 << 20,)
    assert state[0] == state[-1] == 0.5 and np.count_nonzero(state) == 2
    small = QaaSCircuitResult(
        {"counts": {"00": 2}, "final_state": {"0": "(0.5+0j)", "1048575": "(0.5+0j)"}}, max_bytes=1 << 20
    )
    with pytest.raises(ResultDecodeError, match="2\\^20 entries"):
        small.state()


def _plain_index(key: str, nqubits: int | None) -> int | None:
    """A key's index as the plain path reads it: a bitstring of ``nqubits`` characters in binary, else
    decimal; None for keys it refuses (not digits, or past the 18 digits of an index it can place)."""
    if not key.isdigit():
        return None
    if nqubits and len(key) == nqubits and set(key) <= {"0", "1"}:
        return int(key, 2)
    return int(key) if len(key) <= 18 else None


def _plain_table(text: bytes, complex_values: bool, nqubits: int | None) -> dict[int, list[int]] | None:
    """What the plain path reads from a table (orjson, ``complex()``), as index -> value bits; None
    where it refuses the table."""
    try:
        table = orjson.loads(text)
        if not isinstance(table, dict):
            return None
        indices = [_plain_index(key, nqubits) for key in table]
        if None in indices:
            return None
        if complex_values:
            if not all(isinstance(value, str) for value in table.values()):
                return None
            values = np.array([complex(value) for value in table.values()], dtype=np.complex128)
        else:
            if not all(type(value) in (int, float) for value in table.values()):
                return None
            values = np.array([float(value) for value in table.values()], dtype=np.float64)
    except (ValueError, TypeError):
        return None
    bits = values.view(np.int64).reshape(len(values), -1).tolist()
    return dict(zip(indices, bits, strict=True))


def _random_keys(rng: np.random.Generator, size: int, width: int | None) -> list[str]:
    """Decimal index keys, or (with a ``width``) distinct bitstrings of that many characters."""
    if width is None:
        return [str(i) for i in range(size)]
    chosen = rng.choice(1 << width, size=size, replace=False) if width < 62 else range(size)
    return [format(int(index), f"0{width}b") for index in chosen]


def test_fast_table_readers_agree_with_the_plain_path_on_damaged_tables() -> None:
    """Random tables in both spacings, keyed by indices or by bitstrings of 16 to 24 characters (read
    whole as strings by the fast path), with up to three bytes changed, added or removed: the fast path
    either declines (None) or reads exactly what the plain path reads, and never reads what it refuses."""
    import random

    rng = np.random.default_rng(11)
    chooser = random.Random(11)
    alphabet = b'0123456789.e+-()j":, {}Eabn\\'
    read = bitstring_read = 0
    for trial in range(3000):
        size = int(rng.integers(1, 30))
        complex_values = chooser.random() < 0.5
        width = int(rng.integers(16, 25)) if trial % 3 == 2 else None
        keys = _random_keys(rng, size, width)
        numbers = rng.normal(size=(size, 2)) * 10.0 ** rng.uniform(-20, 20, size=(size, 2))
        if complex_values:
            pick = rng.integers(0, 5, size=size)
            numbers[pick == 0, 0], numbers[pick == 1, 0], numbers[pick == 2, 1] = 0.0, -0.0, -0.0
            table: dict[str, object] = {
                key: str(complex(re, im)) for key, (re, im) in zip(keys, numbers.tolist(), strict=True)
            }
        else:
            table = dict(zip(keys, numbers[:, 0].tolist(), strict=True))
        spacing = (",", ":") if chooser.random() < 0.5 else (", ", ": ")
        text = bytearray(json.dumps(table, separators=spacing).encode())
        damage(text, chooser, alphabet)
        reader = parse_complex_table if complex_values else parse_number_table
        fast = reader(np.frombuffer(bytes(text), dtype=np.uint8))
        if fast is None:
            continue
        keys, values = fast
        bits = values.view(np.int64).reshape(len(values), -1).tolist()
        # Bitstring keys are read both as bitstrings and, as when the qubit count differs, as decimals.
        for nqubits in [width] if width is None else [width, None]:
            indices = keys.indices(nqubits)
            if indices is None:
                continue
            plain = _plain_table(bytes(text), complex_values, nqubits)
            assert plain is not None, bytes(text)
            assert dict(zip(indices.tolist(), bits, strict=True)) == plain, bytes(text)
            read += 1
            bitstring_read += nqubits is not None
    # Most damage leaves a readable table, and those were compared.
    assert read > 1000 and bitstring_read > 300


def test_long_keys_that_are_not_bitstrings_are_refused_from_a_large_table() -> None:
    # 2^16 probabilities keyed by 20-character bitstrings but one: the fast reader has no index for it,
    # and the plain path names it.
    keys = ["2" * 20] + [format(i, "020b") for i in range(1, 1 << 16)]
    result = _lazy({"counts": {"0" * 20: 1}, "probabilities": dict.fromkeys(keys, 0.5)})
    assert "probabilities" in result._tables
    with pytest.raises(ResultDecodeError, match=r"has index 2{20}, out of range"):
        result.probabilities()
    good = _lazy({"counts": {"0" * 20: 1}, "probabilities": dict.fromkeys(keys[1:], 0.5)})
    probabilities = good.probabilities()
    assert probabilities.shape == (1 << 20,) and probabilities[0] == 0 and probabilities[(1 << 16) - 1] == 0.5
