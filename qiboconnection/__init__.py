"""Python client for Qilimanjaro's Quantum-as-a-Service, and a local server that speaks the same protocol.

``from qiboconnection import API`` (or ``from qiboconnection.api import API``) is the entry point. Names
are loaded on first use so that importing the package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.30.0"

if TYPE_CHECKING:
    from qiboconnection.api import API
    from qiboconnection.async_api import AsyncAPI
    from qiboconnection.batch import BatchOutcome
    from qiboconnection.errors import (
        AuthenticationError,
        ConflictError,
        ConnectionException,
        DeviceNotAvailableError,
        InvalidRequestError,
        JobFailedError,
        JobTimeoutError,
        NotFoundError,
        PermissionDeniedError,
        QiboconnectionError,
        RateLimitError,
        RemoteExecutionException,
        ResultDecodeError,
        ServerError,
    )
    from qiboconnection.remote_job import AsyncRemoteJob, RemoteJob
    from qiboconnection.typings.connection import ConnectionConfiguration
    from qiboconnection.typings.vqa import VQA

_ERRORS = (
    "AuthenticationError",
    "ConflictError",
    "ConnectionException",
    "DeviceNotAvailableError",
    "InvalidRequestError",
    "JobFailedError",
    "JobTimeoutError",
    "NotFoundError",
    "PermissionDeniedError",
    "QiboconnectionError",
    "RateLimitError",
    "RemoteExecutionException",
    "ResultDecodeError",
    "ServerError",
)
_LAZY = {
    "API": "qiboconnection.api",
    "AsyncAPI": "qiboconnection.async_api",
    "AsyncRemoteJob": "qiboconnection.remote_job",
    "BatchOutcome": "qiboconnection.batch",
    "RemoteJob": "qiboconnection.remote_job",
    "ConnectionConfiguration": "qiboconnection.typings.connection",
    "VQA": "qiboconnection.typings.vqa",
    **dict.fromkeys(_ERRORS, "qiboconnection.errors"),
}

__all__ = [
    "API",
    "VQA",
    "AsyncAPI",
    "AsyncRemoteJob",
    "AuthenticationError",
    "BatchOutcome",
    "ConflictError",
    "ConnectionConfiguration",
    "ConnectionException",
    "DeviceNotAvailableError",
    "InvalidRequestError",
    "JobFailedError",
    "JobTimeoutError",
    "NotFoundError",
    "PermissionDeniedError",
    "QiboconnectionError",
    "RateLimitError",
    "RemoteExecutionException",
    "RemoteJob",
    "ResultDecodeError",
    "ServerError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'qiboconnection' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
