"""A simulated link latency delays every API request, and nothing else."""

from __future__ import annotations

import time

import httpx
import pytest

from qiboconnection.server.config import ServerConfig


def test_every_api_request_waits_at_least_the_link_latency(make_server):
    with make_server(workers=0, link_latency=0.25) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/status").json() == "OK"
        started = time.perf_counter()
        answer = client.get("/api/v1/devices")
        took = time.perf_counter() - started
    assert answer.status_code == 401  # the delay comes before authentication, like a network's
    assert took >= 0.25


@pytest.mark.parametrize("latency", [-0.1, 10.5])
def test_link_latency_is_bounded(latency):
    with pytest.raises(ValueError, match="link_latency"):
        ServerConfig(link_latency=latency)
