"""The connexion application built from openapi.yaml: routing, validation, security, problems."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from connexion import AsyncApp
from connexion.datastructures import MediaTypeDict
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
_INPUT_ERRORS: tuple[tuple[type[Exception], str], ...] = (
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


def build_http_app(app: QaasApp, spec: dict[str, Any]) -> AsyncApp:
    """Serve ``spec`` with handlers bound to ``app``; every error becomes a problem document."""
    handlers = Handlers(app)
    tokens, extra_audiences = app.tokens, list(app.config.audiences)

    def verify_bearer(token: str, request: Any) -> dict[str, Any]:
        url = request.url
        audiences = [f"{url.scheme}://{url.netloc}/api/v1", *extra_audiences]
        expected = "refresh" if url.path.endswith(REFRESH_PATH_SUFFIX) else "access"
        return tokens.verify(token, expected, audiences)

    class Bearer(BearerSecurityHandler):
        def _resolve_func(self, security_scheme: dict[str, Any]) -> Any:
            return verify_bearer

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
    http.add_api(spec, resolver=Resolver(handlers.resolve), validate_responses=False, strict_validation=True)
    http.add_error_handler(ApiProblem, _on_api_problem)
    http.add_error_handler(ProblemException, _on_connexion_problem)
    for error, detail in _INPUT_ERRORS:
        http.add_error_handler(error, _fixed(400, "Bad Request", detail))
    http.add_error_handler(Exception, _on_unexpected)
    return http
