"""``AsyncAPI``: the session of :class:`~qiboconnection.api.API` as coroutines over ``httpx.AsyncClient``::

    async with await AsyncAPI.login(username="alice", api_key="...") as api:
        outcomes = await api.run_batch(circuits, device_id=1, nshots=100)

Its methods are those of :class:`~qiboconnection.api.API`, with the same arguments and results.
"""

from __future__ import annotations

from qiboconnection._async.api import AsyncAPIBase

__all__ = ["AsyncAPI"]


class AsyncAPI(AsyncAPIBase):
    """An asynchronous session with the Quantum-as-a-Service, natively on ``httpx.AsyncClient``.

    It has the methods of :class:`~qiboconnection.api.API`, as coroutines (the account methods, which
    only touch a local file, stay plain functions). A constructor cannot wait, so it logs in on
    ``await AsyncAPI.login(...)``, on ``async with AsyncAPI(configuration)`` or on ``await api.open()``.
    ``async with`` closes the connections on exit; so do :meth:`close` and :meth:`aclose`.
    """

    async def aclose(self) -> None:
        """Close the HTTP connections (same as :meth:`close`)."""
        await self.close()
