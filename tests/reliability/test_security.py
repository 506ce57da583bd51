"""Security: who may see what, which tokens pass, how failed logins are limited, what never leaks."""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import stat
import time

import httpx
import jwt
import pytest

from qiboconnection.api import API
from qiboconnection.config import RetryPolicy
from qiboconnection.errors import AuthenticationError, NotFoundError
from qiboconnection.server import handlers as server_handlers
from qiboconnection.server.security import LoginThrottle
from qiboconnection.typings.connection import ConnectionConfiguration

from .support import GRANT_TYPE, assertion, client_for, job_body, session, tokens, x_circuit

QUICK = RetryPolicy(max_attempts=2, budget=5.0, backoff_base=0.01, backoff_cap=0.05)


def _login_from(server, address: str, username: str, api_key: str) -> httpx.Response:
    """Log in over a connection whose source address is ``address`` (any 127.x.y.z reaches 127.0.0.1)."""
    body = {"grantType": GRANT_TYPE, "assertion": assertion(server.url, username, api_key)}
    with httpx.Client(transport=httpx.HTTPTransport(local_address=address)) as client:
        return client.post(f"{server.url}/api/v1/authorisation-tokens", json=body)


def _same_problem(first: httpx.Response, second: httpx.Response, first_id: int, second_id: int) -> None:
    """Two answers that differ in nothing but the job id they name."""
    assert first.status_code == second.status_code
    assert first.headers["content-type"] == second.headers["content-type"]
    assert first.json()["detail"].replace(str(first_id), "N") == second.json()["detail"].replace(
        str(second_id), "N"
    )
    assert {k: v for k, v in first.json().items() if k != "detail"} == {
        k: v for k, v in second.json().items() if k != "detail"
    }


def test_other_users_jobs_answer_exactly_like_missing_ones(qaas_server):
    alice, bob = client_for(qaas_server, "alice"), client_for(qaas_server, "bob")
    with alice, bob:
        job_id = alice.post("/circuits", json=job_body(name="alice-only")).json()["job_id"]
        absent = job_id + 10**9
        for method, path, kwargs in (
            ("GET", "/jobs/{}", {}),
            ("PUT", "/jobs/cancel/{}", {"json": None}),
        ):
            answers = []
            for target in (job_id, absent):
                extra = {"json": {"job_id": target}} if "json" in kwargs else {}
                answers.append(bob.request(method, path.format(target), **extra))
            assert answers[0].status_code == 404
            _same_problem(answers[0], answers[1], job_id, absent)
        # Deleting is for admins: a user is refused the same way whether the job exists or not.
        mine, missing = bob.delete(f"/jobs/{job_id}"), bob.delete(f"/jobs/{absent}")
        assert mine.status_code == missing.status_code == 403
        assert mine.json() == missing.json()
        # Alice's job is untouched and not in bob's listing.
        assert alice.get(f"/jobs/{job_id}").json()["status"] in ("queued", "running", "completed")
        listed = bob.get("/jobs", params={"per_page": 1000}).json()["items"]
        assert job_id not in {item["id"] for item in listed}


def test_the_client_maps_another_users_job_to_not_found(qaas_server):
    alice, bob = qaas_server.users["alice"], qaas_server.users["bob"]
    with (
        session(qaas_server.url, alice.username, alice.api_key, QUICK) as alice_api,
        session(qaas_server.url, bob.username, bob.api_key, QUICK) as bob_api,
    ):
        job = alice_api.submit(x_circuit("10"), device_id=1, nshots=4)
        with pytest.raises(NotFoundError, match="does not exist"):
            bob_api.get_job(job.id)
        with pytest.raises(NotFoundError, match="does not exist"):
            bob_api.cancel_job(job.id)
        assert alice_api.get_job(job.id).job_id == job.id


ADMIN_ONLY = (
    ("PUT", "/devices/1", {"status": "maintenance"}),
    ("DELETE", "/jobs/1", None),
    ("GET", "/runcards", None),
    ("POST", "/runcards", {"name": "r", "description": "", "runcard": "e30=", "device_id": 1, "user_id": 1}),
    ("GET", "/runcards/1", None),
    ("GET", "/runcards/by_keys?name=r", None),
    ("PUT", "/runcards/1", {"name": "r", "description": "", "runcard": "e30=", "device_id": 1, "user_id": 1}),
    ("DELETE", "/runcards/1", None),
    ("GET", "/calibrations", None),
    ("GET", "/calibrations/1", None),
    ("DELETE", "/calibrations/1", None),
)


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
def test_admin_operations_are_refused_to_users(qaas_server, method, path, body):
    with client_for(qaas_server, "alice") as alice:
        response = alice.request(method, path, json=body)
    assert response.status_code == 403, response.text
    assert "admin" in response.json()["detail"]
    device = httpx.get(f"{qaas_server.url}/api/v1/devices/1", headers=alice.headers)
    assert device.json()["status"] == "online"


def _get_devices(server, token: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/devices", headers={"Authorization": f"Bearer {token}"})


def test_tokens_checked_for_signature_expiry_audience_and_type(qaas_server):
    body = tokens(qaas_server, "alice")
    claims = jwt.decode(body["accessToken"], options={"verify_signature": False})
    issue = qaas_server.app.tokens.issue
    audience = f"{qaas_server.url}/api/v1"
    cases = {
        "valid": (body["accessToken"], 200, None),
        "signed with another key": (
            jwt.encode(claims, b"someone-elses-secret-of-32-bytes!!", algorithm="HS256"),
            401,
            "not valid",
        ),
        "unsigned (alg none)": (jwt.encode(claims, None, algorithm="none"), 401, "not valid"),
        "expired": (
            issue(claims["user_id"], "user", "access", audience, now=int(time.time()) - 7200),
            401,
            "expired",
        ),
        "another audience": (
            issue(claims["user_id"], "user", "access", "http://elsewhere.example/api/v1"),
            401,
            "another server",
        ),
        "refresh used as access": (body["refreshToken"], 401, "access token"),
        "unknown type": (issue(claims["user_id"], "user", "api", audience), 401, "access token"),
    }
    for label, (token, status, fragment) in cases.items():
        response = _get_devices(qaas_server, token)
        assert response.status_code == status, (label, response.text)
        if fragment:
            assert fragment in response.json()["detail"], (label, response.json())
    # A token once accepted is still checked for expiry: verified tokens are cached, not trusted for ever.
    issued = int(time.time()) - 3600 + 3
    short = issue(claims["user_id"], "user", "access", audience, now=issued)
    assert _get_devices(qaas_server, short).status_code == 200
    time.sleep(max(0.0, issued + 3600 - time.time()) + 0.1)
    assert _get_devices(qaas_server, short).status_code == 401


def test_failed_logins_limited_per_username_and_address_then_per_address(make_server):
    with make_server(workers=0, login_failure_limit=3, login_address_failure_limit=6) as server:
        alice = server.users["alice"]
        for _ in range(3):
            assert _login_from(server, "127.0.0.2", "alice", "wrong-key-0000").status_code == 401
        refused = _login_from(server, "127.0.0.2", alice.username, alice.api_key)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        # Someone failing on purpose elsewhere does not lock alice out from her own address.
        assert _login_from(server, "127.0.0.1", alice.username, alice.api_key).status_code == 200
        # One address trying many usernames is limited whatever the username.
        for number in range(6):
            assert _login_from(server, "127.0.0.3", f"guess-{number}", "wrong-key-0000").status_code == 401
        bob = server.users["bob"]
        assert _login_from(server, "127.0.0.3", bob.username, bob.api_key).status_code == 429
        assert _login_from(server, "127.0.0.4", bob.username, bob.api_key).status_code == 200


def test_login_throttle_memory_is_bounded():
    throttle = LoginThrottle(limit=3, window=60, max_names=100, address_limit=10)
    for number in range(5000):
        throttle.record_failure(f"user-{number}", f"10.0.{number // 256}.{number % 256}", now=1000.0)
    assert throttle.sizes() == (100, 100)
    # The most recent ones are those kept.
    for _ in range(2):
        throttle.record_failure("user-4999", "10.0.19.135", now=1000.0)
    with pytest.raises(Exception, match="Too many failed logins"):
        throttle.check("user-4999", "10.0.19.135", now=1001.0)
    throttle.check("user-4999", "10.0.19.135", now=1061.0)


def test_unknown_usernames_cost_one_key_derivation_and_answer_like_wrong_keys(make_server, monkeypatch):
    calls: list[str] = []
    real = server_handlers.verify_api_key

    def counting(api_key: str, stored: str) -> bool:
        calls.append(stored)
        return real(api_key, stored)

    monkeypatch.setattr(server_handlers, "verify_api_key", counting)
    with make_server(workers=0) as server:
        wrong_key = _login_from(server, "127.0.0.1", "alice", "wrong-key-0000")
        unknown_user = _login_from(server, "127.0.0.1", "nobody-here", "wrong-key-0000")
        with sqlite3.connect(server.db_path) as conn:
            stored = dict(conn.execute("SELECT username, api_key_hash FROM users").fetchall())
    assert wrong_key.status_code == unknown_user.status_code == 401
    assert wrong_key.json() == unknown_user.json()
    assert len(calls) == 2 and all(value.startswith("scrypt$") for value in calls)
    assert calls[0] == stored["alice"] and calls[1] not in stored.values()
    for username, value in stored.items():
        assert value.startswith("scrypt$") and server.users[username].api_key not in value


def test_no_secret_in_logs_reprs_errors_or_saved_accounts(make_server, caplog, monkeypatch, tmp_path):
    caplog.set_level(logging.DEBUG, logger="qiboconnection")
    monkeypatch.setenv("QIBOCONNECTION_CONFIG_DIR", str(tmp_path / "config"))
    secrets_seen: list[str] = []
    with make_server(workers=1, access_token_lifetime=1) as server:
        alice = server.users["alice"]
        secrets_seen.append(alice.api_key)
        server_texts = [repr(server.config), repr(server.config.users), repr(server.app.tokens)]
        with pytest.raises(AuthenticationError) as refused:
            session(server.url, alice.username, "a-wrong-key-that-must-not-leak", QUICK)
        secrets_seen.append("a-wrong-key-that-must-not-leak")
        with session(server.url, alice.username, alice.api_key, QUICK) as api:
            texts = [repr(api), repr(api._auth), str(refused.value), repr(refused.value)]
            texts.append(repr(ConnectionConfiguration(username=alice.username, api_key=alice.api_key)))
            job = api.submit(x_circuit("01"), device_id=1, nshots=8)
            time.sleep(1.2)  # the access token expires; the next call refreshes it
            assert api.wait([job], timeout=30, interval=0.1)[0].status == "completed"
            access, refresh = api._auth._tokens.access, api._auth._tokens.refresh
            secrets_seen += [access, refresh]
        API.save_account(alice.username, alice.api_key, url=server.url, name="lab")
        with API.login(account="lab") as saved:
            secrets_seen.append(saved._auth._tokens.access)
            texts.append(repr(API.list_accounts()))
    refreshes = [r for r in caplog.records if r.getMessage() == "Access token refreshed"]
    assert refreshes, "the flow did not refresh a token"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    logged += "\n".join(str(record.args) for record in caplog.records)
    for secret in secrets_seen:
        assert secret and secret not in logged
        for text in texts:
            assert secret not in text
    for text in server_texts:
        assert all(user.api_key not in text for user in server.users.values())
    # The accounts file holds the key it must hold (owner-only), and nothing else secret.
    [accounts_file] = [p for p in (tmp_path / "config").rglob("*") if p.is_file() and "lock" not in p.name]
    assert stat.S_IMODE(accounts_file.stat().st_mode) == 0o600
    content = accounts_file.read_text()
    assert alice.api_key in content
    for token in secrets_seen[2:]:
        assert token not in content
    assert set(json.loads(content)["accounts"]["lab"]) <= {"username", "api_key", "url"}


def test_a_flood_of_failures_under_random_names_does_not_lock_out_a_user_of_that_address(make_server):
    with make_server(workers=0, login_failure_limit=5, login_address_failure_limit=50) as server:
        alice, bob = server.users["alice"], server.users["bob"]
        assert _login_from(server, "127.0.0.8", alice.username, alice.api_key).status_code == 200
        answers = [
            _login_from(server, "127.0.0.8", f"guess-{secrets.token_hex(4)}", "wrong-key-0000").status_code
            for _ in range(55)
        ]
        assert answers[:50] == [401] * 50 and set(answers[50:]) == {429}
        # Alice logged in from there before: her own (username, address) limit is the one that applies.
        assert _login_from(server, "127.0.0.8", alice.username, alice.api_key).status_code == 200
        # Bob never did: the address limit still holds for him there, and nowhere else.
        assert _login_from(server, "127.0.0.8", bob.username, bob.api_key).status_code == 429
        assert _login_from(server, "127.0.0.9", bob.username, bob.api_key).status_code == 200


def test_throttle_keys_are_fixed_size_digests_however_long_the_names():
    import tracemalloc

    throttle = LoginThrottle(limit=3, window=60, max_names=1000, address_limit=10)
    long_names = [f"{number:06d}" + "x" * 10_000 for number in range(2000)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for number, name in enumerate(long_names):
        throttle.record_failure(name, f"10.1.{number // 256}.{number % 256}", now=1000.0)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert throttle.sizes() == (1000, 1000)
    # The 1000 names kept would hold 10 MB by themselves; the tables hold 2000 small entries instead.
    assert held < 4_000_000, held


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def _post_login_from(url: str, address: str, username: str, api_key: str) -> httpx.Response:
    body = {"grantType": GRANT_TYPE, "assertion": assertion(url, username, api_key)}
    with httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=60) as client:
        return client.post(f"{url}/api/v1/authorisation-tokens", json=body)


def test_a_failed_login_flood_leaves_the_servers_memory_and_log_bounded(tmp_path):
    """Through ``qiboconnection serve``: 24 logins with 10 MB usernames, then 240 with nearly the longest
    usernames an assertion may carry, all from one address; then the right user logs in from it."""
    import os
    import re
    import subprocess
    import sys

    log = tmp_path / "serve.log"
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "qiboconnection", "serve", "--port", "0", "--db", ":memory:"),
                *("--user", "alice:alice-key-123", "--workers", "0", "--log-level", "info"),
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        assert process.stdout is not None
        url = next(
            match.group(1)
            for line in process.stdout
            if (match := re.fullmatch(r"export QUANTUM_SERVICE_URL=(\S+)", line.strip()))
        )
        assert _post_login_from(url, "127.0.0.7", "alice", "alice-key-123").status_code == 200
        rss = [_rss_kib(process.pid)]
        log_before = log.stat().st_size
        for _ in range(3):
            huge = [_post_login_from(url, "127.0.0.7", "u" * 10_000_000, "wrong-key-0000") for _ in range(8)]
            assert {answer.status_code for answer in huge} == {400}
            assert "assertion" in huge[0].json()["detail"]
            rss.append(_rss_kib(process.pid))
        longest = [
            _post_login_from(url, "127.0.0.7", secrets.token_hex(2900), "wrong-key-0000").status_code
            for _ in range(240)
        ]
        assert set(longest) == {401, 429} and longest.count(401) == 50
        rss.append(_rss_kib(process.pid))
        log_after = log.stat().st_size
        assert _post_login_from(url, "127.0.0.7", "alice", "alice-key-123").status_code == 200
    finally:
        process.terminate()
        process.wait(30)
    mib = [value / 1024 for value in rss]
    logged_kib = (log_after - log_before) / 1024
    # Parsing a 13 MB body raises the allocator's high-water mark (a few hundred MiB, whatever the number
    # of requests: nothing of them is kept); the failures under long names add nothing measurable.
    assert max(mib) - mib[0] < 450, mib
    assert mib[4] - mib[3] < 32, mib
    assert logged_kib < 50, logged_kib
    print(
        f"\nlogin flood: 3 x 8 logins with 10 MB usernames (400 each), then 240 with 5.8 KB usernames"
        f" (50 x 401, 190 x 429); server RSS {' -> '.join(f'{value:.0f}' for value in mib)} MiB,"
        f" log +{logged_kib:.1f} KiB"
    )
