"""With MICROSOFT_APP_ID set, /api/messages wants a Bot Framework token; without one it is open
only when NPSBOT_TEAMS_ENABLED=true (the Emulator's local mode)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app, build_runtime, build_services
from handlers.teams import BotConfig

from .conftest import load_activity

APP_ID = "c0ffee00-1111-2222-3333-444455556666"


async def _post(settings, clock, body, headers=None):
    rt = build_runtime(settings, clock=clock)
    client = TestClient(TestServer(build_app(build_services(rt), run_workers=False), host="127.0.0.1"))
    await client.start_server()
    try:
        response = await client.post("/api/messages", json=body, headers=headers or {})
        return response.status
    finally:
        await client.close()
        rt.engine.dispose()


async def test_request_without_token_is_refused_when_an_app_id_is_set(make_settings, clock, connector):
    settings = make_settings(MICROSOFT_APP_ID=APP_ID, MICROSOFT_APP_PASSWORD="secret-value",
                             MICROSOFT_APP_TENANT_ID="72f988bf-86f1-41af-91ab-2d7cd011db47")
    body = load_activity("message_channel_mention", connector.url, COMMAND="subscribe alerts")
    assert await _post(settings, clock, body) == 401
    assert connector.calls == []  # nothing was answered, nothing was stored or sent


async def test_teams_is_not_mounted_without_app_id_or_flag(make_settings, clock, connector):
    body = load_activity("message_channel_mention", connector.url, COMMAND="help")
    assert await _post(make_settings(), clock, body) == 404


def test_single_tenant_needs_password_and_tenant(make_settings):
    with pytest.raises(ValueError, match="MICROSOFT_APP_TENANT_ID"):
        BotConfig(make_settings(MICROSOFT_APP_ID=APP_ID, MICROSOFT_APP_PASSWORD="pw"))
    config = BotConfig(make_settings(MICROSOFT_APP_ID=APP_ID, MICROSOFT_APP_PASSWORD="pw",
                                     MICROSOFT_APP_TENANT_ID="t1"))
    assert (config.APP_ID, config.APP_TYPE, config.APP_TENANTID) == (APP_ID, "SingleTenant", "t1")
    local = BotConfig(make_settings(NPSBOT_TEAMS_ENABLED="true"))
    assert (local.APP_ID, local.APP_TYPE) == ("", "MultiTenant")
