"""Circuits the client tests send, with outcomes they can predict."""

from __future__ import annotations

from qibo import Circuit, gates

#: The seeded online simulator of the local server.
SIMULATOR = 1


def bell() -> Circuit:
    """Two qubits measured 00 or 11, never 01 or 10."""
    circuit = Circuit(2)
    circuit.add(gates.H(0))
    circuit.add(gates.CNOT(0, 1))
    circuit.add(gates.M(0, 1))
    return circuit


def flip() -> Circuit:
    """One qubit always measured 1."""
    circuit = Circuit(1)
    circuit.add(gates.X(0))
    circuit.add(gates.M(0))
    return circuit


def wide(qubits: int = 21) -> Circuit:
    """More qubits than the simulator takes (20), so the job ends in error."""
    circuit = Circuit(qubits)
    circuit.add(gates.H(0))
    circuit.add(gates.M(*range(qubits)))
    return circuit
