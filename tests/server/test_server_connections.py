"""Connections that send their request head too slowly are closed; others are left alone."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from qiboconnection.server.config import ServerConfig


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=5)


def test_a_connection_dribbling_its_request_head_is_closed(make_server):
    with make_server(workers=0, request_head_timeout=0.5) as server, _connect(server.url) as sock:
        started = time.monotonic()
        closed_after = None
        for byte in b"GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            try:
                sock.sendall(bytes([byte]))
                sock.settimeout(0.1)
                if sock.recv(1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - started
                break
            assert time.monotonic() - started < 5
    assert closed_after is not None and 0.4 < closed_after < 2.0, closed_after


def test_whole_requests_and_idle_keep_alive_within_the_deadline_are_served(make_server):
    with make_server(workers=0, request_head_timeout=0.5) as server:
        with httpx.Client(base_url=server.url) as client:
            for _ in range(3):
                assert client.get("/status").json() == "OK"
                time.sleep(0.2)
        with _connect(server.url) as sock:
            time.sleep(0.3)
            sock.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(1024).startswith(b"HTTP/1.1 200")


def test_the_head_deadline_must_be_positive():
    with pytest.raises(ValueError, match="request_head_timeout"):
        ServerConfig(request_head_timeout=0)
