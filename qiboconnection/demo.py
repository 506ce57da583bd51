"""`python -m qiboconnection.demo`: a local QaaS server and a Bell circuit run end to end through it.

This is what `make demo` runs. It starts the local server on 127.0.0.1 with a throwaway database and
user, logs in over HTTP as a user would, runs a Bell circuit on the simulator, prints what came back
and stops the server.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from qibo import Circuit


def _bell_circuit() -> Circuit:
    from qibo import Circuit, gates

    circuit = Circuit(2)
    circuit.add([gates.H(0), gates.CNOT(0, 1), gates.M(0, 1)])
    return circuit


def run(out: TextIO = sys.stdout, nshots: int = 1000) -> int:
    """Run the demo, writing a short report to ``out``; returns a process exit code."""
    from qiboconnection.api import API
    from qiboconnection.server.config import ServerConfig, UserSpec
    from qiboconnection.server.runner import run_server

    username, api_key = "demo", secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="qaas-demo-") as tmp:
        config = ServerConfig(db_path=Path(tmp) / "qaas.sqlite3", users=(UserSpec(username, api_key),))
        with run_server(config) as server:
            out.write(f"Local QaaS server on {server.url}\n")
            previous = os.environ.get("QUANTUM_SERVICE_URL")
            os.environ["QUANTUM_SERVICE_URL"] = server.url
            try:
                with API.login(username=username, api_key=api_key) as api:
                    out.write(f"Logged in as {username!r} (user id {api.user_id}); ping: {api.ping()}\n")
                    for device in api.list_devices():
                        out.write(f"  device {device.id}: {device.name} [{device.type}] {device.status}\n")
                    circuit = _bell_circuit()
                    out.write(f"Running a Bell circuit with {nshots} shots on device 1...\n")
                    started = time.perf_counter()
                    # One entry per job, each a list with one result per circuit.
                    ((bell,),) = api.execute_and_return_results(
                        circuit, nshots=nshots, device_id=1, interval=1
                    )
                    elapsed = time.perf_counter() - started
                    job = api.get_job(api.last_job.id)
                    counts = dict(sorted(bell.frequencies().items()))
                    out.write(f"Job {job.job_id} {job.status} in {elapsed:.2f} s\n")
                    out.write(f"  counts:        {counts}\n")
                    out.write(f"  probabilities: {bell.probabilities_dict()}\n")
                    out.write(f"  final state:   {bell.state().round(4).tolist()}\n")
                    sent_back = job.description[0]
                    out.write(f"  circuit back:  {sent_back.nqubits} qubits, {len(sent_back.queue)} gates\n")
            finally:
                if previous is None:
                    os.environ.pop("QUANTUM_SERVICE_URL", None)
                else:
                    os.environ["QUANTUM_SERVICE_URL"] = previous
    ok = set(counts) <= {"00", "11"} and sum(counts.values()) == nshots
    out.write("Bell correlations: only 00 and 11 measured.\n" if ok else "Unexpected outcomes!\n")
    return 0 if ok else 1


if __name__ == "__main__":
    import warnings

    # connexion imports starlette's test client, which warns about its httpx dependency on import; the
    # demo never uses that client, so this program keeps the warning off its output.
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient` is deprecated")
    sys.exit(run())
