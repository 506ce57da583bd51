"""The auth flow and client builders serve httpx.AsyncClient too (one implementation for both)."""

from __future__ import annotations

import asyncio

import httpx
from qaas_client.models.device import Device

from qiboconnection import __version__
from qiboconnection.auth import QaaSAuth
from qiboconnection.clients import build_async_clients
from qiboconnection.config import Settings
from qiboconnection.problems import answer_of

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
    auth = QaaSAuth("hosted-user", API_KEY, audience=settings.audience)

    async def run() -> Device:
        client = build_async_clients(
            settings, auth, client_version=__version__, transport=httpx.MockTransport(fake)
        )
        async with client.get_async_httpx_client(), auth.token_client.get_async_httpx_client():
            await auth.login_async()
            response = await get_device.asyncio_detailed(client=client, device_id=1)
        return answer_of(response, Device, what="get device 1")

    assert asyncio.run(run()).name == "sim"
    assert (fake.logins, fake.refreshes) == (1, 1)
    assert auth.user_id == 7
    sent = fake.sent("GET", "/api/v1/devices/1")
    assert len(sent) == 2
    assert all(request.headers["x-client-version"] == __version__ for request in sent)
