"""The ASGI application: connexion routes and validates from openapi.yaml, handlers do the rest."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from typing import Any

from starlette.routing import compile_path

from qiboconnection.server.config import ServerConfig
from qiboconnection.server.db import Store
from qiboconnection.server.errors import ApiProblem, PayloadTooLarge, UnsupportedMediaType
from qiboconnection.server.executor import Limits
from qiboconnection.server.faults import FaultInjector
from qiboconnection.server.handlers import Handlers
from qiboconnection.server.jobs import JobManager
from qiboconnection.server.routing import build_http_app
from qiboconnection.server.security import LoginThrottle, TokenService, hash_api_key, verify_api_key
from qiboconnection.server.spec import load_spec

logger = logging.getLogger("qiboconnection.server.app")

Scope = dict[str, Any]


class QaasApp:
    """One local QaaS server: storage, tokens, job workers and the HTTP application.

    It is an ASGI callable. Job worker processes start with the ASGI lifespan startup or, for hosts that send
    no lifespan events, with the first request, and stop with the lifespan shutdown; the database
    stays open until :meth:`close`, which the owner of the app calls once.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.store = Store(config.db_path)
        self.tokens = TokenService(
            self.store.secret(), config.access_token_lifetime, config.refresh_token_lifetime
        )
        self.throttle = LoginThrottle(
            config.login_failure_limit,
            config.login_failure_window,
            config.login_throttle_max_names,
            address_limit=config.login_address_failure_limit,
        )
        self.faults: FaultInjector | None = None
        if config.fault_rate > 0:
            self.faults = FaultInjector(
                config.fault_rate,
                config.fault_seed,
                config.fault_kinds,
                config.fault_max_latency,
                config.fault_retry_after,
            )
        limits = Limits(time=config.job_time_limit, memory=config.job_memory_limit)
        self.jobs = JobManager(self.store, config.workers, config.max_decompressed_bytes, limits)
        self._ensure_users()
        self._started = False
        self._closed = False
        self._start_lock = threading.Lock()
        spec = load_spec(config.spec_path)
        self._allowed_methods = _method_table(spec)
        handlers = Handlers(self)
        connexion_app = build_http_app(self, spec, handlers)

        async def through_connexion(scope: Scope, receive: Any, send: Any) -> None:
            await connexion_app(scope, receive, self._with_allow_header(scope, send))

        self._http = through_connexion

    def _ensure_users(self) -> None:
        """Create the configured users, or give existing ones the configured key and role."""
        for spec in self.config.users:
            existing = self.store.user_by_name(spec.username)
            if existing and verify_api_key(spec.api_key, existing["api_key_hash"]):
                if existing["role"] != spec.role:
                    self.store.set_user_role(existing["id"], spec.role)
                continue
            self.store.upsert_user(spec.username, spec.role, hash_api_key(spec.api_key, self.config.kdf_cost))

    # lifecycle
    def start(self) -> None:
        """Start the job workers (idempotent)."""
        if self._started:
            return
        with self._start_lock:
            if not self._started and not self._closed:
                self.jobs.start()
                self._started = True

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Wait until the job workers are warm (qibo imported); False if ``timeout`` seconds pass first."""
        return self.jobs.wait_ready(timeout)

    def stop(self) -> None:
        """Stop the job workers; queued jobs, and jobs they were running, stay queued and :meth:`start`
        resumes them."""
        with self._start_lock:
            if self._started:
                self.jobs.stop()
                self._started = False

    def close(self) -> None:
        """Stop the workers and close the database (idempotent)."""
        with self._start_lock:
            if self._closed:
                return
            self._closed = True
            self.jobs.stop()
            self.store.close()

    # ASGI
    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "http":
            self.start()
            receive = await self._limit_body(scope, receive, send)
            if receive is None:
                return
            if self.config.link_latency and scope.get("path", "").startswith("/api/"):
                await asyncio.sleep(self.config.link_latency)
            if self.faults is not None:
                await self.faults(scope, receive, send, self._http)
                return
        await self._http(scope, receive, send)

    def _with_allow_header(self, scope: Scope, send: Any) -> Any:
        """Add the ``Allow`` header that 405 answers must carry."""

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                path = scope.get("path", "")
                for pattern, methods in self._allowed_methods:
                    if pattern.fullmatch(path):
                        headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                        headers.append((b"allow", ", ".join(methods).encode()))
                        message = {**message, "headers": headers}
                        break
            await send(message)

        return sending

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _limit_body(self, scope: Scope, receive: Any, send: Any) -> Any:
        """Refuse (413) bodies over the limit before anything parses them, and (415) encoded bodies."""
        limit = self.config.max_body_bytes
        length = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
            elif name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
                detail = (
                    f"Content-Encoding {value.decode('latin-1')!r} is not supported; send the body as is."
                )
                await send_problem(send, UnsupportedMediaType(detail), close=True)
                return None
        if length is not None:
            if length > limit:
                await self._send_too_large(send, limit)
                return None
            return receive
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS"):
            return receive
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._send_too_large(send, limit)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay_receive() -> Any:
            return replay.pop() if replay else await receive()

        return replay_receive

    @staticmethod
    async def _send_too_large(send: Any, limit: int) -> None:
        problem = PayloadTooLarge(f"The request body is over the {limit} byte limit.")
        await send_problem(send, problem, close=True)


async def send_problem(send: Any, problem: ApiProblem, close: bool = False) -> None:
    """Answer with ``problem`` (and ``Connection: close`` when the request body may be left unread)."""
    content = json.dumps(problem.to_dict()).encode()
    raw = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(content)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in problem.headers.items()]
    if close:
        raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": problem.status, "headers": raw})
    await send({"type": "http.response.body", "body": content})


def _method_table(spec: dict[str, Any]) -> list[tuple[re.Pattern[str], list[str]]]:
    """For each path of the spec, the regex starlette matches it with and the methods it answers.

    A path with ``get`` also answers ``HEAD``, as starlette serves it from the ``GET`` route.
    """
    table = []
    # Literal paths (``/runcards/by_keys``) before templated ones (``/runcards/{runcard_id}``).
    for template in sorted(spec["paths"], key=lambda template: "{" in template):
        item = spec["paths"][template]
        methods = {m.upper() for m in item if m in _HTTP_METHODS}
        if "GET" in methods:
            methods.add("HEAD")
        pattern, _format, _convertors = compile_path(template)
        table.append((pattern, sorted(methods)))
    return table


_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def create_app(config: ServerConfig | None = None) -> QaasApp:
    """Build a server application from ``config`` (defaults: in-memory database, 2 workers)."""
    return QaasApp(config or ServerConfig())
