"""Login, token use and renewal, against a scripted hosted service."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from dataclasses import replace

import httpx
import pytest

from qiboconnection import __version__
from qiboconnection.api import API
from qiboconnection.config import Settings
from qiboconnection.errors import AuthenticationError
from qiboconnection.typings.connection import ConnectionConfiguration

from .fakes import API_KEY, BASE_URL, FakeHosted, json_response, problem

DEVICE = {"id": 1, "name": "sim", "status": "online", "type": "simulator_device"}


def device_route(fake: FakeHosted) -> None:
    fake.routes["GET /api/v1/devices/(\\d+)"] = lambda request, match: json_response(DEVICE)


def test_login_sends_the_assertion_and_version_header() -> None:
    fake = FakeHosted()
    device_route(fake)
    before = int(time.time())
    api = fake.api()
    login = fake.sent("POST", "/api/v1/authorisation-tokens")[0]
    body = json.loads(login.content)
    assert body["grantType"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert body["scope"] == "user profile"
    assertion = json.loads(base64.urlsafe_b64decode(body["assertion"]))
    assert assertion["user_id"] is None
    assert assertion["username"] == "hosted-user"
    assert assertion["api_key"] == API_KEY
    assert assertion["audience"] == BASE_URL + "/api/v1"
    assert before <= assertion["iat"] <= int(time.time())
    assert login.headers["x-client-version"] == __version__
    assert api.user_id == 7
    api.select_device_ids([1])
    call = fake.sent("GET", "/api/v1/devices/1")[0]
    assert call.headers["x-client-version"] == __version__
    assert call.headers["authorization"] == f"Bearer {fake.issued[0]}"


def test_audience_url_and_timeout_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "QUANTUM_SERVICE_URL": "https://a.test/",
            "AUDIENCE_URL": "https://aud.test",
            "QIBOCONNECTION_TIMEOUT": "3",
        }
    )
    assert settings.base_url == "https://a.test"
    assert settings.audience == "https://aud.test/api/v1"
    assert settings.timeout == 3.0
    default = Settings.from_env({})
    assert default.base_url == "https://pro-api.qaas.qilimanjaro.tech"
    assert default.audience == "https://pro-api.qaas.qilimanjaro.tech/api/v1"
    assert default.timeout == 10.0
    with pytest.raises(ValueError, match="QIBOCONNECTION_TIMEOUT must be a number"):
        Settings.from_env({"QIBOCONNECTION_TIMEOUT": "ten"})
    with pytest.raises(ValueError, match="base_url must be an http"):
        Settings.from_env({"QUANTUM_SERVICE_URL": "localhost:8000"})
    quiet = Settings.from_env({"QIBOCONNECTION_PROGRESS": "0", "QIBOCONNECTION_MAX_RESULT_BYTES": "1024"})
    assert (quiet.progress, quiet.max_result_bytes) == (False, 1024)


def test_wrong_key_fails_at_once() -> None:
    fake = FakeHosted()
    with pytest.raises(
        AuthenticationError, match=r"Could not log in as 'hosted-user': Invalid credentials"
    ) as caught:
        API(
            ConnectionConfiguration("hosted-user", "wrong-key-123"),
            settings=Settings(base_url=BASE_URL, progress=False),
            transport=httpx.MockTransport(fake),
        )
    assert caught.value.status_code == 401
    assert fake.logins == 1


def test_401_refreshes_and_retries_once() -> None:
    fake = FakeHosted()
    answers = [problem(401, "Signature has expired.", "Unauthorized"), json_response(DEVICE)]
    fake.routes["GET /api/v1/devices/(\\d+)"] = lambda request, match: answers.pop(0)
    api = fake.api()
    api.select_device_ids([1])
    assert fake.refreshes == 1
    assert fake.logins == 1
    first, second = fake.sent("GET", "/api/v1/devices/1")
    assert first.headers["authorization"] != second.headers["authorization"]
    assert second.headers["authorization"] == f"Bearer {fake.issued[-2]}"


def test_hosted_400_about_the_token_refreshes() -> None:
    fake = FakeHosted()
    answers = [problem(400, "Token expired, please refresh", "Bad Request"), json_response(DEVICE)]
    fake.routes["GET /api/v1/devices/(\\d+)"] = lambda request, match: answers.pop(0)
    fake.api().select_device_ids([1])
    assert fake.refreshes == 1


def test_a_400_about_something_else_is_not_a_token_problem() -> None:
    fake = FakeHosted()
    fake.routes["GET /api/v1/devices/(\\d+)"] = lambda request, match: problem(400, "bad device id")
    with pytest.raises(Exception, match="bad device id"):
        fake.api().select_device_ids([1])
    assert fake.refreshes == 0


def test_persistent_401_is_reported_after_one_renewal() -> None:
    fake = FakeHosted()
    fake.routes["GET /api/v1/devices/(\\d+)"] = lambda request, match: problem(401, "Nope.", "Unauthorized")
    api = fake.api()
    with pytest.raises(AuthenticationError, match="Nope"):
        api.select_device_ids([1])
    assert len(fake.sent("GET", "/api/v1/devices/1")) == 2


def test_access_token_near_expiry_is_renewed_before_sending() -> None:
    fake = FakeHosted(access_lifetime=3)
    device_route(fake)
    fake.api().select_device_ids([1])
    assert fake.refreshes == 1
    assert len(fake.sent("GET", "/api/v1/devices/1")) == 1


def test_refused_refresh_falls_back_to_login() -> None:
    fake = FakeHosted()
    answers = [problem(401, "Signature has expired.", "Unauthorized"), json_response(DEVICE)]
    fake.routes["GET /api/v1/devices/(\\d+)"] = lambda request, match: answers.pop(0)
    api = fake.api()
    tokens = api._auth._tokens
    assert tokens is not None
    api._auth._tokens = replace(tokens, refresh=tokens.refresh[:-4] + "AAAA")
    api.select_device_ids([1])
    assert fake.refreshes == 1
    assert fake.logins == 2


def test_expired_refresh_token_goes_straight_to_login() -> None:
    fake = FakeHosted(refresh_lifetime=-10)
    answers = [problem(401, "Signature has expired.", "Unauthorized"), json_response(DEVICE)]
    fake.routes["GET /api/v1/devices/(\\d+)"] = lambda request, match: answers.pop(0)
    fake.api().select_device_ids([1])
    assert fake.refreshes == 0
    assert fake.logins == 2


def test_refresh_answer_without_refresh_token_keeps_the_old_one() -> None:
    fake = FakeHosted(refresh_answer_has_refresh_token=False)
    answers = [problem(401, "expired", "Unauthorized"), json_response(DEVICE)] * 2
    fake.routes["GET /api/v1/devices/(\\d+)"] = lambda request, match: answers.pop(0)
    api = fake.api()
    api.select_device_ids([1])
    api.select_device_ids([1])
    assert fake.refreshes == 2
    assert fake.logins == 1


def test_threads_share_one_session() -> None:
    fake = FakeHosted(access_lifetime=3)
    device_route(fake)
    api = fake.api()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                api.select_device_ids([1])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert fake.logins == 1
    assert len(fake.sent("GET", "/api/v1/devices/1")) == 40


def test_secrets_stay_out_of_logs_reprs_and_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeHosted()
    answers = [problem(401, "expired", "Unauthorized"), json_response(DEVICE), problem(403, "admins only")]
    fake.routes["GET /api/v1/devices/(\\d+)"] = lambda request, match: answers.pop(0)
    configuration = ConnectionConfiguration("hosted-user", API_KEY)
    api = API(
        configuration,
        settings=Settings(base_url=BASE_URL, progress=False),
        transport=httpx.MockTransport(fake),
    )
    api.select_device_ids([1])
    with pytest.raises(Exception) as denied:
        api.select_device_ids([1])
    with pytest.raises(AuthenticationError) as refused:
        API(
            ConnectionConfiguration("hosted-user", API_KEY + "x"),
            settings=Settings(base_url=BASE_URL, progress=False),
            transport=httpx.MockTransport(fake),
        )
    texts = [
        caplog.text,
        repr(api),
        str(api),
        repr(api._auth),
        repr(api._auth._tokens),
        repr(configuration),
        str(configuration),
        str(denied.value),
        repr(denied.value),
        str(refused.value),
        repr(refused.value),
    ]
    secrets = [API_KEY, *fake.issued]
    assert len(fake.issued) >= 4
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert "hosted-user" in repr(api)
    assert re.search(r"api_key", repr(configuration)) is None


def test_lazy_login_on_first_request_without_an_eager_one() -> None:
    from qiboconnection.auth import QaaSAuth

    fake = FakeHosted()
    device_route(fake)
    from qiboconnection.clients import build_clients
    from qiboconnection.config import Settings

    auth = QaaSAuth("hosted-user", API_KEY, audience=BASE_URL + "/api/v1")
    assert not auth.logged_in
    assert auth.user_id is None
    client = build_clients(
        Settings(base_url=BASE_URL), auth, client_version="t", transport=httpx.MockTransport(fake)
    )
    with client.get_httpx_client() as http:
        assert http.get("/api/v1/devices/1").json() == DEVICE
    assert auth.logged_in
    assert (fake.logins, auth.user_id, auth.role) == (1, 7, "user")


def test_any_400_once_the_token_is_past_expiry_counts_as_expired() -> None:
    from qiboconnection.auth import QaaSAuth, TokenPair

    def answer(status: int) -> httpx.Response:
        return problem(status, "some unrelated complaint")

    past = TokenPair(
        access="a", refresh="r", access_exp=time.time() - 1, refresh_exp=None, user_id=1, role=None
    )
    future = replace(past, access_exp=time.time() + 3600)

    def renews(response: httpx.Response, tokens: TokenPair) -> bool:
        return QaaSAuth.refused(response.status_code, response.read(), tokens)

    assert renews(answer(400), past)
    assert not renews(answer(400), future)
    assert renews(answer(401), future)
    assert not renews(answer(403), past)
