"""The most frequent requests answered without the full connexion stack, from the same spec.

Polling a job, submitting one and listing jobs are nearly all of a busy client's requests. For these
operations the rules come from openapi.yaml itself: the path template, the declared header and query
parameters with their schemas, the request body schema and the bearer security, all compiled once
with the validator classes connexion uses. A request is answered here only when it plainly meets
all of them: a canonical path, declared parameters given once each in their plain form, a JSON body
that parses and validates, and a token that verifies. Every other request, and every request this
path cannot vouch for, goes on to the connexion application untouched, which gives the answer and
the problem document it always gives. So this path changes how fast common answers come, never
what any answer is.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from connexion.json_schema import Draft4RequestValidator, resolve_refs
from jsonschema import Draft4Validator

from qiboconnection.server.errors import ApiProblem, BadRequest
from qiboconnection.server.handlers import Handlers
from qiboconnection.server.routing import INPUT_ERRORS

if TYPE_CHECKING:
    from qiboconnection.server.app import QaasApp

logger = logging.getLogger("qiboconnection.server.fast_path")

ASGIApp = Callable[[dict[str, Any], Any, Any], Any]
Response = tuple[Any, int, dict[str, str]]

#: Decimal integers as clients write them (no sign, no leading zeros, at most 64 bits' worth).
_CANONICAL_INT = re.compile(r"0|[1-9][0-9]{0,17}")
_BOOLEANS = {"true": True, "false": False}
_JSON_TYPES = (b"application/json", b"application/json; charset=utf-8")
_HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


@dataclass(frozen=True)
class _Parameter:
    name: str
    kind: str
    required: bool
    schema_type: str | None
    default: Any
    validator: Any


@dataclass(frozen=True)
class _Request:
    """What a handler core needs of a request that met the spec."""

    scope: dict[str, Any]
    claims: dict[str, Any]
    arguments: dict[str, Any]
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class _Operation:
    """One operation's rules, compiled from the spec."""

    operation_id: str
    method: str
    path: re.Pattern[str]
    path_params: tuple[_Parameter, ...]
    #: Declared headers by their lower-case names as ASGI gives them.
    headers: dict[bytes, _Parameter]
    #: Declared query parameters by name.
    query: dict[str, _Parameter]
    body: Any | None
    secured: bool


class FastPath:
    """An ASGI app answering ``operations`` (ids from the spec) directly and sending the rest to
    ``fallback``."""

    #: The operations answered here (by operationId).
    OPERATIONS = ("getJob", "submitJob", "listJobs")

    def __init__(self, app: QaasApp, spec: dict[str, Any], handlers: Handlers, fallback: ASGIApp) -> None:
        self._handlers = handlers
        self._fallback = fallback
        self._tokens = app.tokens
        self._extra_audiences = list(app.config.audiences)
        self._routes: dict[str, list[_Operation]] = {}
        for operation in _compile(spec, self.OPERATIONS):
            self._routes.setdefault(operation.method, []).append(operation)
        self._calls: dict[str, Callable[[_Request], Response]] = {
            "getJob": self._get_job,
            "submitJob": self._submit_job,
            "listJobs": self._list_jobs,
        }

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        operation, path_args = self._match(scope)
        if operation is None:
            await self._fallback(scope, receive, send)
            return
        body_bytes = b""
        if operation.body is not None:
            body_bytes, receive = await _read_body(receive)
        request = self._check(operation, scope, path_args, body_bytes)
        if request is None:
            await self._fallback(scope, receive, send)
            return
        try:
            response = self._calls[operation.operation_id](request)
        except Exception as exc:  # every failure of a handler becomes the problem document for it
            await send_problem(send, _problem_of(exc, operation.operation_id))
            return
        await _send_json(send, *response)

    def _match(self, scope: dict[str, Any]) -> tuple[_Operation | None, dict[str, Any]]:
        if scope.get("root_path"):
            return None, {}
        routes = self._routes.get(scope.get("method", "").lower())
        if not routes:
            return None, {}
        path = scope.get("path", "")
        for operation in routes:
            match = operation.path.fullmatch(path)
            if match is None:
                continue
            arguments: dict[str, Any] = {}
            for parameter in operation.path_params:
                value = _coerce(parameter, match.group(parameter.name))
                if value is _INVALID:
                    return None, {}
                arguments[parameter.name] = value
            return operation, arguments
        return None, {}

    def _check(
        self, operation: _Operation, scope: dict[str, Any], arguments: dict[str, Any], body_bytes: bytes
    ) -> _Request | None:
        """The request's parts when it plainly meets the spec, else None."""
        headers: dict[str, str] = {}
        authorization = None
        content_type = None
        seen: set[bytes] = set()
        declared = operation.headers
        for raw_name, raw_value in scope.get("headers", ()):
            name = raw_name.lower()
            if name in declared or name in (b"authorization", b"content-type"):
                if name in seen:
                    return None
                seen.add(name)
            if name == b"authorization":
                authorization = raw_value
            elif name == b"content-type":
                content_type = raw_value
            elif name in declared:
                parameter = declared[name]
                value = raw_value.decode("latin-1")
                if not parameter.validator.is_valid(value):
                    return None
                headers[name.decode("latin-1")] = value
        if any(p.required and n.decode("latin-1") not in headers for n, p in declared.items()):
            return None

        query = scope.get("query_string", b"")
        if query:
            if not operation.query:
                return None
            try:
                pairs = parse_qsl(query.decode("ascii"), keep_blank_values=True, strict_parsing=True)
            except (UnicodeDecodeError, ValueError):
                return None
            for key, value in pairs:
                parameter = operation.query.get(key)
                if parameter is None or key in arguments:
                    return None
                coerced = _coerce(parameter, value)
                if coerced is _INVALID:
                    return None
                arguments[key] = coerced
        for parameter in operation.query.values():
            if parameter.name not in arguments:
                if parameter.required:
                    return None
                arguments[parameter.name] = parameter.default

        claims: dict[str, Any] = {}
        if operation.secured:
            claims_or_none = self._claims(scope, authorization)
            if claims_or_none is None:
                return None
            claims = claims_or_none

        body = None
        if operation.body is not None:
            if content_type is None or content_type.lower() not in _JSON_TYPES or not body_bytes:
                return None
            try:
                body = orjson.loads(body_bytes)
            except orjson.JSONDecodeError:
                return None
            if not operation.body.is_valid(body):
                return None
        return _Request(scope, claims, arguments, headers, body)

    def _claims(self, scope: dict[str, Any], authorization: bytes | None) -> dict[str, Any] | None:
        if authorization is None:
            return None
        parts = authorization.decode("latin-1").split(maxsplit=1)
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return None
        base = _base_url(scope)
        if base is None:
            return None
        try:
            return self._tokens.verify(parts[1], "access", [f"{base}/api/v1", *self._extra_audiences])
        except ApiProblem:
            return None

    # the operations
    def _get_job(self, request: _Request) -> Response:
        return self._handlers.job(request.claims, request.arguments["job_id"])

    def _submit_job(self, request: _Request) -> Response:
        return self._handlers.submit(request.claims, request.body, request.headers.get("idempotency-key"))

    def _list_jobs(self, request: _Request) -> Response:
        arguments = request.arguments
        root = f"{_base_url(request.scope)}{request.scope['path']}"
        return self._handlers.jobs(
            request.claims, arguments["favourites"], arguments["page"], arguments["per_page"], root
        )


class _Invalid:
    """A parameter value this path does not accept as plainly valid."""


_INVALID: Any = _Invalid()


def _coerce(parameter: _Parameter, text: str) -> Any:
    """The value of a parameter written in its canonical form, validated, or ``_INVALID``."""
    value: Any
    if parameter.schema_type == "integer":
        if not _CANONICAL_INT.fullmatch(text):
            return _INVALID
        value = int(text)
    elif parameter.schema_type == "boolean":
        if text not in _BOOLEANS:
            return _INVALID
        value = _BOOLEANS[text]
    elif parameter.schema_type == "string":
        value = text
    else:
        return _INVALID
    return value if parameter.validator.is_valid(value) else _INVALID


def _base_url(scope: dict[str, Any]) -> str | None:
    """Scheme and authority the client used, as connexion's request URL gives them."""
    scheme = scope.get("scheme", "http")
    for name, value in scope.get("headers", ()):
        if name == b"host":
            return f"{scheme}://{value.decode('latin-1')}"
    server = scope.get("server")
    if not server:
        return None
    host, port = server
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" if port == default else f"{scheme}://{host}:{port}"


async def _read_body(receive: Any) -> tuple[bytes, Any]:
    """The whole request body, and a ``receive`` that gives it again to whoever reads next."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            replay = [message]
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            replay = []
            break
    body = b"".join(chunks)
    replay.insert(0, {"type": "http.request", "body": body, "more_body": False})

    async def replayed() -> Any:
        return replay.pop(0) if replay else await receive()

    return body, replayed


def _problem_of(exc: Exception, operation_id: str) -> ApiProblem:
    if isinstance(exc, ApiProblem):
        return exc
    for error, detail in INPUT_ERRORS:
        if isinstance(exc, error):
            return BadRequest(detail)
    logger.error("unhandled error in %s: %r", operation_id, exc, exc_info=exc)
    return ApiProblem(500, "The server could not complete the request.")


async def _send_json(send: Any, body: Any, status: int, headers: dict[str, str]) -> None:
    content = orjson.dumps(body) + b"\n"
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    raw += [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in headers.items()
        if k.lower() != "content-type"
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": content})


async def send_problem(send: Any, problem: ApiProblem, close: bool = False) -> None:
    """Answer with ``problem`` (and ``Connection: close`` when the request body may be left unread)."""
    content = orjson.dumps(problem.to_dict())
    raw = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(content)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in problem.headers.items()]
    if close:
        raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": problem.status, "headers": raw})
    await send({"type": "http.response.body", "body": content})


def _compile(spec: dict[str, Any], operation_ids: tuple[str, ...]) -> list[_Operation]:
    """The rules of ``operation_ids``, from a spec whose paths carry the full ``/api/v1`` prefix."""
    resolved = resolve_refs(_copy(spec))
    default_security = resolved.get("security")
    found: list[_Operation] = []
    for template, item in resolved["paths"].items():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method not in _HTTP_METHODS or operation.get("operationId") not in operation_ids:
                continue
            parameters = {(p["in"], p["name"]): p for p in [*shared, *operation.get("parameters", [])]}
            compiled = [_parameter(p) for p in parameters.values()]
            # Literal pieces of the template alternate with the names of its path parameters.
            pieces = re.split(r"\{(\w+)\}", template)
            pattern = "".join(
                re.escape(piece) if index % 2 == 0 else f"(?P<{piece}>[^/]+)"
                for index, piece in enumerate(pieces)
            )
            body = None
            request_body = operation.get("requestBody")
            if request_body is not None:
                schema = request_body["content"]["application/json"]["schema"]
                body = Draft4RequestValidator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
            security = operation.get("security", default_security)
            found.append(
                _Operation(
                    operation_id=operation["operationId"],
                    method=method,
                    path=re.compile(pattern),
                    path_params=tuple(p for p in compiled if p.kind == "path"),
                    headers={p.name.lower().encode("latin-1"): p for p in compiled if p.kind == "header"},
                    query={p.name: p for p in compiled if p.kind == "query"},
                    body=body,
                    secured=bool(security),
                )
            )
    missing = set(operation_ids) - {o.operation_id for o in found}
    if missing:
        raise ValueError(f"the spec has no operation {sorted(missing)}")
    return found


def _parameter(spec: dict[str, Any]) -> _Parameter:
    schema = spec.get("schema", {})
    return _Parameter(
        name=spec["name"],
        kind=spec["in"],
        required=bool(spec.get("required", spec["in"] == "path")),
        schema_type=schema.get("type"),
        default=schema.get("default"),
        validator=Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER),
    )


def _copy(value: Any) -> Any:
    """A deep copy of plain YAML data (resolve_refs works in place)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
