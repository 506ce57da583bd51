"""Configuration of the local QaaS server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qiboconnection.server.faults import FAULT_KINDS, check_fault_settings

ROLES = ("user", "admin")


@dataclass(frozen=True)
class UserSpec:
    """A user the server makes sure exists at start, with this API key and role."""

    username: str
    api_key: str
    role: str = "user"

    def __post_init__(self) -> None:
        if not self.username or len(self.username) > 255:
            raise ValueError("a username must have between 1 and 255 characters")
        if len(self.api_key) < 8:
            raise ValueError(f"the API key of {self.username!r} must have at least 8 characters")
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {self.role!r}")

    def __repr__(self) -> str:
        return f"UserSpec(username={self.username!r}, role={self.role!r})"

    @classmethod
    def parse(cls, text: str) -> UserSpec:
        """Parse ``NAME:API_KEY`` or ``NAME:API_KEY:admin`` (or ``:user``)."""
        name, sep, rest = text.partition(":")
        if not sep:
            raise ValueError("expected NAME:API_KEY[:admin]")
        key, role = rest, "user"
        head, sep2, tail = rest.rpartition(":")
        if sep2 and tail in ROLES:
            key, role = head, tail
        return cls(username=name, api_key=key, role=role)


@dataclass(frozen=True)
class ServerConfig:
    """Everything a server instance needs; every field has a usable default.

    ``db_path`` is a file path or ``":memory:"``. Lifetimes are in seconds. ``audiences`` lists
    extra accepted login audiences besides the request's own ``<base URL>/api/v1``.

    Failed logins are limited per (username, client address) to ``login_failure_limit`` and per
    client address to ``login_address_failure_limit`` within ``login_failure_window`` seconds; at most
    ``login_throttle_max_names`` keys of each kind are remembered.

    ``workers`` job worker processes run jobs, each at most ``job_time_limit`` seconds and with at most
    ``job_memory_limit`` bytes of memory beyond what a warm worker holds; a job past either ends
    ``error`` saying which. With ``workers=0`` jobs are stored and stay queued.

    A connection that has not sent a whole request head ``request_head_timeout`` seconds after it
    opened, or after its last response, is closed.

    ``link_latency`` (seconds) delays every API request by that much, as a network round trip to a
    distant service would, for measuring clients the way remote users feel them.
    ``fault_rate`` > 0 turns on fault injection (see :mod:`qiboconnection.server.faults`): that share
    of API requests meets one of ``fault_kinds``, drawn from a stream seeded by ``fault_seed``.
    """

    db_path: str | Path = ":memory:"
    users: tuple[UserSpec, ...] = ()
    workers: int = 2
    job_time_limit: float = 600.0
    job_memory_limit: int = 4 * 1024**3
    access_token_lifetime: int = 3600
    refresh_token_lifetime: int = 30 * 24 * 3600
    assertion_max_age: int = 600
    audiences: tuple[str, ...] = ()
    max_body_bytes: int = 16 * 1024 * 1024
    max_decompressed_bytes: int = 64 * 1024 * 1024
    login_failure_limit: int = 5
    login_failure_window: float = 60.0
    login_throttle_max_names: int = 10_000
    login_address_failure_limit: int = 50
    fault_rate: float = 0.0
    fault_seed: int = 0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    fault_max_latency: float = 0.2
    fault_retry_after: int = 1
    link_latency: float = 0.0
    request_head_timeout: float = 10.0
    kdf_cost: int = 2**14
    spec_path: Path | None = None

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ValueError("workers must be >= 0")
        if not self.job_time_limit > 0 or self.job_memory_limit <= 0:
            raise ValueError("job_time_limit and job_memory_limit must be positive")
        if self.access_token_lifetime <= 0 or self.refresh_token_lifetime <= 0:
            raise ValueError("token lifetimes must be positive")
        if self.login_failure_limit < 1 or self.login_address_failure_limit < 1:
            raise ValueError("login failure limits must be at least 1")
        if not self.request_head_timeout > 0:
            raise ValueError("request_head_timeout must be positive")
        if not 0.0 <= self.link_latency <= 10.0:
            raise ValueError("link_latency must be between 0 and 10 seconds")
        object.__setattr__(self, "fault_kinds", tuple(self.fault_kinds))
        check_fault_settings(
            self.fault_rate, self.fault_kinds, self.fault_max_latency, self.fault_retry_after
        )
