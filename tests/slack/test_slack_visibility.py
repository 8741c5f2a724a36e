"""Visibility through the Slack door: a follow-up is seen and changed only where it was alerted
(a channel), from a DM by members of such a channel (asked of conversations.members), and by admins
everywhere. Refusals say why without the customer or the comment."""

import json

from storage.db import read_scope
from storage.models import FollowUp
from tests.slack.conftest import Slack

SECRET_COMMENT = "Enterprise contract renegotiation leaked"


async def restricted_alert(slack: Slack) -> None:
    """#1 is alerted only in the enterprise channel C0ENT; #general (C0GEN) gets other segments."""
    await slack.subscribe("C0ENT", "segment=enterprise")
    await slack.subscribe("C0GEN", "segment=smb")
    await slack.ingest({"id": "r1", "score": 1, "comment": SECRET_COMMENT,
                        "customer": {"id": "c1", "name": "Initech", "segment": "enterprise"}})
    await slack.services.worker.drain(timeout=10)


async def reply_to(slack: Slack, text: str, **kw) -> dict:
    _, key = await slack.command(text, **kw)
    [reply] = await slack.fake.wait_response(key)
    return reply


async def test_another_channel_can_neither_see_nor_change_a_restricted_follow_up(slack):
    await restricted_alert(slack)
    for verb in ("show 1", "claim 1", "close 1", "reopen 1", "note 1 hi", "assign 1 @bob"):
        reply = await reply_to(slack, verb, channel="C0GEN")
        text = json.dumps(reply)
        assert "was not alerted in this channel" in reply["text"], verb
        assert "Initech" not in text and SECRET_COMMENT not in text
    listing = json.dumps(await reply_to(slack, "open", channel="C0GEN"))
    assert "Initech" not in listing and "#1" not in listing
    with read_scope(slack.rt.engine) as s:
        assert s.get(FollowUp, 1).status == "open"
    # In the channel where it was alerted, it works.
    assert (await reply_to(slack, "claim 1", channel="C0ENT"))["text"] == "You claimed #1."


async def test_from_a_dm_only_members_of_an_alert_channel_see_it(slack):
    await restricted_alert(slack)
    slack.fake.members["C0ENT"] = ["U0MARIA"]
    outsider = await reply_to(slack, "show 1", channel="D0OUT", user_id="U0BOB")
    assert "channels you are not in" in outsider["text"] and SECRET_COMMENT not in json.dumps(outsider)
    member = await reply_to(slack, "show 1", channel="D0MAR", user_id="U0MARIA")
    assert SECRET_COMMENT in json.dumps(member, ensure_ascii=False)


async def test_membership_is_cached_between_requests(slack):
    await restricted_alert(slack)
    for _ in range(3):
        await reply_to(slack, "open", channel="D0MAR", user_id="U0MARIA")
    lookups = [c.params["channel"] for c in slack.fake.all_calls("conversations.members")]
    assert lookups == ["C0ENT"]  # the one channel #1 was alerted in, asked once


async def test_admins_see_everything_everywhere_and_only_admins_post_unscheduled_digests(
        make_settings, slack_env, clock, fake_slack):
    from bot.app import build_app, build_runtime, build_services
    from tests.conftest import serve

    rt = build_runtime(make_settings(**slack_env, NPSBOT_ADMINS="U0ADMIN"), clock=clock)
    services = build_services(rt)
    async with serve(build_app(services, run_workers=False)) as http:
        slack = Slack(rt, services, http, fake_slack)
        for channel, segment in (("C0ENT", "enterprise"), ("C0GEN", "smb")):
            reply = await reply_to(slack, f"subscribe alerts segment={segment}", channel=channel, user_id="U0ADMIN")
            assert "now gets an alert" in reply["text"]
        await slack.ingest({"id": "r1", "score": 1, "comment": SECRET_COMMENT,
                            "customer": {"id": "c1", "name": "Initech", "segment": "enterprise"}})
        await services.worker.drain(timeout=10)
        shown = await reply_to(slack, "show 1", channel="C0GEN", user_id="U0ADMIN")
        assert SECRET_COMMENT in json.dumps(shown, ensure_ascii=False)
        refused = await reply_to(slack, "digest now", channel="C0GEN", user_id="U0BOB")
        assert "only the people listed in NPSBOT_ADMINS" in refused["text"]
        allowed = await reply_to(slack, "digest now", channel="C0GEN", user_id="U0ADMIN")
        assert "Building the digest" in allowed["text"]
    rt.engine.dispose()
