"""The documentation site: its guides run as written, its API reference is complete, its CLI page is generated.

Every code block of a guide is exercised, by kind:

- ``python`` blocks of a guide run, in order, as one script against a local server (the guide's users);
- ``sh`` blocks run with bash, the ``qiboconnection`` command on the PATH, against the same server;
- ``console`` blocks show commands that cannot run inside a test as they are (a server that runs until
  stopped, ``make`` targets that rebuild the project, ``pip install``); each of their commands is checked:
  ``qiboconnection serve`` is started with those flags and must come up, ``make`` targets and ``pip``
  extras must exist. A command of any other form fails the test, so no block goes unchecked.
"""

from __future__ import annotations

import ast
import html
import inspect
import os
import re
import shlex
import signal
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GUIDES = DOCS / "guides"
BIN = Path(sys.executable).parent

# The public members of qiboconnection.api.API in the released 0.23.2 client, whose reference page lists
# them (inspect.getmembers of the class, names without a leading underscore); checked against the
# released client itself by test_released_api_members_are_the_listed_ones.
RELEASED_API_MEMBERS = (
    "cancel_job",
    "delete_calibration",
    "delete_job",
    "delete_runcard",
    "execute",
    "execute_and_return_results",
    "get_calibration",
    "get_job",
    "get_result",
    "get_results",
    "get_runcard",
    "jobs",
    "last_calibration",
    "last_job",
    "last_runcard",
    "list_calibrations",
    "list_devices",
    "list_jobs",
    "list_runcards",
    "login",
    "ping",
    "save_calibration",
    "save_runcard",
    "select_device_id",
    "select_device_ids",
    "set_device_to_maintenance",
    "set_device_to_online",
    "update_calibration",
    "update_runcard",
    "user_id",
)
RELEASED_PYTHON = ROOT / ".venv-released" / "bin" / "python"


@dataclass(frozen=True)
class User:
    """A user of the guides' server, with the key the guides spell out."""

    username: str
    api_key: str
    role: str


GUIDE_USERS = {
    "alice": User("alice", "alice-api-key", "user"),
    "admin": User("admin", "admin-api-key", "admin"),
}


@dataclass(frozen=True)
class Block:
    """One code block of a guide."""

    language: str
    code: str
    line: int


def blocks(path: Path) -> list[Block]:
    """The ``code-block`` directives of a reStructuredText file, dedented, in order."""
    lines = path.read_text().splitlines()
    found = []
    for number, line in enumerate(lines):
        match = re.match(r"^(\s*)\.\. code-block:: (\w+)\s*$", line)
        if not match:
            continue
        indent = len(match.group(1))
        body: list[str] = []
        for following in lines[number + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            body.append(following)
        while body and not body[0].strip():
            body.pop(0)
        code_indent = min(len(text) - len(text.lstrip()) for text in body if text.strip())
        code = "\n".join(text[code_indent:] for text in body).rstrip() + "\n"
        found.append(Block(match.group(2), code, number + 1))
    return found


def guide_paths() -> list[Path]:
    return sorted(GUIDES.glob("*.rst"))


# What each guide's python blocks and sh blocks print, at least (regular expressions, in order).
EXPECTED_OUTPUT = {
    "quickstart": [r"Counter\(\{'(00|11)': \d+, '(00|11)': \d+\}\)"],
    "qibo": [r"Counter\(\{'(00|11)': \d+", r"'Qibo simulator': True", r"CircuitResult"],
    "jobs": [
        r"\d+ (queued|running|completed) ",
        r"Counter\(",
        r"job \d+: completed",
        r"\['completed', 'completed', 'completed'\]",
        r"already finished",
    ],
    "async_batches": [r"Counter\(", r"20 of 20 circuits ran"],
    "accounts_cli": [
        r"'name': 'lab', 'username': 'alice'",
        r"OK",
        r"default\s+alice",
        r"Qibo simulator",
        r"OUTCOME",
        r'"counts"',
        r"completed",
    ],
    "errors": [r"refused: 401", r"no such job: 404", r"not online", r"OK"],
    "limits_security": [r"OK", r"<API user='alice' url='http://127\.0\.0\.1:\d+'>"],
    "local_server": [r"1 Qibo simulator online", r"online", r"\[True, True, True, True, True\]"],
    "migrating": [r"no such job", r"\{'(00|11)': \d+", r"CircuitResult", r"DeprecationWarning"],
}
# Guides whose only blocks are console blocks (commands checked, not run).
CONSOLE_ONLY = {"backend_changes"}
# The server each guide's code runs against: ServerConfig fields (the local server guide's flaky one).
SERVER_FIELDS: dict[str, dict[str, Any]] = {
    "local_server": {"fault_rate": 0.2, "fault_seed": 7, "fault_kinds": ("503", "429", "drop")},
}


def test_every_guide_is_covered_and_in_the_site() -> None:
    names = {path.stem for path in guide_paths()}
    assert names == set(EXPECTED_OUTPUT) | CONSOLE_ONLY
    index = (DOCS / "index.rst").read_text()
    for name in names:
        assert f"guides/{name}" in index
        kinds = {block.language for block in blocks(GUIDES / f"{name}.rst")}
        assert kinds <= {"python", "sh", "console"}, (name, kinds)
        assert kinds and (name in CONSOLE_ONLY) == (kinds == {"console"}), (name, kinds)


def _environment(server: Any, config_dir: Path) -> dict[str, str]:
    alice = GUIDE_USERS["alice"]
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "QUANTUM_SERVICE_URL": server.url,
        "QIBOCONNECTION_USERNAME": alice.username,
        "QIBOCONNECTION_API_KEY": alice.api_key,
        "QIBOCONNECTION_CONFIG_DIR": str(config_dir),
        "QIBOCONNECTION_PROGRESS": "0",
    }


@pytest.mark.parametrize("guide", sorted(EXPECTED_OUTPUT))
def test_guide_runs_as_written_against_the_local_server(guide: str, make_server: Any, tmp_path: Path) -> None:
    found = blocks(GUIDES / f"{guide}.rst")
    script = "\n".join(block.code for block in found if block.language == "python")
    with make_server(users=GUIDE_USERS, **SERVER_FIELDS.get(guide, {})) as server:
        env = _environment(server, tmp_path / "config")
        # What the guide tells the reader to export applies to its code (the service URL is the test's).
        for block in (block for block in found if block.language == "console"):
            for line in block.code.splitlines():
                name, _, value = line.removeprefix("$ export ").partition("=")
                if line.startswith("$ export ") and name != "QUANTUM_SERVICE_URL":
                    env[name] = value
        outputs = []
        if script:
            (tmp_path / f"guide_{guide}.py").write_text(script)
            run = subprocess.run(
                [sys.executable, f"guide_{guide}.py"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=240,
            )
            assert run.returncode == 0, f"{guide}.py failed:\n{run.stdout}\n{run.stderr}"
            outputs.append(run.stdout)
        for block in (block for block in found if block.language == "sh"):
            run = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block.code],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=240,
            )
            assert run.returncode == 0, f"{guide}.rst line {block.line}:\n{run.stdout}\n{run.stderr}"
            outputs.append(run.stdout)
    printed = "\n".join(outputs)
    position = 0
    for pattern in EXPECTED_OUTPUT[guide]:
        match = re.compile(pattern).search(printed, position)
        assert match, f"{guide}: {pattern!r} not printed (in order) in:\n{printed}"
        position = match.end()
    for user in GUIDE_USERS.values():
        assert user.api_key not in printed.replace(f"{user.username}:{user.api_key}", "")


def _console_commands() -> list[tuple[str, int, str]]:
    commands = []
    for path in guide_paths():
        for block in blocks(path):
            if block.language != "console":
                continue
            lines = block.code.splitlines()
            assert lines and all(line.startswith("$ ") for line in lines), (path.name, block.line)
            commands += [(path.stem, block.line, line.removeprefix("$ ")) for line in lines]
    return commands


ENVIRONMENT_VARIABLES = set(
    re.findall(r"``(QIBOCONNECTION_\w+)``", (ROOT / "qiboconnection" / "config.py").read_text())
)


def _make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))


def test_console_commands_of_the_guides_are_real(tmp_path: Path) -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    served: list[str] = []
    for guide, line, command in _console_commands():
        words = shlex.split(command)
        where = f"{guide}.rst line {line}: {command}"
        if words[0] == "make":
            assert set(words[1:]) <= _make_targets(), where
        elif words[:2] == ["pip", "install"]:
            for requirement in words[2:]:
                match = re.fullmatch(r"qiboconnection(?:\[([\w,]+)\])?", requirement)
                assert match, where
                assert set(filter(None, (match.group(1) or "").split(","))) <= set(extras), where
        elif words[0] == "export" and words[1].startswith("QUANTUM_SERVICE_URL="):
            assert words[1] == "QUANTUM_SERVICE_URL=http://127.0.0.1:8000", where
        elif words[0] == "export":
            # Any other variable must be one the client reads (see Settings.from_env).
            name, _, value = words[1].partition("=")
            assert name in ENVIRONMENT_VARIABLES and value, where
        elif words[:2] == ["qiboconnection", "serve"]:
            served.append(_serve_once(words, tmp_path / f"serve-{len(served)}.sqlite3", where))
        else:
            pytest.fail(f"{where}: a console command this test does not know how to check")
    assert served, "no guide shows how to start the server"
    # The default address the guides export is the one `serve` listens on without --host/--port.
    from qiboconnection.cli import build_parser

    serve_defaults = build_parser().parse_args(["serve"])
    assert (serve_defaults.host, serve_defaults.port) == ("127.0.0.1", 8000)


def _serve_once(words: list[str], db: Path, where: str) -> str:
    """Start ``qiboconnection serve`` with the guide's flags (any free port, a fresh file); it must come up."""
    command = [str(BIN / "qiboconnection"), *words[1:], "--port", "0", "--db", str(db)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("export QUANTUM_SERVICE_URL=http://127.0.0.1:"):
                break
        assert lines and lines[-1].startswith("export QUANTUM_SERVICE_URL="), f"{where}: {''.join(lines)}"
        return lines[-1]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the API reference ---------------------------------------------------------------------------------


def _methods_table() -> list[str]:
    """The names in the autosummary tables of the API page, in order."""
    text = (DOCS / "reference" / "api.rst").read_text()
    return re.findall(r"^   API\.(\w+)$", text, flags=re.MULTILINE)


def test_released_api_members_are_the_listed_ones(tmp_path: Path) -> None:
    if not RELEASED_PYTHON.exists():
        pytest.fail(f"The released client's venv is missing ({RELEASED_PYTHON}); run `make released` first.")
    code = (
        "import inspect, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "from qiboconnection.api import API\n"
        "print(sorted(name for name, _ in inspect.getmembers(API) if not name.startswith('_')))\n"
    )
    # Run away from the repository, whose own qiboconnection would shadow the released one.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    run = subprocess.run(
        [str(RELEASED_PYTHON), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert ast.literal_eval(run.stdout.strip().splitlines()[-1]) == sorted(RELEASED_API_MEMBERS)
    assert len(RELEASED_API_MEMBERS) == 30


def test_methods_table_lists_every_public_member_of_api_once() -> None:
    from qiboconnection.api import API

    table = _methods_table()
    public = {name for name, _ in inspect.getmembers(API) if not name.startswith("_")}
    assert len(table) == len(set(table))
    assert set(table) == public
    assert set(RELEASED_API_MEMBERS) <= set(table)
    for name in RELEASED_API_MEMBERS:
        assert hasattr(API, name), name


def test_every_api_member_has_a_one_line_summary_about_itself() -> None:
    from qiboconnection.api import API

    for name in _methods_table():
        doc = inspect.getdoc(getattr(API, name))
        assert doc and doc.splitlines()[0].strip(), name
    # Each deletion says what it deletes (the released reference said "a job" for all three).
    for thing in ("job", "runcard", "calibration"):
        summary = inspect.getdoc(getattr(API, f"delete_{thing}")).splitlines()[0]
        assert thing in summary.lower()
        assert {"job", "runcard", "calibration"} - {thing} & set(re.findall(r"\w+", summary.lower())) == set()


# -- the generated CLI page -----------------------------------------------------------------------------


def _build_cli_page(tmp_path: Path, name: str) -> str:
    """Build a site holding the real CLI and server pages with the site's extensions; return the CLI page."""
    from sphinx.cmd.build import build_main

    source = tmp_path / f"{name}-src"
    (source / "reference").mkdir(parents=True)
    (source / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(DOCS / '_ext')!r})\n"
        "extensions = ['argparse_page']\n"
        "root_doc = 'index'\n"
    )
    (source / "index.rst").write_text("Site\n====\n\n.. toctree::\n\n   reference/cli\n   reference/server\n")
    for page in ("cli", "server"):
        text = (DOCS / "reference" / f"{page}.rst").read_text()
        # The pages' links to the rest of the site have no target in this small one.
        text = re.sub(r":(?:doc|class|meth):`[^`]*`", "the rest of the site", text)
        (source / "reference" / f"{page}.rst").write_text(text)
    out = tmp_path / f"{name}-html"
    status = build_main(["-b", "html", "-W", "-q", "-E", str(source), str(out)])
    assert status == 0
    page = (out / "reference" / "cli.html").read_text()
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_cli_page_is_generated_from_the_parser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qiboconnection import cli
    from qiboconnection.cli_client import COMMANDS as CLIENT_COMMANDS

    before = _build_cli_page(tmp_path, "before")
    parser = cli.build_parser()
    commands = [name for action in parser._subparsers._group_actions for name in action.choices]
    for command in commands:
        if command != "serve":
            assert f"qiboconnection {command}" in before, command
    assert "--shots" in before and "--priority" not in before

    [add_submit] = [add for add in CLIENT_COMMANDS if add.__name__ == "_add_submit"]

    def add_submit_with_priority(subparsers: Any) -> None:
        add_submit(subparsers)
        subparsers.choices["submit"].add_argument("--priority", type=int, help="queue priority of the job")

    changed = [add_submit_with_priority if add is add_submit else add for add in cli.COMMANDS]
    monkeypatch.setattr(cli, "COMMANDS", changed)
    after = _build_cli_page(tmp_path, "after")
    assert "--priority PRIORITY" in after and "queue priority of the job" in after
    assert before != after


# -- docstring coverage ---------------------------------------------------------------------------------


def _coverage(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(DOCS / "docstring_coverage.py"),
            "--config",
            str(ROOT / "pyproject.toml"),
            *map(str, paths),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_docstring_coverage_counts_public_names_only(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text('"""A package."""\n')
    documented = (
        '"""A module."""\n\n\n'
        "async def fetch(ids):\n"
        '    """Fetch them."""\n\n'
        "    async def one(job_id):\n"
        "        def inner():\n"
        "            return job_id\n\n"
        "        return inner()\n\n"
        "    return [await one(job_id) for job_id in ids]\n\n\n"
        "def _private():\n"
        "    return 1\n"
    )
    (package / "mod.py").write_text(documented)
    assert _coverage(package).returncode == 0, _coverage(package).stdout
    (package / "mod.py").write_text(documented + "\n\ndef public():\n    return 2\n")
    refused = _coverage(package)
    assert refused.returncode != 0
    assert "public" in refused.stdout


def test_the_client_public_api_is_fully_documented() -> None:
    run = _coverage(ROOT / "qiboconnection")
    assert run.returncode == 0, run.stdout
    assert "actual: 100.0%" in run.stdout


def _documented_api() -> list[tuple[str, Any]]:
    from qiboconnection.api import API
    from qiboconnection.async_api import AsyncAPI
    from qiboconnection.remote_job import AsyncRemoteJob, RemoteJob

    members = []
    for cls in (API, AsyncAPI, RemoteJob, AsyncRemoteJob):
        for name, member in inspect.getmembers(cls):
            if not name.startswith("_") and callable(member) and not isinstance(member, type):
                members.append((f"{cls.__name__}.{name}", member))
    return members


def test_facade_methods_document_every_argument_and_what_they_return() -> None:
    missing = []
    for qualified, member in _documented_api():
        doc = inspect.getdoc(member) or ""
        signature = inspect.signature(member)
        for parameter in signature.parameters.values():
            if parameter.name in {"self", "cls"}:
                continue
            if not re.search(rf"^\s+{parameter.name}:", doc, flags=re.MULTILINE):
                missing.append(f"{qualified}: argument {parameter.name}")
        returns = signature.return_annotation
        if returns not in {None, "None", inspect.Signature.empty} and "Returns:" not in doc:
            missing.append(f"{qualified}: Returns")
    assert missing == []
