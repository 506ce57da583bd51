"""The README's "More" example (handles, AsyncAPI.run_batch, login without arguments) runs as written."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_more_example_runs_against_the_local_server(qaas_server: Any, tmp_path: Path) -> None:
    section = README.read_text().split("### More", 1)[1]
    script = tmp_path / "more.py"
    script.write_text(re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)[0])
    alice = qaas_server.users["alice"]
    env = {
        **os.environ,
        "QUANTUM_SERVICE_URL": qaas_server.url,
        "QIBOCONNECTION_USERNAME": alice.username,
        "QIBOCONNECTION_API_KEY": alice.api_key,
        "QIBOCONNECTION_CONFIG_DIR": str(tmp_path / "config"),
    }
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    job_id, status = lines[0].split()
    assert int(job_id) > 0 and status in {"queued", "running", "completed"}
    counts = ast.literal_eval(lines[1].removeprefix("Counter(").removesuffix(")"))
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 100
    assert lines[2] == "20 of 20 circuits ran"
    assert alice.api_key not in run.stdout + run.stderr
