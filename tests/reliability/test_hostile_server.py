"""The client against a server that misbehaves (``hostile_server.py``): every case ends with one of our
errors, within a bounded time and with bounded memory.

Each call runs in a fresh process (``API.get_job`` or ``AsyncAPI.get_job``), which reports the error it
got, how long the call took and its peak resident memory (VmHWM), so one case cannot hide another's cost.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .hostile_server import MODES, gzip_bomb, hostile

#: The client's bounds in these runs.
TIMEOUT = 3.0
MAX_ANSWER = 32 << 20
#: What a call may take at most: a timeout for the answer and one more for a retry, with room to spare.
MOST_SECONDS = 15.0
#: Peak memory a client process may reach (Python, httpx and the client take about 60 MiB by themselves).
MOST_RSS = 256 << 20

CLIENT = """
import asyncio, json, sys, time
from qiboconnection.api import API
from qiboconnection.async_api import AsyncAPI
from qiboconnection.config import RetryPolicy, Settings
from qiboconnection.errors import QiboconnectionError
from qiboconnection.typings.connection import ConnectionConfiguration

url, kind, timeout, limit = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
settings = Settings(
    base_url=url, timeout=timeout, max_answer_bytes=limit, progress=False,
    retry=RetryPolicy(max_attempts=2, budget=5, backoff_base=0.1),
)
configuration = ConnectionConfiguration(username="mallory", api_key="key")
started = time.monotonic()
try:
    if kind == "sync":
        with API(configuration, settings=settings) as api:
            api.get_job(1)
    else:
        async def run():
            async with AsyncAPI(configuration, settings=settings) as api:
                await api.get_job(1)
        asyncio.run(run())
    error, ours, message = None, True, ""
except BaseException as caught:
    error, ours, message = type(caught).__name__, isinstance(caught, QiboconnectionError), str(caught)
seconds = time.monotonic() - started
with open("/proc/self/status") as status:
    rss = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({"error": error, "ours": ours, "message": message, "seconds": seconds, "peak_rss": rss}))
"""

#: What each case must end with (the error class, and words of its message).
EXPECTED: dict[str, tuple[str, str]] = {
    "endless": ("AnswerTooLargeError", "QIBOCONNECTION_MAX_ANSWER_BYTES"),
    "endless_chunked": ("AnswerTooLargeError", "QIBOCONNECTION_MAX_ANSWER_BYTES"),
    "gzip_bomb": ("AnswerTooLargeError", "inflates to more than"),
    "drip": ("", "within 3 s"),
    "drip_headers": ("RequestTimeoutError", "within 3 s"),
    "giant_length": ("AnswerTooLargeError", str(10**12)),
    "giant_chunk": ("", ""),
    "redirect": ("RemoteExecutionException", "redirected to 'https://elsewhere.example/api/v1/jobs/1'"),
    "html_200": ("QiboconnectionError", "text/html"),
    "html_500": ("ServerError", "Internal error"),
    "other_job": ("QiboconnectionError", "answered job 1 with the record of job 2"),
}


def run_client(url: str, kind: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, url, kind, str(TIMEOUT), str(MAX_ANSWER)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb(1 << 30)


def test_every_mode_has_an_expectation() -> None:
    assert set(EXPECTED) == set(MODES)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_a_hostile_answer_ends_with_our_error_in_bounded_time_and_memory(
    mode: str, kind: str, bomb: bytes
) -> None:
    with hostile(mode, bomb if mode == "gzip_bomb" else b"") as server:
        outcome = run_client(server.url, kind)
    name, words = EXPECTED[mode]
    assert outcome["error"] is not None, outcome
    assert outcome["ours"], outcome
    if name:
        assert outcome["error"] == name, outcome
    assert words in outcome["message"], outcome
    assert len(outcome["message"]) < 1000, outcome
    assert outcome["seconds"] < MOST_SECONDS, outcome
    assert outcome["peak_rss"] < MOST_RSS, outcome
