"""The README's "Use it from qibo" example runs as written against the local server."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from .examples import readme_section, run_first_block


def test_readme_qibo_example_runs_against_the_local_server(qaas_server: Any, tmp_path: Path) -> None:
    run = run_first_block(readme_section("## Use it from qibo"), qaas_server, tmp_path, "from_qibo.py")
    assert "Using qiboconnection (Qibo simulator) backend" in run.stdout + run.stderr
    printed = run.stdout.strip().splitlines()[-1]
    assert printed.startswith("Counter("), printed
    counts = ast.literal_eval(printed.removeprefix("Counter(").removesuffix(")"))
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 1000
