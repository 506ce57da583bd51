"""The README's "More" example (handles, AsyncAPI.run_batch, login without arguments) runs as written."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from .examples import readme_section, run_first_block


def test_readme_more_example_runs_against_the_local_server(qaas_server: Any, tmp_path: Path) -> None:
    run = run_first_block(readme_section("### More"), qaas_server, tmp_path, "more.py")
    lines = run.stdout.strip().splitlines()
    job_id, status = lines[0].split()
    assert int(job_id) > 0 and status in {"queued", "running", "completed"}
    counts = ast.literal_eval(lines[1].removeprefix("Counter(").removesuffix(")"))
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 100
    assert lines[2] == "20 of 20 circuits ran"
