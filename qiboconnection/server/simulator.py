"""Running jobs: circuits on qibo's numpy simulator, other job types by a documented echo.

qibo is imported on first use, inside a worker thread, never on the request path.

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
from typing import Any

logger = logging.getLogger("qiboconnection.server.simulator")

MAX_SAMPLE_VALUES = 10_000_000
_QREG = re.compile(r"\bqreg\s+\w+\s*\[\s*(\d+)\s*\]")
_lock = threading.Lock()
_backend_ready = False

ECHO_NOTE = "This local server has no hardware for this job type; the result echoes the submitted payload."


class JobFailed(Exception):
    """The job cannot run; the message is stored as the job's ``error``."""


def _ensure_backend() -> None:
    global _backend_ready  # noqa: PLW0603
    if not _backend_ready:
        import qibo

        qibo.set_backend("numpy")
        _backend_ready = True


def declared_qubits(qasm: str) -> int:
    """Total qubits declared by the ``qreg`` statements of an OpenQASM program."""
    return sum(int(n) for n in _QREG.findall(qasm))


def run_circuits(qasms: list[str], nshots: int, max_qubits: int, with_state: bool) -> list[dict[str, Any]]:
    """Run each OpenQASM program for ``nshots`` shots; one result entry per program."""
    for index, qasm in enumerate(qasms):
        declared = declared_qubits(qasm)
        if declared > max_qubits:
            raise JobFailed(f"Circuit {index} uses {declared} qubits; this device runs at most {max_qubits}.")
    with _lock:
        _ensure_backend()
        return [_run_one(index, qasm, nshots, max_qubits, with_state) for index, qasm in enumerate(qasms)]


def _run_one(index: int, qasm: str, nshots: int, max_qubits: int, with_state: bool) -> dict[str, Any]:
    import numpy as np
    from qibo import Circuit, gates

    try:
        circuit = Circuit.from_qasm(qasm)
    except Exception as exc:  # qibo raises several kinds of parse errors
        raise JobFailed(f"Circuit {index} is not valid OpenQASM 2.0: {exc}") from exc
    if circuit.nqubits > max_qubits:
        raise JobFailed(
            f"Circuit {index} uses {circuit.nqubits} qubits; this device runs at most {max_qubits}."
        )
    if not circuit.measurements:
        circuit.add(gates.M(*range(circuit.nqubits)))
    measured = sorted({q for gate in circuit.measurements for q in gate.target_qubits})
    keep_samples = nshots * len(measured) <= MAX_SAMPLE_VALUES
    try:
        result = circuit(nshots=nshots)
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
