"""`make bench`: this client against the released 0.23.2 client and the raw-HTTP floor, side by side.

Rows with targets: ``get_job`` per call on loopback (against the released client); across a simulated
10 ms link (the server's ``--latency``), ``get_job`` and 200 circuits submitted and awaited one by one
(against the raw-HTTP floor over the same link: for submit+wait, raw POSTs on one connection, listing
polls, then every job's record fetched, as a wait that returns the results must) and as a batch
(against the released client); result
decoding (time and peak memory), cold import and listing (against the released client). The
server's submissions per second on one core and the loopback submission figures are reported without
a target.

Everything runs in one go against the same local servers, and every figure is a ratio of medians over
several rounds, since absolute times on a shared machine are noise. Each client step runs in a fresh
process of its own (the released client in its own venv), so imports and memory are measured alike,
and rounds alternate between the clients so that drift on the machine hits them alike. Warm-up is the
same for everyone: each process logs in before its clock starts, and per-call figures drop the first call.

A step that fails (a missing feature, a crashed driver, a timeout) becomes a FAIL row with its error;
the other steps still run. ``--quick`` runs one round with smaller counts, for iteration; ``--only``
runs some groups of rows alone (``--only link``, ``--only getjob,import,list``).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import json
import math
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
#: Qubits of the simulator job whose result the decode benchmark reads (a state of 2**WIDE entries).
WIDE = 20
#: Qubits of the simulator job whose every amplitude is non-zero and distinct (the dense decode row).
DENSE = 18
#: Longest any one driver process may take.
STEP_TIMEOUT = 300.0

#: Round-trip time added to every API request in the simulated-network benchmark (milliseconds).
LINK_MS = 10


@dataclass
class Row:
    """One compared figure: ``ours / reference`` against a target ratio (lower is better)."""

    name: str
    ours: float
    reference: float
    reference_name: str
    target: float
    unit: str = "s"
    error: str | None = None

    @property
    def ratio(self) -> float:
        if self.error is not None or not self.reference:
            return math.nan
        return self.ours / self.reference

    @property
    def passed(self) -> bool:
        return self.error is None and self.ratio <= self.target


@dataclass(frozen=True)
class Sizes:
    """How much each benchmark does."""

    rounds: int
    calls: int
    circuits: int
    listed: int


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
def local_server(db: Path, workers: int, core: int | None = None, latency: float = 0.0) -> Iterator[Server]:
    """`qiboconnection serve` on 127.0.0.1 in a subprocess (pinned to one core when ``core`` is given;
    every API request delayed by ``latency`` seconds, like a distant service, when it is not 0)."""
    port, username, api_key = _free_port(), "bench", secrets.token_urlsafe(24)
    cmd = [str(OURS_PY), "-m", "qiboconnection", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--db", str(db), "--user", f"{username}:{api_key}", "--workers", str(workers)]
    cmd += ["--log-level", "warning", "--latency", str(latency)]

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
                connection.close()
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
            process.wait(5)


class StepFailed(RuntimeError):
    """A driver step did not produce its figures."""


def drive(python: Path, driver: Path, server: Server, step: str, **args: Any) -> dict[str, Any]:
    """Run one driver step in a fresh process and return what it printed."""
    env = {
        **os.environ,
        "QUANTUM_SERVICE_URL": server.url,
        "QIBOCONNECTION_USERNAME": server.username,
        "QIBOCONNECTION_API_KEY": server.api_key,
        "QIBOCONNECTION_PROGRESS": "0",
    }
    try:
        run = subprocess.run(
            [str(python), str(driver), step, json.dumps(args)],
            env=env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            cwd=tempfile.gettempdir(),
        )
    except subprocess.TimeoutExpired:
        raise StepFailed(f"{driver.name} {step} took over {STEP_TIMEOUT:.0f} s") from None
    if run.returncode != 0:
        lines = [line for line in run.stderr.strip().splitlines() if line.strip()]
        raise StepFailed(f"{driver.name} {step}: {lines[-1] if lines else f'exit {run.returncode}'}")
    try:
        return json.loads(run.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise StepFailed(f"{driver.name} {step} printed no figures") from None


def ours(server: Server, step: str, **args: Any) -> dict[str, Any]:
    return drive(OURS_PY, OURS_DRIVER, server, step, **args)


def released(server: Server, step: str, **args: Any) -> dict[str, Any]:
    return drive(RELEASED_PY, RELEASED_DRIVER, server, step, **args)


def interleaved(rounds: int, measures: dict[str, Callable[[], Any]]) -> dict[str, list[Any]]:
    """Run every measure once per round, alternating between them; all figures of each, by name."""
    figures: dict[str, list[Any]] = {name: [] for name in measures}
    for _ in range(rounds):
        for name, measure in measures.items():
            figures[name].append(measure())
    return figures


def import_seconds(python: Path, statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    run = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir()
    )
    if run.returncode != 0:
        raise StepFailed(f"{python} -c {statement!r} failed: {run.stderr.strip()[-500:]}")
    return float(run.stdout.strip().splitlines()[-1])


def _api(server: Server):
    from qiboconnection.api import API

    os.environ["QUANTUM_SERVICE_URL"] = server.url
    os.environ["QIBOCONNECTION_PROGRESS"] = "0"
    return API.login(username=server.username, api_key=server.api_key)


def prepare_jobs(server: Server, wide: bool = True) -> tuple[int, int]:
    """A completed 2-qubit job and (unless not ``wide``) a completed 20-qubit simulator job (H on every
    qubit, 1000 shots); the second id is the first's when there is no wide job."""
    from qibo import Circuit, gates

    api = _api(server)
    try:
        bell = Circuit(2)
        bell.add([gates.H(0), gates.CNOT(0, 1), gates.M(0, 1)])
        wide_circuit = Circuit(WIDE)
        wide_circuit.add([gates.H(q) for q in range(WIDE)])
        wide_circuit.add(gates.M(*range(WIDE)))
        small = api.execute(bell, nshots=1000, device_id=1)
        big = api.execute(wide_circuit, nshots=1000, device_id=1) if wide else small
        for job in api.wait(list(dict.fromkeys([small, big])), timeout=240, interval=1):
            if job.status != "completed":
                raise RuntimeError(f"job {job.job_id} ended as {job.status}: {job.error}")
    finally:
        api.close()
    return small, big


def prepare_dense_job(server: Server) -> int:
    """A completed DENSE-qubit simulator job whose amplitudes are all non-zero and distinct, 1000 shots."""
    import numpy as np
    from qibo import Circuit, gates

    # Each qubit reads 1 with probability 0.32 to 0.47, so every basis state has a probability over
    # 0.32^18 (the simulator lists probabilities over 1e-12); CZ and RZ give the amplitudes distinct phases.
    angles = np.random.default_rng(18).uniform(size=(2, DENSE)).tolist()
    circuit = Circuit(DENSE)
    circuit.add(gates.RY(q, theta=1.2 + 0.3 * angles[0][q]) for q in range(DENSE))
    circuit.add(gates.CZ(q, q + 1) for q in range(DENSE - 1))
    circuit.add(gates.RZ(q, theta=6.0 * angles[1][q]) for q in range(DENSE))
    circuit.add(gates.M(*range(DENSE)))
    api = _api(server)
    try:
        job_id = api.execute(circuit, nshots=1000, device_id=1)
        [job] = api.wait([job_id], timeout=240, interval=1)
        if job.status != "completed":
            raise RuntimeError(f"job {job.job_id} ended as {job.status}: {job.error}")
    finally:
        api.close()
    return job_id


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

    from bench.driver_common import raw_token

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
        try:
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
        except OSError as error:
            errors.append(type(error).__name__)
        finally:
            connection.close()

    cores = os.sched_getaffinity(0)
    if len(cores) > 1:
        os.sched_setaffinity(0, {max(cores)})
    try:
        pool = [threading.Thread(target=worker, args=(i, total // threads)) for i in range(threads)]
        start = time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        elapsed = time.perf_counter() - start
    finally:
        os.sched_setaffinity(0, cores)
    if errors:
        raise StepFailed(f"submissions failed: {sorted(set(errors))}")
    return sum(counts) / elapsed


def _median_per_call(result: dict[str, Any]) -> float:
    return statistics.median(result["seconds"])


def bench_get_job(
    server: Server, job_id: int, sizes: Sizes, rows: list[Row], extra: dict[str, Any], *, link: str = ""
) -> None:
    """``get_job`` per call: against the released client on loopback; against the raw-HTTP floor (one
    keep-alive connection, the request, the JSON parse) across the simulated link.

    At least 7 rounds: on a shared machine a process's median call moves by a tenth from one process
    to the next (the released client's most, as its calls are mostly processor time), and a round
    costs only seconds."""
    got = interleaved(
        max(sizes.rounds, 7),
        {
            name: lambda f=f, step=step: _median_per_call(f(server, step, job_id=job_id, calls=sizes.calls))
            for name, f, step in [
                ("ours", ours, "get_job"),
                ("released", released, "get_job"),
                ("floor", ours, "floor_get_job"),
            ]
        },
    )
    median = {name: statistics.median(values) for name, values in got.items()}
    say(f"get_job per call{link}: {median}")
    extra[f"get_job per call{link}, median seconds of each round"] = {
        name: [round(value, 6) for value in values] for name, values in got.items()
    }
    extra[f"get_job per call{link}, raw-HTTP floor / released"] = median["floor"] / median["released"]
    if link:
        extra[f"get_job per call{link}, ours / released"] = median["ours"] / median["released"]
        rows.append(Row(f"get_job per call{link}", median["ours"], median["floor"], "floor", 1.2))
    else:
        extra["get_job per call, ours / raw-HTTP floor"] = median["ours"] / median["floor"]
        rows.append(Row("get_job per call", median["ours"], median["released"], "released", 0.35))


def _completed(f: Callable[..., dict[str, Any]], server: Server, step: str, count: int) -> float:
    result = f(server, step, device_id=1, count=count, timeout=STEP_TIMEOUT - 30)
    if result["completed"] != count:
        raise StepFailed(f"{step}: {result['completed']} of {count} jobs completed")
    return result["seconds"]


def interleaved_or_failed(
    rounds: int, measures: dict[str, Callable[[], float]]
) -> dict[str, float | StepFailed]:
    """:func:`interleaved`, where a measure that fails is left out of the later rounds: the median of
    each measure's figures, or its failure."""
    figures: dict[str, list[float]] = {name: [] for name in measures}
    failures: dict[str, StepFailed] = {}
    for _ in range(rounds):
        for name, measure in measures.items():
            if name in failures:
                continue
            try:
                figures[name].append(measure())
            except StepFailed as error:
                failures[name] = error
    return {name: failures.get(name) or statistics.median(figures[name]) for name in measures}


def bench_submit(
    server: Server, sizes: Sizes, rows: list[Row], extra: dict[str, Any], link: str = ""
) -> None:
    """Submit and wait for ``sizes.circuits`` circuits; ``link`` names the simulated network, if any.

    Across the link the synchronous path is held to the raw-HTTP floor with results (one connection
    submitting and polling with nothing but http.client, then every job's record fetched, as a wait
    that returns the results must) and the batch to the released client; on loopback both figures are
    reported only. The floor without the records (submissions and polls alone) is reported too, with
    the synchronous path against it, without a target, and so is the floor with results done with a
    bare ``httpx.Client`` (the HTTP stack's own share of a client's time). Rounds alternate between
    all of them; across the link, at least 5 rounds, since a run there lasts seconds and the median of
    3 moves with the machine's load."""
    count = sizes.circuits
    steps = {
        "released": (released, "submit_wait"),
        "floor": (ours, "floor_submit_wait"),
        **(
            {
                "floor with results": (ours, "floor_submit_fetch"),
                "plain httpx, with results": (ours, "httpx_floor_submit_fetch"),
            }
            if link
            else {}
        ),
        "sync": (ours, "submit_wait"),
        "batch": (ours, "batch_wait"),
    }
    got = interleaved_or_failed(
        max(sizes.rounds, 5) if link else sizes.rounds,
        {
            name: lambda f=f, step=step: _completed(f, server, step, count)
            for name, (f, step) in steps.items()
        },
    )
    old = got["released"]
    if isinstance(old, StepFailed):
        raise old
    say(f"{count} circuits{link}, released: {old:.2f} s")
    floors: dict[str, float] = {}
    # Each floor's step, and how its figures are named.
    floor_names = {
        "floor": "raw-HTTP floor",
        "floor with results": "raw-HTTP floor with results",
        "plain httpx, with results": "plain httpx, with results",
    }
    for label, shown in floor_names.items():
        if label not in got:
            continue
        figure = got[label]
        name = f"{count} circuits submit+wait{link}, {shown}"
        if isinstance(figure, StepFailed):
            extra[f"{name} (s)"] = f"failed: {figure}"
            floors[label] = math.nan
            continue
        floors[label] = figure
        extra[f"{name} (s)"] = figure
        say(f"{count} circuits{link}, {shown}: {figure:.2f} s")
    floor = floors["floor"]
    # The synchronous path's reference: the floor that fetches the results too, across the link.
    reference_floor = floors.get("floor with results", floor)
    if not math.isnan(floor):
        extra[
            f"{count} circuits submit+wait{link}, raw-HTTP floor / released (best one connection reaches)"
        ] = floor / old
    for label in ("sync", "batch"):
        name = f"{count} circuits submit+wait, {label}{link}"
        against_floor = label == "sync"
        reference, reference_name, target = (
            (reference_floor, "results floor" if link else "floor", 1.2)
            if against_floor
            else (old, "released", 0.1)
        )
        seconds = got[label]
        if isinstance(seconds, StepFailed):
            if link:
                rows.append(failed(name, reference_name, target, str(seconds)))
            else:
                extra[f"{name} (s)"] = f"failed: {seconds}"
            continue
        say(f"{count} circuits{link}, {label}: {seconds:.2f} s")
        extra[f"{name}, ours / released"] = seconds / old
        if against_floor and link and not math.isnan(floor):
            extra[f"{name}, ours / raw-HTTP floor without the records"] = seconds / floor
        plain = floors.get("plain httpx, with results", math.nan)
        if against_floor and link and not math.isnan(plain):
            # The same floor's work done with a bare httpx.Client: the HTTP stack's own share.
            extra[f"{name}, ours / the same work over plain httpx"] = seconds / plain
            extra[
                f"{count} circuits submit+wait{link}, the same work over plain httpx / raw-HTTP floor with results"
            ] = plain / reference_floor
        if link:
            rows.append(Row(name, seconds, reference, reference_name, target))
        else:
            extra[f"{name} (s)"] = seconds


def bench_decode(
    server: Server,
    job_id: int,
    sizes: Sizes,
    rows: list[Row],
    extra: dict[str, Any],
    *,
    step: str,
    name: str,
    entries: list[int],
) -> None:
    """Fetch a result and read it to numpy with both clients (driver ``step``); each must have read
    ``entries`` table entries, and the final state plus one table of probabilities as numpy values.
    At least 5 rounds: the first read in a fresh process varies by a fifth from one run to the next
    on a shared machine (memory the process has not touched yet costs page faults of varying price)."""
    decoded = interleaved(
        max(sizes.rounds, 5),
        {
            label: lambda f=f: f(server, step, job_id=job_id)
            for label, f in [("ours", ours), ("released", released)]
        },
    )
    for label, runs in decoded.items():
        for run in runs:
            if run["size"] != 2 * entries[0] or run["entries"] != entries:
                raise StepFailed(f"{label} decoded {run['size']} values from {run['entries']} entries")
    time_of = {k: statistics.median(r["seconds"] for r in v) for k, v in decoded.items()}
    rss_of = {k: statistics.median(r["peak_rss"] for r in v) / 2**20 for k, v in decoded.items()}
    say(f"{name}: {time_of}, peak RSS (MiB) {rss_of}")
    extra[f"{name}, seconds of each round"] = {
        label: [round(run["seconds"], 4) for run in runs] for label, runs in decoded.items()
    }
    rows.append(Row(f"{name}, time", time_of["ours"], time_of["released"], "released", 1 / 3))
    rows.append(Row(f"{name}, peak RSS", rss_of["ours"], rss_of["released"], "released", 1 / 2, "MiB"))


def bench_import(sizes: Sizes, rows: list[Row], extra: dict[str, Any]) -> None:
    rounds = max(sizes.rounds, 5)
    for statement, counted in [
        ("from qiboconnection.api import API", True),
        ("import qiboconnection", False),
    ]:
        figures = interleaved(
            rounds,
            {
                name: lambda py=py, s=statement: import_seconds(py, s)
                for name, py in [("ours", OURS_PY), ("released", RELEASED_PY)]
            },
        )
        median = {name: statistics.median(values) for name, values in figures.items()}
        say(f"cold `{statement}`: {median}")
        if counted:
            rows.append(Row(f"cold `{statement}`", median["ours"], median["released"], "released", 1 / 5))
        else:
            extra[f"cold `{statement}` (s)"] = median


def bench_load(tmp: Path, sizes: Sizes, rows: list[Row], extra: dict[str, Any]) -> None:
    with local_server(tmp / "load.sqlite3", workers=0, core=0) as server:
        try:
            rate = submission_rate(server, total=sizes.listed)
        except StepFailed as error:
            extra["server submissions per second (one core)"] = f"failed: {error}"
            raise
        extra["server submissions per second (one core)"] = rate
        say(f"server accepted {rate:.0f} submissions/s on one core")
        listing = interleaved(
            sizes.rounds,
            {
                name: lambda f=f: f(server, "list_jobs")
                for name, f in [("ours", ours), ("released", released)]
            },
        )
        for client, runs in listing.items():
            for run in runs:
                if run["jobs"] != sizes.listed:
                    raise StepFailed(f"{client} listed {run['jobs']} jobs, not {sizes.listed}")
        seconds = {k: statistics.median(r["seconds"] for r in v) for k, v in listing.items()}
        say(f"listing {sizes.listed} jobs: {seconds}")
        rows.append(
            Row(
                f"list {sizes.listed} jobs (all pages)",
                seconds["ours"],
                seconds["released"],
                "released",
                1 / 3,
            )
        )


def failed(name: str, reference_name: str, target: float, error: str) -> Row:
    return Row(name, math.nan, math.nan, reference_name, target, error=error)


def guarded(names: list[tuple[str, str, float]], rows: list[Row], body: Callable[[], None]) -> None:
    """Run ``body``; if it raises, the rows it did not add become FAIL rows carrying the error."""
    before = len(rows)
    try:
        body()
    except Exception as error:
        message = f"{type(error).__name__}: {error}".strip().splitlines()[0][:300]
        say(f"FAILED: {message}")
        present = {row.name + row.reference_name for row in rows[before:]}
        for name, reference, target in names:
            if name + reference not in present:
                rows.append(failed(name, reference, target, message))


#: The groups of rows ``--only`` picks from, in the order they run.
GROUPS = ("getjob", "submit", "decode", "link", "import", "list")


def run(sizes: Sizes, only: frozenset[str] = frozenset(GROUPS)) -> tuple[list[Row], dict[str, Any]]:
    """Every row of the groups in ``only`` (all of them unless told)."""
    rows: list[Row] = []
    extra: dict[str, Any] = {}
    wide, dense = f"{WIDE}-qubit result decode", f"{DENSE}-qubit dense result decode"
    with tempfile.TemporaryDirectory(prefix="qaas-bench-") as tmp_name:
        tmp = Path(tmp_name)
        server_rows = [
            ("get_job per call", "released", 0.35),
            (f"{wide}, time", "released", 1 / 3),
            (f"{wide}, peak RSS", "released", 1 / 2),
            (f"{dense}, time", "released", 1 / 3),
            (f"{dense}, peak RSS", "released", 1 / 2),
        ]
        chosen_server_rows = [
            row for row, group in zip(server_rows, ["getjob"] + ["decode"] * 4, strict=True) if group in only
        ]

        def main_server() -> None:
            with local_server(tmp / "main.sqlite3", workers=2) as server:
                small, big = prepare_jobs(server, wide="decode" in only)
                say(
                    f"prepared jobs {small} (2 qubits)"
                    + (f" and {big} ({WIDE} qubits)" if big != small else "")
                )
                if "getjob" in only:
                    guarded(server_rows[:1], rows, lambda: bench_get_job(server, small, sizes, rows, extra))
                if "submit" in only:
                    guarded([], rows, lambda: bench_submit(server, sizes, rows, extra))
                if "decode" not in only:
                    return
                # The simulator lists non-zero amplitudes only; H on every qubit makes all 2^WIDE of them so.
                wide_entries = [1 << WIDE, 1 << WIDE, 1000]
                guarded(
                    server_rows[1:3],
                    rows,
                    lambda: bench_decode(
                        server, big, sizes, rows, extra, step="decode", name=wide, entries=wide_entries
                    ),
                )
                dense_entries = [1 << DENSE, 1 << DENSE, 1 << DENSE, 1000]
                guarded(
                    server_rows[3:],
                    rows,
                    lambda: bench_decode(
                        server,
                        prepare_dense_job(server),
                        sizes,
                        rows,
                        extra,
                        step="decode_dense",
                        name=dense,
                        entries=dense_entries,
                    ),
                )

        if only & {"getjob", "submit", "decode"}:
            guarded(chosen_server_rows, rows, main_server)

        # The same submit+wait across a simulated network: what users of a distant service feel.
        link = f", {LINK_MS} ms link"
        link_rows = [
            (f"get_job per call{link}", "floor", 1.2),
            (f"{sizes.circuits} circuits submit+wait, sync{link}", "results floor", 1.2),
            (f"{sizes.circuits} circuits submit+wait, batch{link}", "released", 1 / 10),
        ]

        def link_server() -> None:
            with local_server(tmp / "link.sqlite3", workers=2, latency=LINK_MS / 1000) as server:
                small, _ = prepare_jobs(server, wide=False)
                link_sizes = Sizes(sizes.rounds, max(sizes.calls // 10, 20), sizes.circuits, sizes.listed)
                guarded(
                    link_rows[:1],
                    rows,
                    lambda: bench_get_job(server, small, link_sizes, rows, extra, link=link),
                )
                bench_submit(server, sizes, rows, extra, link=link)

        if "link" in only:
            guarded(link_rows, rows, link_server)
        if "import" in only:
            guarded(
                [("cold `from qiboconnection.api import API`", "released", 1 / 5)],
                rows,
                lambda: bench_import(sizes, rows, extra),
            )
        if "list" in only:
            guarded(
                [(f"list {sizes.listed} jobs (all pages)", "released", 1 / 3)],
                rows,
                lambda: bench_load(tmp, sizes, rows, extra),
            )
    return rows, extra


def _groups(text: str) -> frozenset[str]:
    """The groups named by ``--only`` (comma-separated); an unknown name is an error."""
    names = frozenset(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(names - set(GROUPS))
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown group(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(GROUPS)}"
        )
    return names


def say(text: str) -> None:
    sys.stderr.write(f"[bench] {text}\n")
    sys.stderr.flush()


def table(rows: list[Row]) -> str:
    head = f"{'benchmark':46} {'ours':>12} {'reference':>24} {'ratio':>8} {'target':>8}  result"
    lines = [head, "-" * len(head)]
    for row in rows:
        if row.error is not None:
            lines.append(
                f"{row.name:46} {'-':>12} {'(' + row.reference_name + ')':>24} {'-':>8} "
                f"{'<= ' + format(row.target, '.3g'):>8}  FAIL: {row.error}"
            )
            continue
        reference = f"{row.reference:.4g} {row.unit} ({row.reference_name})"
        lines.append(
            f"{row.name:46} {row.ours:>8.4g} {row.unit:<3} {reference:>24} {row.ratio:>8.3f} "
            f"{'<= ' + format(row.target, '.3g'):>8}  {'PASS' if row.passed else 'FAIL'}"
        )
    return "\n".join(lines)


def _finite(record: dict[str, Any]) -> dict[str, Any]:
    """NaN (a failed figure) as null, so the file stays strict JSON."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in record.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one round, smaller counts (for iteration)")
    parser.add_argument("--rounds", type=int, help="runs of each measurement; medians are kept (default 3)")
    parser.add_argument("--calls", type=int, help="get_job calls per process (default 200)")
    parser.add_argument("--circuits", type=int, help="circuits in the submit+wait benchmark (default 200)")
    parser.add_argument("--listed", type=int, help="jobs in the listing benchmark (default 2000)")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the figures")
    parser.add_argument(
        "--only",
        type=_groups,
        default=frozenset(GROUPS),
        metavar="NAME[,NAME]",
        help=f"run only these groups of rows: {', '.join(GROUPS)} (default: all)",
    )
    args = parser.parse_args(argv)
    defaults = Sizes(rounds=1, calls=100, circuits=50, listed=500) if args.quick else Sizes(3, 200, 200, 2000)
    sizes = Sizes(
        rounds=args.rounds or defaults.rounds,
        calls=args.calls or defaults.calls,
        circuits=args.circuits or defaults.circuits,
        listed=args.listed or defaults.listed,
    )
    if min(asdict(sizes).values()) < 1:
        parser.error("counts must be positive")
    if not RELEASED_PY.exists():
        sys.stderr.write(f"{RELEASED_PY} is missing: run `make released` first\n")
        return 2
    started = time.monotonic()
    rows, extra = run(sizes, args.only)
    sys.stdout.write(table(rows) + "\n")
    for name, value in extra.items():
        sys.stdout.write(f"{name}: {value}\n")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "rows": [_finite({**asdict(r), "ratio": r.ratio, "passed": r.passed}) for r in rows],
        "extra": extra,
        "sizes": asdict(sizes),
        "groups": [group for group in GROUPS if group in args.only],
        "seconds": time.monotonic() - started,
    }
    args.json.write_text(json.dumps(report, indent=2))
    passed = sum(r.passed for r in rows)
    sys.stdout.write(
        f"{passed} of {len(rows)} passed; took {report['seconds']:.0f} s; figures in {args.json}\n"
    )
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
