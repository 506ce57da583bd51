"""Python client for Qilimanjaro's Quantum-as-a-Service, and a local server that speaks the same protocol.

``from qiboconnection import API`` (or ``from qiboconnection.api import API``) is the entry point. The
exceptions are imported at once (their module is tiny); everything else is loaded on first use so that
importing the package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qiboconnection import errors as _errors
from qiboconnection.config import CLIENT_VERSION as __version__
from qiboconnection.errors import *  # noqa: F403 - the exception hierarchy is part of the package's surface

if TYPE_CHECKING:
    # Re-exported names, loaded lazily at run time by __getattr__ below.
    from qiboconnection.api import API as API
    from qiboconnection.async_api import AsyncAPI as AsyncAPI
    from qiboconnection.backend import MetaBackend as MetaBackend
    from qiboconnection.batching import BatchOutcome as BatchOutcome
    from qiboconnection.remote_job import AsyncRemoteJob as AsyncRemoteJob
    from qiboconnection.remote_job import RemoteJob as RemoteJob
    from qiboconnection.typings.connection import ConnectionConfiguration as ConnectionConfiguration
    from qiboconnection.typings.vqa import VQA as VQA

_LAZY = {
    "API": "qiboconnection.api",
    "AsyncAPI": "qiboconnection.async_api",
    "AsyncRemoteJob": "qiboconnection.remote_job",
    "BatchOutcome": "qiboconnection.batching",
    "ConnectionConfiguration": "qiboconnection.typings.connection",
    # qibo's backend lookup (qibo.set_backend("qiboconnection", ...)); left out of __all__, which
    # would make ``from qiboconnection import *`` import qibo.
    "MetaBackend": "qiboconnection.backend",
    "RemoteJob": "qiboconnection.remote_job",
    "VQA": "qiboconnection.typings.vqa",
}

__all__ = [
    "API",
    "VQA",
    "AsyncAPI",
    "AsyncRemoteJob",
    "BatchOutcome",
    "ConnectionConfiguration",
    "RemoteJob",
    "__version__",
]
__all__ += _errors.__all__


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
