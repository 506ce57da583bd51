"""The README's "Use it from qibo" example runs as written against the local server."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_qibo_example_runs_against_the_local_server(qaas_server: Any, tmp_path: Path) -> None:
    section = README.read_text().split("## Use it from qibo", 1)[1]
    script = tmp_path / "from_qibo.py"
    script.write_text(re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)[0])
    alice = qaas_server.users["alice"]
    env = {
        **os.environ,
        "QUANTUM_SERVICE_URL": qaas_server.url,
        "QIBOCONNECTION_USERNAME": alice.username,
        "QIBOCONNECTION_API_KEY": alice.api_key,
        "QIBOCONNECTION_CONFIG_DIR": str(tmp_path / "config"),
    }
    env.pop("QIBO_BACKEND", None)
    env.pop("QIBO_PLATFORM", None)
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Using qiboconnection (Qibo simulator) backend" in run.stdout + run.stderr
    printed = run.stdout.strip().splitlines()[-1]
    assert printed.startswith("Counter("), printed
    counts = ast.literal_eval(printed.removeprefix("Counter(").removesuffix(")"))
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 1000
    assert alice.api_key not in run.stdout + run.stderr
