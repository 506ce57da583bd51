"""Fixtures of the server tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from .http_support import client_for


@pytest.fixture
def clients(qaas_server: Any) -> Iterator[Callable[[str], httpx.Client]]:
    """``clients("alice")``: an authenticated client for a user of the session server."""
    opened: list[httpx.Client] = []

    def make(name: str) -> httpx.Client:
        client = client_for(qaas_server, name)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()
