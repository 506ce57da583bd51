"""The connexion application built from openapi.yaml: routing, validation, security, problems."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from connexion import AsyncApp
from connexion.exceptions import ProblemException
from connexion.jsonifier import Jsonifier
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from connexion.security import NO_VALUE, BearerSecurityHandler
from connexion.validators import VALIDATOR_MAP, ParameterValidator
from jsonschema import ValidationError

from qiboconnection.server.db import INT64_MAX, INT64_MIN
from qiboconnection.server.errors import ApiProblem
from qiboconnection.server.handlers import Handlers

if TYPE_CHECKING:
    from qiboconnection.server.app import QaasApp

logger = logging.getLogger("qiboconnection.server.routing")

PROBLEM = "application/problem+json"
REFRESH_PATH_SUFFIX = "/authorisation-tokens/refresh"

#: Longest ``detail`` of a problem document; longer ones are cut.
MAX_DETAIL = 1000

ErrorHandler = Callable[[ConnexionRequest, Exception], Awaitable[ConnexionResponse]]


def problem_response(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> ConnexionResponse:
    """An ``application/problem+json`` response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return ConnexionResponse(
        status_code=status,
        mimetype=PROBLEM,
        content_type=PROBLEM,
        body=json.dumps(body),
        headers=headers or {},
    )


# The error handlers are coroutines: connexion runs plain functions in a thread pool.


async def on_api_problem(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    problem = exc if isinstance(exc, ApiProblem) else ApiProblem(500, str(exc))
    return problem_response(problem.status, problem.title, problem.detail, problem.headers)


async def on_connexion_problem(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """connexion's own refusals (validation, security, routing) as problem documents.

    connexion raises its 400 for a body while handling the parser's ``json.JSONDecodeError`` or the
    schema's ``ValidationError``; the detail then says the body is not JSON, names the field whose
    integer is past the 64-bit bounds the spec sets, or the field whose text is too long (by its
    length, not its text). No detail is longer than :data:`MAX_DETAIL` characters.
    """
    status = getattr(exc, "status", 400)
    title = getattr(exc, "title", None) or "Bad Request"
    detail = getattr(exc, "detail", None)
    detail = detail if isinstance(detail, str) else json.dumps(detail) if detail else title
    cause = exc.__context__
    if isinstance(cause, json.JSONDecodeError):
        detail = f"The request body is not valid JSON: {detail}"
    elif isinstance(cause, ValidationError):
        where = ".".join(str(part) for part in cause.path) or "the request body"
        if outside_int64(cause.instance):
            detail = f"{where}: {cause.instance} is outside the 64-bit integer range."
        elif cause.validator == "maxLength" and isinstance(cause.instance, str):
            detail = (
                f"{where} has {len(cause.instance)} characters; at most {cause.validator_value} are allowed."
            )
    if len(detail) > MAX_DETAIL:
        # Schema messages quote the value they refuse, which may be megabytes long.
        detail = f"{detail[:MAX_DETAIL]}... ({len(detail)} characters in all)"
    headers = getattr(exc, "headers", None)
    return problem_response(status, title, detail, dict(headers) if headers else None)


def fixed_problem(status: int, title: str, detail: str) -> ErrorHandler:
    async def handler(_request: ConnexionRequest, _exc: Exception) -> ConnexionResponse:
        return problem_response(status, title, detail)

    return handler


async def on_unexpected(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    logger.error("unhandled error: %r", exc, exc_info=exc)
    return problem_response(500, "Internal Server Error", "The server could not complete the request.")


# Errors raised while parsing or storing what a client sent, and the 400 each one means.
INPUT_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (OverflowError, "An integer in the request is outside the 64-bit range."),
    (UnicodeDecodeError, "The request body is not valid UTF-8."),
    (UnicodeEncodeError, "The request holds text that is not valid Unicode (a lone surrogate escape)."),
    (RecursionError, "The request body nests too deeply."),
)


def outside_int64(value: Any) -> bool:
    """Whether ``value`` is an integer that a 64-bit signed integer cannot hold."""
    return isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX


class NamedParameterValidator(ParameterValidator):
    """Parameter errors that name the parameter, in one line."""

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: Any, param: dict[str, Any], param_name: str | None = None
    ) -> str | None:
        error: str | None = ParameterValidator.validate_parameter(parameter_type, value, param, param_name)
        if error is None or error.startswith("Missing"):
            return error
        name = f"{parameter_type} parameter '{param['name']}'"
        if outside_int64(value):
            return f"{name}: {value} is outside the 64-bit integer range."
        return f"{name}: {error.splitlines()[0]}"


def bearer_handler(verify: Callable[[str, ConnexionRequest], dict[str, Any]]) -> type[BearerSecurityHandler]:
    """The handler of the spec's ``bearer`` scheme, checking tokens with ``verify(token, request)``.

    ``verify`` returns the token's claims or raises the 401 problem that says what is wrong with it.
    """

    class Bearer(BearerSecurityHandler):
        def get_fn(self, security_scheme: dict[str, Any], required_scopes: list[str]) -> Any:
            def check(request: ConnexionRequest) -> Any:
                auth_type, token = BearerSecurityHandler.get_auth_header_value(request)
                if auth_type != "bearer":
                    return NO_VALUE
                return verify(token, request)

            return check

    return Bearer


class OrjsonJsonifier(Jsonifier):
    """Connexion's jsonifier writing answers with orjson: a job record carrying a result of tens of
    megabytes is written in a fraction of the standard encoder's time. What orjson refuses (integers
    past 64 bits) is written by the standard encoder.

    Answers are given as UTF-8 bytes: connexion hands what ``dumps`` returns to starlette's
    ``Response``, which sends bytes as they are (text it would encode again, a copy of the whole
    answer).
    """

    def __init__(self) -> None:
        # A typed constructor (connexion's is not), so the strict type check accepts the call.
        Jsonifier.__init__(self)

    def dumps(self, data: Any, **kwargs: Any) -> bytes:
        """``data`` as JSON (UTF-8) with a final newline."""
        if not kwargs:
            try:
                return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE)
            except TypeError:
                pass
        text: str = Jsonifier.dumps(self, data, **kwargs)
        return text.encode()


_OPERATIONS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _parameter_key(parameter: dict[str, Any], spec: dict[str, Any]) -> tuple[str, str]:
    """A parameter's ``(in, name)``, through its ``$ref`` into ``components/parameters`` when it has one."""
    ref = parameter.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/parameters/"):
        parameter = spec["components"]["parameters"][ref.rsplit("/", 1)[1]]
    return str(parameter.get("in")), str(parameter.get("name"))


def operation_parameters(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with each path's own parameters listed in every operation of that path instead.

    The two say the same thing in OpenAPI (an operation's parameter of the same ``in`` and ``name``
    wins). connexion builds every operation once per middleware and appends the path's parameters to
    the operation's list each time, so a parameter left on the path would be validated several times
    per request. ``spec`` itself is left as it is.
    """
    paths: dict[str, Any] = {}
    for template, item in spec.get("paths", {}).items():
        shared = item.get("parameters") or []
        if not shared:
            paths[template] = item
            continue
        moved = {key: value for key, value in item.items() if key != "parameters"}
        for method in _OPERATIONS.intersection(item):
            own = list(item[method].get("parameters") or [])
            keys = {_parameter_key(parameter, spec) for parameter in own}
            own += [parameter for parameter in shared if _parameter_key(parameter, spec) not in keys]
            moved[method] = {**item[method], "parameters": own}
        paths[template] = moved
    return {**spec, "paths": paths}


def build_http_app(app: QaasApp, spec: dict[str, Any], handlers: Handlers) -> AsyncApp:
    """Serve ``spec`` with ``handlers`` (bound to ``app``); every error becomes a problem document."""
    tokens, extra_audiences = app.tokens, list(app.config.audiences)

    def verify_bearer(token: str, request: ConnexionRequest) -> dict[str, Any]:
        url = request.url
        audiences = [f"{url.scheme}://{url.netloc}/api/v1", *extra_audiences]
        expected = "refresh" if url.path.endswith(REFRESH_PATH_SUFFIX) else "access"
        return tokens.verify(token, expected, audiences)

    http = AsyncApp(
        "qiboconnection.server",
        validator_map={**VALIDATOR_MAP, "parameter": NamedParameterValidator},
        security_map={"bearer": bearer_handler(verify_bearer)},
        swagger_ui_options=SwaggerUIOptions(serve_spec=False, swagger_ui=False),
        jsonifier=OrjsonJsonifier(),
    )
    http.add_api(
        operation_parameters(spec),
        resolver=Resolver(handlers.resolve),
        validate_responses=False,
        strict_validation=True,
    )
    http.add_error_handler(ApiProblem, on_api_problem)
    http.add_error_handler(ProblemException, on_connexion_problem)
    for error, detail in INPUT_ERRORS:
        http.add_error_handler(error, fixed_problem(400, "Bad Request", detail))
    http.add_error_handler(Exception, on_unexpected)
    return http
