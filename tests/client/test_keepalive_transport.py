"""The synchronous client's default transport: keep-alive reuse and httpx errors, over real sockets."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import httpx
import pytest

from qiboconnection.errors import ConnectionException
from qiboconnection.transport import KeepAliveTransport

from .conftest import FAST_RETRY, connect


def test_api_uses_it_and_reuses_one_connection(qaas_server: Any) -> None:
    with connect(qaas_server, "alice") as api:
        transport = api._client.get_httpx_client()._transport
        assert isinstance(transport, KeepAliveTransport)
        for _ in range(5):
            assert api.ping() == "OK"
        idle = [connection for pool in transport._idle.values() for connection in pool]
        assert len(idle) == 1
        first = idle[0].sock
        api.list_devices()
        assert [connection.sock for pool in transport._idle.values() for connection in pool] == [first]


def _one_shot_server(answer: bytes) -> tuple[int, threading.Thread]:
    """A socket answering one request per connection with ``answer`` and then closing it (twice)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        with listener:
            for _ in range(2):
                conn, _ = listener.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def test_a_connection_the_server_closed_is_not_reused() -> None:
    # The server says keep-alive but closes anyway: the next request must open a new connection.
    answer = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\n"OK"'
    port, thread = _one_shot_server(answer)
    with httpx.Client(transport=KeepAliveTransport(), base_url=f"http://127.0.0.1:{port}") as client:
        assert client.get("/status").json() == "OK"
        thread.join(0.2)
        assert client.get("/status").json() == "OK"
    thread.join(5)
    assert not thread.is_alive()


def test_gzip_bodies_are_decoded() -> None:
    import gzip

    body = gzip.compress(b'{"a": 1}')
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    port, _ = _one_shot_server(answer)
    with httpx.Client(transport=KeepAliveTransport(), base_url=f"http://127.0.0.1:{port}") as client:
        assert client.get("/x").json() == {"a": 1}


def test_refused_connection_is_a_connect_error_and_a_clear_exception() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with httpx.Client(transport=KeepAliveTransport()) as client, pytest.raises(httpx.ConnectError):
        client.get(f"http://127.0.0.1:{port}/status")

    from qiboconnection.api import API
    from qiboconnection.config import Settings
    from qiboconnection.typings.connection import ConnectionConfiguration

    with pytest.raises(ConnectionException, match="log in"):
        API(
            ConnectionConfiguration("alice", "x"),
            settings=Settings(base_url=f"http://127.0.0.1:{port}", retry=FAST_RETRY, progress=False),
        )


def test_a_proxy_in_the_environment_leaves_transport_to_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    from qiboconnection.transport import _default_transport

    assert isinstance(_default_transport(), KeepAliveTransport)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert _default_transport() is None


def test_calls_go_straight_to_the_transport_and_a_refused_token_is_renewed(qaas_server: Any) -> None:
    import dataclasses

    from qiboconnection.transport import _direct

    with connect(qaas_server, "alice") as api:
        http = api._client.get_httpx_client()
        assert http in _direct
        sent: list[str] = []
        transport = http._transport
        original = transport.handle_request

        def spy(request: httpx.Request) -> httpx.Response:
            sent.append(request.headers["authorization"])
            return original(request)

        transport.handle_request = spy  # type: ignore[method-assign]
        devices = api.list_devices()
        assert len(devices) >= 1 and len(sent) == 1
        # A token the server refuses although its expiry lies ahead (say, the server's key changed).
        tokens = api._auth._tokens
        api._auth._tokens = dataclasses.replace(tokens, access=tokens.access[:-4] + "AAAA")
        sent.clear()
        assert len(api.list_devices()) == len(devices)
        assert api._auth._tokens.access != tokens.access[:-4] + "AAAA"
        # direct (refused), through the client (refused again), renewal, then the retried request.
        assert sent[0] == sent[1] == "Bearer " + tokens.access[:-4] + "AAAA"
        assert sent[-1] == "Bearer " + api._auth._tokens.access


def test_chunked_bodies_informational_answers_and_folded_headers_are_read() -> None:
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Note: first\r\n  second\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b'4;ext=1\r\n{"a"\r\n5\r\n: [1]\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n'
    )
    port, _ = _one_shot_server(answer)
    with httpx.Client(transport=KeepAliveTransport(), base_url=f"http://127.0.0.1:{port}") as client:
        response = client.get("/x")
    assert response.status_code == 200
    assert response.json() == {"a": [1]}
    assert response.headers["x-note"] == "first second"


def test_a_body_cut_short_is_a_protocol_error() -> None:
    answer = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"a": 1}'
    port, _ = _one_shot_server(answer)
    with (
        httpx.Client(transport=KeepAliveTransport(), base_url=f"http://127.0.0.1:{port}") as client,
        pytest.raises(httpx.RemoteProtocolError, match="cut short"),
    ):
        client.get("/x")


def test_an_answer_that_is_not_http_is_a_protocol_error() -> None:
    port, _ = _one_shot_server(b"SSH-2.0-OpenSSH_9.6\r\n")
    with (
        httpx.Client(transport=KeepAliveTransport(), base_url=f"http://127.0.0.1:{port}") as client,
        pytest.raises(httpx.RemoteProtocolError, match="status line"),
    ):
        client.get("/x")


def test_a_request_header_with_a_line_break_is_refused() -> None:
    with (
        httpx.Client(transport=KeepAliveTransport(), base_url="http://127.0.0.1:9") as client,
        pytest.raises(httpx.LocalProtocolError, match="line break"),
    ):
        client.get("/x", headers={"X-Bad": "a\r\nInjected: yes"})


def test_calls_written_directly_put_the_same_bytes_on_the_wire_as_httpx(qaas_server: Any) -> None:
    from qiboconnection.operations import (
        Submission,
        cancel_job_request,
        get_job_request,
        list_jobs_request,
        submit_request,
    )
    from qiboconnection.programs import encode_program
    from qiboconnection.transport import _direct

    from .circuits import bell

    with connect(qaas_server, "alice") as api:
        http = api._client.get_httpx_client()
        direct, transport = _direct[http], http._transport
        written: list[bytes] = []
        original = transport.send_bytes

        def record(key: Any, data: bytes, **kwargs: Any) -> Any:
            written.append(data)
            return original(key, data, **kwargs)

        transport.send_bytes = record  # type: ignore[method-assign]
        job_type, description = encode_program(circuit=bell())
        submission = Submission(job_type, description, nshots=5, device_ids=[1], single=True)
        submit = submit_request(submission, 1, user_id=api.user_id, idempotency_key=True)
        job_id = json.loads(direct.send(http, submit.op._get_kwargs(**submit.kwargs))[2])["job_id"]
        requests = [
            submit,
            get_job_request(job_id),
            list_jobs_request(2, 7),
            cancel_job_request(10_000),
        ]
        access = api._auth._tokens.access
        for request in requests:
            kwargs = request.op._get_kwargs(**request.kwargs)
            written.clear()
            assert direct.send(http, kwargs) is not None
            direct._through_handle_request(http, kwargs, access)
            http.request(**kwargs)
            assert len(written) == 3
            assert written[0] == written[1] == written[2], request.what


def test_idle_connections_are_checked_even_past_select_s_descriptor_limit() -> None:
    import os
    import resource

    from qiboconnection.transport import _readable

    high = 1100  # past select's FD_SETSIZE of 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard == resource.RLIM_INFINITY or hard > high, "the test needs 1101 file descriptors"
    if soft != resource.RLIM_INFINITY and soft <= high:
        resource.setrlimit(resource.RLIMIT_NOFILE, (high + 1, hard))
    try:
        ours, theirs = socket.socketpair()
        with ours, theirs, socket.socket(fileno=os.dup2(ours.fileno(), high)) as far:
            assert not _readable(far)
            theirs.close()
            assert _readable(far)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
