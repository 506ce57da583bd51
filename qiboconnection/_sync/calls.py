"""Sending requests: a generated operation on the session's client, retried as its mode allows, its
answer turned into the operation's model or one of our exceptions (:mod:`qiboconnection.problems`)."""

# Written from qiboconnection/_async/calls.py by scripts/unasync.py: edit that file, not this one.

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import httpx
from qaas_client import Client
from qaas_client.models.page_links import PageLinks

from qiboconnection.clients import last_response, reset_last_response
from qiboconnection.concurrency import sleep, within
from qiboconnection.config import RetryPolicy
from qiboconnection.errors import QiboconnectionError
from qiboconnection.operations import Request, Retry
from qiboconnection.polling import next_page
from qiboconnection.problems import answer_of, unreadable
from qiboconnection.retries import NEVER_SENT, next_delay

__all__ = ["MAX_PAGES", "MAX_PER_PAGE", "attempt", "call", "pages", "retrying"]

logger = logging.getLogger("qiboconnection.calls")

#: Largest page size the service accepts; listings ask for it to need as few requests as possible.
MAX_PER_PAGE = 1000
#: Safety bound on the number of pages followed for one listing.
MAX_PAGES = 10_000
#: What the generated parser raises on an answer of an unexpected shape.
PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError)

_T = TypeVar("_T")
_Item = TypeVar("_Item")
_Item_co = TypeVar("_Item_co", covariant=True)


class Page(Protocol[_Item_co]):
    """A page of a listing, as the generated models give it."""

    @property
    def items(self) -> Sequence[_Item_co]:
        """The records on this page."""
        ...

    @property
    def links(self) -> PageLinks:
        """Links to the other pages (``next_`` names no page on the last one)."""
        ...


def attempt(client: Client, request: Request[_T], timeout: float) -> _T:
    """Send ``request`` once within ``timeout`` seconds: the answer's model, or the exception for an error
    or an unreadable answer."""
    reset_last_response()
    try:
        response = within(timeout, request.send_sync, client)
    except PARSE_ERRORS as error:
        raise unreadable(last_response(), error, what=request.what) from None
    # The answer was read: its body (tens of megabytes for a large result) need not outlive the call.
    reset_last_response()
    model: _T = answer_of(response, request.model, what=request.what)
    return model


def retrying(
    attempt: Callable[[], _T],
    *,
    mode: Retry,
    what: str,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = sleep,
    clock: Callable[[], float] = time.monotonic,
) -> _T:
    """Run ``attempt`` until it succeeds or may not be run again (see :mod:`qiboconnection.retries`)."""
    started = clock()
    number = 0
    # Whether an attempt so far may have reached the service (then it must not pass for never sent).
    sent = False
    while True:
        number += 1
        try:
            return attempt()
        except (httpx.RequestError, QiboconnectionError) as error:
            delay = next_delay(
                error,
                policy=policy,
                mode=mode,
                what=what,
                number=number,
                elapsed=clock() - started,
                sent_before=sent,
            )
            sent = sent or not isinstance(error, NEVER_SENT)
        sleep(delay)


def call(
    client: Client,
    request: Request[_T],
    *,
    policy: RetryPolicy,
    timeout: float,
    sleep: Callable[[float], None] = sleep,
) -> _T:
    """Send ``request`` until it succeeds or may not be sent again.

    Raises:
        RemoteExecutionException: the service's error answer (a subclass by status).
        ConnectionException: the service could not be reached, or the answer was broken in transit.
        QiboconnectionError: an answer that does not follow the protocol.
    """

    def once() -> _T:
        return attempt(client, request, timeout)

    return retrying(once, mode=request.mode, what=request.what, policy=policy, sleep=sleep)


def pages(
    client: Client,
    page_request: Callable[[int, int], Request[Page[_Item]]],
    *,
    policy: RetryPolicy,
    timeout: float,
    sleep: Callable[[float], None] = sleep,
    per_page: int = MAX_PER_PAGE,
) -> list[_Item]:
    """The items of every page of a listing, following ``links.next`` until it names no page."""
    items: list[_Item] = []
    page = 1
    seen: set[int] = set()
    what = ""
    for _ in range(MAX_PAGES):
        seen.add(page)
        request = page_request(page, per_page)
        what = request.what
        answer: Any = call(client, request, policy=policy, timeout=timeout, sleep=sleep)
        found = list(answer.items)
        items.extend(found)
        following = next_page(answer.links.next_)
        if following is None or not found or following[0] in seen:
            return items
        page, per_page = following[0], following[1] or per_page
    logger.warning("Stopped reading the pages to %s after %d pages", what, MAX_PAGES)
    return items
