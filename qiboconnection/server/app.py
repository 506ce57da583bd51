"""The ASGI application: connexion routes and validates from openapi.yaml, handlers do the rest."""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

from qiboconnection.server.config import ServerConfig
from qiboconnection.server.db import Store
from qiboconnection.server.errors import ApiProblem, PayloadTooLarge
from qiboconnection.server.jobs import JobManager
from qiboconnection.server.security import LoginThrottle, TokenService, hash_api_key, verify_api_key
from qiboconnection.server.spec import load_spec

logger = logging.getLogger("qiboconnection.server.app")

PROBLEM = "application/problem+json"
REFRESH_PATH_SUFFIX = "/authorisation-tokens/refresh"

Scope = dict[str, Any]


class QaasApp:
    """One local QaaS server: storage, tokens, job workers and the HTTP application.

    It is an ASGI callable. Workers start with the ASGI lifespan startup or, for hosts that send
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
            config.login_failure_limit, config.login_failure_window, config.login_throttle_max_names
        )
        self.jobs = JobManager(self.store, config.workers, config.max_decompressed_bytes)
        self.user_ids = self._ensure_users()
        self._started = False
        self._closed = False
        self._start_lock = threading.Lock()
        spec = load_spec(config.spec_path)
        self._allowed_methods = _method_table(spec)
        self._http = self._build_connexion(spec)

    def _ensure_users(self) -> dict[str, int]:
        ids: dict[str, int] = {}
        for spec in self.config.users:
            existing = self.store.user_by_name(spec.username)
            if existing and verify_api_key(spec.api_key, existing["api_key_hash"]):
                if existing["role"] != spec.role:
                    self.store.set_user_role(existing["id"], spec.role)
                ids[spec.username] = existing["id"]
                continue
            digest = hash_api_key(spec.api_key, self.config.kdf_cost)
            ids[spec.username] = self.store.upsert_user(spec.username, spec.role, digest)
        return ids

    def _build_connexion(self, spec: dict[str, Any]) -> Any:
        from connexion import AsyncApp
        from connexion.exceptions import ProblemException
        from connexion.lifecycle import ConnexionResponse
        from connexion.options import SwaggerUIOptions
        from connexion.resolver import Resolver
        from connexion.security import BearerSecurityHandler

        from qiboconnection.server.handlers import Handlers

        handlers = Handlers(self)
        tokens = self.tokens

        def verify_bearer(token: str, request: Any) -> dict[str, Any]:
            url = request.url
            audiences = [f"{url.scheme}://{url.netloc}/api/v1", *self.config.audiences]
            expected = "refresh" if url.path.endswith(REFRESH_PATH_SUFFIX) else "access"
            return tokens.verify(token, expected, audiences)

        class Bearer(BearerSecurityHandler):
            def _resolve_func(self, security_scheme: dict[str, Any]) -> Any:
                return verify_bearer

        def problem_response(status: int, title: str, detail: str, headers: dict[str, str]) -> Any:
            body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
            return ConnexionResponse(
                status_code=status,
                mimetype=PROBLEM,
                content_type=PROBLEM,
                body=json.dumps(body),
                headers=headers,
            )

        def on_api_problem(_request: Any, exc: Exception) -> Any:
            assert isinstance(exc, ApiProblem)
            return problem_response(exc.status, exc.title, exc.detail, exc.headers)

        def on_connexion_problem(_request: Any, exc: Exception) -> Any:
            assert isinstance(exc, ProblemException)
            detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
            return problem_response(exc.status, exc.title or "Error", detail or exc.title or "", {})

        def on_overflow(_request: Any, exc: Exception) -> Any:
            return problem_response(
                400, "Bad Request", "An integer in the request is outside the 64-bit range.", {}
            )

        def on_bad_encoding(_request: Any, exc: Exception) -> Any:
            return problem_response(400, "Bad Request", "The request body is not valid UTF-8.", {})

        def on_bad_unicode(_request: Any, exc: Exception) -> Any:
            detail = "The request holds text that is not valid Unicode (a lone surrogate escape)."
            return problem_response(400, "Bad Request", detail, {})

        def on_deep_json(_request: Any, exc: Exception) -> Any:
            return problem_response(400, "Bad Request", "The request body nests too deeply.", {})

        def on_unexpected(_request: Any, exc: Exception) -> Any:
            logger.error("unhandled error: %r", exc, exc_info=exc)
            return problem_response(
                500, "Internal Server Error", "The server could not complete the request.", {}
            )

        from connexion.validators import VALIDATOR_MAP, ParameterValidator

        class NamedParameterValidator(ParameterValidator):
            """Parameter errors that name the parameter, in one line."""

            @staticmethod
            def validate_parameter(
                parameter_type: str, value: Any, param: dict[str, Any], param_name: str | None = None
            ) -> str | None:
                error = ParameterValidator.validate_parameter(parameter_type, value, param, param_name)
                if error is None or error.startswith("Missing"):
                    return error
                return f"{parameter_type} parameter '{param['name']}': {error.splitlines()[0]}"

        app = AsyncApp(
            "qiboconnection.server",
            validator_map={**VALIDATOR_MAP, "parameter": NamedParameterValidator},
            security_map={"bearer": Bearer},
            swagger_ui_options=SwaggerUIOptions(serve_spec=False, swagger_ui=False),
        )
        app.add_api(
            spec,
            resolver=Resolver(handlers.resolve),
            validate_responses=False,
            strict_validation=True,
        )
        app.add_error_handler(ApiProblem, on_api_problem)
        app.add_error_handler(ProblemException, on_connexion_problem)
        app.add_error_handler(OverflowError, on_overflow)
        app.add_error_handler(UnicodeDecodeError, on_bad_encoding)
        app.add_error_handler(UnicodeEncodeError, on_bad_unicode)
        app.add_error_handler(RecursionError, on_deep_json)
        app.add_error_handler(Exception, on_unexpected)
        return app

    # lifecycle
    def start(self) -> None:
        """Start the job workers (idempotent)."""
        if self._started:
            return
        with self._start_lock:
            if not self._started and not self._closed:
                self.jobs.start()
                self._started = True

    def stop(self) -> None:
        """Stop the job workers; queued jobs stay queued and :meth:`start` resumes them."""
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
            send = self._with_allow_header(scope, send)
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
        """Refuse (413) bodies over the limit before anything parses them."""
        limit = self.config.max_body_bytes
        length = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
                break
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
        body = json.dumps(problem.to_dict()).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _method_table(spec: dict[str, Any]) -> list[tuple[re.Pattern[str], list[str]]]:
    """For each path of the spec, a regex matching it and the methods it supports."""
    table = []
    for template, item in spec["paths"].items():
        pattern = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))
        methods = sorted(m.upper() for m in item if m in _HTTP_METHODS)
        table.append((pattern, methods))
    # Literal paths (``/runcards/by_keys``) before templated ones (``/runcards/{runcard_id}``).
    table.sort(key=lambda entry: "[^/]+" in entry[0].pattern)
    return table


_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def create_app(config: ServerConfig | None = None) -> QaasApp:
    """Build a server application from ``config`` (defaults: in-memory database, 2 workers)."""
    return QaasApp(config or ServerConfig())
