"""``API``, the session users import: log in, pick devices, run jobs, fetch results, manage runcards."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qiboconnection._sync.api import WAIT_CONCURRENCY, APIBase
from qiboconnection.config import Settings
from qiboconnection.typings.connection import ConnectionConfiguration
from qiboconnection.typings.vqa import VQA

if TYPE_CHECKING:
    import httpx

__all__ = ["API", "VQA", "WAIT_CONCURRENCY", "ConnectionConfiguration"]


class API(APIBase):
    """A session with the Quantum-as-a-Service.

    Logs in when created, as the released client does (bad credentials raise
    :class:`~qiboconnection.errors.AuthenticationError` at once), and keeps its HTTP connections alive;
    use it as a context manager or call :meth:`close`. The service URL comes from
    ``QUANTUM_SERVICE_URL`` and the request timeout from ``QIBOCONNECTION_TIMEOUT`` (see
    :mod:`qiboconnection.config`). :class:`~qiboconnection.async_api.AsyncAPI` has the same methods as
    coroutines.

    Args:
        configuration: username and API key.
        settings: overrides the settings read from the environment.
        transport: an httpx transport to use instead of the network (for tests).
    """

    def __init__(
        self,
        configuration: ConnectionConfiguration,
        *,
        settings: Settings | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(configuration, settings=settings, transport=transport)
        self.open()
