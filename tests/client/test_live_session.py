"""Session behaviour over real HTTP: token renewal, secrets, import weight, warning filters."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from dataclasses import replace
from typing import Any

import pytest

from qiboconnection.api import API
from qiboconnection.typings.connection import ConnectionConfiguration

from .conftest import connect


def test_short_lived_access_tokens_are_refreshed(make_server: Any) -> None:
    with make_server(workers=0, access_token_lifetime=1) as server, connect(server, "alice") as api:
        first = api._auth._tokens
        assert first is not None
        api.list_devices()
        second = api._auth._tokens
        assert second is not None
        assert second.access != first.access
        assert second.refresh == first.refresh
        api.list_jobs()
        assert api._auth._tokens.access != second.access


def test_refused_access_token_is_refreshed(qaas_server: Any) -> None:
    with connect(qaas_server, "alice") as api:
        tokens = api._auth._tokens
        assert tokens is not None
        api._auth._tokens = replace(tokens, access=tokens.access[:-6] + "AAAAAA")
        assert len(api.list_devices()) >= 3
        renewed = api._auth._tokens
        assert renewed.access not in {tokens.access, tokens.access[:-6] + "AAAAAA"}
        assert renewed.refresh == tokens.refresh


def test_tampered_refresh_token_leads_to_a_new_login(qaas_server: Any) -> None:
    with connect(qaas_server, "alice") as api:
        tokens = api._auth._tokens
        assert tokens is not None
        api._auth._tokens = replace(
            tokens, access=tokens.access[:-6] + "AAAAAA", refresh=tokens.refresh[:-6] + "AAAAAA"
        )
        assert len(api.list_devices()) >= 3
        renewed = api._auth._tokens
        assert renewed.refresh not in {tokens.refresh, tokens.refresh[:-6] + "AAAAAA"}
        assert renewed.user_id == tokens.user_id


def test_no_secret_reaches_logs_or_reprs(qaas_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    credential = qaas_server.users["bob"]
    seen_tokens: set[str] = set()
    with connect(qaas_server, "bob") as api:
        for _ in range(2):
            tokens = api._auth._tokens
            seen_tokens |= {tokens.access, tokens.refresh}
            api._auth._tokens = replace(tokens, access=tokens.access[:-6] + "AAAAAA")
            api.list_devices()
        tokens = api._auth._tokens
        seen_tokens |= {tokens.access, tokens.refresh}
        texts = [caplog.text, repr(api), str(api), repr(api._auth), repr(tokens)]
    assert len(seen_tokens) >= 3
    for text in texts:
        assert credential.api_key not in text
        for token in seen_tokens:
            assert token not in text
    assert credential.api_key not in repr(ConnectionConfiguration(credential.username, credential.api_key))


def test_warning_filters_are_left_alone(alice: API) -> None:
    before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inside = list(warnings.filters)
        alice.select_device_id(1)
        assert list(warnings.filters) == inside
    assert list(warnings.filters) == before
    assert [warning.category for warning in caught] == [DeprecationWarning]
    assert caught[0].filename == __file__


def test_importing_the_api_stays_light() -> None:
    code = (
        "import sys, qiboconnection, qiboconnection.api\n"
        "from qiboconnection import API, NotFoundError, __version__\n"
        "heavy = [m for m in ('qibo', 'numpy', 'qaas_client.models', 'pandas') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == ""


def test_close_and_context_manager(qaas_server: Any) -> None:
    api = connect(qaas_server, "bob")
    with api as same:
        assert same is api
        assert same.ping() == "OK"
    assert api._client.get_httpx_client().is_closed


def test_released_import_paths() -> None:
    from qiboconnection.api import API as ApiFromModule
    from qiboconnection.connection import ConnectionConfiguration as FromConnection
    from qiboconnection.errors import ConnectionException, RemoteExecutionException
    from qiboconnection.models.devices import Device, Devices
    from qiboconnection.typings.enums import JobStatus
    from qiboconnection.typings.job_data import JobData
    from qiboconnection.typings.vqa import VQA

    assert ApiFromModule is API
    assert FromConnection is ConnectionConfiguration
    assert issubclass(RemoteExecutionException, Exception)
    assert issubclass(ConnectionException, Exception)
    assert Devices([Device({"id": 1})]).select_device(1).id == 1
    assert JobStatus.CANCELLED == "cancelled"
    assert JobData.__name__ == "JobData"
    assert VQA({"a": 1}, [0.1]).optimizer_params == {}


def test_the_http2_setting_runs_every_call_and_falls_back_to_http_1_1_without_tls(qaas_server: Any) -> None:
    from qiboconnection.config import Settings

    alice = qaas_server.users["alice"]
    seen: list[str] = []
    settings = Settings(base_url=qaas_server.url, http2=True, progress=False)
    with API(ConnectionConfiguration(alice.username, alice.api_key), settings=settings) as api:
        api._client.get_httpx_client().event_hooks["response"].append(lambda r: seen.append(r.http_version))
        assert api.ping() == "OK"
        assert api.list_devices()
    # The local server speaks plain HTTP: HTTP/2 is negotiated over TLS (ALPN) only, so httpx keeps 1.1.
    assert seen and set(seen) == {"HTTP/1.1"}
    assert Settings.from_env({"QIBOCONNECTION_HTTP2": "1"}).http2
    assert not Settings.from_env({}).http2
