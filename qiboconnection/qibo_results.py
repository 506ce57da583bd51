"""Service results as qibo's own result objects.

:func:`to_qibo` turns one circuit's :class:`~qiboconnection.results.QaaSCircuitResult` into what qibo's
numpy backend gives for the same circuit:

- a circuit with measurements, on a device that returns its final state (a simulator):
  :class:`qibo.result.CircuitResult`;
- a circuit with measurements, on a device that returns only shots (a QPU):
  :class:`qibo.result.MeasurementOutcomes`;
- a circuit without measurements: :class:`qibo.result.QuantumState` (only simulators return a state).

Shots come from the service's ``samples`` (or, when the service left them out of a large result, are
rebuilt from its ``counts``), so ``frequencies()`` are the service's counts, and ``samples()`` and
registers follow qibo's measurement order: the qubits of each measurement gate, gate after gate, as
the circuit's OpenQASM text lists them. Probabilities of a :class:`~qibo.result.CircuitResult` come
from the exact final state, as in qibo.

This module imports qibo and numpy; ``import qiboconnection`` does not import it.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
from qibo import gates
from qibo.backends.numpy import NumpyBackend
from qibo.models.circuit import Circuit
from qibo.result import CircuitResult, MeasurementOutcomes, QuantumState

if TYPE_CHECKING:
    import numpy.typing as npt

    from qiboconnection.results import QaaSCircuitResult

__all__ = ["to_qibo"]


@cache
def numpy_backend() -> Any:
    """The numpy backend qibo results built here compute with, unless the caller gives one."""
    return NumpyBackend()


def to_qibo(
    result: QaaSCircuitResult,
    circuit: Any = None,
    *,
    backend: Any = None,
) -> Any:
    """One circuit's service result as qibo's own result object (see the module documentation).

    The result's measurement gates are copies of the circuit's: the shots are not written into the
    circuit's own gates.

    Args:
        result: the circuit's entry of a job result.
        circuit: the qibo Circuit that ran, or its OpenQASM text (``job.description[i]`` of a fetched
            job is that circuit). It gives the measurement gates (qubits and register names) and the
            number of qubits. Without it, the result's measured bits are read as
            ``gates.M(0, 1, ..., k - 1)`` and a final state is sized from the result itself.
        backend: the qibo backend the result computes with (qibo's numpy backend by default).

    Raises:
        TypeError: ``circuit`` is neither a qibo Circuit nor OpenQASM text.
        ValueError: the result does not fit the circuit (another number of measured bits, a state of
            another size), or a circuit without measurements has no final state in its result.
    """
    engine = backend if backend is not None else numpy_backend()
    parsed = _circuit_of(circuit)
    nqubits = parsed.nqubits if parsed is not None else None
    if parsed is not None and not parsed.measurements:
        return QuantumState(_final_state(result, nqubits, required=True), backend=engine)
    samples = _samples(result)
    measurements = _measurement_gates(parsed, samples.shape[1] if samples is not None else None)
    if samples is None:
        if not measurements:
            return QuantumState(_final_state(result, nqubits, required=True), backend=engine)
        raise ValueError("the result has neither counts nor samples for the circuit's measurements")
    measured = [qubit for gate in measurements for qubit in gate.target_qubits]
    if len(measured) != samples.shape[1]:
        raise ValueError(
            f"the result has {samples.shape[1]} measured bits per shot but the circuit measures "
            f"{len(measured)} qubits: it is not this circuit's result"
        )
    state = _final_state(result, nqubits, required=False)
    if state is not None:
        return CircuitResult(state, measurements, backend=engine, samples=samples, nshots=len(samples))
    return MeasurementOutcomes(
        measurements, backend=engine, samples=samples, nshots=len(samples), nqubits=nqubits
    )


def _circuit_of(circuit: Any) -> Any:
    if circuit is None or isinstance(circuit, Circuit):
        return circuit
    if isinstance(circuit, str):
        try:
            return Circuit.from_qasm(circuit)
        except Exception as error:
            raise ValueError(f"circuit is not OpenQASM 2.0 that qibo can read: {error}") from None
    raise TypeError(f"circuit must be a qibo Circuit or its OpenQASM text, not {type(circuit).__name__}")


def _measurement_gates(circuit: Any, width: int | None) -> list[Any]:
    """Fresh measurement gates: copies of the circuit's, or one gate over qubits ``0..width-1``."""
    if circuit is not None:
        # The circuit names unnamed registers when a gate is added, outside the gate's init_kwargs.
        return [
            gates.M(*gate.init_args, **{**gate.init_kwargs, "register_name": gate.register_name})
            for gate in circuit.measurements
        ]
    if not width:
        return []
    return [gates.M(*range(width))]


def _samples(result: QaaSCircuitResult) -> npt.NDArray[np.int64] | None:
    """The shots as an ``(nshots, measured bits)`` array of 0 and 1, or None when there are none."""
    try:
        samples = np.asarray(result.samples(binary=True), dtype=np.int64)
    except KeyError:  # neither counts nor samples
        return None
    if samples.ndim != 2 or samples.shape[0] == 0:
        raise ValueError(f"the result's shots have shape {samples.shape}, not (nshots, measured bits)")
    if np.any((samples != 0) & (samples != 1)):
        raise ValueError("the result's samples hold values other than 0 and 1")
    return samples


def _final_state(result: QaaSCircuitResult, nqubits: int | None, *, required: bool) -> Any:
    """The final state vector over ``nqubits`` qubits (None when absent and not ``required``)."""
    try:
        state = np.asarray(result.state(), dtype=np.complex128)
    except KeyError:  # no final state in this result
        if required:
            raise ValueError(
                "the result has no final state (only simulators return one): add measurements to the "
                "circuit to run it on this device"
            ) from None
        return None
    if nqubits is None:
        return state
    dimension = 1 << nqubits
    if state.size > dimension:
        raise ValueError(
            f"the result's final state has {state.size} amplitudes, more than the 2**{nqubits} of the circuit"
        )
    if state.size < dimension:
        # The service lists non-zero amplitudes only: the tail of the basis may be missing.
        state = np.concatenate([state, np.zeros(dimension - state.size, dtype=np.complex128)])
    return state
