"""The auth flow and client builders serve httpx.AsyncClient too (one implementation for both)."""

from __future__ import annotations

import asyncio

import httpx

from qiboconnection import __version__
from qiboconnection.auth import QaaSAuth
from qiboconnection.config import Settings
from qiboconnection.transport import build_async_client, to_reply

from .fakes import API_KEY, BASE_URL, FakeHosted, json_response, problem


def test_async_client_logs_in_refreshes_and_retries() -> None:
    from qaas_client.api.devices import get_device

    fake = FakeHosted()
    answers = [
        problem(401, "Signature has expired.", "Unauthorized"),
        json_response({"id": 1, "name": "sim"}),
    ]
    fake.routes["GET /api/v1/devices/(\\d+)"] = lambda request, match: answers.pop(0)
    settings = Settings(base_url=BASE_URL)
    auth = QaaSAuth(
        "hosted-user", API_KEY, base_url=BASE_URL, audience=settings.audience, client_version=__version__
    )

    async def run() -> dict:
        client = build_async_client(
            settings, auth, client_version=__version__, transport=httpx.MockTransport(fake)
        )
        async with client.get_async_httpx_client():
            await auth.async_login(client.get_async_httpx_client())
            response = await get_device.asyncio_detailed(client=client, device_id=1)
        reply = to_reply(
            int(response.status_code),
            httpx.Headers(response.headers),
            response.content,
            response.parsed,
            what="x",
        )
        return reply.data

    assert asyncio.run(run())["name"] == "sim"
    assert (fake.logins, fake.refreshes) == (1, 1)
    assert auth.user_id == 7
    sent = fake.sent("GET", "/api/v1/devices/1")
    assert len(sent) == 2
    assert all(request.headers["x-client-version"] == __version__ for request in sent)
