"""Decoded job results.

A circuit job's result is a list with one entry per submitted circuit; each entry becomes a
:class:`QaaSCircuitResult`, which offers qibo-style accessors (``frequencies()``, ``probabilities()``,
``samples()``, ``state()``) and still behaves as the raw dict (``result["counts"]``, ``keys()``,
``to_dict()``). Other job types decode to their payloads as sent by the service.

Large tables (a simulator's ``final_state`` and probabilities over 2^n basis states) are not turned into
millions of Python objects up front: the result keeps the payload bytes, ``state()`` and
``probabilities()`` read them straight into numpy arrays, and the first dict-style access (indexing,
``keys()``, ``items()``, ``==``, ``to_dict()``, ``json.dumps``...) builds the plain dict entries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from qiboconnection.errors import ResultDecodeError
from qiboconnection.serialization import (
    DEFAULT_MAX_BYTES,
    MAX_BYTES_SETTING,
    check_shape,
    envelope_payload,
    find_tables,
    parse_complex_table,
    parse_number_table,
    parse_payload,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["QaaSCircuitResult", "decode_job_result"]


def _is_bitstring(key: str) -> bool:
    return bool(key) and all(ch in "01" for ch in key)


class QaaSCircuitResult(dict[str, Any]):
    """The result of one circuit: the service's dict (it *is* a dict), with qibo-style accessors.

    Keys of ``counts`` are bitstrings with one bit per measured qubit in measurement order, as qibo's
    ``frequencies()`` gives them: after ``M(2, 0)`` the first bit is qubit 2's. ``samples`` rows follow
    the same order. Keys of ``probabilities`` are bitstrings of the measured qubits in ascending qubit
    order (how the simulator writes them). Keys of ``final_state`` and ``final_state_probabilities`` are
    basis-state indices over all the circuit's qubits, qubit 0 most significant (bitstrings are accepted
    too). A dense array is built only when it fits within ``max_bytes`` (the result size limit), so a
    stray huge index is refused with :class:`~qiboconnection.errors.ResultDecodeError`.
    """

    __slots__ = ("_job_id", "_max_bytes", "_nqubits", "_order", "_source", "_tables")

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        source: bytes | bytearray | None = None,
        tables: Mapping[str, tuple[int, int]] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        job_id: int | None = None,
    ) -> None:
        super().__init__({key: value for key, value in data.items() if not tables or key not in tables})
        self._max_bytes = max_bytes
        self._job_id = job_id
        self._nqubits: int | None = None
        # Tables still held as JSON in ``source`` (key -> byte span), and the service's key order.
        self._tables: dict[str, tuple[int, int]] = dict(tables or {})
        self._source = source if self._tables else None
        self._order: list[str] = list(data) if self._tables else []

    def _materialize(self) -> None:
        """Turn the tables still held as JSON into plain dict entries, in the service's key order."""
        tables = getattr(self, "_tables", None)
        if not tables:
            return
        source = memoryview(self._source)  # type: ignore[arg-type]
        parsed = {key: orjson.loads(source[start:end]) for key, (start, end) in tables.items()}
        ordered = {key: parsed[key] if key in parsed else dict.__getitem__(self, key) for key in self._order}
        dict.clear(self)
        dict.update(self, ordered)
        self._tables, self._source, self._order = {}, None, []

    def _field(self, key: str) -> Any:
        """A field already decoded (None for a table still held as JSON), without decoding the others."""
        return dict.get(self, key)

    def _segment(self, key: str) -> Any:
        import numpy as np

        start, end = self._tables[key]
        return np.frombuffer(self._source, dtype=np.uint8, count=end - start, offset=start)  # type: ignore[arg-type]

    def _table_size(self, key: str) -> int | None:
        if key in self._tables:
            start, end = self._tables[key]
            quotes = self._source.count(b'"', start, end)  # type: ignore[union-attr]
            return quotes // (4 if key == "final_state" else 2)
        table = self._field(key)
        return len(table) if isinstance(table, Mapping) else None

    def to_dict(self) -> dict[str, Any]:
        """The result as the service sent it, as a plain dict."""
        self._materialize()
        return dict(self)

    def __repr__(self) -> str:
        counts = self._field("counts")
        shown = dict(counts) if isinstance(counts, Mapping) and len(counts) <= 8 else "..."
        return f"QaaSCircuitResult(nqubits={self.nqubits}, nshots={self.nshots}, counts={shown})"

    # -- shape ---------------------------------------------------------------------------------

    @property
    def nqubits(self) -> int | None:
        """Number of measured qubits, inferred from the keys, samples or state size."""
        if self._nqubits is None:
            self._nqubits = self._infer_nqubits()
        return self._nqubits

    def _infer_nqubits(self) -> int | None:
        for key in ("counts", "probabilities"):
            table = self._field(key)
            if isinstance(table, Mapping) and table:
                first = next(iter(table))
                if isinstance(first, str) and _is_bitstring(first):
                    return len(first)
        samples = self._field("samples")
        if isinstance(samples, list) and samples and isinstance(samples[0], list):
            return len(samples[0])
        for key in ("final_state", "final_state_probabilities"):
            size = self._table_size(key)
            if size:
                return max(size - 1, 1).bit_length()
        return None

    @property
    def nshots(self) -> int | None:
        """Number of shots, from the counts or samples."""
        counts = self._field("counts")
        if isinstance(counts, Mapping):
            return int(sum(counts.values()))
        samples = self._field("samples")
        return len(samples) if isinstance(samples, list) else None

    def to_qibo(self, circuit: Any = None) -> Any:
        """This result as qibo's own result object (``CircuitResult``, ``MeasurementOutcomes`` or
        ``QuantumState``), which qibo's ``dump``/``load`` save and reload.

        ``circuit`` (the qibo Circuit that ran, or its OpenQASM text, such as ``job.description[i]``)
        gives the measurement gates and qubit count; see :func:`qiboconnection.qibo_results.to_qibo`.

        Args:
            circuit: the circuit that ran (a qibo ``Circuit`` or OpenQASM text).

        Returns:
            qibo's ``CircuitResult`` (shots and final state), ``MeasurementOutcomes`` (shots only) or
            ``QuantumState`` (a final state without measurements).
        """
        from qiboconnection.qibo_results import to_qibo

        return to_qibo(self, circuit)

    def plot(self, *, ax: Any = None, title: str | None = None) -> Any:
        """A bar chart of the counts, as a matplotlib ``Figure`` (needs ``pip install qiboconnection[plot]``).

        Args:
            ax: a matplotlib ``Axes`` to draw on (default: a new figure).
            title: the chart's title.

        Returns:
            The figure drawn on.

        Raises:
            ImportError: matplotlib is not installed.
        """
        from qiboconnection.plotting import plot_counts

        return plot_counts(self, ax=ax, title=title)

    # -- accessors -----------------------------------------------------------------------------

    def frequencies(self, binary: bool = True) -> Counter[Any]:
        """Counts per outcome: bitstring keys (``binary=True``) or integers (first measured qubit most significant).

        Args:
            binary: key the counts by bitstring (True) or by the integer the bitstring spells (False).

        Returns:
            A ``Counter`` of outcomes, from the counts (or the samples when there are no counts).

        Raises:
            KeyError: the result has neither counts nor samples.
        """
        counts = self._field("counts")
        if isinstance(counts, Mapping):
            table = Counter({str(key): int(value) for key, value in counts.items()})
        elif isinstance(self._field("samples"), list):
            table = Counter("".join(str(int(bit)) for bit in row) for row in self._field("samples"))
        else:
            raise KeyError("this result has neither 'counts' nor 'samples'")
        if binary:
            return table
        return Counter({int(key, 2): value for key, value in table.items()})

    def probabilities(self) -> npt.NDArray[np.float64]:
        """Probabilities of the measured qubits' outcomes, ordered by index (lowest measured qubit most significant)."""
        import numpy as np

        if "probabilities" in self._tables:
            parsed = parse_number_table(self._segment("probabilities"))
            if parsed is not None:
                keys, values = parsed
                nqubits = self.nqubits or max(len(values) - 1, 1).bit_length()
                indices = keys.indices(nqubits)
                if indices is not None:
                    return self._dense("probabilities", indices, values, nqubits, np.float64)
        table = self.probabilities_dict()
        nqubits = self.nqubits or max(len(table) - 1, 1).bit_length()
        indices = self._indices("probabilities", table.keys(), nqubits)
        return self._dense(
            "probabilities", indices, _float_values(table.values(), len(table)), nqubits, np.float64
        )

    def probabilities_dict(self) -> dict[str, float]:
        """Probabilities keyed by bitstring, as measured (or from the counts when absent)."""
        table = self.get("probabilities")
        if isinstance(table, Mapping):
            return {str(key): float(value) for key, value in table.items()}
        counts = self.frequencies()
        total = sum(counts.values())
        return {key: value / total for key, value in sorted(counts.items())} if total else {}

    def samples(self, binary: bool = True) -> npt.NDArray[np.int64]:
        """Shots as an integer array of shape ``(nshots, nqubits)`` (or outcome indices if not ``binary``).

        Args:
            binary: one row of bits per shot (True), or one outcome index per shot (False).

        Returns:
            The samples as sent, or rebuilt from the counts (sorted by outcome) when there are none.

        Raises:
            KeyError: the result has neither samples nor counts.
        """
        import numpy as np

        rows = self._field("samples")
        if isinstance(rows, list):
            array = np.asarray(rows, dtype=np.int64)
            if rows and array.ndim == 1:
                array = array.reshape(-1, 1)
        else:
            counts = self.frequencies()
            nqubits = self.nqubits or 0
            array = np.zeros((sum(counts.values()), nqubits), dtype=np.int64)
            row = 0
            for key, value in sorted(counts.items()):
                array[row : row + value] = [int(bit) for bit in key]
                row += value
        if binary:
            return array
        weights = 1 << np.arange(array.shape[1] - 1, -1, -1, dtype=np.int64)
        return array @ weights

    def state(self, numpy: bool = True) -> npt.NDArray[np.complex128]:
        """Final state vector (simulators only), ordered by basis index.

        Args:
            numpy: kept for qibo's signature; the state is always a numpy array.

        Returns:
            The complex amplitudes of all 2^n basis states, qubit 0 most significant.

        Raises:
            KeyError: the result has no final state (only simulators return one).
            ResultDecodeError: the state is malformed or larger than the result size limit.
        """
        import numpy as np

        return self._basis_table("final_state", np.complex128, parse_complex_table, _complex_values)

    def state_probabilities(self) -> npt.NDArray[np.float64]:
        """Probabilities of every basis state of the final state (simulators only), ordered by index.

        Returns:
            The probabilities of all 2^n basis states, qubit 0 most significant.

        Raises:
            KeyError: the result has no final state probabilities (only simulators return them).
            ResultDecodeError: the table is malformed or larger than the result size limit.
        """
        import numpy as np

        return self._basis_table("final_state_probabilities", np.float64, parse_number_table, _float_values)

    def _basis_table(self, key: str, dtype: Any, fast: Any, slow: Any) -> npt.NDArray[Any]:
        """A table keyed by basis index (or bitstring) as a dense array over all 2^n basis states."""
        import numpy as np

        if key in self._tables:
            parsed = fast(self._segment(key))
            if parsed is not None:
                keys, values = parsed
                size = len(values)
                nqubits = max(self.nqubits or 0, max(size - 1, 1).bit_length())
                # Bitstring keys, when the first ones are bitstrings of n bits (else indices).
                head = keys.head(64)
                binary = nqubits > 1 and bool(np.all((head.lengths == nqubits) & head.bits) and size)
                indices = keys.indices(nqubits if binary else None)
                if indices is not None:
                    return self._dense(key, indices, values, nqubits, dtype)
        table = self.get(key)
        if not isinstance(table, Mapping):
            raise KeyError(f"this result has no {key!r} (only simulators return one)")
        size = len(table)
        values = slow(table.values(), size)
        nqubits = max(self.nqubits or 0, max(size - 1, 1).bit_length())
        keys = list(table.keys())
        if all(
            isinstance(key, str) and key.isdigit() and len(key) <= 18 for key in keys
        ) and not self._binary_keys(keys, nqubits):
            indices = np.fromiter(map(int, keys), dtype=np.int64, count=size)
        else:
            indices = self._indices(key, keys, nqubits)
        return self._dense(key, indices, values, nqubits, dtype)

    def _indices(self, table: str, keys: Any, nqubits: int) -> Any:
        """Basis indices of ``keys`` (bitstrings of ``nqubits`` bits, or decimal indices) as int64."""
        import numpy as np

        indices = []
        for key in keys:
            try:
                index = self._index(key, nqubits)
            except (TypeError, ValueError):
                raise ResultDecodeError(
                    self._job_id, f"{table} has key {str(key)[:40]!r}, neither a bitstring nor an index"
                ) from None
            if not 0 <= index < 1 << 62:
                raise ResultDecodeError(self._job_id, f"{table} has index {str(key)[:40]}, out of range")
            indices.append(index)
        return np.array(indices, dtype=np.int64)

    def _dense(self, table: str, indices: Any, values: Any, nqubits: int, dtype: Any) -> npt.NDArray[Any]:
        """``values`` placed at ``indices`` in an array over all 2^n basis states, n at least ``nqubits``.

        Raises ResultDecodeError when an index is negative or when the array would not fit within the
        result size limit (a state that large cannot come from the service).
        """
        import numpy as np

        if len(indices) and int(indices.min()) < 0:
            raise ResultDecodeError(self._job_id, f"{table} has a negative index {int(indices.min())}")
        largest = int(indices.max()) if len(indices) else 0
        width = max(nqubits, largest.bit_length())
        itemsize = np.dtype(dtype).itemsize
        if width >= 62 or itemsize << width > self._max_bytes:
            raise ResultDecodeError(
                self._job_id,
                f"{table} needs an array of 2^{width} entries ({itemsize} bytes each) for its index "
                f"{largest} over {nqubits} qubits, more than the {self._max_bytes} byte limit; set "
                f"{MAX_BYTES_SETTING} higher if the result is genuine",
            )
        size = 1 << width
        if len(indices) == size and values.dtype == dtype and np.array_equal(indices, np.arange(size)):
            # Every basis state, in order (a dense state as the simulator lists it): already in place.
            placed: npt.NDArray[Any] = values
            return placed
        out: npt.NDArray[Any] = np.zeros(size, dtype=dtype)
        out[indices] = values
        return out

    @staticmethod
    def _binary_keys(keys: list[str], nqubits: int) -> bool:
        # Index keys of a state over n qubits are below 2**n; bitstring keys all have length n.
        return nqubits > 1 and all(len(key) == nqubits and _is_bitstring(key) for key in keys[:64])

    @staticmethod
    def _index(key: Any, nqubits: int) -> int:
        if isinstance(key, int):
            return key
        text = str(key)
        if len(text) == nqubits and _is_bitstring(text):
            return int(text, 2)
        return int(text)


def _complex_values(values: Any, size: int) -> Any:
    import numpy as np

    try:
        return np.fromiter(map(complex, values), dtype=np.complex128, count=size)
    except (TypeError, ValueError):
        return np.fromiter(map(_to_complex, values), dtype=np.complex128, count=size)


def _float_values(values: Any, size: int) -> Any:
    import numpy as np

    return np.fromiter(map(float, values), dtype=np.float64, count=size)


def _to_complex(value: Any) -> complex:
    if isinstance(value, str):
        return complex(value.replace(" ", ""))
    if isinstance(value, list | tuple) and len(value) == 2:
        return complex(value[0], value[1])
    return complex(value)


def _materializing(name: str) -> Any:
    base = getattr(dict, name)

    def method(self: QaaSCircuitResult, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "_tables", None):
            self._materialize()
        return base(self, *args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"QaaSCircuitResult.{name}"
    method.__doc__ = base.__doc__
    return method


# Every dict operation reachable from Python sees the whole result (overriding __iter__ also makes
# dict(result) and {**result} go through keys() and __getitem__).
for _name in (
    "__getitem__",
    "__contains__",
    "__len__",
    "__iter__",
    "__reversed__",
    "__eq__",
    "__ne__",
    "__or__",
    "__ror__",
    "__ior__",
    "__setitem__",
    "__delitem__",
    "__reduce_ex__",
    "get",
    "keys",
    "values",
    "items",
    "copy",
    "pop",
    "popitem",
    "setdefault",
    "update",
    "clear",
):
    setattr(QaaSCircuitResult, _name, _materializing(_name))
QaaSCircuitResult.__hash__ = None


def _lazy_entries(raw: bytes | bytearray, max_bytes: int, job_id: int | None) -> list[Any] | None:
    """Circuit result entries whose large tables stay in ``raw``; None when there are none to keep."""
    spans = find_tables(raw)
    if not spans:
        return None
    view = memoryview(raw)
    pieces: list[Any] = []
    cursor = 0
    for number, (_, start, end) in enumerate(spans):
        pieces += [view[cursor:start], b'"\\u0000table-%d"' % number]
        cursor = end
    pieces.append(view[cursor:])
    joined = b"".join(pieces)
    del pieces
    check_shape(joined, max_bytes, job_id)
    try:
        skeleton = orjson.loads(joined)
    except orjson.JSONDecodeError:
        return None
    entries = skeleton if isinstance(skeleton, list) else [skeleton]
    found: dict[int, tuple[int, str]] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        for key, value in entry.items():
            if isinstance(value, str) and value.startswith("\x00table-"):
                found[int(value[7:])] = (index, key)
    if sorted(found) != list(range(len(spans))) or any(
        found[number][1] != key for number, (key, _, _) in enumerate(spans)
    ):
        return None
    tables: dict[int, dict[str, tuple[int, int]]] = {}
    for number, (key, start, end) in enumerate(spans):
        tables.setdefault(found[number][0], {})[key] = (start, end)
    return [
        QaaSCircuitResult(entry, source=raw, tables=tables.get(index), max_bytes=max_bytes, job_id=job_id)
        if isinstance(entry, dict)
        else entry
        for index, entry in enumerate(entries)
    ]


def decode_job_result(
    result: str | None, job_type: str | None, *, job_id: int | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> Any:
    """Decode a job's ``result`` string: circuit results become :class:`QaaSCircuitResult` objects."""
    if result is None:
        return None
    raw = envelope_payload(result, max_bytes=max_bytes, job_id=job_id, allow_legacy=True)
    if job_type == "circuit":
        lazy = _lazy_entries(raw, max_bytes, job_id)
        if lazy is not None:
            return lazy
    payload = parse_payload(raw, job_id, max_bytes=max_bytes)
    del raw
    if job_type == "circuit":
        if isinstance(payload, Mapping):
            return [QaaSCircuitResult(payload, max_bytes=max_bytes, job_id=job_id)]
        if isinstance(payload, list):
            return [
                QaaSCircuitResult(item, max_bytes=max_bytes, job_id=job_id)
                if isinstance(item, Mapping)
                else item
                for item in payload
            ]
    return payload
