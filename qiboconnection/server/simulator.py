"""Running jobs: circuits on qibo's numpy simulator, other job types by a documented echo.

qibo is imported on first use, in a job worker process (see :mod:`~qiboconnection.server.worker`), never on
the request path; the server process itself only draws shots from small prepared programs.

Programs are prepared once per OpenQASM text and kept in a bounded cache: parsing is most of the
cost of a small job. A program whose final state is certain (no collapsing measurement, no noise, at
most :data:`FIXED_STATE_MAX_QUBITS` qubits) keeps that state, and each job draws its own shots from
it; any other program keeps its parsed circuit, and each job runs a copy of it.

A circuit's result entry holds ``counts`` and ``probabilities`` keyed by the bitstring of the
measured qubits (qubit 0 leftmost; circuits without measurements measure every qubit), ``samples``
(one list of bits per shot, left out when shots x measured qubits exceeds :data:`MAX_SAMPLE_VALUES`),
and on simulator devices ``final_state`` (Python complex literals) and ``final_state_probabilities``
keyed by basis-state index, listing only non-zero amplitudes.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from typing import Any

logger = logging.getLogger("qiboconnection.server.simulator")

MAX_SAMPLE_VALUES = 10_000_000
_QREG = re.compile(r"\bqreg\s+\w+\s*\[\s*(\d+)\s*\]")
_lock = threading.Lock()
_backend: Any = None

ECHO_NOTE = "This local server has no hardware for this job type; the result echoes the submitted payload."


class JobFailed(Exception):
    """The job cannot run; the message is stored as the job's ``error``."""


def _ensure_backend() -> None:
    global _backend  # noqa: PLW0603
    if _backend is None:
        from qibo.backends import construct_backend

        # A numpy backend of the server's own: qibo's global backend belongs to the process the server
        # shares, whose client may have set it to this very service.
        _backend = construct_backend("numpy")


def _simulate(circuit: Any, nshots: int) -> Any:
    """Run ``circuit`` on the server's numpy backend."""
    _ensure_backend()
    return _backend.execute_circuit(circuit, nshots=nshots)


def declared_qubits(qasm: str) -> int:
    """Total qubits declared by the ``qreg`` statements of an OpenQASM program."""
    return sum(int(n) for n in _QREG.findall(qasm))


def run_circuits(qasms: list[str], nshots: int, max_qubits: int, with_state: bool) -> list[dict[str, Any]]:
    """Run each OpenQASM program for ``nshots`` shots; one result entry per program."""
    for index, qasm in enumerate(qasms):
        declared = declared_qubits(qasm)
        if declared > max_qubits:
            raise JobFailed(f"Circuit {index} uses {declared} qubits; this device runs at most {max_qubits}.")
    return [_run_one(index, qasm, nshots, max_qubits, with_state) for index, qasm in enumerate(qasms)]


def _run_one(index: int, qasm: str, nshots: int, max_qubits: int, with_state: bool) -> dict[str, Any]:
    program = _programs.get(qasm)
    if program is None:
        with _lock:
            # Another worker may have prepared the same program while this one waited.
            program = _programs.get(qasm)
            if program is None:
                _ensure_backend()
                program = _prepare(qasm)
                _programs.put(qasm, program)
    if isinstance(program, str):
        raise JobFailed(f"Circuit {index} {program}")
    if program.nqubits > max_qubits:
        raise JobFailed(
            f"Circuit {index} uses {program.nqubits} qubits; this device runs at most {max_qubits}."
        )
    if isinstance(program, _FixedState):
        return program.sample(nshots, with_state)
    with _lock:
        return _execute(index, program.copy(deep=True), nshots, with_state)


def run_prepared(
    qasms: list[str], nshots: int, max_qubits: int, with_state: bool
) -> list[dict[str, Any]] | None:
    """The result entries of programs that are all prepared with a fixed state and small enough to
    draw at once (at most :data:`PREPARED_MAX_VALUES` values in all); None when any is not."""
    programs = []
    values = 0
    for qasm in qasms:
        program = _programs.get(qasm)
        if not isinstance(program, _FixedState) or program.nqubits > max_qubits:
            return None
        values += nshots * max(program.bits, 1) + (program.weight if with_state else 0)
        if values > PREPARED_MAX_VALUES:
            return None
        programs.append(program)
    return [program.sample(nshots, with_state) for program in programs]


def is_prepared(qasm: str) -> bool:
    """Whether ``qasm`` is in this process's cache of prepared programs."""
    return _programs.get(qasm) is not None


def prepared_state(qasm: str, max_weight: int) -> Any:
    """The prepared fixed state of ``qasm`` if this process holds one weighing at most ``max_weight``."""
    program = _programs.get(qasm)
    if isinstance(program, _FixedState) and program.weight <= max_weight:
        return program
    return None


def remember(qasm: str, program: Any) -> None:
    """Keep a fixed state prepared elsewhere (a worker process), so this process can draw from it."""
    if isinstance(program, _FixedState):
        _programs.put(qasm, program)


class _FixedState:
    """A program whose final state does not depend on chance: only its measurements are sampled.

    Everything but the sampling is computed once, when the program is first seen; each job then draws
    its own shots from the measured qubits' distribution, as qibo does (counts from the distribution,
    samples as a shuffle of those counts).
    """

    __slots__ = (
        "_bits",
        "_keys",
        "_measured_probs",
        "_order",
        "_probabilities",
        "_state",
        "_weight",
        "nqubits",
    )

    def __init__(self, nqubits: int, order: list[int], state: Any, measured: list[int]) -> None:
        import numpy as np

        self.nqubits = nqubits
        full = np.abs(state) ** 2
        # Distribution of the measured qubits, in measurement order (the order of counts and samples).
        tensor = full.reshape((2,) * nqubits)
        others = tuple(q for q in range(nqubits) if q not in order)
        marginal = tensor.sum(axis=others) if others else tensor
        rest = sorted(order)
        marginal = np.transpose(marginal, [rest.index(q) for q in order]).reshape(-1)
        self._measured_probs = marginal / marginal.sum()
        self._order = order
        self._bits = len(order)
        self._keys = _bitstrings(np.arange(2**self._bits), self._bits)
        self._probabilities = _marginal(full, nqubits, measured)
        nonzero = np.flatnonzero(full > 1e-24)
        keys = list(map(str, nonzero.tolist()))
        self._state = (
            dict(zip(keys, _complex_literals(state[nonzero]), strict=True)),
            dict(zip(keys, full[nonzero].tolist(), strict=True)),
        )
        self._weight: int = 2 * len(keys) + 2**self._bits

    @property
    def weight(self) -> int:
        return self._weight

    @property
    def bits(self) -> int:
        """How many qubits are measured."""
        return self._bits

    def sample(self, nshots: int, with_state: bool) -> dict[str, Any]:
        import numpy as np

        rng = _rng()
        frequencies = rng.multinomial(nshots, self._measured_probs)
        hits = np.flatnonzero(frequencies)
        keys = self._keys
        counts = {keys[i]: int(frequencies[i]) for i in hits.tolist()}
        entry: dict[str, Any] = {"counts": dict(sorted(counts.items()))}
        if nshots * self._bits <= MAX_SAMPLE_VALUES:
            outcomes = np.repeat(np.arange(frequencies.size), frequencies)
            rng.shuffle(outcomes)
            shifts = np.arange(self._bits - 1, -1, -1)
            entry["samples"] = ((outcomes[:, None] >> shifts) & 1).tolist()
        entry["probabilities"] = dict(self._probabilities)
        if with_state:
            entry["final_state"] = dict(self._state[0])
            entry["final_state_probabilities"] = dict(self._state[1])
        return entry


def _prepare(qasm: str) -> Any:
    """What repeated runs of ``qasm`` start from: a :class:`_FixedState`, a parsed circuit, or the
    reason (a message) it cannot run."""
    import numpy as np
    from qibo import Circuit, gates

    try:
        circuit = Circuit.from_qasm(qasm)
    except Exception as exc:  # qibo raises several kinds of parse errors
        return f"is not valid OpenQASM 2.0: {exc}"
    if not circuit.measurements:
        circuit.add(gates.M(*range(circuit.nqubits)))
    deterministic = (
        not circuit.repeated_execution
        and not circuit.density_matrix
        and not circuit.accelerators
        and circuit.nqubits <= FIXED_STATE_MAX_QUBITS
        and not any(gate.has_bitflip_noise() for gate in circuit.measurements)
    )
    if not deterministic:
        return circuit
    try:
        result = _simulate(circuit.copy(deep=True), nshots=1)
        state = np.array(result.state(), dtype=complex)
    except Exception:  # left to the full run, which reports it the way it always does
        return circuit
    if state.ndim != 1:
        return circuit
    order = [q for gate in circuit.measurements for q in gate.target_qubits]
    if len(set(order)) != len(order):
        return circuit
    measured = sorted(set(order))
    return _FixedState(circuit.nqubits, order, state, measured)


def _execute(index: int, circuit: Any, nshots: int, with_state: bool) -> dict[str, Any]:
    """Run a circuit (a copy of no one else's) through qibo and build its result entry."""
    import numpy as np

    measured = sorted({q for gate in circuit.measurements for q in gate.target_qubits})
    keep_samples = nshots * len(measured) <= MAX_SAMPLE_VALUES
    try:
        result = _simulate(circuit, nshots=nshots)
        counts = {str(k): int(v) for k, v in result.frequencies(binary=True).items()}
        samples = np.asarray(result.samples(binary=True), dtype=int).tolist() if keep_samples else None
    except Exception as exc:  # a circuit qibo accepts but cannot execute
        raise JobFailed(f"Circuit {index} could not be executed: {exc}") from exc
    entry: dict[str, Any] = {"counts": dict(sorted(counts.items()))}
    if samples is not None:
        entry["samples"] = samples
    state = None
    try:
        state = np.asarray(result.state())
    except Exception:  # measurement outcomes without a final state (collapsing measurements)
        logger.debug("circuit %d has no final state", index)
    if state is not None and state.ndim == 1:
        full = np.abs(state) ** 2
        entry["probabilities"] = _marginal(full, circuit.nqubits, measured)
        if with_state:
            nonzero = np.flatnonzero(full > 1e-24)
            keys = list(map(str, nonzero.tolist()))
            entry["final_state"] = dict(zip(keys, _complex_literals(state[nonzero]), strict=True))
            entry["final_state_probabilities"] = dict(zip(keys, full[nonzero].tolist(), strict=True))
    else:
        entry["probabilities"] = {k: v / nshots for k, v in entry["counts"].items()}
    return entry


class _ProgramCache:
    """Prepared programs by their OpenQASM text, least recently used dropped beyond a total weight.

    A program weighs about the number of values it keeps (its text counts too), so a few wide
    programs cannot hold much more memory than many small ones.
    """

    def __init__(self, max_weight: int, max_entries: int) -> None:
        self._max_weight = max_weight
        self._max_entries = max_entries
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, qasm: str) -> Any:
        with self._lock:
            item = self._items.get(qasm)
            if item is None:
                return None
            self._items.move_to_end(qasm)
            return item[0]

    def put(self, qasm: str, program: Any) -> None:
        weight = len(qasm) // 64 + 1 + (program.weight if isinstance(program, _FixedState) else 0)
        if weight > self._max_weight:
            return
        with self._lock:
            old = self._items.pop(qasm, None)
            if old is not None:
                self._weight -= old[1]
            self._items[qasm] = (program, weight)
            self._weight += weight
            while self._weight > self._max_weight or len(self._items) > self._max_entries:
                _, (_, dropped) = self._items.popitem(last=False)
                self._weight -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._weight = 0


#: Programs of at most this many qubits keep their final state between jobs.
FIXED_STATE_MAX_QUBITS = 14
#: Most values (shots x measured qubits, plus kept state entries) :func:`run_prepared` draws.
PREPARED_MAX_VALUES = 50_000
_programs = _ProgramCache(max_weight=2**18, max_entries=1024)
_local = threading.local()


def _rng() -> Any:
    """This thread's random generator (seeded from the operating system, never shared)."""
    rng = getattr(_local, "rng", None)
    if rng is None:
        import numpy as np

        rng = _local.rng = np.random.default_rng()
    return rng


def _marginal(probs: Any, nqubits: int, qubits: list[int]) -> dict[str, float]:
    """Probabilities of the measured qubits' bitstrings (qubit 0 leftmost), zeros left out."""
    import numpy as np

    tensor = probs.reshape((2,) * nqubits)
    others = tuple(q for q in range(nqubits) if q not in qubits)
    marginal = tensor.sum(axis=others) if others else tensor
    flat = marginal.reshape(-1)
    kept = np.flatnonzero(flat > 1e-12)
    return dict(zip(_bitstrings(kept, len(qubits)), flat[kept].tolist(), strict=True))


def _bitstrings(indices: Any, width: int) -> list[str]:
    """``format(i, f"0{width}b")`` for every index, built with numpy (results have up to 2**20)."""
    import numpy as np

    if width == 0:
        return [""] * len(indices)
    shifts = np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = ((indices[:, None] >> shifts) & 1).astype(np.uint8) + ord("0")
    return np.ascontiguousarray(digits).view(f"S{width}").ravel().astype(f"U{width}").tolist()


def _complex_literals(amplitudes: Any) -> list[str]:
    """``str(complex(a))`` for every amplitude (the C-level repr of a list, split back apart)."""
    if len(amplitudes) == 0:
        return []
    return repr(amplitudes.tolist())[1:-1].split(", ")


def echo_result(job_type: str, payload: Any, envelope: dict[str, Any], nshots: int) -> dict[str, Any]:
    """The deterministic result of a job type this server has no hardware for."""
    result: dict[str, Any] = {
        "job_type": job_type,
        "number_shots": nshots,
        "echo": payload,
        "note": ECHO_NOTE,
    }
    if job_type == "vqa":
        result["init_params"] = envelope.get("init_params")
        result["optimizer_params"] = envelope.get("optimizer_params")
    return result
