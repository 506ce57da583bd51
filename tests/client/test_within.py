"""Deadlines of one piece of work: :func:`within` (on a helper thread) and :func:`async_within` behave
alike, and an abandoned helper thread never holds up the caller or the interpreter's exit."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import signal
import subprocess
import sys
import threading
import time
import traceback

import pytest

from qiboconnection import concurrency
from qiboconnection.concurrency import async_within, within
from qiboconnection.errors import RequestTimeoutError

#: Longest a child process of these tests may take (they all end in well under a second when right).
CHILD_SECONDS = 20.0

seen: contextvars.ContextVar[str] = contextvars.ContextVar("test_within_seen", default="unset")


class Refused(Exception):
    pass


def _refuse(reason: str) -> None:
    raise Refused(reason)


def test_the_work_value_is_returned_and_its_arguments_passed() -> None:
    assert within(5.0, divmod, 17, 5) == (3, 2)


def test_the_work_exception_is_raised_in_the_caller_with_its_own_traceback() -> None:
    with pytest.raises(Refused, match="no such job") as raised:
        within(5.0, _refuse, "no such job")
    assert "_refuse" in [frame.name for frame in traceback.extract_tb(raised.value.__traceback__)]


def test_a_base_exception_of_the_work_is_raised_in_the_caller_too() -> None:
    def leave() -> None:
        raise SystemExit(3)

    with pytest.raises(SystemExit):
        within(5.0, leave)


def test_work_past_its_deadline_is_abandoned_with_a_request_timeout() -> None:
    release = threading.Event()
    started = time.monotonic()
    try:
        with pytest.raises(RequestTimeoutError, match=r"within 0\.2 s") as raised:
            within(0.2, release.wait)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert raised.value.timeout == 0.2
    assert 0.2 <= elapsed < 2.0


def test_the_work_runs_on_a_daemon_helper_thread() -> None:
    def where() -> tuple[int, bool]:
        thread = threading.current_thread()
        return thread.ident or 0, thread.daemon

    ident, daemon = within(5.0, where)
    assert daemon
    assert ident != threading.get_ident()


def test_the_context_variables_the_work_sets_are_carried_back() -> None:
    def swap(value: str) -> str:
        before = seen.get()
        seen.set(value)
        return before

    context = contextvars.copy_context()

    def caller() -> None:
        seen.set("caller")
        assert within(5.0, swap, "work") == "caller"
        assert seen.get() == "work"

        def fail() -> None:
            seen.set("failed work")
            raise Refused("after setting")

        with pytest.raises(Refused):
            within(5.0, fail)
        assert seen.get() == "failed work"

    context.run(caller)
    assert seen.get() == "unset"


def test_a_variable_is_not_carried_back_from_abandoned_work() -> None:
    release = threading.Event()

    def late() -> None:
        release.wait()
        seen.set("too late")

    def caller() -> None:
        with pytest.raises(RequestTimeoutError):
            within(0.1, late)
        release.set()
        time.sleep(0.1)
        assert seen.get() == "unset"

    contextvars.copy_context().run(caller)


def test_what_abandoned_work_gets_later_is_dropped_and_logged_at_debug_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()

    def late() -> str:
        release.wait()
        return "late answer"

    with caplog.at_level(logging.DEBUG, logger="qiboconnection.concurrency"):
        with pytest.raises(RequestTimeoutError):
            within(0.1, late)
        release.set()
        deadline = time.monotonic() + 5
        while not any("what it got is dropped" in record.getMessage() for record in caplog.records):
            assert time.monotonic() < deadline, caplog.records
            time.sleep(0.01)
    records = [record for record in caplog.records if record.name == "qiboconnection.concurrency"]
    assert [record.levelno for record in records] == [logging.DEBUG, logging.DEBUG]
    assert "abandoned at its deadline (0.1 s)" in records[0].getMessage()
    assert "what it got is dropped" in records[1].getMessage()


def test_helper_threads_are_reused_and_their_number_is_bounded() -> None:
    def helpers() -> int:
        return sum(thread.name == "qiboconnection-within" for thread in threading.enumerate())

    for _ in range(200):
        within(5.0, int, "1")
    assert helpers() <= concurrency.MOST_RESTING

    callers = [threading.Thread(target=lambda: [within(5.0, int, "1") for _ in range(50)]) for _ in range(20)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    # Helpers past their last piece of work settle at once: they rest, or end when enough others rest.
    deadline = time.monotonic() + 5
    while helpers() > concurrency.MOST_RESTING:
        assert time.monotonic() < deadline, helpers()
        time.sleep(0.01)


#: A child run from a background job inherits SIGINT ignored, and Python then raises no
#: KeyboardInterrupt; the children start with Python's own handler, as an interactive program has.
_DEFAULT_INTERRUPT = "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"


def _child(code: str, *, interrupt_on: str = "") -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``code`` in a fresh interpreter; with ``interrupt_on``, send it SIGINT once it prints that."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", _DEFAULT_INTERRUPT + code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if interrupt_on:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == interrupt_on
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
    try:
        stdout, stderr = process.communicate(timeout=CHILD_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), (
        time.monotonic() - started
    )


def _prints_promptly(code: str, expected: str, *, interrupt_on: str = "") -> None:
    """``code`` run in a child ends well within the bound, having printed ``expected`` and nothing else."""
    done, seconds = _child(code, interrupt_on=interrupt_on)
    assert (done.returncode, done.stdout.strip()) == (0, expected), done.stderr
    assert seconds < CHILD_SECONDS / 2


def test_a_process_whose_abandoned_work_blocks_for_ever_exits_promptly() -> None:
    code = """
import threading
from qiboconnection.concurrency import within
from qiboconnection.errors import RequestTimeoutError
try:
    within(0.2, threading.Event().wait)
except RequestTimeoutError:
    print("timed out")
"""
    _prints_promptly(code, "timed out")


def test_an_interrupt_while_waiting_reaches_the_caller() -> None:
    code = """
import threading
from qiboconnection.concurrency import within

def work():
    print("working", flush=True)
    threading.Event().wait()

try:
    within(60, work)
except KeyboardInterrupt:
    print("interrupted")
"""
    _prints_promptly(code, "interrupted", interrupt_on="working")


def test_an_interrupt_the_system_hands_to_the_helper_thread_still_reaches_the_caller() -> None:
    # The system may deliver a process's SIGINT to any of its threads: here a third thread sends it to
    # the helper, blocked in its work, and the caller must still be interrupted at once, not at the end
    # of its 60 s wait.
    code = """
import signal
import threading
import time
from qiboconnection.concurrency import within

helper = {}

def work():
    helper["ident"] = threading.get_ident()
    threading.Event().wait()

def poke():
    while "ident" not in helper:
        time.sleep(0.01)
    time.sleep(0.3)
    signal.pthread_kill(helper["ident"], signal.SIGINT)

threading.Thread(target=poke, daemon=True).start()
try:
    within(60, work)
except KeyboardInterrupt:
    print("interrupted")
"""
    _prints_promptly(code, "interrupted")


def test_a_forked_child_starts_helpers_of_its_own() -> None:
    code = """
import os
from qiboconnection.concurrency import within
assert within(5, int, "1") == 1
pid = os.fork()
if pid == 0:
    os._exit(0 if within(5, int, "2") == 2 else 1)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""
    done, _ = _child(code)
    assert (done.returncode, done.stdout.strip()) == (0, "0"), done.stderr


def test_async_within_returns_raises_and_times_out_alike() -> None:
    async def answer(value: int) -> int:
        await asyncio.sleep(0)
        return value

    async def refuse() -> None:
        raise Refused("no")

    async def own_timeout() -> None:
        raise TimeoutError("the work's own")

    async def run() -> None:
        assert await async_within(5.0, answer, 4) == 4
        with pytest.raises(Refused):
            await async_within(5.0, refuse)
        with pytest.raises(TimeoutError, match="the work's own") as raised:
            await async_within(5.0, own_timeout)
        assert not isinstance(raised.value, RequestTimeoutError)
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError, match=r"within 0\.1 s"):
            await async_within(0.1, asyncio.sleep, 60)
        assert time.monotonic() - started < 2.0

    asyncio.run(run())
