"""The few concurrency primitives the sessions use, in an asynchronous and a synchronous kind.

The asynchronous sources under ``qiboconnection/_async`` use :class:`AsyncPool` and
:func:`async_sleep`; their synchronous twins (generated, see ``scripts/unasync.py``) use :class:`Pool`
and :func:`sleep`, which run the same work on threads over the session's thread-safe httpx client.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from qiboconnection.errors import RequestTimeoutError

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["AsyncPool", "Pool", "async_deadline", "async_sleep", "deadline", "sleep"]

_X = TypeVar("_X")
_Y = TypeVar("_Y")


async def async_sleep(seconds: float) -> None:
    """Wait ``seconds`` without blocking the event loop."""
    import asyncio

    await asyncio.sleep(seconds)


def sleep(seconds: float) -> None:
    """Wait ``seconds``."""
    time.sleep(seconds)


@contextlib.asynccontextmanager
async def async_deadline(seconds: float) -> AsyncIterator[None]:
    """Cancel the block once ``seconds`` have passed, whatever it is waiting for.

    Raises:
        RequestTimeoutError: the block was cancelled.
    """
    import asyncio

    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise RequestTimeoutError(seconds) from None


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """The synchronous kind of :func:`async_deadline`: a thread cannot be cancelled, so the bound is kept
    by the clients' hooks instead (the body must be complete within ``seconds`` of the request's start,
    and every read is bounded by the timeout; see :mod:`qiboconnection.clients`)."""
    yield


class AsyncPool:
    """Runs coroutines on the running event loop, at most ``size`` at once."""

    def __init__(self, size: int, name: str = "qiboconnection") -> None:
        import asyncio

        if size < 1:
            raise ValueError(f"size must be at least 1, not {size}")
        self._gate = asyncio.Semaphore(size)

    async def __aenter__(self) -> AsyncPool:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        return None

    async def map(self, work: Callable[[_X], Awaitable[_Y]], items: Sequence[_X]) -> list[_Y]:
        """``work`` applied to every item, in order; the first error is raised once all are done."""

        async def bounded(item: _X) -> _Y:
            async with self._gate:
                return await work(item)

        import asyncio

        if len(items) == 1:
            return [await work(items[0])]
        return list(await asyncio.gather(*(bounded(item) for item in items)))


class Pool:
    """Runs calls on up to ``size`` threads (the calling thread runs a single call itself)."""

    def __init__(self, size: int, name: str = "qiboconnection") -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, not {size}")
        self._size = size
        self._name = name
        self._executor: ThreadPoolExecutor | None = None

    def __enter__(self) -> Pool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def map(self, work: Callable[[_X], _Y], items: Sequence[_X]) -> list[_Y]:
        """``work`` applied to every item, in order; the first error is raised once all are done."""
        if len(items) == 1:
            return [work(items[0])]
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=self._size, thread_name_prefix=self._name)
        futures = [self._executor.submit(work, item) for item in items]
        return [future.result() for future in futures]
