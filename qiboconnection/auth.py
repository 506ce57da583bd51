"""Authentication against the QaaS: an ``httpx.Auth`` that logs in, attaches and renews tokens.

The login and refresh requests are yielded from :meth:`QaaSAuth.auth_flow`, so one implementation
serves both ``httpx.Client`` and ``httpx.AsyncClient``. Token state is guarded by a lock; the
generation counter lets a request that failed with an old token reuse a token another thread has
already renewed instead of renewing again.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import orjson

from qiboconnection.errors import AuthenticationError, QiboconnectionError
from qiboconnection.problems import error_for, is_expired_token_answer

__all__ = ["QaaSAuth", "TokenPair"]

logger = logging.getLogger("qiboconnection.auth")

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "user profile"
# Renew a little before the access token's own expiry, so it does not lapse in flight.
_EXPIRY_MARGIN = 5.0


@dataclass(frozen=True)
class TokenPair:
    """Tokens from a login or refresh answer, with the claims the client uses."""

    access: str
    refresh: str | None
    access_exp: float | None
    refresh_exp: float | None
    user_id: int | None
    role: str | None

    def __repr__(self) -> str:
        return f"TokenPair(user_id={self.user_id!r}, role={self.role!r}, access_exp={self.access_exp!r})"


def _claims(token: str) -> dict[str, Any]:
    """Claims of a JWT, read without checking its signature (the server checks it)."""
    try:
        claims = jwt.decode(
            token, options={"verify_signature": False, "verify_exp": False, "verify_aud": False}
        )
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_tokens(content: bytes, previous_refresh: str | None = None) -> TokenPair:
    """Parse a token answer; a refresh answer without refresh token keeps ``previous_refresh``."""
    try:
        body = orjson.loads(content)
        access = body["accessToken"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise AuthenticationError(
            "The service's token answer has no accessToken", 200, detail="malformed token answer"
        ) from None
    if not isinstance(access, str) or not access:
        raise AuthenticationError("The service's token answer has no accessToken", 200)
    refresh = body.get("refreshToken") or previous_refresh
    claims = _claims(access)
    user_id = claims.get("user_id")
    return TokenPair(
        access=access,
        refresh=refresh if isinstance(refresh, str) else None,
        access_exp=_number(claims.get("exp")),
        refresh_exp=_number(_claims(refresh).get("exp")) if isinstance(refresh, str) else None,
        user_id=user_id if isinstance(user_id, int) and not isinstance(user_id, bool) else None,
        role=claims.get("user_role") if isinstance(claims.get("user_role"), str) else None,
    )


class QaaSAuth(httpx.Auth):
    """Logs in with username and API key, sends the access token, renews it when refused or expired.

    A request answered 401 (or the hosted 400 about the token, or any 400 once the token is past its
    expiry) is retried once after renewing: with the refresh token while it is usable, otherwise (or
    when the refresh is refused) by logging in again.
    """

    requires_response_body = True

    def __init__(
        self,
        username: str,
        api_key: str,
        *,
        base_url: str,
        audience: str,
        client_version: str,
        user_id: int | None = None,
    ) -> None:
        self._username = username
        self._api_key = api_key
        self._base_url = httpx.URL(base_url.rstrip("/") + "/")
        self._audience = audience
        self._client_version = client_version
        self._configured_user_id = user_id
        self._lock = threading.Lock()
        self._tokens: TokenPair | None = None
        self._generation = 0
        self._honours_idempotency_keys = False

    def __repr__(self) -> str:
        state = "logged in" if self._tokens is not None else "not logged in"
        return f"<QaaSAuth username={self._username!r} {state}>"

    # -- state ---------------------------------------------------------------------------------

    @property
    def username(self) -> str:
        """The user this object authenticates."""
        return self._username

    @property
    def user_id(self) -> int | None:
        """The user id from the access token (or the configured one before login)."""
        tokens = self._tokens
        if tokens is not None and tokens.user_id is not None:
            return tokens.user_id
        return self._configured_user_id

    @property
    def role(self) -> str | None:
        """The user's role from the access token (``user`` or ``admin``), once logged in."""
        tokens = self._tokens
        return tokens.role if tokens is not None else None

    @property
    def honours_idempotency_keys(self) -> bool:
        """Whether the service said (``X-Idempotency-Keys: honoured``) that resent submissions are safe."""
        return self._honours_idempotency_keys

    def _note_capabilities(self, response: httpx.Response) -> None:
        self._honours_idempotency_keys = response.headers.get("X-Idempotency-Keys", "").lower() == "honoured"

    @property
    def logged_in(self) -> bool:
        """Whether tokens are held."""
        return self._tokens is not None

    def _snapshot(self) -> tuple[TokenPair | None, int]:
        with self._lock:
            return self._tokens, self._generation

    def _store(self, tokens: TokenPair) -> int:
        with self._lock:
            self._tokens = tokens
            self._generation += 1
            return self._generation

    @staticmethod
    def _usable(tokens: TokenPair | None, now: float) -> bool:
        if tokens is None or not tokens.access:
            return False
        return tokens.access_exp is None or now < tokens.access_exp - _EXPIRY_MARGIN

    # -- requests ------------------------------------------------------------------------------

    def _request(self, kwargs: dict[str, Any], bearer: str | None = None) -> httpx.Request:
        headers = dict(kwargs.get("headers", {}))
        headers["X-Client-Version"] = self._client_version
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        url = self._base_url.join(str(kwargs["url"]).lstrip("/"))
        return httpx.Request(kwargs["method"], url, json=kwargs.get("json"), headers=headers)

    def _login_request(self) -> httpx.Request:
        from qaas_client.api.auth import create_authorisation_token
        from qaas_client.models.authorisation_request import AuthorisationRequest

        assertion = {
            "user_id": self._configured_user_id,
            "username": self._username,
            "api_key": self._api_key,
            "audience": self._audience,
            "iat": int(time.time()),
        }
        encoded = base64.urlsafe_b64encode(json.dumps(assertion).encode()).decode()
        body = AuthorisationRequest(grant_type=GRANT_TYPE, assertion=encoded, scope=SCOPE)
        return self._request(create_authorisation_token._get_kwargs(body=body))

    def _refresh_request(self, refresh_token: str) -> httpx.Request:
        from qaas_client.api.auth import refresh_authorisation_token
        from qaas_client.models.refresh_request import RefreshRequest

        kwargs = refresh_authorisation_token._get_kwargs(body=RefreshRequest())
        return self._request(kwargs, bearer=refresh_token)

    # -- flows ---------------------------------------------------------------------------------

    def login_flow(self) -> Generator[httpx.Request, httpx.Response, TokenPair]:
        """Log in with username and API key; raises AuthenticationError when refused."""
        logger.debug("Logging in as %s", self._username)
        response = yield self._login_request()
        if not response.is_success:
            error = error_for(
                response.status_code, response.content, response.headers, what=f"log in as {self._username!r}"
            )
            raise error
        tokens = parse_tokens(response.content)
        self._note_capabilities(response)
        self._store(tokens)
        logger.debug("Logged in as %s (user id %s)", self._username, tokens.user_id)
        return tokens

    def _renew_flow(self, stale_generation: int) -> Generator[httpx.Request, httpx.Response, TokenPair]:
        """Get a usable access token: reuse one renewed meanwhile, else refresh, else log in again."""
        tokens, generation = self._snapshot()
        now = time.time()
        if generation != stale_generation and self._usable(tokens, now):
            assert tokens is not None
            return tokens
        if tokens is not None and tokens.refresh and (tokens.refresh_exp is None or now < tokens.refresh_exp):
            response = yield self._refresh_request(tokens.refresh)
            if response.is_success:
                try:
                    renewed = parse_tokens(response.content, previous_refresh=tokens.refresh)
                except QiboconnectionError:
                    logger.debug("Token refresh answer unusable; logging in again")
                else:
                    self._note_capabilities(response)
                    self._store(renewed)
                    logger.debug("Access token refreshed")
                    return renewed
            elif response.status_code >= 500 or response.status_code == 429:
                raise error_for(
                    response.status_code, response.content, response.headers, what="refresh the access token"
                )
            else:
                logger.debug("Token refresh refused (HTTP %s); logging in again", response.status_code)
        return (yield from self.login_flow())

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Attach the access token, renewing it first when missing or expired and once when refused."""
        tokens, generation = self._snapshot()
        if not self._usable(tokens, time.time()):
            tokens = yield from self._renew_flow(generation)
            generation = self._snapshot()[1]
        assert tokens is not None
        request.headers["Authorization"] = f"Bearer {tokens.access}"
        response = yield request
        if self._should_renew(response, tokens):
            logger.debug("Access token refused (HTTP %s); renewing it", response.status_code)
            tokens = yield from self._renew_flow(generation)
            request.headers["Authorization"] = f"Bearer {tokens.access}"
            yield request

    def usable_tokens(self) -> TokenPair | None:
        """The tokens held, when the access token can be sent as it is (logged in, not about to expire)."""
        tokens = self._tokens
        return tokens if self._usable(tokens, time.time()) else None

    @staticmethod
    def refused(status: int, content: bytes, tokens: TokenPair) -> bool:
        """Whether an answer (``status``, ``content``) refused the access token of ``tokens`` (so it must
        be renewed)."""
        if status < 400:
            return False
        if is_expired_token_answer(status, content):
            return True
        return status == 400 and tokens.access_exp is not None and time.time() >= tokens.access_exp

    @staticmethod
    def _should_renew(response: httpx.Response, tokens: TokenPair) -> bool:
        return QaaSAuth.refused(response.status_code, response.content, tokens)

    # -- eager login -----------------------------------------------------------------------------

    def sync_login(self, client: httpx.Client) -> TokenPair:
        """Log in now over ``client``."""
        flow = self.login_flow()
        request = next(flow)
        while True:
            response = client.send(request, auth=None)
            try:
                request = flow.send(response)
            except StopIteration as done:
                return done.value

    async def async_login(self, client: httpx.AsyncClient) -> TokenPair:
        """Log in now over ``client``."""
        flow = self.login_flow()
        request = next(flow)
        while True:
            response = await client.send(request, auth=None)
            try:
                request = flow.send(response)
            except StopIteration as done:
                return done.value
