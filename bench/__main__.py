"""`make bench`: this client against the released 0.23.2 client and the raw-HTTP floor, side by side.

Everything runs in one go against the same local servers, and every figure is a ratio of medians over
several rounds, since absolute times on a shared machine are noise. Each client step runs in a fresh
process of its own (the released client in its own venv), so imports and memory are measured alike.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OURS_PY = Path(sys.executable)
RELEASED_PY = ROOT / ".venv-released" / "bin" / "python"
OURS_DRIVER = ROOT / "bench" / "ours_driver.py"
RELEASED_DRIVER = ROOT / "bench" / "released_driver.py"
RESULTS = ROOT / "bench" / "results" / "latest.json"

BELL_QASM = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg register0[2];\nh q[0];\ncx q[0],q[1];\n'
    "measure q[0] -> register0[0];\nmeasure q[1] -> register0[1];"
)


@dataclass
class Row:
    """One compared figure: ``ours / reference`` against a target ratio (lower is better)."""

    name: str
    ours: float
    reference: float
    reference_name: str
    target: float
    unit: str = "s"

    @property
    def ratio(self) -> float:
        return self.ours / self.reference if self.reference else float("inf")

    @property
    def passed(self) -> bool:
        return self.ratio <= self.target


@dataclass
class Server:
    url: str
    username: str
    api_key: str
    process: subprocess.Popen


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def local_server(db: Path, workers: int, core: int | None = None) -> Iterator[Server]:
    """`qiboconnection serve` in a subprocess (pinned to one core when ``core`` is given)."""
    port, username, api_key = _free_port(), "bench", secrets.token_urlsafe(24)
    cmd = [str(OURS_PY), "-m", "qiboconnection", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--db", str(db), "--user", f"{username}:{api_key}", "--workers", str(workers)]
    cmd += ["--log-level", "warning"]

    if core is not None:
        cmd = ["taskset", "--cpu-list", str(core), *cmd]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/status")
            if connection.getresponse().status == 200:
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the local server did not start ({' '.join(cmd[:5])} ...)")
        time.sleep(0.1)
    try:
        yield Server(url, username, api_key, process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def drive(python: Path, driver: Path, server: Server, step: str, **args: Any) -> dict[str, Any]:
    """Run one driver step in a fresh process and return what it printed."""
    env = {
        **os.environ,
        "QUANTUM_SERVICE_URL": server.url,
        "QIBOCONNECTION_USERNAME": server.username,
        "QIBOCONNECTION_API_KEY": server.api_key,
    }
    run = subprocess.run(
        [str(python), str(driver), step, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tempfile.gettempdir(),
    )
    if run.returncode != 0:
        raise RuntimeError(f"{driver.name} {step} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def ours(server: Server, step: str, **args: Any) -> dict[str, Any]:
    return drive(OURS_PY, OURS_DRIVER, server, step, **args)


def released(server: Server, step: str, **args: Any) -> dict[str, Any]:
    return drive(RELEASED_PY, RELEASED_DRIVER, server, step, **args)


def median_of(rounds: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(rounds))


def import_seconds(python: Path, statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    run = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir()
    )
    if run.returncode != 0:
        raise RuntimeError(f"{python} -c {statement!r} failed:\n{run.stderr[-2000:]}")
    return float(run.stdout.strip().splitlines()[-1])


def _api(server: Server):
    from qiboconnection.api import API

    os.environ["QUANTUM_SERVICE_URL"] = server.url
    return API.login(username=server.username, api_key=server.api_key)


def prepare_jobs(server: Server) -> tuple[int, int]:
    """A completed 2-qubit job and a completed 20-qubit simulator job (final state of 2^20 amplitudes)."""
    from qibo import Circuit, gates

    api = _api(server)
    bell = Circuit(2)
    bell.add([gates.H(0), gates.CNOT(0, 1), gates.M(0, 1)])
    wide = Circuit(20)
    wide.add([gates.H(q) for q in range(20)])
    wide.add(gates.M(*range(20)))
    small = api.execute(bell, nshots=1000, device_id=1)
    big = api.execute(wide, nshots=1000, device_id=1)
    for job in api.wait([small, big], timeout=600, interval=1):
        if job.status != "completed":
            raise RuntimeError(f"job {job.job_id} ended as {job.status}")
    api.close()
    return small, big


def _submission_body(user_id: int) -> str:
    data = base64.b64encode(gzip.compress(json.dumps([BELL_QASM]).encode())).decode()
    description = json.dumps({"data": data, "encoding": "utf-8", "compression": "gzip"})
    return json.dumps(
        {
            "user_id": user_id,
            "device_id": 1,
            "number_shots": 10,
            "job_type": "circuit",
            "description": description,
            "name": "load",
            "summary": "-",
        }
    )


def submission_rate(server: Server, total: int, threads: int = 4, time_budget: float = 60.0) -> float:
    """Small job submissions per second the server accepts, from ``threads`` keep-alive connections."""
    import jwt

    from bench.ours_driver import raw_token

    port = int(server.url.rsplit(":", 1)[1])
    login = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    token = raw_token(login, server.url, server.username, server.api_key)
    login.close()
    body = _submission_body(jwt.decode(token, options={"verify_signature": False})["user_id"])
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    counts = [0] * threads
    errors: list[str] = []
    deadline = time.monotonic() + time_budget

    def worker(index: int, share: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(share):
            if time.monotonic() > deadline:
                return
            connection.request("POST", "/api/v1/circuits", body, headers)
            response = connection.getresponse()
            response.read()
            if response.status != 201:
                errors.append(str(response.status))
                return
            counts[index] += 1

    os.sched_setaffinity(0, {1})
    try:
        pool = [threading.Thread(target=worker, args=(i, total // threads)) for i in range(threads)]
        start = time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        elapsed = time.perf_counter() - start
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    if errors:
        raise RuntimeError(f"submissions failed with statuses {sorted(set(errors))}")
    return sum(counts) / elapsed


def run(rounds: int, circuits: int, listed: int) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    extra: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="qaas-bench-") as tmp:
        with local_server(Path(tmp) / "main.sqlite3", workers=2) as server:
            small, big = prepare_jobs(server)
            say(f"prepared jobs {small} (2 qubits) and {big} (20 qubits)")

            def per_call(result: dict[str, Any]) -> float:
                return statistics.median(result["seconds"])

            got = {
                name: median_of(
                    rounds, lambda f=f, step=step: per_call(f(server, step, job_id=small, calls=200))
                )
                for name, f, step in [
                    ("ours", ours, "get_job"),
                    ("released", released, "get_job"),
                    ("floor", ours, "floor_get_job"),
                ]
            }
            say(f"get_job per call: {got}")
            rows.append(Row("get_job per call", got["ours"], got["released"], "released", 1 / 5))
            rows.append(Row("get_job per call", got["ours"], got["floor"], "floor", 3))

            def submit(f, step):
                result = f(server, step, device_id=1, count=circuits, timeout=600)
                if result["completed"] != circuits:
                    raise RuntimeError(f"{step}: {result['completed']} of {circuits} jobs completed")
                return result["seconds"]

            sync = median_of(rounds, lambda: submit(ours, "submit_wait"))
            batch = median_of(rounds, lambda: submit(ours, "batch_wait"))
            old = median_of(rounds, lambda: submit(released, "submit_wait"))
            say(f"{circuits} circuits: sync {sync:.2f} s, batch {batch:.2f} s, released {old:.2f} s")
            rows.append(Row(f"{circuits} circuits submit+wait, sync", sync, old, "released", 1 / 3))
            rows.append(Row(f"{circuits} circuits submit+wait, batch", batch, old, "released", 1 / 10))

            decoded = {
                name: [f(server, "decode", job_id=big) for _ in range(rounds)]
                for name, f in [("ours", ours), ("released", released)]
            }
            time_of = {k: statistics.median(r["seconds"] for r in v) for k, v in decoded.items()}
            rss_of = {k: statistics.median(r["peak_rss"] for r in v) for k, v in decoded.items()}
            say(f"20-qubit decode: {time_of}, peak RSS {rss_of}")
            rows.append(
                Row("20-qubit result decode, time", time_of["ours"], time_of["released"], "released", 1 / 3)
            )
            rows.append(
                Row(
                    "20-qubit result decode, peak RSS",
                    rss_of["ours"] / 2**20,
                    rss_of["released"] / 2**20,
                    "released",
                    1 / 2,
                    "MiB",
                )
            )

        statement = "from qiboconnection.api import API"
        cold = {
            name: median_of(max(rounds, 5), lambda py=py: import_seconds(py, statement))
            for name, py in [("ours", OURS_PY), ("released", RELEASED_PY)]
        }
        extra["import qiboconnection"] = {
            name: median_of(max(rounds, 5), lambda py=py: import_seconds(py, "import qiboconnection"))
            for name, py in [("ours", OURS_PY), ("released", RELEASED_PY)]
        }
        say(f"cold import: {cold}; bare package: {extra['import qiboconnection']}")
        rows.append(Row(f"cold `{statement}`", cold["ours"], cold["released"], "released", 1 / 5))

        with local_server(Path(tmp) / "load.sqlite3", workers=0, core=0) as server:
            rate = submission_rate(server, total=listed)
            extra["server submissions per second (one core)"] = rate
            say(f"server accepted {rate:.0f} submissions/s on one core")
            listing = {
                name: median_of(rounds, lambda f=f: f(server, "list_jobs")["seconds"])
                for name, f in [("ours", ours), ("released", released)]
            }
            say(f"listing {listed} jobs: {listing}")
            rows.append(
                Row(
                    f"list {listed} jobs (all pages)", listing["ours"], listing["released"], "released", 1 / 3
                )
            )
            rows.append(Row("server submissions/s on one core (inverse)", 1 / rate, 1 / 300, "300/s", 1))
    return rows, extra


def say(text: str) -> None:
    sys.stderr.write(f"[bench] {text}\n")
    sys.stderr.flush()


def table(rows: list[Row]) -> str:
    head = f"{'benchmark':46} {'ours':>12} {'reference':>22} {'ratio':>8} {'target':>8}  result"
    lines = [head, "-" * len(head)]
    for row in rows:
        reference = f"{row.reference:.4g} {row.unit} ({row.reference_name})"
        lines.append(
            f"{row.name:46} {row.ours:>10.4g} {row.unit:<1} {reference:>22} {row.ratio:>8.3f} "
            f"{'<= ' + format(row.target, '.3g'):>8}  {'PASS' if row.passed else 'FAIL'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each measurement; medians are kept")
    parser.add_argument("--circuits", type=int, default=200, help="circuits in the submit+wait benchmark")
    parser.add_argument("--listed", type=int, default=2000, help="jobs in the listing benchmark")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the figures")
    args = parser.parse_args(argv)
    if not RELEASED_PY.exists():
        sys.stderr.write(f"{RELEASED_PY} is missing: run `make released` first\n")
        return 2
    started = time.monotonic()
    rows, extra = run(args.rounds, args.circuits, args.listed)
    sys.stdout.write(table(rows) + "\n")
    for name, value in extra.items():
        sys.stdout.write(f"{name}: {value}\n")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "rows": [{**asdict(r), "ratio": r.ratio, "passed": r.passed} for r in rows],
        "extra": extra,
        "rounds": args.rounds,
        "seconds": time.monotonic() - started,
    }
    args.json.write_text(json.dumps(report, indent=2))
    sys.stdout.write(f"took {report['seconds']:.0f} s; figures in {args.json}\n")
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
