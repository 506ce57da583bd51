"""Checking and encoding what ``execute`` sends: circuits, QPrograms, annealing programs and VQAs.

qibo is imported only when circuits are actually given (a qibo Circuit cannot exist without it).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from qiboconnection.serialization import encode_envelope

__all__ = ["circuits_to_qasm", "encode_program"]


def circuits_to_qasm(circuit: Any) -> list[str]:
    """Validate one qibo Circuit or a list of them and return their OpenQASM 2.0 texts.

    Raises:
        TypeError: something that is not a qibo Circuit.
        ValueError: an empty list, a circuit without measurements or without gates, or one qibo cannot
            write as OpenQASM.
    """
    circuits = (
        list(circuit) if isinstance(circuit, Sequence) and not isinstance(circuit, str | bytes) else [circuit]
    )
    if not circuits:
        raise ValueError("circuit is an empty list: give at least one qibo Circuit")
    if "qibo" not in sys.modules:
        raise TypeError(f"circuit must be a qibo Circuit, not {type(circuits[0]).__name__}")
    from qibo.gates import M
    from qibo.models.circuit import Circuit

    label = (lambda n: f"circuit {n}") if len(circuits) > 1 else (lambda n: "the circuit")
    texts = []
    for number, item in enumerate(circuits):
        if not isinstance(item, Circuit):
            raise TypeError(f"{label(number)} must be a qibo Circuit, not {type(item).__name__}")
        if not any(not isinstance(gate, M) for gate in item.queue):
            raise ValueError(f"{label(number)} has no gates to run (only measurements, or nothing)")
        if not item.measurements:
            raise ValueError(f"{label(number)} has no measurement: add gates.M(...) on the qubits to read")
        try:
            texts.append(item.to_qasm())
        except Exception as error:
            raise ValueError(f"{label(number)} cannot be written as OpenQASM 2.0: {error}") from None
    return texts


def encode_program(
    *,
    circuit: Any = None,
    qprogram: str | None = None,
    anneal_program_args: dict[str, Any] | None = None,
    vqa: Any = None,
) -> tuple[str, str]:
    """Return ``(job_type, description)`` for exactly one of the given programs.

    Raises:
        ValueError: none or several programs were given, or the program is not valid.
        TypeError: a program of the wrong type.
    """
    given = [
        label
        for label, value in (
            ("circuit", circuit),
            ("qprogram", qprogram),
            ("anneal_program_args", anneal_program_args),
            ("vqa", vqa),
        )
        if value is not None
    ]
    if not given:
        raise ValueError("Nothing to run: give one of circuit, qprogram, anneal_program_args or vqa")
    if len(given) > 1:
        raise ValueError(
            f"Give only one of circuit, qprogram, anneal_program_args or vqa, not {' and '.join(given)}"
        )
    if circuit is not None:
        return "circuit", encode_envelope(circuits_to_qasm(circuit))
    if qprogram is not None:
        if not isinstance(qprogram, str):
            raise TypeError(f"qprogram must be the serialized QProgram string, not {type(qprogram).__name__}")
        return "qprogram", encode_envelope(qprogram)
    if anneal_program_args is not None:
        if not isinstance(anneal_program_args, dict):
            raise TypeError(f"anneal_program_args must be a dict, not {type(anneal_program_args).__name__}")
        return "annealing_program", encode_envelope(anneal_program_args)
    for attribute in ("vqa_dict", "init_params", "optimizer_params"):
        if not hasattr(vqa, attribute):
            raise TypeError(f"vqa must be a qiboconnection.typings.vqa.VQA (it has no {attribute})")
    if not isinstance(vqa.vqa_dict, dict):
        raise TypeError("vqa.vqa_dict must be a dict")
    return "vqa", encode_envelope(
        vqa.vqa_dict, init_params=vqa.init_params, optimizer_params=vqa.optimizer_params or {}
    )
