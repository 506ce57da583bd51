"""The README example and `make demo` work as a user would run them."""

from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import sys
from pathlib import Path

from qiboconnection import demo

ROOT = Path(__file__).resolve().parents[1]


def _readme_python_block() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)
    assert blocks, "README.md has no python example"
    return blocks[0]


def test_readme_example_runs_as_written_against_the_local_server(qaas_server, tmp_path):
    alice = qaas_server.users["alice"]
    script = tmp_path / "example.py"
    script.write_text(_readme_python_block())
    env = {
        **os.environ,
        "QUANTUM_SERVICE_URL": qaas_server.url,
        "QIBOCONNECTION_USERNAME": alice.username,
        "QIBOCONNECTION_API_KEY": alice.api_key,
    }
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    printed = run.stdout.strip().splitlines()[-1]
    assert printed.startswith("Counter("), printed
    counts = ast.literal_eval(printed.removeprefix("Counter(").removesuffix(")"))
    assert set(counts) <= {"00", "11"}
    assert sum(counts.values()) == 1000
    assert alice.api_key not in run.stdout + run.stderr


def test_demo_runs_a_bell_circuit_end_to_end():
    out = io.StringIO()
    assert demo.run(out=out, nshots=500) == 0
    text = out.getvalue()
    assert "completed" in text
    assert "Bell correlations: only 00 and 11 measured." in text
    counts = ast.literal_eval(re.search(r"counts:\s+(\{.*\})", text).group(1))
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 500
