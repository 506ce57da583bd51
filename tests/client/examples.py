"""Running a documented Python example as written: its first code block, in a process of its own, logged in
to a test server through the environment as a reader would be."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_section(heading: str) -> str:
    """The README's text after ``heading``."""
    return README.read_text().split(heading, 1)[1]


def run_first_block(
    text: str, server: Any, tmp_path: Path, name: str = "example.py"
) -> subprocess.CompletedProcess[str]:
    """Run the first ```python block of ``text`` as alice on ``server``; the finished process."""
    script = tmp_path / name
    script.write_text(re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)[0])
    alice = server.users["alice"]
    env = {
        **os.environ,
        "QUANTUM_SERVICE_URL": server.url,
        "QIBOCONNECTION_USERNAME": alice.username,
        "QIBOCONNECTION_API_KEY": alice.api_key,
        "QIBOCONNECTION_CONFIG_DIR": str(tmp_path / "config"),
    }
    env.pop("QIBO_BACKEND", None)
    env.pop("QIBO_PLATFORM", None)
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert alice.api_key not in run.stdout + run.stderr
    return run
