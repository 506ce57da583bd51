"""The few concurrency primitives the sessions use, in an asynchronous and a synchronous kind.

The asynchronous sources under ``qiboconnection/_async`` use :class:`AsyncPool`, :func:`async_sleep`
and :func:`async_within`; their synchronous twins (generated, see ``scripts/unasync.py``) use
:class:`Pool`, :func:`sleep` and :func:`within`, which run the same work on threads over the session's
thread-safe httpx client.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, TypeVarTuple, cast

from qiboconnection.errors import RequestTimeoutError

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["AsyncPool", "Pool", "async_sleep", "async_within", "sleep", "within"]

logger = logging.getLogger("qiboconnection.concurrency")

_X = TypeVar("_X")
_Y = TypeVar("_Y")
_T = TypeVar("_T")
_Args = TypeVarTuple("_Args")
#: Longest a caller of :func:`within` sleeps before it looks for a signal to handle.
SIGNAL_SLICE = 0.1
#: Stands for a context variable that has no value in the running context.
_MISSING = object()


async def async_sleep(seconds: float) -> None:
    """Wait ``seconds`` without blocking the event loop."""
    import asyncio

    await asyncio.sleep(seconds)


def sleep(seconds: float) -> None:
    """Wait ``seconds``."""
    time.sleep(seconds)


async def async_within(seconds: float, work: Callable[[*_Args], Awaitable[_T]], *args: *_Args) -> _T:
    """``await work(*args)``, cancelled once ``seconds`` have passed, whatever it is waiting for.

    Raises:
        RequestTimeoutError: the work was cancelled at its deadline.
    """
    import asyncio

    scope = asyncio.timeout(seconds)
    try:
        async with scope:
            return await work(*args)
    except TimeoutError:
        if not scope.expired():
            raise
        raise RequestTimeoutError(seconds) from None


def within(seconds: float, work: Callable[[*_Args], _T], *args: *_Args) -> _T:
    """``work(*args)``, ended at its deadline: the synchronous kind of :func:`async_within`.

    A thread cannot be cancelled, so the work runs on a daemon helper thread, in a copy of the caller's
    context, while the caller waits for it at most ``seconds``. Its value is returned or its exception
    raised in the caller, and the context variables it set are carried back, as if it had run inline.
    At the deadline the helper is abandoned: it holds its thread, and the connection it reads, until the
    service stops dripping or a read times out (each read is bounded by the session's timeout, and
    closing the session closes the connection); what it gets then is dropped. Being a daemon, it never
    holds up the interpreter's exit. An interrupt (``KeyboardInterrupt``) while waiting abandons it too.

    Raises:
        RequestTimeoutError: the work was not done within ``seconds``.
    """
    context = contextvars.copy_context()
    handoff: _Handoff[_T] = _Handoff(getattr(work, "__qualname__", repr(work)))

    def run() -> None:
        try:
            value = context.run(work, *args)
        except BaseException as error:
            handoff.fail(error)
        else:
            handoff.give(value)

    _helpers.start(run)
    try:
        finished = handoff.wait(seconds)
    except BaseException as error:
        handoff.abandon(f"on {type(error).__name__}")
        raise
    if not finished and handoff.abandon(f"at its deadline ({seconds:g} s)"):
        raise RequestTimeoutError(seconds)
    _carry_back(context)
    return handoff.outcome()


class _Handoff(Generic[_T]):
    """What a helper thread of :func:`within` hands back to its caller: a value or an exception, unless
    the caller has abandoned it, in which case whatever it gets is dropped."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._lock = threading.Lock()
        # Held until the work has ended (a lock, since waiting on one is cheap and interruptible).
        self._ended = threading.Lock()
        self._ended.acquire()
        self._abandoned = False
        self._value: _T | None = None
        self._error: BaseException | None = None

    def wait(self, seconds: float) -> bool:
        """Wait at most ``seconds`` for the work to end; whether it has.

        The wait is cut in slices of :data:`SIGNAL_SLICE` seconds: a signal (Ctrl-C) that the system
        hands to the helper thread instead of this one does not wake this one, and Python runs its
        handler here only between slices.
        """
        end = time.monotonic() + max(seconds, 0.0)
        while True:
            left = end - time.monotonic()
            if self._ended.acquire(timeout=min(max(left, 0.0), SIGNAL_SLICE)):
                return True
            if left <= SIGNAL_SLICE:
                return False

    def give(self, value: _T) -> None:
        """The work's value."""
        self._end(value, None)

    def fail(self, error: BaseException) -> None:
        """The work's exception."""
        self._end(None, error)

    def _end(self, value: _T | None, error: BaseException | None) -> None:
        with self._lock:
            dropped = self._abandoned
            if not dropped:
                self._value, self._error = value, error
            self._ended.release()
        if dropped:
            ended = "ended" if error is None else f"failed ({error!r})"
            logger.debug("%s %s after its caller left; what it got is dropped", self.what, ended)

    def abandon(self, why: str) -> bool:
        """Give the work up (``why`` says when, for the log) unless it has ended; whether it was given up."""
        with self._lock:
            if not self._ended.locked():
                return False
            self._abandoned = True
        logger.debug(
            "%s was abandoned %s; its thread goes on until the service answers or a read times out",
            self.what,
            why,
        )
        return True

    def outcome(self) -> _T:
        """The work's value, or its exception raised (with its own traceback)."""
        error, self._error = self._error, None
        if error is not None:
            try:
                raise error
            finally:
                del error
        return cast(_T, self._value)


class _Helper:
    """A daemon thread that runs the work of :func:`within`, one piece at a time, starting with ``work``;
    between pieces it rests in ``helpers``, and it ends when enough others rest or once it has rested
    :data:`IDLE_SECONDS`."""

    def __init__(self, helpers: _Helpers, work: Callable[[], None]) -> None:
        self._helpers = helpers
        self._work: Callable[[], None] | None = work
        # Held while there is nothing to run; :meth:`give` releases it.
        self._wake = threading.Lock()
        self._wake.acquire()
        threading.Thread(target=self._serve, name="qiboconnection-within", daemon=True).start()

    def give(self, work: Callable[[], None]) -> None:
        """Run ``work`` (which must not raise) next; only for a helper just taken from its rest."""
        self._work = work
        self._wake.release()

    def _serve(self) -> None:
        while True:
            work, self._work = self._work, None
            if work is not None:
                work()
            del work
            if not self._helpers.rest(self):
                return
            if not self._wake.acquire(timeout=IDLE_SECONDS):
                if self._helpers.retire(self):
                    return
                # Taken from its rest just now: its work is on the way.
                self._wake.acquire()


class _Helpers:
    """The helper threads at rest, at most ``most`` of them; :meth:`start` wakes one or starts another."""

    def __init__(self, most: int) -> None:
        self._most = most
        self._lock = threading.Lock()
        self._resting: list[_Helper] = []

    def start(self, work: Callable[[], None]) -> None:
        """Run ``work`` (which must not raise) on a helper thread."""
        with self._lock:
            helper = self._resting.pop() if self._resting else None
        if helper is None:
            _Helper(self, work)
        else:
            helper.give(work)

    def rest(self, helper: _Helper) -> bool:
        """Let ``helper`` wait for more work, unless enough others do; whether it may."""
        with self._lock:
            if len(self._resting) >= self._most:
                return False
            self._resting.append(helper)
            return True

    def retire(self, helper: _Helper) -> bool:
        """Let ``helper`` end unless it has just been given work; whether it may."""
        with self._lock:
            if helper not in self._resting:
                return False
            self._resting.remove(helper)
            return True

    def forget(self) -> None:
        """Drop every resting helper (in a forked child, where their threads do not exist)."""
        self._lock = threading.Lock()
        self._resting = []


#: Most helper threads kept at rest (a wait or a batch runs up to 20 calls at once).
MOST_RESTING = 32
#: Seconds a helper thread rests before it ends.
IDLE_SECONDS = 60.0
_helpers = _Helpers(MOST_RESTING)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_helpers.forget)


def _carry_back(context: contextvars.Context) -> None:
    """Set in the running context every context variable whose value differs in ``context``."""
    for variable, value in context.items():
        if variable.get(_MISSING) is not value:
            variable.set(value)


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
        """``work`` applied to every item, in order; the first error is raised once all are done.

        Each thread takes the next item when it is done with one, so the threads are woken once per
        call, not once per item (a wake-up between threads costs tens of microseconds on a busy
        machine, more than many items take of the processor).
        """
        if len(items) == 1:
            return [work(items[0])]
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=self._size, thread_name_prefix=self._name)
        outcomes: list[tuple[bool, Any]] = [(False, None)] * len(items)
        order = iter(range(len(items)))
        taking = threading.Lock()

        def drain() -> None:
            while True:
                with taking:
                    index = next(order, None)
                if index is None:
                    return
                try:
                    outcomes[index] = (True, work(items[index]))
                except BaseException as error:  # handed to the caller below
                    outcomes[index] = (False, error)

        threads = [self._executor.submit(drain) for _ in range(min(self._size, len(items)))]
        for thread in threads:
            thread.result()
        for done, value in outcomes:
            if not done:
                raise value
        return [cast(_Y, value) for _, value in outcomes]
