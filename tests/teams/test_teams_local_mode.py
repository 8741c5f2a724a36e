"""Teams local mode (NPSBOT_TEAMS_ENABLED, no app id) is bound to this machine: activities from
another address, or naming a serviceUrl elsewhere, are refused with 403 and change nothing; a
WARNING says so at start; NPSBOT_TEAMS_ALLOW_REMOTE=true lifts it."""

import logging
import socket

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from bot.app import build_app, build_runtime, build_services
from storage.db import read_scope
from storage.models import Subscription, TeamsConversation

from .conftest import load_activity


def non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


async def test_a_foreign_service_url_is_refused_and_nothing_is_subscribed(teams):
    body = load_activity("message_channel_mention", "https://attacker.example/", COMMAND="subscribe alerts")
    response = await teams.client.post("/api/messages", json=body)
    assert response.status == 403
    assert "serviceUrl on this machine" in (await response.json())["error"]
    with read_scope(teams.services.rt.engine) as s:
        assert s.execute(select(Subscription)).first() is None
        assert s.execute(select(TeamsConversation)).first() is None


async def run_on_all_interfaces(settings, caplog):
    rt = build_runtime(settings)
    with caplog.at_level(logging.WARNING, logger="handlers.teams"):
        app = build_app(build_services(rt), run_workers=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "0.0.0.0", 0)
    await site.start()
    return rt, runner, site._server.sockets[0].getsockname()[1]


@pytest.mark.parametrize("allow_remote", [False, True])
async def test_requests_from_another_address_are_refused_unless_allowed(make_settings, caplog, connector,
                                                                        allow_remote):
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to send from")
    settings = make_settings(NPSBOT_TEAMS_ENABLED="true", **({"NPSBOT_TEAMS_ALLOW_REMOTE": "true"}
                                                            if allow_remote else {}))
    rt, runner, port = await run_on_all_interfaces(settings, caplog)
    try:
        assert any(r.message == "teams.unauthenticated_local_mode" and r.levelno == logging.WARNING
                   for r in caplog.records)
        body = load_activity("message_channel_mention", connector.url, COMMAND="help")
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://{address}:{port}/api/messages", json=body) as response:
                if allow_remote:
                    assert response.status in (200, 201)
                else:
                    assert response.status == 403
                    assert "only accepts requests from this machine" in (await response.json())["error"]
    finally:
        await runner.cleanup()
        rt.engine.dispose()
