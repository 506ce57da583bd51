"""The released qiboconnection 0.23.2 client works unchanged against the local server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RELEASED_PYTHON = REPO / ".venv-released" / "bin" / "python"
SCENARIO = Path(__file__).with_name("released_client_scenario.py")


def _run(server, cred, *args: str) -> dict:
    env = {
        **os.environ,
        "QUANTUM_SERVICE_URL": server.url,
        "QAAS_USERNAME": cred.username,
        "QAAS_API_KEY": cred.api_key,
    }
    env.pop("PYTHONPATH", None)
    # Run outside the repository so that its own qiboconnection package does not shadow the released one.
    completed = subprocess.run(
        [str(RELEASED_PYTHON), str(SCENARIO), *args],
        env=env,
        cwd=SCENARIO.parent.parent.parent.parent,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr[-6000:]}"
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_released_client_end_to_end(make_server, tmp_path):
    if not RELEASED_PYTHON.exists():
        pytest.fail(f"The released client's venv is missing ({RELEASED_PYTHON}); run `make released` first.")
    db_path = tmp_path / "released.sqlite3"
    with make_server(db_path=db_path, workers=0) as server:
        users = server.users
        made = _run(server, users["admin"], "submit")
        store = server.app.store
        assert store.job(made["cancelled"])["status"] == "cancelled"
        assert store.job(made["deleted"]) is None
        assert store.job(made["bell_job"])["status"] == "queued"
    with make_server(db_path=db_path, users=users, workers=1) as server:
        collected = _run(server, users["admin"], "collect", str(made["bell_job"]))
    assert sum(collected["counts"].values()) == 1000
