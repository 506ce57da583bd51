"""A server that misbehaves on purpose: it logs anyone in, then answers ``GET /api/v1/jobs/N`` in one of
the broken ways a hostile or faulty service could (see :data:`MODES`).

It speaks raw HTTP/1.1 over a socket, since no well-behaved server framework would send these answers.
It binds 127.0.0.1 only, and every answer it streams is bounded in bytes and time.
"""

from __future__ import annotations

import base64
import json
import socketserver
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Longest any one answer is streamed, and most bytes it sends.
MAX_SECONDS = 30.0
MAX_BYTES = 3 << 30
CHUNK = b"x" * (64 << 10)


def _token() -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims = {"user_id": 7, "user_role": "user", "type": "access", "exp": time.time() + 3600}
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def gzip_bomb(inflated: int = 1 << 30) -> bytes:
    """A gzip stream of ``inflated`` zero bytes (about a thousandth of that in size)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(inflated >> 20)) + packer.flush()


class _Handler(socketserver.StreamRequestHandler):
    server: HostileServer

    def handle(self) -> None:
        self.connection.settimeout(MAX_SECONDS)
        try:
            while self._one():
                pass
        except OSError:
            return

    def _one(self) -> bool:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.rfile.readline(65536)
            if not line:
                return False
            head += line
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        length = next(
            (int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0
        )
        self.rfile.read(length)
        if method == "POST" and path.endswith("/authorisation-tokens"):
            body = json.dumps(
                {"accessToken": _token(), "refreshToken": None, "tokenType": "bearer", "expiresIn": 3600}
            )
            self._send(b"201 Created", [("Content-Type", "application/json")], body.encode())
            return True
        self.server.requests += 1
        MODES[self.server.mode](self)
        return False

    def _send(self, status: bytes, headers: list[tuple[str, str]], body: bytes) -> None:
        lines = [b"HTTP/1.1 " + status]
        lines += [f"{name}: {value}".encode("latin-1") for name, value in headers]
        lines.append(f"Content-Length: {len(body)}".encode())
        self.wfile.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)

    def _head(self, status: bytes, headers: list[tuple[str, str]]) -> None:
        lines = [b"HTTP/1.1 " + status] + [f"{name}: {value}".encode("latin-1") for name, value in headers]
        self.wfile.write(b"\r\n".join(lines) + b"\r\n\r\n")

    def _stream(self, pieces: Callable[[], Iterator[bytes]], pause: float = 0.0) -> None:
        """Write ``pieces`` until the client leaves, :data:`MAX_SECONDS` pass or :data:`MAX_BYTES` are sent."""
        deadline, sent = time.monotonic() + MAX_SECONDS, 0
        for piece in pieces():
            if time.monotonic() > deadline or sent > MAX_BYTES:
                return
            self.wfile.write(piece)
            self.wfile.flush()
            sent += len(piece)
            if pause:
                time.sleep(pause)


def _endless(handler: _Handler) -> None:
    handler._head(b"200 OK", [("Content-Type", "application/json"), ("Connection", "close")])
    handler._stream(lambda: iter(lambda: CHUNK, None))


def _endless_chunked(handler: _Handler) -> None:
    handler._head(b"200 OK", [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
    frame = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n"
    handler._stream(lambda: iter(lambda: frame, None))


def _gzip(handler: _Handler) -> None:
    body = handler.server.bomb
    handler._head(
        b"200 OK",
        [
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
            ("Content-Length", str(len(body))),
        ],
    )
    handler._stream(lambda: (body[start : start + len(CHUNK)] for start in range(0, len(body), len(CHUNK))))


def _drip(handler: _Handler) -> None:
    handler._head(b"200 OK", [("Content-Type", "application/json"), ("Content-Length", "100000")])
    handler._stream(lambda: iter(lambda: b" ", None), pause=0.2)


def _drip_headers(handler: _Handler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    handler._stream(lambda: iter(lambda: b"X", None), pause=0.2)


def _giant_length(handler: _Handler) -> None:
    handler._head(b"200 OK", [("Content-Type", "application/json"), ("Content-Length", str(10**12))])
    handler._stream(lambda: iter(lambda: CHUNK, None))


def _giant_chunk(handler: _Handler) -> None:
    handler._head(b"200 OK", [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
    handler.wfile.write(b"FFFFFFFFFFFFFFFF\r\n")
    handler._stream(lambda: iter(lambda: CHUNK, None))


def _redirect(handler: _Handler) -> None:
    handler._send(b"307 Temporary Redirect", [("Location", "https://elsewhere.example/api/v1/jobs/1")], b"")


def _html_200(handler: _Handler) -> None:
    handler._send(
        b"200 OK", [("Content-Type", "text/html")], b"<html><body>Welcome to our portal</body></html>"
    )


def _other_job(handler: _Handler) -> None:
    record = {
        "job_id": 2,
        "user_id": 7,
        "device_id": 1,
        "status": "completed",
        "job_type": "circuit",
        "number_shots": 10,
        "description": "",
        "result": None,
    }
    handler._send(b"200 OK", [("Content-Type", "application/json")], json.dumps(record).encode())


def _html_500(handler: _Handler) -> None:
    page = b"<html><body>" + b"<p>Internal error, please try again later.</p>" * 110_000 + b"</body></html>"
    handler._send(b"500 Internal Server Error", [("Content-Type", "text/html")], page)


#: How the server answers a job request, by mode.
MODES: dict[str, Callable[[_Handler], None]] = {
    "endless": _endless,
    "endless_chunked": _endless_chunked,
    "gzip_bomb": _gzip,
    "drip": _drip,
    "drip_headers": _drip_headers,
    "giant_length": _giant_length,
    "giant_chunk": _giant_chunk,
    "redirect": _redirect,
    "html_200": _html_200,
    "html_500": _html_500,
    "other_job": _other_job,
}


class HostileServer(socketserver.ThreadingTCPServer):
    """The misbehaving server; ``mode`` picks its answer (a key of :data:`MODES`)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str, bomb: bytes = b"") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = mode
        self.bomb = bomb
        self.requests = 0

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


@contextmanager
def hostile(mode: str, bomb: bytes = b"") -> Iterator[HostileServer]:
    """Run a :class:`HostileServer` in a thread for the block."""
    server = HostileServer(mode, bomb)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


__all__ = ["MODES", "HostileServer", "gzip_bomb", "hostile"]
