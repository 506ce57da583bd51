"""The ``qiboconnection`` command line driven as a user would: subprocesses against a real local server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qiboconnection.cli_client import (
    EXIT_AUTH,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REMOTE,
    EXIT_TIMEOUT,
    EXIT_USAGE,
)

BELL_QASM = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q[0] -> c[0];
measure q[1] -> c[1];
"""


class Cli:
    """Runs ``python -m qiboconnection`` with a private config directory and the server's URL."""

    def __init__(self, server: Any, config_dir: Path, workdir: Path) -> None:
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"QIBOCONNECTION_USERNAME", "QIBOCONNECTION_API_KEY", "QUANTUM_SERVICE_URL"}
        }
        self.env.update(
            QUANTUM_SERVICE_URL=server.url,
            QIBOCONNECTION_CONFIG_DIR=str(config_dir),
            QIBOCONNECTION_MAX_ATTEMPTS="2",
            QIBOCONNECTION_RETRY_BUDGET="5",
        )
        self.workdir = workdir
        self.transcript: list[str] = []

    def __call__(self, *args: str, stdin: str | None = None, extra_env: dict[str, str] | None = None) -> Any:
        env = {**self.env, **(extra_env or {})}
        done = subprocess.run(
            [sys.executable, "-m", "qiboconnection", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=self.workdir,
            timeout=120,
        )
        self.transcript.extend([done.stdout, done.stderr])
        return done


@pytest.fixture
def cli(qaas_server: Any, tmp_path: Path) -> Cli:
    return Cli(qaas_server, tmp_path / "config", tmp_path)


def one_line_error(done: Any) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def test_login_submit_wait_read_and_plot(cli: Cli, qaas_server: Any, tmp_path: Path) -> None:
    alice = qaas_server.users["alice"]
    done = cli("login", "--username", alice.username, "--api-key-stdin", stdin=alice.api_key + "\n")
    assert done.returncode == EXIT_OK, done.stderr
    assert "Saved account 'default' for alice" in done.stderr
    accounts = tmp_path / "config" / "accounts.json"
    assert stat.S_IMODE(accounts.stat().st_mode) == 0o600
    again = cli("login", "--username", alice.username, "--api-key-stdin", stdin=alice.api_key)
    assert again.returncode == EXIT_USAGE
    assert "--overwrite" in one_line_error(again)

    devices = cli("devices")
    assert devices.returncode == EXIT_OK, devices.stderr
    header, *rows = devices.stdout.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "STATUS"]
    assert any(row.split()[0] == "1" and "online" in row for row in rows)
    listed = json.loads(cli("devices", "--json").stdout)
    assert {device["id"]: device["status"] for device in listed}[1] == "online"

    (tmp_path / "bell.qasm").write_text(BELL_QASM)
    waited = cli("submit", "bell.qasm", "--device", "1", "--shots", "64", "--wait", "--name", "cli-bell")
    assert waited.returncode == EXIT_OK, waited.stderr
    table = waited.stdout.splitlines()
    assert table[0].split() == ["OUTCOME", "COUNT", "PROBABILITY"]
    counts = {line.split()[0]: int(line.split()[1]) for line in table[1:]}
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 64

    submitted = json.loads(cli("submit", "bell.qasm", "-d", "1", "-n", "32", "--json").stdout)
    job_id = str(submitted["job_id"])
    as_json = cli("result", job_id, "--wait", "--json", "--no-progress")
    assert as_json.returncode == EXIT_OK, as_json.stderr
    body = json.loads(as_json.stdout)
    assert body["job_id"] == submitted["job_id"] and body["status"] == "completed"
    [entry] = body["result"]
    assert set(entry["counts"]) <= {"00", "11"} and sum(entry["counts"].values()) == 32

    plotted = cli("result", job_id, "--plot", "hist.png")
    assert plotted.returncode == EXIT_OK, plotted.stderr
    assert (tmp_path / "hist.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plotted.stdout.splitlines()[0].split() == ["OUTCOME", "COUNT", "PROBABILITY"]

    job = json.loads(cli("job", job_id, "--json").stdout)
    assert job["status"] == "completed" and job["has_result"] is True
    assert "result" not in job and "description" not in job
    shown = cli("job", job_id).stdout
    assert "status" in shown and "completed" in shown

    jobs = json.loads(cli("jobs", "--json").stdout)
    assert submitted["job_id"] in {item["id"] for item in jobs}
    assert "cli-bell" in cli("jobs").stdout

    cancelled = cli("cancel", job_id)
    assert cancelled.returncode == EXIT_REMOTE
    assert "can no longer be cancelled" in one_line_error(cancelled)

    listed_accounts = json.loads(cli("accounts", "--json").stdout)
    assert listed_accounts == [{"name": "default", "username": "alice", "url": qaas_server.url}]
    assert "alice" in cli("accounts").stdout
    assert alice.api_key not in json.dumps(saved_accounts(tmp_path))
    assert cli("logout").returncode == EXIT_OK
    assert saved_accounts(tmp_path) == []
    gone = cli("logout")
    assert gone.returncode == EXIT_NOT_FOUND
    assert "No saved account named 'default'" in one_line_error(gone)
    assert cli("devices").returncode == EXIT_AUTH

    assert all(alice.api_key not in text for text in cli.transcript)


def saved_accounts(tmp_path: Path) -> Any:
    """The CLI's saved accounts as the library lists them."""
    env = {"QIBOCONNECTION_CONFIG_DIR": str(tmp_path / "config")}
    code = "import json; from qiboconnection.api import API; print(json.dumps(API.list_accounts()))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}
    )
    return json.loads(done.stdout)


def test_usage_errors_are_one_line_with_exit_codes(cli: Cli, qaas_server: Any, tmp_path: Path) -> None:
    cases = [
        (("submit", "x.qasm", "--shots", "3"), "the following arguments are required: --device"),
        (("job", "abc"), "a job id is a whole number, not 'abc'"),
        (("submit", "x.qasm", "-d", "1", "-n", "0"), "expected a number above 0"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
        (("result", "1", "--timeout", "-3", "--wait"), "expected a positive number of seconds"),
    ]
    for args, message in cases:
        done = cli(*args)
        assert done.returncode == EXIT_USAGE, (args, done.stderr)
        assert message in one_line_error(done)

    no_account = cli("devices")
    assert no_account.returncode == EXIT_AUTH
    assert "No credentials" in one_line_error(no_account)

    refused = cli("login", "-u", "alice", "--api-key-stdin", stdin="wrong-key-for-alice\n")
    assert refused.returncode == EXIT_AUTH
    assert "Wrong username or API key" in one_line_error(refused)
    assert not (tmp_path / "config" / "accounts.json").exists()
    no_key = cli("login", "-u", "alice")
    assert no_key.returncode == EXIT_USAGE
    assert "--api-key-stdin" in one_line_error(no_key)

    alice = qaas_server.users["alice"]
    env = {"QIBOCONNECTION_USERNAME": alice.username, "QIBOCONNECTION_API_KEY": alice.api_key}
    missing = cli("result", "987654", extra_env=env)
    assert missing.returncode == EXIT_NOT_FOUND
    assert "does not exist" in one_line_error(missing)
    unreadable = cli("submit", "nowhere.qasm", "-d", "1", "-n", "3", extra_env=env)
    assert unreadable.returncode == EXIT_USAGE
    assert one_line_error(unreadable) == "error: cannot read nowhere.qasm: No such file or directory"
    (tmp_path / "broken.qasm").write_text("OPENQASM 2.0;\nqreg q[1];\nthis is not qasm\n")
    broken = cli("submit", "broken.qasm", "-d", "1", "-n", "3", extra_env=env)
    assert broken.returncode == EXIT_USAGE
    assert one_line_error(broken).startswith("error: broken.qasm is not valid OpenQASM 2.0: ")
    (tmp_path / "bell.qasm").write_text(BELL_QASM)
    offline = cli("submit", "bell.qasm", "-d", str(qaas_server.devices["offline"]), "-n", "3", extra_env=env)
    assert offline.returncode == EXIT_REMOTE
    assert "is offline, not online" in one_line_error(offline)


def test_help_documents_exit_codes(cli: Cli) -> None:
    top = cli("--help")
    assert top.returncode == EXIT_OK
    for line in ("0    success", "3    authentication error", "5    timed out", "130  interrupted"):
        assert line in top.stdout
    for command in (
        "login",
        "accounts",
        "logout",
        "devices",
        "submit",
        "jobs",
        "job",
        "result",
        "cancel",
        "serve",
    ):
        assert command in top.stdout
    sub = cli("submit", "--help")
    assert sub.returncode == EXIT_OK
    assert "--shots" in sub.stdout and "exit codes:" in sub.stdout
    nothing = cli()
    assert nothing.returncode == EXIT_USAGE


def test_not_finished_and_timeout(make_server: Any, tmp_path: Path) -> None:
    from qiboconnection.api import API
    from qiboconnection.config import Settings
    from qiboconnection.typings.connection import ConnectionConfiguration

    with make_server(workers=0) as server:
        alice = server.users["alice"]
        cli = Cli(server, tmp_path / "config", tmp_path)
        env = {"QIBOCONNECTION_USERNAME": alice.username, "QIBOCONNECTION_API_KEY": alice.api_key}
        (tmp_path / "bell.qasm").write_text(BELL_QASM)
        job_id = json.loads(cli("submit", "bell.qasm", "-d", "1", "-n", "5", "--json", extra_env=env).stdout)[
            "job_id"
        ]
        pending = cli("result", str(job_id), extra_env=env)
        assert pending.returncode == EXIT_REMOTE
        assert "has no result yet (use --wait)" in one_line_error(pending)
        timed_out = cli("result", str(job_id), "--wait", "--timeout", "0.3", extra_env=env)
        assert timed_out.returncode == EXIT_TIMEOUT
        assert f"Jobs {job_id} did not finish within 0.3 s" in one_line_error(timed_out)
        assert cli("cancel", str(job_id), extra_env=env).returncode == EXIT_OK
        with API(
            ConnectionConfiguration(alice.username, alice.api_key), settings=Settings(base_url=server.url)
        ) as api:
            assert api.get_job(job_id).status == "cancelled"


def test_light_commands_do_not_import_qibo_or_numpy(cli: Cli, qaas_server: Any) -> None:
    alice = qaas_server.users["alice"]
    env = {"QIBOCONNECTION_USERNAME": alice.username, "QIBOCONNECTION_API_KEY": alice.api_key}
    for args in (("--help",), ("devices",), ("jobs",)):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "qiboconnection", *args],
            capture_output=True,
            text=True,
            env={**cli.env, **env},
            timeout=60,
        )
        assert done.returncode == EXIT_OK, done.stderr
        imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
        assert "qiboconnection.cli" in imported
        assert not {"qibo", "numpy", "matplotlib"} & imported, args


def test_progress_on_a_terminal_and_no_progress(cli: Cli, qaas_server: Any, tmp_path: Path) -> None:
    import pty

    alice = qaas_server.users["alice"]
    env = {**cli.env, "QIBOCONNECTION_USERNAME": alice.username, "QIBOCONNECTION_API_KEY": alice.api_key}
    (tmp_path / "bell.qasm").write_text(BELL_QASM)

    def stderr_on_a_terminal(*flags: str) -> str:
        controller, terminal = pty.openpty()
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "qiboconnection",
                    "submit",
                    "bell.qasm",
                    "-d",
                    "1",
                    "-n",
                    "5",
                    "--wait",
                    *flags,
                ],
                stdout=subprocess.PIPE,
                stderr=terminal,
                env=env,
                cwd=tmp_path,
                timeout=120,
            )
            os.close(terminal)
            terminal = -1
            chunks = []
            while True:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(controller)
            if terminal >= 0:
                os.close(terminal)
        assert done.returncode == EXIT_OK
        assert done.stdout.decode().splitlines()[0].split() == ["OUTCOME", "COUNT", "PROBABILITY"]
        return b"".join(chunks).decode(errors="replace")

    shown = stderr_on_a_terminal()
    assert "Jobs: 1 completed" in shown
    quiet = stderr_on_a_terminal("--no-progress")
    assert "Submitted job" in quiet
    assert "Jobs:" not in quiet
