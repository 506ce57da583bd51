"""What both benchmark drivers share. Each driver runs as a script in its own venv (ours, or the
released client's), so this module is imported from the script's folder and names no client: its
`from qiboconnection.api import API` finds whichever client the running venv has.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

Step = Callable[[dict[str, Any]], dict[str, Any]]


def peak_rss() -> int:
    """This process's peak resident set size in bytes (VmHWM; unlike ru_maxrss it starts afresh at exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def login() -> Any:
    """The running venv's client, logged in with the credentials the harness put in the environment."""
    from qiboconnection.api import API

    return API.login(
        username=os.environ["QIBOCONNECTION_USERNAME"], api_key=os.environ["QIBOCONNECTION_API_KEY"]
    )


def bell() -> Any:
    from qibo import Circuit, gates

    circuit = Circuit(2)
    circuit.add(gates.H(0))
    circuit.add(gates.CNOT(0, 1))
    circuit.add(gates.M(0, 1))
    return circuit


def get_job(args: dict[str, Any]) -> dict[str, Any]:
    """Seconds per `api.get_job` call on one completed job, after one warm-up call."""
    api = login()
    job_id, calls = args["job_id"], args["calls"]
    api.get_job(job_id)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        api.get_job(job_id)
        times.append(time.perf_counter() - start)
    return {"seconds": times}


def raw_token(connection: http.client.HTTPConnection, base: str, username: str, api_key: str) -> str:
    """Log in with nothing but http.client; returns the access token."""
    assertion = {
        "user_id": None,
        "username": username,
        "api_key": api_key,
        "audience": f"{base}/api/v1",
        "iat": int(time.time()),
    }
    body = json.dumps(
        {
            "grantType": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": base64.urlsafe_b64encode(json.dumps(assertion).encode()).decode(),
            "scope": "user profile",
        }
    )
    connection.request("POST", "/api/v1/authorisation-tokens", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = json.loads(response.read())
    if response.status not in {200, 201}:
        raise RuntimeError(f"login failed: {payload}")
    return payload["accessToken"]


def run(steps: dict[str, Step]) -> None:
    """Run the step named on the command line with its JSON arguments; print its JSON answer."""
    logging.disable(logging.CRITICAL)
    step, raw = sys.argv[1], sys.argv[2]
    sys.stdout.write(json.dumps(steps[step](json.loads(raw))) + "\n")
