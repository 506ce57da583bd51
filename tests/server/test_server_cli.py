"""`qiboconnection serve`: arguments, first-start credentials, restarts, and a light `--help`."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from qiboconnection.cli import build_parser, main

from .http_support import login_response

REPO = Path(__file__).resolve().parents[2]


def _serve(*args: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    """Start ``python -m qiboconnection serve --port 0 ...``; return it, its URL and its first lines."""
    process = subprocess.Popen(
        [sys.executable, "-m", "qiboconnection", "serve", "--port", "0", "--log-level", "warning", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        match = re.fullmatch(r"export QUANTUM_SERVICE_URL=(http://127\.0\.0\.1:\d+)", lines[-1])
        if match:
            return process, match.group(1), lines
    process.kill()
    pytest.fail(f"the server printed no URL: {lines}")


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


def test_serve_in_memory_creates_and_prints_an_admin_once():
    process, url, lines = _serve("--db", ":memory:", "--workers", "1")
    try:
        text = "\n".join(lines)
        assert "Created an admin user" in text
        username = re.search(r"username: (\S+)", text).group(1)
        api_key = re.search(r"api key:\s+(\S+)", text).group(1)
        assert httpx.get(f"{url}/status").json() == "OK"
        response = login_response(url, username, api_key)
        assert response.status_code == 200, response.text
    finally:
        assert _stop(process) == 0


def test_serve_with_users_and_a_database_file(tmp_path):
    db = tmp_path / "cli.sqlite3"
    process, url, lines = _serve(
        "--db", str(db), "--user", "carol:carol-key-123", "--user", "dave:dave-key-123:admin"
    )
    try:
        assert not any("Created" in line for line in lines)
        assert login_response(url, "carol", "carol-key-123").status_code == 200
        assert login_response(url, "dave", "dave-key-123").status_code == 200
    finally:
        assert _stop(process) == 0
    # A restart without --user keeps the users and creates nobody.
    process, url, lines = _serve("--db", str(db))
    try:
        assert not any("Created" in line for line in lines)
        response = login_response(url, "carol", "carol-key-123")
        assert response.status_code == 200, response.text
    finally:
        assert _stop(process) == 0


def test_bad_arguments(capsys):
    assert main(["serve", "--user", "no-key-here"]) == 2
    assert "NAME:API_KEY" in capsys.readouterr().err
    assert main(["serve", "--user", "eve:short"]) == 2
    assert "at least 8" in capsys.readouterr().err
    assert main(["serve", "--workers", "-1"]) == 2
    assert main(["serve", "--latency", "-0.5"]) == 2
    assert "--latency" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["serve", "--port", "eighty"])
    assert main([]) == 2
    assert "serve" in build_parser().format_help()


def test_help_does_not_import_the_server():
    code = (
        "import sys; from qiboconnection.cli import build_parser; build_parser().format_help(); "
        "heavy = [m for m in ('connexion', 'uvicorn', 'qibo', 'qiboconnection.server.app') if m in sys.modules]; "
        "print(heavy)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "[]"


def test_fault_flags_are_checked(capsys):
    assert main(["serve", "--fault-rate", "1.5"]) == 2
    assert "fault_rate" in capsys.readouterr().err
    assert main(["serve", "--fault-rate", "0.1", "--fault-kinds", "500,teapot"]) == 2
    assert "teapot" in capsys.readouterr().err
    assert main(["serve", "--fault-rate", "0.1", "--fault-max-latency", "60"]) == 2
    assert "fault_max_latency" in capsys.readouterr().err


def test_serve_with_faults_announces_them_and_injects_them():
    process, url, lines = _serve(
        "--db", ":memory:", "--fault-rate", "1", "--fault-kinds", "503", "--fault-seed", "3"
    )
    try:
        assert any("Fault injection on: 1 of API requests meet one of 503 (seed 3)" in line for line in lines)
        assert httpx.get(f"{url}/status").json() == "OK"  # health checks are never faulted
        refused = httpx.get(f"{url}/api/v1/devices")
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
    finally:
        assert _stop(process) == 0
