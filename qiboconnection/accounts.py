"""Saved accounts: credentials kept in a private file so that ``API.login()`` needs no arguments.

The file is ``accounts.json`` in the user's configuration directory (``platformdirs``), or in
``QIBOCONNECTION_CONFIG_DIR`` when set. It is written atomically (a new file created with mode 0600,
then renamed over the old one), so it is never readable by others, not even for a moment. API keys are
never shown: :func:`list_accounts` and every ``repr`` leave them out.

Who logs in when ``API.login()`` gets no credentials (:func:`resolve`):

1. ``QIBOCONNECTION_USERNAME`` and ``QIBOCONNECTION_API_KEY`` (with ``QUANTUM_SERVICE_URL``), else
2. the saved account named ``default``, whose URL is used unless ``QUANTUM_SERVICE_URL`` is set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qiboconnection.errors import QiboconnectionError

__all__ = [
    "DEFAULT_ACCOUNT",
    "AccountError",
    "AccountExistsError",
    "AccountFileError",
    "AccountNotFoundError",
    "SavedAccount",
    "accounts_path",
    "delete_account",
    "list_accounts",
    "load_account",
    "resolve",
    "save_account",
]

logger = logging.getLogger("qiboconnection.accounts")

DEFAULT_ACCOUNT = "default"
FILE_NAME = "accounts.json"
_FORMAT_VERSION = 1
_MAX_FILE_BYTES = 1 << 20


class AccountError(QiboconnectionError):
    """A saved account could not be used."""


class AccountNotFoundError(AccountError, LookupError):
    """No saved account has this name (or no credentials were found at all)."""


class AccountExistsError(AccountError):
    """An account with this name is already saved (pass ``overwrite=True`` to replace it)."""


class AccountFileError(AccountError, ValueError):
    """The accounts file cannot be read: it is corrupt, or not a regular file."""


@dataclass(frozen=True)
class SavedAccount:
    """A saved account (the API key never appears in ``repr``)."""

    name: str
    username: str
    api_key: str = field(repr=False)
    url: str | None = None

    def public(self) -> dict[str, Any]:
        """Name, username and URL: what may be shown."""
        return {"name": self.name, "username": self.username, "url": self.url}


def config_dir() -> Path:
    """The directory holding the accounts file."""
    override = os.environ.get("QIBOCONNECTION_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("qiboconnection", appauthor=False))


def accounts_path() -> Path:
    """Where the accounts file is (it may not exist yet)."""
    return config_dir() / FILE_NAME


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("An account name must be a non-empty string")
    if len(name) > 100 or any(ord(ch) < 32 for ch in name):
        raise ValueError("An account name must be at most 100 printable characters")
    return name


def _check_url(url: Any) -> str | None:
    if url is None:
        return None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"url must be an http:// or https:// URL, not {url!r}")
    return url.rstrip("/")


def _read(path: Path) -> dict[str, dict[str, Any]]:
    import orjson

    try:
        info = path.stat()
    except FileNotFoundError:
        return {}
    if not stat.S_ISREG(info.st_mode):
        raise AccountFileError(f"The accounts file {path} is not a regular file")
    if info.st_size > _MAX_FILE_BYTES:
        raise AccountFileError(f"The accounts file {path} is too large to be an accounts file")
    try:
        body = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise AccountFileError(
            f"The accounts file {path} is corrupt ({error}); fix or delete it, then save the account again"
        ) from None
    accounts = body.get("accounts") if isinstance(body, dict) else None
    if not isinstance(accounts, dict):
        raise AccountFileError(f"The accounts file {path} is corrupt (it has no 'accounts' object)")
    for name, entry in accounts.items():
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("username"), str)
            or not isinstance(entry.get("api_key"), str)
            or not (entry.get("url") is None or isinstance(entry.get("url"), str))
        ):
            raise AccountFileError(f"The accounts file {path} is corrupt (account {name!r} is incomplete)")
    return accounts


def _write(path: Path, accounts: Mapping[str, Mapping[str, Any]]) -> None:
    import orjson

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    content = orjson.dumps({"version": _FORMAT_VERSION, "accounts": accounts}, option=orjson.OPT_INDENT_2)
    # mkstemp creates the file with mode 0600 (O_CREAT | O_EXCL) before a byte is written.
    handle, temporary = tempfile.mkstemp(prefix=".accounts-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            os.fchmod(stream.fileno(), 0o600)
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the accounts directory while reading and rewriting the file.

    Two processes saving accounts at once then each see the other's change instead of overwriting it.
    Where ``fcntl`` does not exist (Windows) the update runs unlocked.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:
        yield
        return
    handle = os.open(path.parent / ".accounts.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def save_account(
    username: str, api_key: str, url: str | None = None, name: str = DEFAULT_ACCOUNT, overwrite: bool = False
) -> SavedAccount:
    """Save credentials under ``name``.

    Raises:
        AccountExistsError: ``name`` is taken and ``overwrite`` is False.
        AccountFileError: the existing file is corrupt.
        ValueError: an empty username, key or name, or a URL that is not http(s).
    """
    _check_name(name)
    if not isinstance(username, str) or not username:
        raise ValueError("username must be a non-empty string")
    if not isinstance(api_key, str) or not api_key:
        raise ValueError("api_key must be a non-empty string")
    url = _check_url(url)
    path = accounts_path()
    with _locked(path):
        accounts = _read(path)
        if name in accounts and not overwrite:
            raise AccountExistsError(
                f"An account named {name!r} is already saved; "
                "pass overwrite=True (CLI: --overwrite) to replace it"
            )
        accounts[name] = {"username": username, "api_key": api_key, "url": url}
        _write(path, accounts)
    logger.info("Saved account %r for user %r", name, username)
    return SavedAccount(name=name, username=username, api_key=api_key, url=url)


def load_account(name: str = DEFAULT_ACCOUNT) -> SavedAccount:
    """The saved account ``name`` (AccountNotFoundError when there is none)."""
    _check_name(name)
    path = accounts_path()
    entry = _read(path).get(name)
    if entry is None:
        raise AccountNotFoundError(
            f"No saved account named {name!r} (in {path}); save one with API.save_account(...) "
            "or `qiboconnection login`"
        )
    return SavedAccount(name=name, username=entry["username"], api_key=entry["api_key"], url=entry.get("url"))


def list_accounts() -> list[dict[str, Any]]:
    """Every saved account as ``{"name", "username", "url"}`` (keys are never listed)."""
    return [
        {"name": name, "username": entry["username"], "url": entry.get("url")}
        for name, entry in sorted(_read(accounts_path()).items())
    ]


def delete_account(name: str) -> None:
    """Forget the saved account ``name`` (AccountNotFoundError when there is none)."""
    _check_name(name)
    path = accounts_path()
    with _locked(path):
        accounts = _read(path)
        if name not in accounts:
            raise AccountNotFoundError(f"No saved account named {name!r} (in {path})")
        del accounts[name]
        _write(path, accounts)
    logger.info("Deleted saved account %r", name)


@dataclass(frozen=True)
class Credentials:
    """Who logs in, and at which URL when the credentials say so."""

    username: str
    api_key: str = field(repr=False)
    url: str | None = None


def resolve(
    username: str | None = None,
    api_key: str | None = None,
    *,
    account: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """The credentials to log in with: explicit ones, the named account, the environment, or ``default``.

    Raises:
        ValueError: only one of username and api_key, or credentials together with an account name.
        AccountNotFoundError: nothing to log in with.
    """
    env = os.environ if environ is None else environ
    if (username is None) != (api_key is None):
        raise ValueError("Give both username and api_key, or neither (to use a saved account)")
    if username is not None and api_key is not None:
        if account is not None:
            raise ValueError("Give either username and api_key or account, not both")
        return Credentials(username, api_key)
    if account is not None:
        saved = load_account(account)
        return Credentials(saved.username, saved.api_key, saved.url)
    env_user, env_key = env.get("QIBOCONNECTION_USERNAME"), env.get("QIBOCONNECTION_API_KEY")
    if env_user and env_key:
        return Credentials(env_user, env_key)
    path = accounts_path()
    if DEFAULT_ACCOUNT not in _read(path):
        raise AccountNotFoundError(
            "No credentials: set QIBOCONNECTION_USERNAME and QIBOCONNECTION_API_KEY, or save an account "
            "with API.save_account(...) or `qiboconnection login`"
        )
    saved = load_account(DEFAULT_ACCOUNT)
    return Credentials(saved.username, saved.api_key, saved.url)


def settings_for(credentials: Credentials, environ: Mapping[str, str] | None = None) -> Any:
    """Settings from the environment, with the account's URL when ``QUANTUM_SERVICE_URL`` is unset."""
    import dataclasses

    from qiboconnection.config import Settings

    env = os.environ if environ is None else environ
    settings = Settings.from_env(env)
    if credentials.url and not env.get("QUANTUM_SERVICE_URL"):
        settings = dataclasses.replace(settings, base_url=credentials.url)
    return settings
