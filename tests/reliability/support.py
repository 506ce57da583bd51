"""Building blocks of the reliability tests: sessions with patient retry policies, predictable circuits."""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from qiboconnection.api import API
from qiboconnection.config import RetryPolicy, Settings
from qiboconnection.typings.connection import ConnectionConfiguration

NQUBITS = 5


class RetryCounter(logging.Handler):
    """Counts the client's "retrying" log lines, by the kind of failure they name."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.kinds: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "retrying in" not in message:
            return
        for marker in ("HTTP 500", "HTTP 502", "HTTP 503", "HTTP 429", "RemoteProtocolError", "ConnectError"):
            if marker in message:
                self.kinds[marker] += 1
                return
        self.kinds["other"] += 1


def session(url: str, username: str, api_key: str, policy: RetryPolicy, timeout: float = 10.0) -> API:
    """A logged-in session against ``url`` with ``policy`` and no progress line."""
    settings = Settings(base_url=url, retry=policy, progress=False, timeout=timeout)
    return API(ConnectionConfiguration(username=username, api_key=api_key), settings=settings)


def x_circuit(bits: str) -> Any:
    """A circuit that flips the qubits where ``bits`` has a 1 and measures them all: it always reads ``bits``."""
    from qibo import Circuit, gates

    circuit = Circuit(len(bits))
    circuit.add(gates.I(0))
    circuit.add([gates.X(q) for q, bit in enumerate(bits) if bit == "1"])
    circuit.add(gates.M(*range(len(bits))))
    return circuit


def bits_of(number: int) -> str:
    return format(number % (2**NQUBITS), f"0{NQUBITS}b")


def job_rows(db_path: Path) -> list[tuple[int, str, str]]:
    """(id, status, name) of every job in a server database, read directly with SQLite."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        return [tuple(row) for row in conn.execute("SELECT id, status, name FROM jobs ORDER BY id")]
