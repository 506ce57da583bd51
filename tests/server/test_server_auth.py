"""Logging in, token types, expiry, tampering and the failed-login limit."""

from __future__ import annotations

import base64
import json
import logging
import time

import httpx
import jwt

from .http_support import GRANT_TYPE, assert_problem, assertion, login_response, tokens


def test_login_returns_signed_access_and_refresh_tokens(qaas_server):
    body = tokens(qaas_server, "alice")
    assert body["tokenType"] == "bearer"
    assert isinstance(body["expiresIn"], int) and body["expiresIn"] > 0
    assert str(body["issuedAt"]).isdigit()
    access = jwt.decode(body["accessToken"], options={"verify_signature": False})
    refresh = jwt.decode(body["refreshToken"], options={"verify_signature": False})
    assert access["type"] == "access" and refresh["type"] == "refresh"
    assert access["user_role"] == "user"
    assert isinstance(access["user_id"], int)
    assert access["aud"] == f"{qaas_server.url}/api/v1"
    assert access["exp"] > access["iat"]
    admin = jwt.decode(tokens(qaas_server, "admin")["accessToken"], options={"verify_signature": False})
    assert admin["user_role"] == "admin"


def test_wrong_api_key_is_401(make_server):
    with make_server(workers=0) as server:
        response = login_response(server.url, "alice", "not-alice-key")
        assert_problem(response, 401, "Wrong username or API key")
        assert_problem(login_response(server.url, "nobody", "whatever-key"), 401, "Wrong username or API key")


def test_assertion_checks(qaas_server):
    alice = qaas_server.users["alice"]
    url = qaas_server.url
    assert_problem(
        login_response(url, alice.username, alice.api_key, audience="https://elsewhere/api/v1"),
        401,
        "audience",
    )
    assert_problem(
        login_response(url, alice.username, alice.api_key, iat=int(time.time()) - 86400), 401, "iat"
    )
    assert_problem(login_response(url, alice.username, alice.api_key, user_id=987654), 401)
    endpoint = f"{url}/api/v1/authorisation-tokens"
    wrong_grant = {"grantType": "password", "assertion": assertion(url, alice.username, alice.api_key)}
    assert_problem(httpx.post(endpoint, json=wrong_grant), 400, "grantType")
    # Outside the schema's base64 alphabet: the body is malformed.
    assert_problem(httpx.post(endpoint, json={"grantType": GRANT_TYPE, "assertion": "%%%"}), 400, "assertion")
    # Schema-valid, but not an assertion the server can read: a refused credential.
    for content in (b"[1, 2]", b"not json", b'{"username": "alice"}'):
        unreadable = base64.urlsafe_b64encode(content).decode()
        answer = httpx.post(endpoint, json={"grantType": GRANT_TYPE, "assertion": unreadable})
        assert_problem(answer, 401, "assertion")
    assert_problem(httpx.post(endpoint, json={"grantType": GRANT_TYPE}), 400)


def test_refresh_gives_a_new_access_token(qaas_server):
    body = tokens(qaas_server, "bob")
    response = httpx.post(
        f"{qaas_server.url}/api/v1/authorisation-tokens/refresh",
        json={},
        headers={"Authorization": f"Bearer {body['refreshToken']}"},
    )
    assert response.status_code == 200, response.text
    fresh = response.json()
    assert fresh["refreshToken"] is None
    assert jwt.decode(fresh["accessToken"], options={"verify_signature": False})["type"] == "access"
    devices = httpx.get(
        f"{qaas_server.url}/api/v1/devices", headers={"Authorization": f"Bearer {fresh['accessToken']}"}
    )
    assert devices.status_code == 200


def _get(server, token, path="/api/v1/devices"):
    return httpx.get(f"{server.url}{path}", headers={"Authorization": f"Bearer {token}"})


def test_wrong_token_type_is_401(qaas_server):
    body = tokens(qaas_server, "alice")
    assert_problem(_get(qaas_server, body["refreshToken"]), 401, "access token")
    refresh_with_access = httpx.post(
        f"{qaas_server.url}/api/v1/authorisation-tokens/refresh",
        json={},
        headers={"Authorization": f"Bearer {body['accessToken']}"},
    )
    assert_problem(refresh_with_access, 401, "refresh token")


def test_expired_tokens_are_401(qaas_server):
    alice_id = jwt.decode(tokens(qaas_server, "alice")["accessToken"], options={"verify_signature": False})[
        "user_id"
    ]
    audience = f"{qaas_server.url}/api/v1"
    past = int(time.time()) - 10 * 24 * 3600 - qaas_server.config.refresh_token_lifetime
    expired_access = qaas_server.app.tokens.issue(alice_id, "user", "access", audience, now=past)
    assert_problem(_get(qaas_server, expired_access), 401, "expired")
    expired_refresh = qaas_server.app.tokens.issue(alice_id, "user", "refresh", audience, now=past)
    response = httpx.post(
        f"{qaas_server.url}/api/v1/authorisation-tokens/refresh",
        json={},
        headers={"Authorization": f"Bearer {expired_refresh}"},
    )
    assert_problem(response, 401, "expired")


def test_short_lived_tokens_from_config(make_server):
    with make_server(workers=0, access_token_lifetime=7) as server:
        body = tokens(server, "alice")
        assert body["expiresIn"] == 7
        claims = jwt.decode(body["accessToken"], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 7


def test_tampered_and_foreign_tokens_are_401(qaas_server):
    access = tokens(qaas_server, "alice")["accessToken"]
    header, payload, signature = access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["user_role"] = "admin"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert_problem(_get(qaas_server, f"{header}.{forged_payload}.{signature}"), 401, "not valid")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert_problem(_get(qaas_server, f"{header}.{payload}.{flipped}"), 401, "not valid")
    foreign = jwt.encode(
        {**claims, "user_role": "user"}, b"another-secret-of-enough-length!", algorithm="HS256"
    )
    assert_problem(_get(qaas_server, foreign), 401, "not valid")
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert_problem(_get(qaas_server, unsigned), 401)
    assert_problem(_get(qaas_server, "garbage"), 401)
    assert_problem(httpx.get(f"{qaas_server.url}/api/v1/devices"), 401)
    basic = httpx.get(f"{qaas_server.url}/api/v1/devices", headers={"Authorization": "Basic YTpi"})
    assert_problem(basic, 401)


def test_repeated_failed_logins_are_limited(make_server):
    with make_server(workers=0, login_failure_limit=5, login_failure_window=60) as server:
        alice = server.users["alice"]
        for _ in range(5):
            assert_problem(login_response(server.url, "alice", "wrong-key-xyz"), 401)
        limited = login_response(server.url, "alice", "wrong-key-xyz")
        assert_problem(limited, 429, "Too many failed logins")
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Even the right key waits: the limit is per (username, address), not per guess.
        assert_problem(login_response(server.url, alice.username, alice.api_key), 429)
        # Other usernames are not affected.
        bob = server.users["bob"]
        assert login_response(server.url, bob.username, bob.api_key).status_code == 200


def test_logs_never_hold_keys_or_tokens(make_server, caplog):
    caplog.set_level(logging.DEBUG)
    with make_server(workers=1) as server:
        alice = server.users["alice"]
        body = tokens(server, "alice")
        login_response(server.url, "alice", "a-wrong-key-that-must-not-leak")
        headers = {"Authorization": f"Bearer {body['accessToken']}"}
        assert httpx.get(f"{server.url}/api/v1/devices", headers=headers).status_code == 200
        httpx.get(f"{server.url}/api/v1/jobs/12345", headers=headers)
        httpx.get(f"{server.url}/api/v1/devices", headers={"Authorization": "Bearer not-a-token-secret"})
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "failed login" in text  # the server does log, just not secrets
    for secret in (
        alice.api_key,
        "a-wrong-key-that-must-not-leak",
        body["accessToken"],
        body["refreshToken"],
    ):
        assert secret not in text
    assert "not-a-token-secret" not in text
