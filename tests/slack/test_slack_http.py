"""Slash commands and request security through the real POST /slack/events."""

import json
import time

from sqlalchemy import func, select

from storage.db import read_scope
from storage.models import Event, FollowUp, Subscription
from tests.slack.conftest import fixture_json


def count(rt, model) -> int:
    with read_scope(rt.engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


async def test_url_verification_answers_the_challenge(slack):
    payload = fixture_json("url_verification.json")
    resp = await slack.event(payload)
    assert resp.status == 200
    assert (await resp.json())["challenge"] == payload["challenge"]


async def test_help_is_answered_in_the_ack_and_ephemeral(slack):
    resp, key = await slack.command("help")
    assert resp.status == 200
    body = await resp.json()
    assert body["response_type"] == "ephemeral"
    assert "`/nps claim N`" in json.dumps(body["blocks"])
    assert [c.method for c in slack.fake.calls] in ([], ["auth.test"])  # the workspace, learnt once


async def test_unknown_command_gets_the_help_with_the_mistake_named(slack):
    resp, _ = await slack.command("frobnicate 3")
    body = await resp.json()
    assert body["response_type"] == "ephemeral"
    assert body["blocks"][0]["text"]["text"] == ":warning: I don't know the command `frobnicate`."
    resp, _ = await slack.command("claim twelve")
    assert "`twelve` is not a follow-up number" in (await resp.json())["blocks"][0]["text"]["text"]


async def test_subscribe_and_the_alert_arrives(slack):
    ts = await slack.alert("C0CA5")
    [post] = [p for p in slack.fake.ok_calls("chat.postMessage") if "blocks" in p]
    assert post["channel"] == "C0CA5" and post["_token"] == "Bearer xoxb-test"
    assert post["blocks"][0]["text"]["text"].startswith("#1 ·")
    assert post.get("link_names") is None and post["unfurl_links"] is False
    assert ts
    assert slack.services.dispatcher.followup_for_message("slack", "C0CA5", ts) == 1


async def test_alert_goes_only_to_channels_whose_filter_matches(slack):
    await slack.subscribe("C_ALL")
    await slack.subscribe("C_SMB", "segment=smb")
    await slack.subscribe("C_ZERO", "max_score=1")
    await slack.ingest({"id": "r1", "score": 3, "customer": {"id": "c1", "segment": "enterprise"}})
    await slack.services.worker.drain(timeout=10)
    channels = sorted(p["channel"] for p in slack.fake.ok_calls("chat.postMessage"))
    assert channels == ["C_ALL"]


async def test_commands_answer_ephemerally_through_response_url(slack):
    await slack.alert()
    resp, key = await slack.command("open", channel="C0CA5")
    assert resp.status == 200 and await resp.text() == ""
    [reply] = await slack.fake.wait_response(key)
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert "#1 · 2/10 · Acme Corp" in json.dumps(reply["blocks"], ensure_ascii=False)

    resp, key = await slack.command("claim 1", user_id="U777", user_name="maria", channel="C0CA5")
    [reply] = await slack.fake.wait_response(key)
    assert reply["text"] == "You claimed #1."
    await slack.services.worker.drain(timeout=10)
    [update] = slack.fake.ok_calls("chat.update")
    assert update["parse"] == "none" and update["channel"] == "C0CA5"
    assert "*Claimed* by <@U777>" in json.dumps(update["blocks"])
    thread = [p for p in slack.fake.ok_calls("chat.postMessage") if p.get("thread_ts")]
    assert [t["text"] for t in thread] == ["maria claimed #1."]


async def test_assign_with_a_bare_mention_looks_the_name_up(slack):
    await slack.alert()
    resp, key = await slack.command("assign 1 <@U0BOB>", channel="C0CA5")
    [reply] = await slack.fake.wait_response(key)
    assert reply["text"] == "#1 is now name-U0BOB's."
    with read_scope(slack.rt.engine) as s:
        fu = s.get(FollowUp, 1)
        assert (fu.claimant_id, fu.claimant_name) == ("slack:U0BOB", "name-U0BOB")


async def test_subscriptions_are_limited_to_admins_by_slack_user_id(make_settings, slack_env, clock, fake_slack):
    from bot.app import build_app, build_runtime, build_services
    from tests.conftest import serve
    from tests.slack.conftest import Slack

    rt = build_runtime(make_settings(**slack_env, NPSBOT_ADMINS="U0ADMIN"), clock=clock)
    services = build_services(rt)
    async with serve(build_app(services, run_workers=False)) as http:
        s = Slack(rt, services, http, fake_slack)
        resp, key = await s.command("subscribe alerts", user_id="U0OTHER")
        [reply] = await fake_slack.wait_response(key)
        assert "Only the people listed in NPSBOT_ADMINS" in reply["text"]
        assert count(rt, Subscription) == 0
        resp, key = await s.command("subscribe alerts", user_id="U0ADMIN")
        [reply] = await fake_slack.wait_response(key)
        assert "now gets an alert" in reply["text"]
    rt.engine.dispose()


async def test_forged_signature_and_stale_timestamp_are_refused_and_change_nothing(slack):
    await slack.alert()
    events_before = count(slack.rt, Event)
    calls_before = len(slack.fake.calls)
    responses_before = dict(slack.fake.responses)
    payload, _ = slack.action_payload("nps_claim", 1)

    forged = await slack.interactive(payload, secret="not-the-signing-secret")
    assert forged.status == 401
    stale = await slack.interactive(payload, timestamp=int(time.time()) - 6 * 60)
    assert stale.status == 401
    resp, _ = await slack.command("claim 1", timestamp=int(time.time()) - 6 * 60)
    assert resp.status == 401
    unsigned = await slack.http.post("/slack/events", data=b"payload=%7B%7D",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert unsigned.status == 401

    await slack.services.worker.drain(timeout=5)
    with read_scope(slack.rt.engine) as s:
        assert s.get(FollowUp, 1).status == "open"
    assert count(slack.rt, Event) == events_before
    assert len(slack.fake.calls) == calls_before and slack.fake.responses == responses_before
