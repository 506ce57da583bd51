"""Shared fixtures: real local QaaS servers over HTTP.

- ``qaas_server`` (session): a server with users alice, bob (role user) and admin (role admin).
- ``make_server`` (function): ``with make_server(**config_fields) as server:`` for an isolated server;
  ``config_fields`` are :class:`~qiboconnection.server.config.ServerConfig` fields (e.g.
  ``access_token_lifetime=1``, ``workers=0``, ``db_path=...``, or fault injection such as
  ``fault_rate=0.1, fault_seed=7, fault_kinds=("502", "drop")``); users default to the same three.
- ``qaas_env`` (function): ``QUANTUM_SERVICE_URL`` pointing at ``qaas_server``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from qiboconnection.server.app import QaasApp
from qiboconnection.server.config import ServerConfig, UserSpec
from qiboconnection.server.runner import run_server

# scrypt stays real in tests, with a cheaper cost so that many logins stay fast.
TEST_KDF_COST = 2**12


@dataclass(frozen=True)
class Credential:
    """A user of a test server."""

    username: str
    api_key: str
    role: str


@dataclass
class QaasServer:
    """A running test server and what a test needs to use it."""

    url: str
    users: dict[str, Credential]
    devices: dict[str, int]
    db_path: Path
    app: QaasApp = field(repr=False)

    @property
    def config(self) -> ServerConfig:
        return self.app.config


def default_credentials() -> dict[str, Credential]:
    return {
        "alice": Credential("alice", "alice-" + secrets.token_urlsafe(16), "user"),
        "bob": Credential("bob", "bob-" + secrets.token_urlsafe(16), "user"),
        "admin": Credential("admin", "admin-" + secrets.token_urlsafe(16), "admin"),
    }


@contextmanager
def serve(
    db_path: Path, users: dict[str, Credential] | None = None, **config_fields: Any
) -> Iterator[QaasServer]:
    """Run a server on 127.0.0.1 and a free port with the given users and config fields."""
    users = users if users is not None else default_credentials()
    config_fields.setdefault("kdf_cost", TEST_KDF_COST)
    config = ServerConfig(
        db_path=db_path,
        users=tuple(UserSpec(c.username, c.api_key, c.role) for c in users.values()),
        **config_fields,
    )
    with run_server(config) as running:
        store = running.app.store
        devices = {
            "simulator": 1,
            "maintenance": store.device_by_name("Galadriel")["id"],
            "offline": store.device_by_name("Radagast")["id"],
        }
        yield QaasServer(
            url=running.url, users=users, devices=devices, db_path=Path(db_path), app=running.app
        )


@pytest.fixture(scope="session")
def qaas_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QaasServer]:
    """A server shared by the whole session (file database, 2 workers)."""
    with serve(tmp_path_factory.mktemp("qaas") / "qaas.sqlite3") as server:
        yield server


@pytest.fixture
def make_server(tmp_path: Path) -> Callable[..., AbstractContextManager[QaasServer]]:
    """Factory of isolated servers: ``with make_server(access_token_lifetime=1) as server: ...``.

    Pass ``db_path`` to reuse a database across restarts and ``users`` (a dict like
    ``qaas_server.users``) to keep the same credentials.
    """
    counter = iter(range(1_000_000))

    def factory(
        db_path: Path | None = None, users: dict[str, Credential] | None = None, **config_fields: Any
    ) -> AbstractContextManager[QaasServer]:
        path = db_path if db_path is not None else tmp_path / f"qaas-{next(counter)}.sqlite3"
        return serve(path, users, **config_fields)

    return factory


@pytest.fixture
def qaas_env(qaas_server: QaasServer, monkeypatch: pytest.MonkeyPatch) -> QaasServer:
    """Point ``QUANTUM_SERVICE_URL`` at the session server."""
    monkeypatch.setenv("QUANTUM_SERVICE_URL", qaas_server.url)
    return qaas_server
