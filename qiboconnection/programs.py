"""Checking and encoding what ``execute`` sends: circuits, QPrograms, annealing programs and VQAs.

qibo is imported only when circuits are actually given (a qibo Circuit cannot exist without it).

What a circuit needs from the device it runs on is checked once the device is known
(:func:`device_refusal_of`): a simulator runs any circuit (one without measurement gives its final
state, with every qubit read for the counts), a quantum device only returns measured outcomes.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Sequence
from typing import Any

from qiboconnection.serialization import decode_envelope, encode_envelope

__all__ = [
    "QUANTUM_DEVICE_TYPES",
    "circuits_to_qasm",
    "device_refusal_of",
    "encode_program",
    "qasm_problem",
    "qasm_refusal_of",
    "unmeasured_circuits",
]

#: Device types that run circuits on hardware (and so return nothing for an unmeasured circuit).
QUANTUM_DEVICE_TYPES = frozenset({"quantum_device", "quantum_analog_device", "quantum_digital_device"})

_SPAN = re.compile(r"start_line=(\d+), start_column=(\d+)")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMMENT = re.compile(r"//[^\n]*")
_MEASURE = re.compile(r"(?:^|;|\})\s*measure\b")


def circuits_to_qasm(circuit: Any) -> list[str]:
    """Validate one qibo Circuit or a list of them and return their OpenQASM 2.0 texts.

    A circuit with only measurements (a readout check) or with no measurement at all (a simulator's
    state vector) is valid here; whether the chosen device can run it is checked once the device is
    known (:func:`device_refusal_of`). Each text must parse back with qibo, which the service uses to
    read it: qibo writes a few gates (``iswap``) that its own parser does not define.

    Raises:
        TypeError: something that is not a qibo Circuit.
        ValueError: an empty list, or a circuit qibo cannot write as OpenQASM or cannot read back (the
            message names the circuit and the gate).
    """
    circuits = (
        list(circuit) if isinstance(circuit, Sequence) and not isinstance(circuit, str | bytes) else [circuit]
    )
    if not circuits:
        raise ValueError("circuit is an empty list: give at least one qibo Circuit")
    if "qibo" not in sys.modules:
        raise TypeError(f"circuit must be a qibo Circuit, not {type(circuits[0]).__name__}")
    from qibo.models.circuit import Circuit

    several = len(circuits) > 1

    def label(number: int) -> str:
        return f"circuit {number}" if several else "the circuit"

    texts = []
    for number, item in enumerate(circuits):
        if not isinstance(item, Circuit):
            raise TypeError(f"{label(number)} must be a qibo Circuit, not {type(item).__name__}")
        try:
            text = item.to_qasm()
        except Exception as error:
            raise ValueError(f"{label(number)} cannot be written as OpenQASM 2.0: {error}") from None
        problem = qasm_problem(text)
        if problem is not None:
            raise ValueError(f"{label(number)} {problem}")
        texts.append(text)
    return texts


@functools.lru_cache(maxsize=512)
def qasm_problem(text: str) -> str | None:
    """Why qibo cannot read the OpenQASM ``text`` back (a phrase naming the gate when it can), or None.

    Parsing takes milliseconds, so answers are kept per text: a circuit sent many times is parsed once.
    """
    from qibo.models.circuit import Circuit

    try:
        Circuit.from_qasm(text)
    except Exception as error:
        reason = str(error).strip() or type(error).__name__
        statement = _statement_at(text, reason)
        if statement is None:
            return f"is written by qibo as OpenQASM that qibo cannot read back ({reason})"
        gate = _IDENTIFIER.match(statement)
        name = f"gate {gate.group()!r}" if gate else "a statement"
        return (
            f"uses {name} (`{statement}`), which qibo writes in OpenQASM but cannot read back, so the "
            f"service cannot run it ({reason}); replace it by gates qibo reads back (for example its "
            "decomposition)"
        )
    return None


def _statement_at(text: str, reason: str) -> str | None:
    """The statement of ``text`` at the line and column a parser error names, or None."""
    found = _SPAN.search(reason)
    if found is None:
        return None
    line_number, column = int(found.group(1)), int(found.group(2))
    lines = text.splitlines()
    if not 1 <= line_number <= len(lines):
        return None
    statement = lines[line_number - 1][column:].split(";", 1)[0].strip()
    return statement or None


def unmeasured_circuits(job_type: str, description: str) -> tuple[list[int], int]:
    """Positions of the circuits of a circuit job's description that have no ``measure`` statement,
    and how many circuits the description holds."""
    if job_type != "circuit":
        return [], 0
    payload = decode_envelope(description, allow_legacy=False)
    return _unmeasured(payload if isinstance(payload, list) else [payload])


def _unmeasured(qasms: list[Any]) -> tuple[list[int], int]:
    missing = [
        number
        for number, qasm in enumerate(qasms)
        if isinstance(qasm, str) and not _MEASURE.search(_COMMENT.sub("", qasm))
    ]
    return missing, len(qasms)


def device_refusal_of(device: Any, job_type: str, description: str) -> str | None:
    """Why ``device`` cannot run the program (a sentence naming the device), or None when it can.

    A quantum device returns measured outcomes only, so a circuit without measurement is refused
    there; simulators, and devices of a type not known here, take every circuit.
    """
    if getattr(device, "type", None) not in QUANTUM_DEVICE_TYPES:
        return None
    return _refusal(device, *unmeasured_circuits(job_type, description))


def qasm_refusal_of(device: Any, qasms: list[str]) -> str | None:
    """:func:`device_refusal_of` for circuits given as their OpenQASM texts (nothing to decode)."""
    if getattr(device, "type", None) not in QUANTUM_DEVICE_TYPES:
        return None
    return _refusal(device, *_unmeasured(list(qasms)))


def _refusal(device: Any, missing: list[int], total: int) -> str | None:
    if not missing:
        return None
    if total == 1:
        which = "the circuit has"
    else:
        which = f"circuit{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))} " + (
            "have" if len(missing) > 1 else "has"
        )
    return (
        f"Device {device.id} ({device.name}) is a {device.type} and returns measured outcomes only, but "
        f"{which} no measurement: add gates.M(...) on the qubits to read, or run it on a simulator "
        "to get its final state"
    )


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
