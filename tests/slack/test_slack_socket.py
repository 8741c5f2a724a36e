"""`npsbot socket`: the same listeners over Socket Mode, against a fake apps.connections.open and
WebSocket on 127.0.0.1."""

import asyncio
import uuid
from urllib.parse import parse_qsl

from bot.app import build_runtime, build_services
from bot.ingest import ingest, validate_body
from handlers.slack.socket import run_socket
from tests.slack.conftest import FIXTURES


async def test_socket_mode_acknowledges_envelopes_and_runs_commands(make_settings, slack_env, clock, fake_slack):
    env = dict(slack_env, SLACK_APP_TOKEN="xapp-1-test")
    env.pop("SLACK_SIGNING_SECRET")
    rt = build_runtime(make_settings(**env), clock=clock)
    services = build_services(rt)
    stop = asyncio.Event()
    task = asyncio.create_task(run_socket(services, stop=stop, run_workers=True))
    try:
        await asyncio.wait_for(fake_slack.ws_connected.wait(), timeout=5)
        [opened] = fake_slack.ok_calls("apps.connections.open")
        assert opened["_token"] == "Bearer xapp-1-test"
        assert "slack" in services.worker.notifiers

        form = dict(parse_qsl((FIXTURES / "slash_command.txt").read_text()))
        await fake_slack.ws.send_json({"envelope_id": "env-help", "type": "slash_commands",
                                       "accepts_response_payload": True, "payload": dict(form, text="help")})
        [ack] = await fake_slack.wait_for(
            lambda: [m for m in fake_slack.ws_messages if m.get("envelope_id") == "env-help"])
        assert ack["payload"]["response_type"] == "ephemeral" and "`/nps claim N`" in str(ack["payload"])

        key = uuid.uuid4().hex
        await fake_slack.ws.send_json({"envelope_id": "env-sub", "type": "slash_commands",
                                       "accepts_response_payload": True,
                                       "payload": dict(form, text="subscribe alerts",
                                                       response_url=fake_slack.response_url(key))})
        [reply] = await fake_slack.wait_response(key)
        assert "now gets an alert" in reply["text"]
        await fake_slack.wait_for(lambda: any(m.get("envelope_id") == "env-sub" for m in fake_slack.ws_messages))

        # The delivery worker runs alongside: a detractor's alert reaches the subscribed channel.
        items, _ = validate_body({"id": "r1", "score": 1, "customer": {"id": "c1"}})
        await asyncio.to_thread(ingest, rt, items)
        [post] = await fake_slack.wait_for(
            lambda: [p for p in fake_slack.ok_calls("chat.postMessage") if "blocks" in p])
        assert post["channel"] == form["channel_id"]
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)
        rt.engine.dispose()
