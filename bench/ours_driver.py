"""Runs one benchmark step with this project's client (or the raw-HTTP floor), in a process of its own.

Usage: python ours_driver.py STEP JSON_ARGS. Prints one JSON object on stdout. The step's
credentials and server come from QIBOCONNECTION_USERNAME, QIBOCONNECTION_API_KEY and
QUANTUM_SERVICE_URL.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from driver_common import bell, get_job, login, peak_rss, raw_token, run


def floor_get_job(args: dict[str, Any]) -> dict[str, Any]:
    """The least any client can do: one keep-alive connection, the request, the JSON parse."""
    base = os.environ["QUANTUM_SERVICE_URL"].rstrip("/")
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port)
    token = raw_token(
        connection, base, os.environ["QIBOCONNECTION_USERNAME"], os.environ["QIBOCONNECTION_API_KEY"]
    )
    send = _Raw(base, connection)
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/jobs/{args['job_id']}"
    times = []
    for _ in range(args["calls"] + 1):
        start = time.perf_counter()
        status, body = send("GET", path, None, headers)
        json.loads(body)
        times.append(time.perf_counter() - start)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
    return {"seconds": times[1:]}


def submit_wait(args: dict[str, Any]) -> dict[str, Any]:
    """The synchronous path: submit one job at a time, then wait for all of them together."""
    api = login()
    circuit = bell()
    start = time.perf_counter()
    job_ids = [api.execute(circuit, nshots=10, device_id=args["device_id"]) for _ in range(args["count"])]
    jobs = api.wait(job_ids, timeout=args["timeout"], interval=0.2)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "jobs": len(job_ids), "completed": sum(j.status == "completed" for j in jobs)}


def batch_wait(args: dict[str, Any]) -> dict[str, Any]:
    """The concurrent path: AsyncAPI submits with bounded concurrency and waits with one round per poll."""
    import asyncio

    from qiboconnection.async_api import AsyncAPI

    circuits = [bell() for _ in range(args["count"])]

    async def main() -> dict[str, Any]:
        async with await AsyncAPI.login(
            username=os.environ["QIBOCONNECTION_USERNAME"], api_key=os.environ["QIBOCONNECTION_API_KEY"]
        ) as api:
            start = time.perf_counter()
            outcomes = await api.run_batch(
                circuits, device_id=args["device_id"], nshots=10, timeout=args["timeout"]
            )
            seconds = time.perf_counter() - start
        return {"seconds": seconds, "jobs": len(outcomes), "completed": sum(o.ok for o in outcomes)}

    return asyncio.run(main())


def _decoded(job_id: int, second: str, counted: tuple[str, ...], read_samples: bool) -> dict[str, Any]:
    """Fetch a job and read its final state and its ``second`` table to numpy (and its samples when
    ``read_samples``); ``entries`` counts the entries of the ``counted`` tables. numpy is imported before
    the clock starts, as in the released client's driver."""
    import numpy  # noqa: F401 - imported before the clock, as in the released client's driver

    api = login()
    start = time.perf_counter()
    result = api.get_job(job_id).result[0]
    state = result.state()
    probabilities = (
        result.state_probabilities() if second == "final_state_probabilities" else result.probabilities()
    )
    if read_samples:
        result.samples()
    seconds = time.perf_counter() - start
    peak = peak_rss()
    entries = [len(result[key]) for key in counted]
    return {
        "seconds": seconds,
        "peak_rss": peak,
        "size": int(state.size + probabilities.size),
        "entries": entries,
    }


def decode(args: dict[str, Any]) -> dict[str, Any]:
    """The tables the released client's figure converts (final state and its probabilities), and samples."""
    counted = ("final_state", "final_state_probabilities", "samples")
    return _decoded(args["job_id"], "final_state_probabilities", counted, read_samples=True)


def decode_dense(args: dict[str, Any]) -> dict[str, Any]:
    """An 18-qubit dense result: final state and probabilities."""
    counted = ("final_state", "final_state_probabilities", "probabilities", "samples")
    return _decoded(args["job_id"], "probabilities", counted, read_samples=False)


def list_jobs(args: dict[str, Any]) -> dict[str, Any]:
    api = login()
    start = time.perf_counter()
    listing = api.list_jobs()
    return {"seconds": time.perf_counter() - start, "jobs": len(listing.items)}


#: Job records the floor with results fetches at once, each on a keep-alive connection of its own (as
#: many as the client's wait fetches at once).
FLOOR_FETCHES = 20


def floor_submit_wait(args: dict[str, Any]) -> dict[str, Any]:
    """The least any client can do for submit+wait: raw POSTs on one keep-alive connection, then one
    listing request per polling round until every job is final (this bounds what the server allows)."""
    return _floor(args, fetch=False)


def floor_submit_fetch(args: dict[str, Any]) -> dict[str, Any]:
    """:func:`floor_submit_wait`, then every job's record fetched and parsed, :data:`FLOOR_FETCHES` at a
    time: the least a wait that returns the results can do."""
    return _floor(args, fetch=True)


def httpx_floor_submit_fetch(args: dict[str, Any]) -> dict[str, Any]:
    """:func:`floor_submit_fetch` done with a plain ``httpx.Client`` instead of http.client (no auth
    flow, models, retries or deadlines): how much of a client's time over the floor the HTTP stack it
    is built on takes by itself."""
    return _floor(args, fetch=True, plain_httpx=True)


class _Raw:
    """One request at a time on one keep-alive connection, with http.client: ``(status, body)``."""

    def __init__(self, base: str, connection: http.client.HTTPConnection | None = None) -> None:
        parts = urlsplit(base)
        self._connection = connection or http.client.HTTPConnection(parts.hostname, parts.port)

    def __call__(
        self, method: str, path: str, body: str | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        self._connection.request(method, path, body, headers)
        response = self._connection.getresponse()
        return response.status, response.read()


class _Httpx:
    """Requests through one plain ``httpx.Client`` (its own pool; safe to share between threads)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __call__(
        self, method: str, path: str, body: str | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        response = self._client.request(method, path, content=body, headers=headers)
        return response.status_code, response.content


def _fetch_records(send: Callable[[], Any], headers: dict[str, str], ids: list[int]) -> None:
    """Every record in ``ids``, :data:`FLOOR_FETCHES` at a time; ``send()`` gives each thread its sender.
    Each thread takes the next id when done with one (no hand-off between threads per record)."""
    order = iter(ids)
    taking = threading.Lock()
    failures: list[str] = []

    def fetch_all() -> None:
        sender = send()
        while True:
            with taking:
                job_id = next(order, None)
            if job_id is None:
                return
            status, body = sender("GET", f"/api/v1/jobs/{job_id}", None, headers)
            if status != 200 or json.loads(body)["job_id"] != job_id:
                failures.append(f"GET /api/v1/jobs/{job_id} answered {status}")

    threads = [threading.Thread(target=fetch_all) for _ in range(min(FLOOR_FETCHES, len(ids)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(failures[0])


def _floor(args: dict[str, Any], *, fetch: bool, plain_httpx: bool = False) -> dict[str, Any]:
    import gzip

    import jwt

    base = os.environ["QUANTUM_SERVICE_URL"].rstrip("/")
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port)
    token = raw_token(
        connection, base, os.environ["QIBOCONNECTION_USERNAME"], os.environ["QIBOCONNECTION_API_KEY"]
    )
    user_id = jwt.decode(token, options={"verify_signature": False})["user_id"]
    qasm = bell().to_qasm()
    data = base64.b64encode(gzip.compress(json.dumps([qasm]).encode())).decode()
    body = json.dumps(
        {
            "user_id": user_id,
            "device_id": args["device_id"],
            "number_shots": 10,
            "job_type": "circuit",
            "description": json.dumps({"data": data, "encoding": "utf-8", "compression": "gzip"}),
            "name": "-",
            "summary": "-",
        }
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    client: Any = None
    if plain_httpx:
        import httpx

        limits = httpx.Limits(max_connections=FLOOR_FETCHES, max_keepalive_connections=FLOOR_FETCHES)
        client = httpx.Client(base_url=base, limits=limits, timeout=60)
        # Every thread sends through the one client (its pool is shared).
        send: Callable[[], Any] = functools.partial(_Httpx, client)
    else:
        # Every thread opens a connection of its own.
        send = functools.partial(_Raw, base)
    # Submissions and polls go over the connection that logged in (kept alive), or the httpx client.
    submit = send() if plain_httpx else _Raw(base, connection)
    start = time.perf_counter()
    ids = set()
    for _ in range(args["count"]):
        ids.add(json.loads(submit("POST", "/api/v1/circuits", body, headers)[1])["job_id"])
    final = {"completed", "error", "cancelled", "canceled"}
    deadline = time.monotonic() + args["timeout"]
    statuses: dict[int, str] = {}
    while time.monotonic() < deadline:
        page, statuses = 1, {}
        while page:
            path = f"/api/v1/jobs?favourites=false&page={page}&per_page=1000"
            listing = json.loads(submit("GET", path, None, headers)[1])
            statuses.update({item["id"]: item["status"] for item in listing["items"] if item["id"] in ids})
            following = (listing.get("links") or {}).get("next") or ""
            page = page + 1 if listing["items"] and "None" not in following and following else 0
        if all(statuses.get(job_id) in final for job_id in ids):
            break
        time.sleep(0.01)
    if fetch:
        _fetch_records(send, headers, sorted(ids))
    seconds = time.perf_counter() - start
    if client is not None:
        client.close()
    completed = sum(statuses.get(job_id) == "completed" for job_id in ids)
    return {"seconds": seconds, "jobs": len(ids), "completed": completed}


STEPS = {
    "get_job": get_job,
    "floor_get_job": floor_get_job,
    "floor_submit_wait": floor_submit_wait,
    "floor_submit_fetch": floor_submit_fetch,
    "httpx_floor_submit_fetch": httpx_floor_submit_fetch,
    "submit_wait": submit_wait,
    "batch_wait": batch_wait,
    "decode": decode,
    "decode_dense": decode_dense,
    "list_jobs": list_jobs,
}

if __name__ == "__main__":
    run(STEPS)
