"""A scripted stand-in for the hosted service, for shapes and faults the local server does not produce.

Requests are answered by ``httpx.MockTransport``; the tests see everything the client sent.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from qiboconnection.api import API
from qiboconnection.config import RetryPolicy, Settings
from qiboconnection.typings.connection import ConnectionConfiguration

BASE_URL = "https://qaas.test"
SIGNING_KEY = "fake-hosted-signing-key-0123456789"
API_KEY = "sk-live-SECRET-api-key-0123456789"

Handler = Callable[[httpx.Request, re.Match[str]], httpx.Response]


def problem(
    status: int, detail: str, title: str = "Error", headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(
        status,
        json={"title": title, "status": status, "detail": detail},
        headers={"Content-Type": "application/problem+json", **(headers or {})},
    )


@dataclass
class FakeHosted:
    """Routes plus a token mint. ``routes`` maps ``"METHOD /path-regex"`` to a handler."""

    user_id: int = 7
    access_lifetime: int = 3600
    refresh_lifetime: int = 86400
    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    logins: int = 0
    refreshes: int = 0
    refresh_answer_has_refresh_token: bool = True
    # The hosted service does not say it honours Idempotency-Key; a fake can, as the local server does.
    advertises_idempotency_keys: bool = False
    _serial: Any = field(default_factory=lambda: itertools.count(1))

    def token(self, kind: str, lifetime: int) -> str:
        now = int(time.time())
        claims = {
            "user_id": self.user_id,
            "user_role": "user",
            "type": kind,
            "iat": now,
            "exp": now + lifetime,
            "aud": BASE_URL + "/api/v1",
            "jti": str(next(self._serial)),
        }
        token = jwt.encode(claims, SIGNING_KEY, algorithm="HS256")
        self.issued.append(token)
        return token

    def token_kind(self, request: httpx.Request) -> str | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return None
        try:
            claims = jwt.decode(header[7:], SIGNING_KEY, algorithms=["HS256"], audience=BASE_URL + "/api/v1")
        except jwt.PyJWTError:
            return None
        return claims["type"]

    def _tokens(self, with_refresh: bool = True) -> httpx.Response:
        body: dict[str, Any] = {
            "accessToken": self.token("access", self.access_lifetime),
            "refreshToken": self.token("refresh", self.refresh_lifetime) if with_refresh else None,
            "tokenType": "bearer",
            "expiresIn": self.access_lifetime,
            "issuedAt": str(int(time.time())),
        }
        headers = {"X-Idempotency-Keys": "honoured"} if self.advertises_idempotency_keys else {}
        return httpx.Response(201, json=body, headers=headers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        # The client re-sends the same Request object after renewing a token: keep a snapshot.
        self.requests.append(
            httpx.Request(request.method, request.url, headers=request.headers.copy(), content=request.read())
        )
        path = request.url.path
        if request.method == "POST" and path == "/api/v1/authorisation-tokens":
            self.logins += 1
            body = json.loads(request.content)
            assertion = json.loads(base64.urlsafe_b64decode(body["assertion"]))
            if assertion["api_key"] != API_KEY:
                return problem(401, "Invalid credentials.", "Unauthorized")
            return self._tokens()
        if request.method == "POST" and path == "/api/v1/authorisation-tokens/refresh":
            self.refreshes += 1
            if self.token_kind(request) != "refresh":
                return problem(401, "Invalid refresh token.", "Unauthorized")
            return self._tokens(with_refresh=self.refresh_answer_has_refresh_token)
        for pattern, handler in self.routes.items():
            method, _, regex = pattern.partition(" ")
            match = re.fullmatch(regex, path)
            if method == request.method and match:
                if path != "/status" and self.token_kind(request) != "access":
                    return problem(401, "Signature has expired.", "Unauthorized")
                return handler(request, match)
        return problem(404, f"No route for {request.method} {path}", "Not Found")

    def api(self, **settings: Any) -> API:
        """An API logged in to this fake over a MockTransport (fast retries, no progress line)."""
        settings.setdefault(
            "retry", RetryPolicy(max_attempts=4, budget=30, backoff_base=0.01, backoff_cap=0.02)
        )
        settings.setdefault("progress", False)
        return API(
            ConnectionConfiguration("hosted-user", API_KEY),
            settings=Settings(base_url=BASE_URL, **settings),
            transport=httpx.MockTransport(self),
        )

    def sent(self, method: str, path_prefix: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path.startswith(path_prefix)]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def page(items: list[Any], url: str, page_number: int, last: int, per_page: int) -> dict[str, Any]:
    """A hosted listing page: ``next``/``prev`` carry ``page=None`` past the ends."""

    def link(number: int | None) -> str:
        return f"{url}?page={number}&per_page={per_page}"

    return {
        "items": items,
        "total": len(items),
        "per_page": per_page,
        "self": link(page_number),
        "links": {
            "first": link(1),
            "prev": link(page_number - 1 if page_number > 1 else None),
            "next": link(page_number + 1 if page_number < last else None),
            "last": link(last),
        },
    }
