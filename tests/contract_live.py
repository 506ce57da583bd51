"""Contract run against a live `qiboconnection serve` process with the schemathesis CLI.

Starts the server on a free port with a temporary database and a known admin user, logs in for a
token, runs ``st run`` with every check (``--checks all``, positive data acceptance included) and every
phase, then stops the server. The exit code is schemathesis's: any finding fails the run.

Usage: ``make contract`` (seed 4242, 25 examples per operation) or
``.venv/bin/python tests/contract_live.py [--max-examples N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "openapi.yaml"
BIN = Path(sys.executable).parent
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"

# Statuses openapi.yaml documents for schema-valid requests: an id that does not exist (404), a device
# that takes no jobs or a duplicate name (409), a refused login assertion or token (401), a role that
# may not do this (403), a description the devices cannot run or too many shots (422), and failed
# logins throttled (429). Only cancelling adds one: a body whose job_id is not the path's (400),
# which no schema can tie to the path.
CONFIG = """
[cache]
enabled = false

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]

[[operations]]
include-operation-id = "cancelJob"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "422", "429"]

[auth.openapi.bearerAuth]
bearer = "${QAAS_CONTRACT_TOKEN}"
"""


def start_server(db_path: Path, username: str, api_key: str) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable, "-m", "qiboconnection", "serve", "--port", "0", "--db", str(db_path),
        "--user", f"{username}:{api_key}:admin", "--workers", "2", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = re.match(r"export QUANTUM_SERVICE_URL=(\S+)", line)
        if match:
            return process, match.group(1)
    process.kill()
    raise SystemExit("the server did not start")


def login(url: str, username: str, api_key: str) -> str:
    assertion = {
        "user_id": None,
        "username": username,
        "api_key": api_key,
        "audience": f"{url}/api/v1",
        "iat": int(time.time()),
    }
    body = {
        "grantType": GRANT_TYPE,
        "assertion": base64.urlsafe_b64encode(json.dumps(assertion).encode()).decode(),
        "scope": "user profile",
    }
    response = httpx.post(f"{url}/api/v1/authorisation-tokens", json=body, timeout=30)
    response.raise_for_status()
    return response.json()["accessToken"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--seed", type=int, default=4242)
    args = parser.parse_args(argv)
    username, api_key = "contract-admin", secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "schemathesis.toml"
        config.write_text(CONFIG)
        process, url = start_server(Path(tmp) / "contract.sqlite3", username, api_key)
        try:
            env = {**os.environ, "QAAS_CONTRACT_TOKEN": login(url, username, api_key)}
            command = [
                str(BIN / "st"), "--config-file", str(config), "run", str(SPEC), "--url", url,
                "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
                "--max-examples", str(args.max_examples), "--seed", str(args.seed),
                "--report-dir", str(Path(tmp) / "report"),
            ]  # fmt: skip
            print("$", " ".join(command), flush=True)
            return subprocess.run(command, env=env, check=False).returncode
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


if __name__ == "__main__":
    sys.exit(main())
