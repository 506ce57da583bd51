"""SQLite storage: users, devices, jobs, runcards and calibrations.

One connection serves every thread, guarded by a lock: statements are short, SQLite serialises
writers anyway, and it makes ``:memory:`` databases work across threads. File databases use WAL
with ``synchronous=NORMAL``, so a commit costs no fsync while a crash still loses no committed job.
"""

from __future__ import annotations

import bisect
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FINAL_STATUSES = ("completed", "error", "cancelled", "canceled")
UNFINISHED_STATUSES = ("not sent", "pending", "queued", "running")
#: The range of SQLite's integers, and so of every id, count and offset the store takes.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    api_key_hash TEXT NOT NULL,
    slack_id TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    slurm_partition TEXT,
    static_features TEXT NOT NULL DEFAULT '{}',
    dynamic_features TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    device_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    job_type TEXT NOT NULL,
    number_shots INTEGER NOT NULL,
    description TEXT NOT NULL,
    result TEXT,
    error TEXT,
    name TEXT NOT NULL,
    summary TEXT NOT NULL,
    favourite INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT,
    request_hash TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    duration REAL
);
CREATE INDEX IF NOT EXISTS jobs_by_user ON jobs (user_id, favourite, id);
CREATE INDEX IF NOT EXISTS jobs_by_user_newest ON jobs (user_id, id);
CREATE INDEX IF NOT EXISTS jobs_by_device_status ON jobs (device_id, status, id);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS runcards (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    body TEXT NOT NULL,
    device_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    qililab_version TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS calibrations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    body TEXT NOT NULL,
    device_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    qililab_version TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""

SEED_DEVICES = (
    {
        "name": "Qibo simulator",
        "type": "simulator_device",
        "status": "online",
        "static_features": {"max_qubits": 20, "max_shots": 1_000_000},
        "dynamic_features": {},
    },
    {
        "name": "Galadriel",
        "type": "quantum_device",
        "status": "maintenance",
        "static_features": {"max_qubits": 5, "max_shots": 100_000},
        "dynamic_features": {},
    },
    {
        "name": "Radagast",
        "type": "quantum_device",
        "status": "offline",
        "static_features": {"max_qubits": 5, "max_shots": 100_000},
        "dynamic_features": {},
    },
)

RECORD_KINDS = ("runcards", "calibrations")


def utc_now() -> str:
    """The current time as an ISO 8601 string in UTC."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class DuplicateName(Exception):
    """A runcard or calibration with this name already exists."""


class Store:
    """All persistent state of one server."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._device_cache: dict[int, dict[str, Any]] = {}
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._seed_devices()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(row) for row in self._conn.execute(sql, params).fetchall()]

    def _scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()[0]

    # settings
    def secret(self) -> bytes:
        """The token-signing secret, created once and kept in the database."""
        with self._transaction() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = 'jwt_secret'").fetchone()
            if row is not None:
                return bytes(row[0])
            value = secrets.token_bytes(32)
            conn.execute("INSERT INTO settings (key, value) VALUES ('jwt_secret', ?)", (value,))
            return value

    # users
    def count_users(self) -> int:
        return int(self._scalar("SELECT COUNT(*) FROM users"))

    def user_by_name(self, username: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM users WHERE username = ?", (username,))

    def user_by_id(self, user_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM users WHERE id = ?", (user_id,))

    def upsert_user(self, username: str, role: str, api_key_hash: str) -> int:
        with self._transaction() as conn:
            row = conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
            if row is None:
                cur = conn.execute(
                    "INSERT INTO users (username, role, api_key_hash, created_at) VALUES (?, ?, ?, ?)",
                    (username, role, api_key_hash, utc_now()),
                )
                return int(cur.lastrowid or 0)
            conn.execute(
                "UPDATE users SET role = ?, api_key_hash = ? WHERE id = ?", (role, api_key_hash, row[0])
            )
            return int(row[0])

    def set_user_role(self, user_id: int, role: str) -> None:
        with self._lock:
            self._conn.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))

    # devices
    def _seed_devices(self) -> None:
        with self._transaction() as conn:
            if conn.execute("SELECT COUNT(*) FROM devices").fetchone()[0]:
                return
            for device in SEED_DEVICES:
                conn.execute(
                    "INSERT INTO devices (name, type, status, static_features, dynamic_features)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        device["name"],
                        device["type"],
                        device["status"],
                        json.dumps(device["static_features"]),
                        json.dumps(device["dynamic_features"]),
                    ),
                )

    _DEVICE_SELECT = (
        "SELECT d.*, (SELECT COUNT(*) FROM jobs j WHERE j.device_id = d.id"
        " AND j.status IN ('queued', 'running')) AS number_pending_jobs FROM devices d"
    )

    @staticmethod
    def _device(row: dict[str, Any]) -> dict[str, Any]:
        row["static_features"] = json.loads(row["static_features"])
        row["dynamic_features"] = json.loads(row["dynamic_features"])
        return row

    def device(self, device_id: int) -> dict[str, Any] | None:
        row = self._one(f"{self._DEVICE_SELECT} WHERE d.id = ?", (device_id,))
        return self._device(row) if row else None

    def device_settings(self, device_id: int) -> dict[str, Any] | None:
        """A device without its pending-job count, from memory after the first read (every submission
        asks). Callers must not modify it. Device writes go through this store, which forgets its copy."""
        cached = self._device_cache.get(device_id)
        if cached is not None:
            return cached
        row = self._one("SELECT * FROM devices WHERE id = ?", (device_id,))
        if row is None:
            return None
        device = self._device_cache[device_id] = self._device(row)
        return device

    def device_by_name(self, name: str) -> dict[str, Any] | None:
        row = self._one(f"{self._DEVICE_SELECT} WHERE d.name = ?", (name,))
        return self._device(row) if row else None

    def devices(self, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        rows = self._all(f"{self._DEVICE_SELECT} ORDER BY d.id LIMIT ? OFFSET ?", (limit, offset))
        total = int(self._scalar("SELECT COUNT(*) FROM devices"))
        return [self._device(r) for r in rows], total

    def set_device_status(self, device_id: int, status: str) -> bool:
        with self._lock:
            cur = self._conn.execute("UPDATE devices SET status = ? WHERE id = ?", (status, device_id))
            self._device_cache.pop(device_id, None)
            return cur.rowcount > 0

    # jobs
    def insert_job(
        self, fields: dict[str, Any], idempotency_key: str | None, request_hash: str | None
    ) -> tuple[int, bool, str | None]:
        """Store a queued job; return (job_id, created, stored_request_hash).

        With an idempotency key already used by this user, nothing is stored and the original
        job id comes back with ``created`` false.
        """
        values = (
            fields["user_id"],
            fields["device_id"],
            fields["job_type"],
            fields["number_shots"],
            fields["description"],
            fields["name"],
            fields["summary"],
            idempotency_key,
            request_hash,
            utc_now(),
        )
        insert = (
            "INSERT INTO jobs (user_id, device_id, status, job_type, number_shots, description, name,"
            " summary, idempotency_key, request_hash, created_at) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        if idempotency_key is None:
            with self._lock:
                return int(self._conn.execute(insert, values).lastrowid or 0), True, None
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT id, request_hash FROM jobs WHERE user_id = ? AND idempotency_key = ?",
                (fields["user_id"], idempotency_key),
            ).fetchone()
            if row is not None:
                return int(row[0]), False, row[1]
            return int(conn.execute(insert, values).lastrowid or 0), True, request_hash

    def job(self, job_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))

    def job_meta(self, job_id: int) -> dict[str, Any] | None:
        return self._one("SELECT id, user_id, device_id, status FROM jobs WHERE id = ?", (job_id,))

    def queue_position(self, job: dict[str, Any]) -> int:
        """How many queued jobs are ahead of ``job`` on its device (0 unless it is queued)."""
        if job["status"] != "queued":
            return 0
        return int(
            self._scalar(
                "SELECT COUNT(*) FROM jobs WHERE device_id = ? AND status = 'queued' AND id < ?",
                (job["device_id"], job["id"]),
            )
        )

    def queue_positions(self, jobs: list[dict[str, Any]]) -> dict[int, int]:
        """:meth:`queue_position` of many jobs with two queries per device instead of one per job."""
        positions = {job["id"]: 0 for job in jobs}
        by_device: dict[int, list[int]] = {}
        for job in jobs:
            if job["status"] == "queued":
                by_device.setdefault(job["device_id"], []).append(job["id"])
        for device_id, ids in by_device.items():
            low, high = min(ids), max(ids)
            ahead = int(
                self._scalar(
                    "SELECT COUNT(*) FROM jobs WHERE device_id = ? AND status = 'queued' AND id < ?",
                    (device_id, low),
                )
            )
            queued = [
                row["id"]
                for row in self._all(
                    "SELECT id FROM jobs WHERE device_id = ? AND status = 'queued' AND id BETWEEN ? AND ?"
                    " ORDER BY id",
                    (device_id, low, high),
                )
            ]
            for job_id in ids:
                positions[job_id] = ahead + bisect.bisect_left(queued, job_id)
        return positions

    _SUMMARY_COLUMNS = (
        "id, user_id, device_id, status, job_type, number_shots, name, summary, favourite,"
        " created_at, started_at, finished_at, duration, error"
    )

    def jobs_of_user(
        self, user_id: int, favourites: bool, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the user's jobs, newest first, without descriptions or results."""
        where = "user_id = ?" + (" AND favourite = 1" if favourites else "")
        rows = self._all(
            f"SELECT {self._SUMMARY_COLUMNS} FROM jobs WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        total = int(self._scalar(f"SELECT COUNT(*) FROM jobs WHERE {where}", (user_id,)))
        return rows, total

    def claim_job(self, job_id: int) -> dict[str, Any] | None:
        """Move a queued job to running; None when it is no longer queued (cancelled, deleted)."""
        with self._lock:
            row = self._conn.execute(
                "UPDATE jobs SET status = 'running', started_at = ? WHERE id = ? AND status = 'queued'"
                " RETURNING *",
                (utc_now(), job_id),
            ).fetchone()
        return dict(row) if row is not None else None

    def finish_queued(self, job_id: int, result: str, started_at: str, duration: float) -> bool:
        """Complete a job still queued (run without being claimed); False when it no longer is."""
        with self._lock:
            cur = self._conn.execute(
                "UPDATE jobs SET status = 'completed', result = ?, started_at = ?, finished_at = ?,"
                " duration = ? WHERE id = ? AND status = 'queued'",
                (result, started_at, utc_now(), duration, job_id),
            )
            return cur.rowcount > 0

    def finish_job(
        self, job_id: int, status: str, result: str | None, error: str | None, duration: float
    ) -> bool:
        """Record the outcome of a running job; False when it was cancelled or deleted meanwhile."""
        with self._lock:
            cur = self._conn.execute(
                "UPDATE jobs SET status = ?, result = ?, error = ?, finished_at = ?, duration = ?"
                " WHERE id = ? AND status = 'running'",
                (status, result, error, utc_now(), duration, job_id),
            )
            return cur.rowcount > 0

    def cancel_job(self, job_id: int) -> bool:
        """Cancel an unfinished job; False when it already reached a final status."""
        with self._lock:
            cur = self._conn.execute(
                "UPDATE jobs SET status = 'cancelled', result = NULL, finished_at = ?"
                " WHERE id = ? AND status IN ('not sent', 'pending', 'queued', 'running')",
                (utc_now(), job_id),
            )
            return cur.rowcount > 0

    def delete_job(self, job_id: int) -> bool:
        with self._lock:
            return self._conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount > 0

    def requeue_interrupted(self) -> list[tuple[int, int]]:
        """Put jobs left running (by a stopped server) back in the queue; return (id, user_id) of every
        queued job, oldest first."""
        with self._transaction() as conn:
            conn.execute("UPDATE jobs SET status = 'queued', started_at = NULL WHERE status = 'running'")
            rows = conn.execute("SELECT id, user_id FROM jobs WHERE status = 'queued' ORDER BY id")
            return [(int(row[0]), int(row[1])) for row in rows]

    def requeue_job(self, job_id: int) -> bool:
        """Put a running job back in the queue (its worker stopped with the server); False if it is not
        running."""
        with self._lock:
            cur = self._conn.execute(
                "UPDATE jobs SET status = 'queued', started_at = NULL WHERE id = ? AND status = 'running'",
                (job_id,),
            )
            return cur.rowcount > 0

    # runcards and calibrations
    def insert_record(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        table = _table(kind)
        now = utc_now()
        try:
            with self._transaction() as conn:
                row = conn.execute(
                    f"INSERT INTO {table} ({', '.join(_RECORD_COLUMNS)}, created_at, updated_at)"
                    f" VALUES ({', '.join('?' * (len(_RECORD_COLUMNS) + 2))}) RETURNING *",
                    (*_record_values(fields), now, now),
                ).fetchone()
                return dict(row)
        except sqlite3.IntegrityError as exc:
            raise DuplicateName(fields["name"]) from exc

    def update_record(self, kind: str, record_id: int, fields: dict[str, Any]) -> dict[str, Any] | None:
        table = _table(kind)
        try:
            with self._transaction() as conn:
                row = conn.execute(
                    f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in _RECORD_COLUMNS)}, updated_at = ?"
                    " WHERE id = ? RETURNING *",
                    (*_record_values(fields), utc_now(), record_id),
                ).fetchone()
                return dict(row) if row is not None else None
        except sqlite3.IntegrityError as exc:
            raise DuplicateName(fields["name"]) from exc

    def record(self, kind: str, record_id: int) -> dict[str, Any] | None:
        return self._one(f"SELECT * FROM {_table(kind)} WHERE id = ?", (record_id,))

    def record_by_name(self, kind: str, name: str) -> dict[str, Any] | None:
        return self._one(f"SELECT * FROM {_table(kind)} WHERE name = ?", (name,))

    def records(self, kind: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        table = _table(kind)
        rows = self._all(f"SELECT * FROM {table} ORDER BY id LIMIT ? OFFSET ?", (limit, offset))
        return rows, int(self._scalar(f"SELECT COUNT(*) FROM {table}"))

    def delete_record(self, kind: str, record_id: int) -> bool:
        with self._lock:
            return self._conn.execute(f"DELETE FROM {_table(kind)} WHERE id = ?", (record_id,)).rowcount > 0


#: The columns a runcard or calibration is written with (besides its timestamps).
_RECORD_COLUMNS = ("name", "description", "body", "device_id", "user_id", "qililab_version")


def _record_values(fields: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(fields[column] for column in _RECORD_COLUMNS)


def _table(kind: str) -> str:
    if kind not in RECORD_KINDS:
        raise ValueError(f"unknown record kind {kind!r}")
    return kind
