"""What runs inside a job worker process: one job at a time, sent by :mod:`~qiboconnection.server.executor`.

A worker is started with qibo imported and its numpy backend warmed by a one-qubit run, then limits its
own address space (``RLIMIT_AS``) to what it already maps plus the per-job memory limit. It reads
:class:`JobSpec` objects from its pipe and answers each with ``("done", job_id, Outcome, retire)``;
``retire`` asks the executor to replace it (after a ``MemoryError`` its heap is not worth keeping).
A second pipe, the lifeline, is held open by the server: when the server process ends, even by
SIGKILL, the lifeline reads end-of-file and the worker exits at once, in the middle of a job or not.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from qiboconnection.server import simulator
from qiboconnection.server.errors import ApiProblem
from qiboconnection.server.payloads import decode_description, encode_result

logger = logging.getLogger("qiboconnection.server.worker")

#: Prepared programs at most this heavy go back to the server, which then draws their shots itself.
RETURNED_PROGRAM_MAX_WEIGHT = 2**12


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs to run one job (it never reads the database)."""

    job_id: int
    user_id: int
    job_type: str
    number_shots: int
    description: str
    max_qubits: int
    with_state: bool
    max_decompressed: int


@dataclass(frozen=True)
class Outcome:
    """How a job ended: ``completed`` (with ``result``), ``error`` or ``cancelled`` (with the reason in
    ``error``), or ``interrupted`` (the executor stopped; the job should run again later).

    ``prepared`` holds (OpenQASM text, prepared program) pairs the worker prepared for this job and that
    are small enough for the server to keep and draw from.
    """

    status: str
    result: str | None = None
    error: str | None = None
    duration: float = 0.0
    prepared: tuple[tuple[str, Any], ...] = ()


def run_job(spec: JobSpec, memory_limit: int | None = None) -> tuple[Outcome, bool]:
    """Run ``spec`` here; return its outcome and whether this process should be replaced."""
    started = time.perf_counter()
    qasms: list[str] = []
    known: set[str] = set()
    retire = False
    try:
        envelope, payload = decode_description(spec.description, spec.max_decompressed)
        if spec.job_type == "circuit":
            qasms = [qasm for qasm in payload if isinstance(qasm, str)] if isinstance(payload, list) else []
            known = {qasm for qasm in qasms if simulator.is_prepared(qasm)}
            entries: Any = simulator.run_circuits(
                payload, spec.number_shots, spec.max_qubits, spec.with_state
            )
        else:
            entries = simulator.echo_result(spec.job_type, payload, envelope, spec.number_shots)
        outcome = Outcome("completed", result=encode_result(entries))
    except simulator.JobFailed as exc:
        outcome = Outcome("error", error=str(exc))
    except ApiProblem as exc:
        outcome = Outcome("error", error=exc.detail)
    except MemoryError:
        retire = True
        limit = f" of {memory_limit // 2**20} MiB" if memory_limit else ""
        outcome = Outcome("error", error=f"The job needed more memory than the per-job limit{limit}.")
    except Exception as exc:
        logger.exception("job %d failed unexpectedly", spec.job_id)
        outcome = Outcome("error", error=f"The server could not run the job: {type(exc).__name__}.")
    prepared = tuple(
        (qasm, program)
        for qasm in dict.fromkeys(qasms)
        if qasm not in known
        and (program := simulator.prepared_state(qasm, RETURNED_PROGRAM_MAX_WEIGHT)) is not None
    )
    duration = time.perf_counter() - started
    return Outcome(outcome.status, outcome.result, outcome.error, duration, prepared), retire


def warm() -> None:
    """Import qibo and run a one-qubit circuit, so that the first job pays for neither."""
    simulator.run_circuits(
        ['OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nh q[0];\nmeasure q[0] -> c[0];'],
        1,
        1,
        False,
    )


def _address_space() -> int:
    """Bytes of address space this process maps now (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _limit_memory(extra: int) -> None:
    """Cap this process's address space at what it maps now plus ``extra`` bytes."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = _address_space() + extra
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))


def _watch(lifeline: Connection) -> None:
    """Exit the process once the server's end of the lifeline is closed."""
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv_bytes()
    os._exit(0)


def worker_main(conn: Connection, lifeline: Connection, memory_limit: int) -> None:
    """The body of a worker process (see the module's description)."""
    # Ctrl-C reaches the whole process group; the server, not the terminal, ends its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch, args=(lifeline,), name="qaas-lifeline", daemon=True).start()
    warm()
    if memory_limit > 0:
        _limit_memory(memory_limit)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            spec = conn.recv()
        except (EOFError, OSError):
            return
        if spec is None:
            return
        outcome, retire = run_job(spec, memory_limit)
        try:
            conn.send(("done", spec.job_id, outcome, retire))
        except MemoryError:
            conn.send(
                (
                    "done",
                    spec.job_id,
                    Outcome("error", error="The job's result needed too much memory."),
                    True,
                )
            )
        if retire:
            return
