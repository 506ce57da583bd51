"""Write the synchronous twins of the asynchronous sources: ``qiboconnection/_async/*.py`` ->
``qiboconnection/_sync/*.py``.

Each rule replaces whole words (or an exact phrase), so that a coroutine becomes a plain function, an
awaited call a plain call, and each asynchronous name its synchronous counterpart. ``--check`` changes
nothing and fails when a twin differs from what the source gives (``make check-unasync``).

Usage: ``python scripts/unasync.py [--check]``
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "qiboconnection" / "_async"
TARGET = ROOT / "qiboconnection" / "_sync"

#: Whole words, replaced where they stand as a word (or a dotted name's part).
WORDS = {
    "AsyncAPIBase": "APIBase",
    "AsyncRemoteJob": "RemoteJob",
    "AsyncPool": "Pool",
    "AsyncBaseTransport": "BaseTransport",
    "AsyncClient": "Client",
    "async_sleep": "sleep",
    "async_within": "within",
    "asyncio_detailed": "sync_detailed",
    "get_async_httpx_client": "get_httpx_client",
    "build_async_clients": "build_clients",
    "login_async": "login_sync",
    "send_async": "send_sync",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "aclose": "close",
}
#: Phrases of the sources' text, replaced as they are.
PHRASES = {
    "async def ": "def ",
    "async with ": "with ",
    "async for ": "for ",
    "await ": "",
    "asynchronous": "synchronous",
    "coroutines over": "methods over",
    "qiboconnection._async.": "qiboconnection._sync.",
}
NOTE = "# Written from qiboconnection/_async/{name} by scripts/unasync.py: edit that file, not this one.\n"

_WORD = re.compile(
    r"\b(" + "|".join(re.escape(word) for word in sorted(WORDS, key=len, reverse=True)) + r")\b"
)


def _strip_awaitable(text: str) -> str:
    """``Awaitable[X]`` -> ``X`` (X may hold brackets), and ``Awaitable`` out of import lists."""
    out: list[str] = []
    position = 0
    while (start := text.find("Awaitable[", position)) != -1:
        out.append(text[position:start])
        depth, index = 1, start + len("Awaitable[")
        while depth:
            depth += {"[": 1, "]": -1}.get(text[index], 0)
            index += 1
        out.append(text[start + len("Awaitable[") : index - 1])
        position = index
    out.append(text[position:])
    text = "".join(out)
    text = re.sub(r"\bAwaitable, ", "", text)
    return re.sub(r", Awaitable\b", "", text)


def unasync(source: str) -> str:
    """The synchronous twin of one asynchronous source file."""
    text = _strip_awaitable(source)
    for phrase, replacement in PHRASES.items():
        text = text.replace(phrase, replacement)
    return _WORD.sub(lambda match: WORDS[match.group(1)], text)


def noted(text: str, name: str) -> str:
    """``text`` with :data:`NOTE` after its module docstring (which stays the file's first line)."""
    end = text.index('"""', text.index('"""') + 3) + 3 if text.startswith('"""') else 0
    return text[:end] + "\n\n" + NOTE.format(name=name) + text[end:]


def formatted(text: str, path: Path) -> str:
    """``text`` as ``ruff format`` (the project's formatter, beside this Python) writes it."""
    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run(
        [str(ruff), "format", "--stdin-filename", str(path), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"ruff could not format {path}: {done.stderr.strip()}")
    return done.stdout


def twins() -> dict[Path, str]:
    """Every twin file and the text it must hold."""
    return {
        TARGET / path.name: formatted(noted(unasync(path.read_text()), path.name), TARGET / path.name)
        for path in sorted(SOURCE.glob("*.py"))
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; fail when a twin is stale")
    args = parser.parse_args(argv)
    wanted = twins()
    present = set(TARGET.glob("*.py"))
    stale = sorted(
        str(path.relative_to(ROOT))
        for path, text in wanted.items()
        if not path.exists() or path.read_text() != text
    )
    extra = sorted(str(path.relative_to(ROOT)) for path in present - set(wanted))
    if args.check:
        for name in stale:
            print(f"{name} differs from its asynchronous source", file=sys.stderr)
        for name in extra:
            print(f"{name} has no asynchronous source", file=sys.stderr)
        if stale or extra:
            print("run 'make unasync' and commit the result", file=sys.stderr)
            return 1
        print("qiboconnection/_sync matches qiboconnection/_async")
        return 0
    TARGET.mkdir(exist_ok=True)
    for path, text in wanted.items():
        path.write_text(text)
    for path in present - set(wanted):
        path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
