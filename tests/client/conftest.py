"""Sessions against the real local server (from ``tests/conftest.py``) for the client tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from qiboconnection.api import API
from qiboconnection.config import RetryPolicy, Settings
from qiboconnection.typings.connection import ConnectionConfiguration

FAST_RETRY = RetryPolicy(max_attempts=2, budget=5, backoff_base=0.01, backoff_cap=0.05)


def connect(server: Any, username: str, **settings: Any) -> API:
    """Log ``username`` in to ``server`` with fast retries and no progress line."""
    credential = server.users[username]
    settings.setdefault("retry", FAST_RETRY)
    settings.setdefault("progress", False)
    return API(
        ConnectionConfiguration(credential.username, credential.api_key),
        settings=Settings(base_url=server.url, **settings),
    )


@pytest.fixture(scope="module")
def alice(qaas_server: Any) -> Iterator[API]:
    with connect(qaas_server, "alice") as api:
        yield api


@pytest.fixture(scope="module")
def bob(qaas_server: Any) -> Iterator[API]:
    with connect(qaas_server, "bob") as api:
        yield api


@pytest.fixture(scope="module")
def admin(qaas_server: Any) -> Iterator[API]:
    with connect(qaas_server, "admin") as api:
        yield api
