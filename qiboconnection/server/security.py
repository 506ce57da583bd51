"""API-key hashing, signed access/refresh tokens and login throttling."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

import jwt

from qiboconnection.server.errors import TooManyRequests, Unauthorized

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_SCRYPT_R = 8
_SCRYPT_P = 1


def hash_api_key(api_key: str, cost: int = 2**14) -> str:
    """Hash an API key with scrypt and a random salt; the result names its own parameters."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(api_key.encode(), salt=salt, n=cost, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    salt_b64, digest_b64 = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${cost}${_SCRYPT_R}${_SCRYPT_P}${salt_b64}${digest_b64}"


def verify_api_key(api_key: str, stored: str) -> bool:
    """Check ``api_key`` against a hash made by :func:`hash_api_key`, in constant time."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            api_key.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(digest, expected)


@dataclass(frozen=True)
class Assertion:
    """The decoded JWT-bearer assertion a client sends to log in."""

    user_id: int | None
    username: str
    api_key: str
    audience: str
    iat: int


def decode_assertion(assertion: str) -> Assertion:
    """Decode the URL-safe base64 JSON assertion, or raise a 401 problem naming what is wrong."""
    try:
        raw = base64.urlsafe_b64decode(assertion + "=" * (-len(assertion) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise Unauthorized("assertion is not URL-safe base64 of a JSON object.") from exc
    if not isinstance(data, dict):
        raise Unauthorized("assertion is not URL-safe base64 of a JSON object.")
    username, api_key = data.get("username"), data.get("api_key")
    audience, iat, user_id = data.get("audience"), data.get("iat"), data.get("user_id")
    if not isinstance(username, str) or not username:
        raise Unauthorized("assertion.username must be a non-empty string.")
    if not isinstance(api_key, str) or not api_key:
        raise Unauthorized("assertion.api_key must be a non-empty string.")
    if not isinstance(audience, str):
        raise Unauthorized("assertion.audience must be a string.")
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
        raise Unauthorized("assertion.iat must be a number of unix seconds.")
    if user_id is not None and (isinstance(user_id, bool) or not isinstance(user_id, int)):
        raise Unauthorized("assertion.user_id must be null or an integer.")
    return Assertion(user_id=user_id, username=username, api_key=api_key, audience=audience, iat=int(iat))


class TokenService:
    """Issues and verifies HS256 access and refresh tokens with the server's secret."""

    def __init__(
        self, secret: bytes, access_lifetime: int, refresh_lifetime: int, cache_size: int = 4096
    ) -> None:
        self._secret = secret
        self.access_lifetime = access_lifetime
        self.refresh_lifetime = refresh_lifetime
        # Tokens already verified, with their claims: a client sends the same token many times.
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    def issue(self, user_id: int, role: str, token_type: str, audience: str, now: int | None = None) -> str:
        now = int(time.time()) if now is None else now
        lifetime = self.access_lifetime if token_type == "access" else self.refresh_lifetime
        claims = {
            "user_id": user_id,
            "user_role": role,
            "type": token_type,
            "iat": now,
            "exp": now + lifetime,
            "aud": audience,
            "sub": str(user_id),
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str, expected_type: str, audiences: list[str]) -> dict[str, Any]:
        """Return the claims of a valid token of ``expected_type``, or raise a 401 problem."""
        with self._cache_lock:
            cached = self._verified.get(token)
        if cached is not None and cached["exp"] > time.time() and cached["aud"] in audiences:
            claims = cached
        else:
            claims = self._decode(token, expected_type, audiences)
            with self._cache_lock:
                self._verified[token] = claims
                while len(self._verified) > self._cache_size:
                    self._verified.popitem(last=False)
        if claims.get("type") != expected_type:
            raise Unauthorized(
                f"This operation needs an {expected_type} token, not a {claims.get('type')} token."
            )
        return claims

    def _decode(self, token: str, expected_type: str, audiences: list[str]) -> dict[str, Any]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=audiences,
                options={"require": ["exp", "iat", "aud", "user_id", "type", "user_role"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized(f"The {expected_type} token has expired.") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized("The token was issued for another server.") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("The token is not valid.") from exc
        if isinstance(claims["user_id"], bool) or not isinstance(claims["user_id"], int):
            raise Unauthorized("The token is not valid.")
        return claims


#: Most characters of a client-given text that a log line quotes.
LOG_QUOTE_LIMIT = 64


def quoted(text: str, limit: int = LOG_QUOTE_LIMIT) -> str:
    """``repr(text)`` for a log line, cut to ``limit`` characters and saying how long it was."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def _key(*parts: str) -> bytes:
    """A fixed-size digest of ``parts``: throttle tables keep 16 bytes per key, however long the names."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.digest()


class _Windows:
    """Failure times per key in a sliding window, for at most ``max_keys`` keys (least recent dropped)."""

    def __init__(self, limit: int, window: float, max_keys: int) -> None:
        self.limit = limit
        self._window = window
        self._max_keys = max_keys
        self._times: OrderedDict[bytes, deque[float]] = OrderedDict()

    def retry_after(self, key: bytes, now: float) -> int | None:
        """Seconds until ``key`` may try again, or None when it is under the limit."""
        times = self._times.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._times[key]
            return None
        if len(times) >= self.limit:
            return int(times[0] + self._window - now) + 1
        return None

    def add(self, key: bytes, now: float) -> None:
        times = self._times.pop(key, None) or deque(maxlen=self.limit)
        times.append(now)
        self._times[key] = times
        while len(self._times) > self._max_keys:
            self._times.popitem(last=False)

    def forget(self, key: bytes) -> None:
        self._times.pop(key, None)

    def __len__(self) -> int:
        return len(self._times)


class LoginThrottle:
    """Limits failed logins in a sliding window, in bounded memory.

    Two limits apply: ``limit`` failures per (username, client address), so that nobody can lock a
    user out from elsewhere by failing on purpose, and ``address_limit`` failures per client address,
    whatever the usernames, so that one address cannot try many names. A (username, address) pair that
    logged in successfully before is judged by its own limit only, so a flood of failures under other
    names from a shared address does not lock out the users who log in from there. A success clears
    the pair's failures.

    Keys are stored as 16-byte digests, and each table (pairs, addresses, pairs with a success) keeps
    at most ``max_names`` of them, least recently used dropped first.
    """

    def __init__(self, limit: int, window: float, max_names: int, address_limit: int = 50) -> None:
        self._pairs = _Windows(limit, window, max_names)
        self._addresses = _Windows(address_limit, window, max_names)
        self._trusted: OrderedDict[bytes, None] = OrderedDict()
        self._max_names = max_names
        self._lock = threading.Lock()

    def check(self, username: str, address: str = "", now: float | None = None) -> None:
        """Raise a 429 problem when this username from this address, or (for a pair that never logged
        in) this address, failed too often."""
        now = time.monotonic() if now is None else now
        pair = _key(username, address)
        with self._lock:
            waits = [self._pairs.retry_after(pair, now)]
            if pair not in self._trusted:
                waits.append(self._addresses.retry_after(_key(address), now))
        found = [wait for wait in waits if wait is not None]
        if found:
            raise TooManyRequests("Too many failed logins; try again later.", max(found))

    def record_failure(self, username: str, address: str = "", now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        pair = _key(username, address)
        with self._lock:
            self._pairs.add(pair, now)
            if pair not in self._trusted:
                self._addresses.add(_key(address), now)

    def record_success(self, username: str, address: str = "") -> None:
        pair = _key(username, address)
        with self._lock:
            self._pairs.forget(pair)
            self._trusted[pair] = None
            self._trusted.move_to_end(pair)
            while len(self._trusted) > self._max_names:
                self._trusted.popitem(last=False)

    def sizes(self) -> tuple[int, int]:
        """How many (username, address) pairs and addresses with failures are remembered."""
        with self._lock:
            return len(self._pairs), len(self._addresses)
