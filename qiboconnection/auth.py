"""Authentication against the QaaS: an ``httpx.Auth`` that logs in, attaches and renews tokens.

One generator, :meth:`QaaSAuth.flow`, holds the whole token logic for the synchronous and the
asynchronous client: it yields the request to send with its token, and a :class:`TokenCall` whenever
tokens must be fetched (log in with username and API key, or refresh). ``sync_auth_flow`` and
``async_auth_flow`` drive it, running each token call through the generated
``create_authorisation_token`` / ``refresh_authorisation_token`` operations on the session's token
client (see :mod:`qiboconnection.clients`).

Token state is guarded by a lock; the generation counter lets a request that failed with an old token
reuse a token another thread or task has already renewed instead of renewing again.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from qaas_client import Client
from qaas_client.api.auth import create_authorisation_token, refresh_authorisation_token
from qaas_client.models.access_token_response import AccessTokenResponse
from qaas_client.models.authorisation_request import AuthorisationRequest
from qaas_client.models.problem import Problem
from qaas_client.models.refresh_request import RefreshRequest
from qaas_client.types import Response

from qiboconnection.clients import last_response, refresh_bearer, reset_last_response
from qiboconnection.errors import AuthenticationError, QiboconnectionError
from qiboconnection.problems import answer_of, error_for, is_expired_token_answer, unreadable

__all__ = ["QaaSAuth", "TokenCall", "TokenPair"]

logger = logging.getLogger("qiboconnection.auth")

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "user profile"
# Renew a little before the access token's own expiry, so it does not lapse in flight.
_EXPIRY_MARGIN = 5.0
#: Errors of the generated parser on an answer of an unexpected shape.
_PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError)

TokenAnswer = Response[AccessTokenResponse | Problem]


@dataclass(frozen=True)
class TokenCall:
    """A token operation the auth flow needs: log in (``refresh`` None) or refresh with ``refresh``."""

    refresh: str | None = None

    @property
    def what(self) -> str:
        """How errors describe the call."""
        return "log in" if self.refresh is None else "refresh the access token"


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


def tokens_of(answer: AccessTokenResponse, previous_refresh: str | None = None) -> TokenPair:
    """The tokens of a login or refresh answer; a refresh answer without refresh token keeps
    ``previous_refresh``."""
    access = answer.access_token
    if not isinstance(access, str) or not access:
        raise AuthenticationError("The service's token answer has no accessToken", 200)
    refresh = answer.refresh_token if isinstance(answer.refresh_token, str) and answer.refresh_token else None
    refresh = refresh or previous_refresh
    claims = _claims(access)
    user_id = claims.get("user_id")
    role = claims.get("user_role")
    return TokenPair(
        access=access,
        refresh=refresh,
        access_exp=_number(claims.get("exp")),
        refresh_exp=_number(_claims(refresh).get("exp")) if refresh is not None else None,
        user_id=user_id if isinstance(user_id, int) and not isinstance(user_id, bool) else None,
        role=role if isinstance(role, str) else None,
    )


FlowStep = httpx.Request | TokenCall
FlowAnswer = httpx.Response | TokenAnswer


class QaaSAuth(httpx.Auth):
    """Logs in with username and API key, sends the access token, renews it when refused or expired.

    A request answered 401 (or the hosted 400 about the token, or any 400 once the token is past its
    expiry) is sent again once after renewing: with the refresh token while it is usable, otherwise (or
    when the refresh is refused) by logging in again.
    """

    requires_response_body = True

    def __init__(
        self,
        username: str,
        api_key: str,
        *,
        audience: str,
        user_id: int | None = None,
    ) -> None:
        self._username = username
        self._api_key = api_key
        self._audience = audience
        self._configured_user_id = user_id
        self._lock = threading.Lock()
        self._tokens: TokenPair | None = None
        self._generation = 0
        self._honours_idempotency_keys = False
        self._token_client: Client | None = None

    def __repr__(self) -> str:
        state = "logged in" if self._tokens is not None else "not logged in"
        return f"<QaaSAuth username={self._username!r} {state}>"

    def use_token_client(self, client: Client) -> None:
        """Run token calls over ``client`` (a generated client without auth; see :mod:`~qiboconnection.clients`)."""
        self._token_client = client

    @property
    def token_client(self) -> Client:
        """The generated client token calls go through."""
        if self._token_client is None:
            raise QiboconnectionError("The authentication has no token client (see use_token_client)")
        return self._token_client

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

    @property
    def logged_in(self) -> bool:
        """Whether tokens are held."""
        return self._tokens is not None

    def _snapshot(self) -> tuple[TokenPair | None, int]:
        with self._lock:
            return self._tokens, self._generation

    def _store(self, tokens: TokenPair) -> None:
        with self._lock:
            self._tokens = tokens
            self._generation += 1

    @staticmethod
    def _usable(tokens: TokenPair | None, now: float) -> bool:
        if tokens is None or not tokens.access:
            return False
        return tokens.access_exp is None or now < tokens.access_exp - _EXPIRY_MARGIN

    def _assertion(self) -> AuthorisationRequest:
        claims = {
            "user_id": self._configured_user_id,
            "username": self._username,
            "api_key": self._api_key,
            "audience": self._audience,
            "iat": int(time.time()),
        }
        encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
        return AuthorisationRequest(grant_type=GRANT_TYPE, assertion=encoded, scope=SCOPE)

    # -- flows ---------------------------------------------------------------------------------

    def _accept(self, answer: FlowAnswer, call: TokenCall, previous_refresh: str | None = None) -> TokenPair:
        """Store the tokens of a token call's answer; raises its error when it is one."""
        if isinstance(answer, httpx.Response):
            raise QiboconnectionError(f"Could not {call.what}: the token call got an HTTP answer of its own")
        what = f"log in as {self._username!r}" if call.refresh is None else call.what
        tokens = tokens_of(answer_of(answer, AccessTokenResponse, what=what), previous_refresh)
        self._honours_idempotency_keys = answer.headers.get("X-Idempotency-Keys", "").lower() == "honoured"
        self._store(tokens)
        return tokens

    def login_flow(self) -> Generator[TokenCall, FlowAnswer, TokenPair]:
        """Log in with username and API key; raises AuthenticationError when refused."""
        logger.debug("Logging in as %s", self._username)
        call = TokenCall()
        tokens = self._accept((yield call), call)
        logger.debug("Logged in as %s (user id %s)", self._username, tokens.user_id)
        return tokens

    def _renew_flow(self, stale_generation: int) -> Generator[TokenCall, FlowAnswer, TokenPair]:
        """Get a usable access token: reuse one renewed meanwhile, else refresh, else log in again."""
        tokens, generation = self._snapshot()
        now = time.time()
        if tokens is not None and generation != stale_generation and self._usable(tokens, now):
            return tokens
        if tokens is not None and tokens.refresh and (tokens.refresh_exp is None or now < tokens.refresh_exp):
            call = TokenCall(refresh=tokens.refresh)
            answer = yield call
            status = int(answer.status_code)
            if status >= 500 or status == 429:
                raise error_for(status, answer.content, answer.headers, what=call.what)
            try:
                renewed = self._accept(answer, call, previous_refresh=tokens.refresh)
            except QiboconnectionError as error:
                logger.debug("Token refresh refused or unusable (%s); logging in again", error)
            else:
                logger.debug("Access token refreshed")
                return renewed
        return (yield from self.login_flow())

    def flow(self, request: httpx.Request) -> Generator[FlowStep, FlowAnswer, None]:
        """Attach the access token, renewing it first when missing or expired and once when refused."""
        tokens, generation = self._snapshot()
        if tokens is None or not self._usable(tokens, time.time()):
            tokens = yield from self._renew_flow(generation)
            generation = self._snapshot()[1]
        request.headers["Authorization"] = f"Bearer {tokens.access}"
        response = yield request
        if isinstance(response, httpx.Response) and self.refused(
            response.status_code, response.content, tokens
        ):
            logger.debug("Access token refused (HTTP %s); renewing it", response.status_code)
            tokens = yield from self._renew_flow(generation)
            request.headers["Authorization"] = f"Bearer {tokens.access}"
            yield request

    @staticmethod
    def refused(status: int, content: bytes, tokens: TokenPair) -> bool:
        """Whether an answer (``status``, ``content``) refused the access token of ``tokens``."""
        if status < 400:
            return False
        if is_expired_token_answer(status, content):
            return True
        return status == 400 and tokens.access_exp is not None and time.time() >= tokens.access_exp

    # -- drivers -------------------------------------------------------------------------------

    def _token_call_sync(self, call: TokenCall) -> TokenAnswer:
        client = self.token_client
        reset_last_response()
        try:
            if call.refresh is None:
                return create_authorisation_token.sync_detailed(client=client, body=self._assertion())
            with refresh_bearer(call.refresh):
                return refresh_authorisation_token.sync_detailed(client=client, body=RefreshRequest())
        except _PARSE_ERRORS as error:
            raise unreadable(last_response(), error, what=call.what) from None

    async def _token_call_async(self, call: TokenCall) -> TokenAnswer:
        client = self.token_client
        reset_last_response()
        try:
            if call.refresh is None:
                return await create_authorisation_token.asyncio_detailed(
                    client=client, body=self._assertion()
                )
            with refresh_bearer(call.refresh):
                return await refresh_authorisation_token.asyncio_detailed(
                    client=client, body=RefreshRequest()
                )
        except _PARSE_ERRORS as error:
            raise unreadable(last_response(), error, what=call.what) from None

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """:meth:`flow` for ``httpx.Client``: token calls run through the generated operations."""
        flow = self.flow(request)
        step = next(flow)
        while True:
            answer: FlowAnswer
            if isinstance(step, TokenCall):
                answer = self._token_call_sync(step)
            else:
                answer = yield step
                answer.read()
            try:
                step = flow.send(answer)
            except StopIteration:
                return

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """:meth:`flow` for ``httpx.AsyncClient``: token calls run through the generated operations."""
        flow = self.flow(request)
        step = next(flow)
        while True:
            answer: FlowAnswer
            if isinstance(step, TokenCall):
                answer = await self._token_call_async(step)
            else:
                answer = yield step
                await answer.aread()
            try:
                step = flow.send(answer)
            except StopIteration:
                return

    def login_sync(self) -> TokenPair:
        """Log in now (synchronous session)."""
        flow = self.login_flow()
        call = next(flow)
        try:
            flow.send(self._token_call_sync(call))
        except StopIteration as done:
            tokens: TokenPair = done.value
            return tokens
        raise QiboconnectionError("The login flow asked for more than one token call")

    async def login_async(self) -> TokenPair:
        """Log in now (asynchronous session)."""
        flow = self.login_flow()
        call = next(flow)
        try:
            flow.send(await self._token_call_async(call))
        except StopIteration as done:
            tokens: TokenPair = done.value
            return tokens
        raise QiboconnectionError("The login flow asked for more than one token call")
