"""Settings read from the environment.

:meth:`Settings.from_env` reads these variables; a session created without ``settings=`` uses them.

=================================== ============================================================================
variable                            meaning
=================================== ============================================================================
``QUANTUM_SERVICE_URL``             base URL of the service (default: the hosted QaaS,
                                    ``https://pro-api.qaas.qilimanjaro.tech``).
``AUDIENCE_URL``                    base URL the login assertion names as audience (default: the base URL).
``QIBOCONNECTION_TIMEOUT``          seconds allowed for each HTTP request (default 10).
``QIBOCONNECTION_MAX_ATTEMPTS``     attempts per call when retrying is safe (default 4).
``QIBOCONNECTION_RETRY_BUDGET``     seconds, in total, one call may spend retrying (default 30).
``QIBOCONNECTION_MAX_RESULT_BYTES`` largest decompressed result accepted, in bytes (default 256 MiB; the
                                    largest simulator result, 20 qubits with every amplitude non-zero, is
                                    about 134 MiB).
``QIBOCONNECTION_MAX_ANSWER_BYTES`` largest HTTP answer read, as sent and as decoded (default 128 MiB; the
                                    job record of that result is about 70 MB).
``QIBOCONNECTION_PROGRESS``         ``0`` turns off the progress line shown while waiting for jobs.
``QIBOCONNECTION_HTTP2``            ``1`` speaks HTTP/2 where the service offers it
                                    (``pip install qiboconnection[http2]``).
=================================== ============================================================================

Saved accounts and the command line read ``QIBOCONNECTION_USERNAME``, ``QIBOCONNECTION_API_KEY`` and
``QIBOCONNECTION_CONFIG_DIR`` (see :mod:`qiboconnection.accounts`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["API_PREFIX", "CLIENT_VERSION", "DEFAULT_SERVICE_URL", "RetryPolicy", "Settings"]

#: This client's version, sent as ``X-Client-Version``.
CLIENT_VERSION = "0.30.0"
DEFAULT_SERVICE_URL = "https://pro-api.qaas.qilimanjaro.tech"
API_PREFIX = "/api/v1"

_N = TypeVar("_N", int, float)


@dataclass(frozen=True)
class RetryPolicy:
    """How calls are retried: capped exponential backoff with jitter, within a total time budget."""

    max_attempts: int = 4
    budget: float = 30.0
    backoff_base: float = 0.5
    backoff_cap: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.budget < 0 or self.backoff_base < 0 or self.backoff_cap < 0:
            raise ValueError("retry times must not be negative")


@dataclass(frozen=True)
class Settings:
    """Everything the client needs to know about where and how to talk to the service."""

    base_url: str = DEFAULT_SERVICE_URL
    audience_base_url: str | None = None
    timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_result_bytes: int = 256 << 20
    #: The most bytes of one HTTP answer read, as sent and as decoded (a job record carries its result
    #: compressed: the largest, a 20-qubit state with probabilities, comes to about 70 MB).
    max_answer_bytes: int = 128 << 20
    progress: bool = True
    http2: bool = False
    send_idempotency_key: bool = True
    # Resend a submission whose answer was lost: None follows the service's X-Idempotency-Keys answer.
    resend_submissions: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        for name, url in (("base_url", self.base_url), ("audience_base_url", self.audience_base_url)):
            if url is not None and not url.startswith(("http://", "https://")):
                raise ValueError(f"{name} must be an http:// or https:// URL, not {url!r}")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.max_result_bytes <= 0:
            raise ValueError("max_result_bytes must be positive")
        if self.max_answer_bytes <= 0:
            raise ValueError("max_answer_bytes must be positive")

    @property
    def audience(self) -> str:
        """The audience named in the login assertion: ``<audience base>/api/v1``."""
        return (self.audience_base_url or self.base_url).rstrip("/") + API_PREFIX

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default: ``os.environ``)."""
        env = os.environ if environ is None else environ
        retry = RetryPolicy(
            max_attempts=_number(env, "QIBOCONNECTION_MAX_ATTEMPTS", 4, int),
            budget=_number(env, "QIBOCONNECTION_RETRY_BUDGET", 30.0, float),
        )
        return cls(
            base_url=env.get("QUANTUM_SERVICE_URL") or DEFAULT_SERVICE_URL,
            audience_base_url=env.get("AUDIENCE_URL") or None,
            timeout=_number(env, "QIBOCONNECTION_TIMEOUT", 10.0, float),
            retry=retry,
            max_result_bytes=_number(env, "QIBOCONNECTION_MAX_RESULT_BYTES", 256 << 20, int),
            max_answer_bytes=_number(env, "QIBOCONNECTION_MAX_ANSWER_BYTES", 128 << 20, int),
            progress=_flag(env, "QIBOCONNECTION_PROGRESS", True),
            http2=_flag(env, "QIBOCONNECTION_HTTP2", False),
        )


def _number(env: Mapping[str, str], name: str, default: _N, kind: type[_N]) -> _N:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return kind(raw.strip())
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    return raw.strip().lower() not in {"0", "false", "no", "off"}
