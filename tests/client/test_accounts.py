"""Saved accounts: a private file written atomically, logins without arguments, keys never shown."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from qiboconnection.accounts import (
    AccountExistsError,
    AccountFileError,
    AccountNotFoundError,
    SavedAccount,
    accounts_path,
    load_account,
)
from qiboconnection.api import API
from qiboconnection.async_api import AsyncAPI
from qiboconnection.errors import AuthenticationError


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "config" / "qiboconnection"
    monkeypatch.setenv("QIBOCONNECTION_CONFIG_DIR", str(directory))
    monkeypatch.delenv("QIBOCONNECTION_USERNAME", raising=False)
    monkeypatch.delenv("QIBOCONNECTION_API_KEY", raising=False)
    monkeypatch.delenv("QUANTUM_SERVICE_URL", raising=False)
    monkeypatch.setenv("QIBOCONNECTION_PROGRESS", "0")
    return directory


def test_file_is_private_from_its_first_byte(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modes: list[int] = []
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        modes.append(stat.S_IMODE(os.stat(src).st_mode))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    previous = os.umask(0)
    try:
        API.save_account("alice", "alice-secret-key-0001", url="http://127.0.0.1:9")
        API.save_account("bob", "bob-secret-key-0002", name="bob")
    finally:
        os.umask(previous)
    path = accounts_path()
    assert path.parent == config_dir
    assert modes == [0o600, 0o600]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    assert sorted(p.name for p in config_dir.iterdir()) == [".accounts.lock", "accounts.json"]
    assert stat.S_IMODE((config_dir / ".accounts.lock").stat().st_mode) == 0o600


def test_concurrent_saves_lose_nothing(config_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    names = [f"account-{n}" for n in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda name: API.save_account(name, f"key-of-{name}", name=name), names))
    assert sorted(account["name"] for account in API.list_accounts()) == sorted(names)
    assert all(load_account(name).api_key == f"key-of-{name}" for name in names)


def test_list_delete_duplicates_and_missing(config_dir: Path) -> None:
    assert API.list_accounts() == []
    API.save_account("alice", "alice-secret-key-0001", url="http://127.0.0.1:9/")
    API.save_account("bob", "bob-secret-key-0002", name="lab")
    assert API.list_accounts() == [
        {"name": "default", "username": "alice", "url": "http://127.0.0.1:9"},
        {"name": "lab", "username": "bob", "url": None},
    ]
    with pytest.raises(AccountExistsError, match="'lab' is already saved; pass overwrite=True"):
        API.save_account("carol", "carol-secret-key-0003", name="lab")
    API.save_account("carol", "carol-secret-key-0003", name="lab", overwrite=True)
    assert load_account("lab").username == "carol"
    assert "carol-secret-key-0003" not in repr(load_account("lab"))
    API.delete_account("lab")
    assert [account["name"] for account in API.list_accounts()] == ["default"]
    with pytest.raises(AccountNotFoundError, match="No saved account named 'lab'"):
        API.delete_account("lab")
    with pytest.raises(AccountNotFoundError, match="No saved account named 'nope'"):
        API.login(account="nope")
    for bad in ({"url": "ftp://x"}, {"name": ""}, {"api_key": ""}):
        arguments = {"username": "u", "api_key": "k" * 10, **bad}
        with pytest.raises(ValueError):
            API.save_account(**arguments)


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[]", b'{"accounts": []}', b'{"accounts": {"default": {"username": "a"}}}'],
)
def test_corrupt_file_is_a_clear_error(config_dir: Path, content: bytes) -> None:
    config_dir.mkdir(parents=True)
    (config_dir / "accounts.json").write_bytes(content)
    with pytest.raises(AccountFileError, match="is corrupt"):
        API.list_accounts()
    with pytest.raises(AccountFileError, match="is corrupt"):
        API.save_account("alice", "alice-secret-key-0001", overwrite=True)
    with pytest.raises(AccountFileError):
        API.login()
    assert (config_dir / "accounts.json").read_bytes() == content


def test_login_without_arguments(
    config_dir: Path, qaas_server: Any, monkeypatch: pytest.MonkeyPatch, capfd: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    alice, bob = qaas_server.users["alice"], qaas_server.users["bob"]
    with pytest.raises(AccountNotFoundError, match="No credentials"):
        API.login()
    with pytest.raises(ValueError, match="both username and api_key"):
        API.login(username="alice")

    API.save_account(alice.username, alice.api_key, url=qaas_server.url)
    API.save_account(bob.username, bob.api_key, url=qaas_server.url, name="bob")
    with API.login() as api:
        assert api.ping() == "OK"
        assert api._auth.username == "alice"
    with API.login(account="bob") as api:
        assert api._auth.username == "bob"

    async def async_login() -> str:
        async with await AsyncAPI.login() as api:
            assert await api.ping() == "OK"
            return api._auth.username

    assert asyncio.run(async_login()) == "alice"

    monkeypatch.setenv("QIBOCONNECTION_USERNAME", bob.username)
    monkeypatch.setenv("QIBOCONNECTION_API_KEY", bob.api_key)
    monkeypatch.setenv("QUANTUM_SERVICE_URL", qaas_server.url)
    with API.login() as api:
        assert api._auth.username == "bob"
    monkeypatch.delenv("QIBOCONNECTION_USERNAME")
    monkeypatch.delenv("QIBOCONNECTION_API_KEY")

    # QUANTUM_SERVICE_URL wins over the account's URL.
    API.save_account(alice.username, alice.api_key, url="http://127.0.0.1:9", name="default", overwrite=True)
    with API.login() as api:
        assert api.ping() == "OK"
    API.save_account(alice.username, "wrong-key-for-alice", url=qaas_server.url, overwrite=True)
    with pytest.raises(AuthenticationError):
        API.login()

    out, err = capfd.readouterr()
    shown = out + err + caplog.text + repr(API.list_accounts()) + repr(load_account("default"))
    for secret in (alice.api_key, bob.api_key, "wrong-key-for-alice"):
        assert secret not in shown
    assert "alice" in caplog.text or "default" in caplog.text


def test_saved_account_repr_and_public_view_hide_the_key() -> None:
    account = SavedAccount(name="default", username="alice", api_key="top-secret-key-1", url=None)
    assert "top-secret-key-1" not in repr(account)
    assert "top-secret-key-1" not in str(account.public())
