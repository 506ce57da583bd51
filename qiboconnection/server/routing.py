"""The connexion application built from openapi.yaml: routing, validation, security, problems."""

from __future__ import annotations

import functools
import json
import logging
from typing import TYPE_CHECKING, Any

from connexion import AsyncApp
from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.context import _operation, _receive, _scope
from connexion.datastructures import MediaTypeDict
from connexion.decorators import StarletteDecorator
from connexion.exceptions import BadRequestProblem, ProblemException
from connexion.lifecycle import ConnexionResponse
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from connexion.security import BearerSecurityHandler
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator

from qiboconnection.server.errors import ApiProblem
from qiboconnection.server.handlers import Handlers

if TYPE_CHECKING:
    from qiboconnection.server.app import QaasApp

logger = logging.getLogger("qiboconnection.server.routing")

PROBLEM = "application/problem+json"
REFRESH_PATH_SUFFIX = "/authorisation-tokens/refresh"


def problem_response(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Any:
    """An ``application/problem+json`` response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return ConnexionResponse(
        status_code=status,
        mimetype=PROBLEM,
        content_type=PROBLEM,
        body=json.dumps(body),
        headers=headers or {},
    )


def _on_api_problem(_request: Any, exc: Exception) -> Any:
    problem = exc if isinstance(exc, ApiProblem) else ApiProblem(500, str(exc))
    return problem_response(problem.status, problem.title, problem.detail, problem.headers)


def _on_connexion_problem(_request: Any, exc: Exception) -> Any:
    status = getattr(exc, "status", 400)
    title = getattr(exc, "title", None) or "Bad Request"
    detail = getattr(exc, "detail", None)
    detail = detail if isinstance(detail, str) else json.dumps(detail) if detail else title
    return problem_response(status, title, detail)


def _fixed(status: int, title: str, detail: str) -> Any:
    def handler(_request: Any, _exc: Exception) -> Any:
        return problem_response(status, title, detail)

    return handler


def _on_unexpected(_request: Any, exc: Exception) -> Any:
    logger.error("unhandled error: %r", exc, exc_info=exc)
    return problem_response(500, "Internal Server Error", "The server could not complete the request.")


# Errors raised while parsing or storing what a client sent, and the 400 each one means.
INPUT_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (OverflowError, "An integer in the request is outside the 64-bit range."),
    (UnicodeDecodeError, "The request body is not valid UTF-8."),
    (UnicodeEncodeError, "The request holds text that is not valid Unicode (a lone surrogate escape)."),
    (RecursionError, "The request body nests too deeply."),
)


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


class NamedJSONBodyValidator(JSONRequestBodyValidator):
    """JSON bodies that do not parse are refused saying so, not with the parser's message alone."""

    async def _parse(self, stream: Any, scope: Any) -> Any:
        try:
            return await super()._parse(stream, scope)
        except BadRequestProblem as exc:
            raise BadRequestProblem(detail=f"The request body is not valid JSON: {exc.detail}") from exc


class _PreparedDecorator(StarletteDecorator):
    """connexion's decorator for one operation, with the parts that depend only on the operation
    (parameter and response decorators, URI parser) built once instead of on every request."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._parsers: dict[int, Any] = {}

    def _parser(self) -> Any:
        current = _operation.get()
        parser = self._parsers.get(id(current))
        if parser is None:
            parser = self._parsers[id(current)] = (current, self.uri_parser)
        return parser[1]

    def __call__(self, function: Any) -> Any:
        decorated = self.decorate(function)

        @functools.wraps(function)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = self.framework.get_request(
                uri_parser=self._parser(), scope=_scope.get(), receive=_receive.get()
            )
            return await decorated(request)

        return wrapper


class _PreparedOperation(AsyncOperation):
    """An operation whose handler is decorated once, when first called."""

    @functools.cached_property
    def fn(self) -> Any:
        decorator = _PreparedDecorator(pythonic_params=self.pythonic_params, jsonifier=self.jsonifier)
        return decorator(self._fn)


class _PreparedApi(AsyncApi):
    def make_operation(self, operation: Any) -> AsyncOperation:
        return _PreparedOperation.from_operation(
            operation, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )


def build_http_app(app: QaasApp, spec: dict[str, Any], handlers: Handlers) -> AsyncApp:
    """Serve ``spec`` with ``handlers`` (bound to ``app``); every error becomes a problem document."""
    tokens, extra_audiences = app.tokens, list(app.config.audiences)

    def verify_bearer(token: str, request: Any) -> dict[str, Any]:
        url = request.url
        audiences = [f"{url.scheme}://{url.netloc}/api/v1", *extra_audiences]
        expected = "refresh" if url.path.endswith(REFRESH_PATH_SUFFIX) else "access"
        return tokens.verify(token, expected, audiences)

    class Bearer(BearerSecurityHandler):
        def _resolve_func(self, security_scheme: dict[str, Any]) -> Any:
            return verify_bearer

        @staticmethod
        @functools.cache
        def _accepts_kwarg(func: Any, keyword: str) -> bool:
            # The base class inspects the function's signature on every request; it never changes.
            return BearerSecurityHandler._accepts_kwarg(func, keyword)

    http = AsyncApp(
        "qiboconnection.server",
        validator_map={
            **VALIDATOR_MAP,
            "parameter": NamedParameterValidator,
            "body": MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": NamedJSONBodyValidator}),
        },
        security_map={"bearer": Bearer},
        swagger_ui_options=SwaggerUIOptions(serve_spec=False, swagger_ui=False),
    )
    http._middleware_app.api_cls = _PreparedApi
    http.add_api(spec, resolver=Resolver(handlers.resolve), validate_responses=False, strict_validation=True)
    http.add_error_handler(ApiProblem, _on_api_problem)
    http.add_error_handler(ProblemException, _on_connexion_problem)
    for error, detail in INPUT_ERRORS:
        http.add_error_handler(error, _fixed(400, "Bad Request", detail))
    http.add_error_handler(Exception, _on_unexpected)
    return http
