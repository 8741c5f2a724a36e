"""An acknowledged click survives `kill -9`: a real `npsbot serve` acks a flood of Claim clicks, is
killed before it has applied them all, and the restarted process applies every one (the inbox)."""

import asyncio
import json
import signal
import uuid
from urllib.parse import urlencode

import aiohttp
from sqlalchemy import func, select

from bot.actors import Actor, Place
from bot.app import build_runtime, build_services
from storage.db import read_scope
from storage.models import FollowUp, Inbox
from tests.slack.conftest import fixture_json, signed_headers
from tests.test_faults_crash import TOKEN, fake, free_port, post_detractors, start_server  # noqa: F401

CLICKS = 40


def click_body(number: int) -> str:
    payload = fixture_json("block_actions.json")
    payload["user"].update(id=f"U{number:05d}", username=f"user{number}", name=f"user{number}")
    payload["actions"][0].update(action_id="nps_claim", value=str(number))
    payload["channel"]["id"] = payload["container"]["channel_id"] = "C1"
    payload["trigger_id"] = uuid.uuid4().hex
    payload.pop("response_url", None)
    return urlencode({"payload": json.dumps(payload)})


def claimed(settings) -> int:
    rt = build_runtime(settings, migrate=False)
    with read_scope(rt.engine) as s:
        count = s.execute(select(func.count()).select_from(FollowUp).where(FollowUp.status == "claimed")).scalar_one()
    rt.engine.dispose()
    return count


def settled(settings) -> bool:
    """Every claim applied and every inbox row marked done (the mark commits just after the claim)."""
    rt = build_runtime(settings, migrate=False)
    with read_scope(rt.engine) as s:
        pending = s.execute(select(func.count()).select_from(Inbox).where(Inbox.status == "pending")).scalar_one()
    rt.engine.dispose()
    return pending == 0 and claimed(settings) == CLICKS


async def test_claims_acknowledged_before_kill_9_are_applied_after_restart(make_settings, db_url, fake):  # noqa: F811
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "NPSBOT_", "MICROSOFT_"))}
    env.update({"DATABASE_URL": db_url, "NPSBOT_WEBHOOK_TOKEN": TOKEN, "SLACK_BOT_TOKEN": "xoxb-test",
                "SLACK_SIGNING_SECRET": "secret", "SLACK_API_URL": fake.api_url,
                "NPSBOT_SLACK_POST_INTERVAL": "0", "NPSBOT_INBOX_LEASE_SECONDS": "2",
                "NPSBOT_OUTBOX_POLL_SECONDS": "0.2"})
    settings = make_settings()
    rt = build_runtime(settings)
    build_services(rt).dispatcher.handle_text("subscribe alerts", Actor("slack", "U1", "ann"), Place("slack", "C1"))
    rt.engine.dispose()
    fake.fail_next(10_000, methods=("users.info", "chat.postEphemeral"), status=503)  # slow the replies down

    port = free_port()
    server = start_server(env, port)
    try:
        await post_detractors(port, CLICKS)
        async with aiohttp.ClientSession() as http:
            async def click(n: int) -> int:
                body = click_body(n)
                async with http.post(f"http://127.0.0.1:{port}/slack/events", data=body.encode(),
                                     headers=signed_headers(body, content_type="application/x-www-form-urlencoded",
                                                            secret="secret")) as resp:
                    return resp.status

            statuses = await asyncio.gather(*(click(n) for n in range(1, CLICKS + 1)))
        assert statuses == [200] * CLICKS  # every click acknowledged
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        before = claimed(settings)
        print(f"claimed before the kill: {before} of {CLICKS}")
        assert before < CLICKS, "every claim was applied before the kill: nothing left to test"

        server = start_server(env, port)
        for _ in range(600):
            if settled(settings):
                break
            await asyncio.sleep(0.1)
    finally:
        server.kill()
        server.wait(timeout=10)
    assert claimed(settings) == CLICKS, f"{CLICKS - claimed(settings)} acknowledged claims lost ({before} before)"
    rt = build_runtime(settings, migrate=False)
    with read_scope(rt.engine) as s:
        assert s.execute(select(func.count()).select_from(Inbox).where(Inbox.status == "pending")).scalar_one() == 0
        claimants = set(s.execute(select(FollowUp.id, FollowUp.claimant_id)).all())
    rt.engine.dispose()
    assert claimants == {(n, f"slack:U{n:05d}") for n in range(1, CLICKS + 1)}
