"""Routing, ownership and escalation through Slack's door: signed `/nps` commands, the alert's
snooze menu, a fake `users.lookupByEmail`, and the follow-ups they route."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from bot.escalation import escalate_due
from bot.reminders import send_reminders
from storage.db import read_scope
from storage.models import Event, FollowUp, Subscription

ALICE = {"id": "U0ALICE", "name": "alice", "profile": {"email": "alice@acme.example", "display_name": "alice"}}


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)


async def say(slack, text: str, channel: str = "C0CA5", **kw) -> str:
    """The answer to `/nps text`: in the acknowledgement (a command not understood) or posted after it."""
    resp, key = await slack.command(text, channel=channel, **kw)
    assert resp.status == 200
    if (await resp.text()).strip():
        return (await resp.json())["text"]
    [reply] = await slack.fake.wait_response(key)
    return reply["text"]


def answer(n: int, score: int = 3, **extra) -> dict:
    body = {"id": f"r{n}", "score": score, "comment": "Support never answered my ticket",
            "customer": {"id": f"c{n}", "name": f"Customer {n}", "arr": 60000, "owner": "alice@acme.example"},
            "tags": {"region": "EMEA"}}
    for key, value in extra.items():
        if key in ("arr", "owner", "segment"):
            body["customer"][key] = value
        else:
            body[key] = value
    return body


def alert_posts(slack, channel: str) -> list[dict]:
    return [p for p in slack.fake.ok_calls("chat.postMessage") if p["channel"] == channel and "blocks" in p]


def followup(slack, number: int) -> FollowUp:
    with read_scope(slack.rt.engine) as s:
        return s.get(FollowUp, number)


def trail(slack, number: int) -> list[tuple[str, str | None]]:
    with read_scope(slack.rt.engine) as s:
        return [(e.action, e.text) for e in s.execute(
            select(Event).where(Event.followup_id == number).order_by(Event.id)).scalars()]


# -- 1. filters ---------------------------------------------------------------------------------
async def test_every_condition_of_a_channels_filter_must_hold(slack):
    reply = await say(slack, 'subscribe alerts min_arr=50000 theme=support tag.region=EMEA', channel="C0BIG")
    assert reply == ("This channel now gets an alert for every response scoring 6 or less from every segment, "
                     "from customers with ARR of at least 50,000, about Support, tagged region=EMEA.")
    await say(slack, "subscribe alerts", channel="C0ALL")
    await slack.ingest(
        answer(1),                                             # all conditions hold
        answer(2, arr=20000),                                  # ARR too low
        answer(3, tags={"region": "APAC"}),                    # another region
        answer(4, comment="The price went up again"),          # another theme
    )
    await slack.services.worker.drain(timeout=10)
    big = [dumps(p["blocks"]) for p in alert_posts(slack, "C0BIG")]
    assert len(big) == 1 and "#1 ·" in big[0]
    assert len(alert_posts(slack, "C0ALL")) == 4


async def test_subscribe_alone_shows_the_filter_in_words(slack):
    assert await say(slack, "subscribe") == "This channel gets no alerts; `subscribe alerts` starts them."
    await say(slack, "subscribe alerts segment=renewal max_score=4 tag.plan=pro")
    assert await say(slack, "subscribe") == (
        "This channel gets an alert for every response scoring 4 or less from segment renewal, tagged plan=pro.")


async def test_a_bad_filter_is_named_and_changes_nothing(slack):
    await say(slack, "subscribe alerts max_score=5")
    for text, mistake in [
        ("subscribe alerts min_arr=lots", "`min_arr=lots` must be an amount of 0 or more"),
        ("subscribe alerts theme=Weather", "`theme=Weather` is not a theme I know"),
        ("subscribe alerts region=EMEA", "`subscribe alerts` does not understand `region=EMEA`"),
    ]:
        assert mistake in await say(slack, text)
    with read_scope(slack.rt.engine) as s:
        sub = s.execute(select(Subscription)).scalar_one()
    assert (sub.max_score, sub.min_arr, sub.theme, sub.tag_filter) == (5, None, None, None)


# -- 2. owner mention ---------------------------------------------------------------------------
async def test_the_owner_is_mentioned_when_their_email_is_a_slack_user_and_lookups_are_cached(slack):
    slack.fake.users["U0ALICE"] = ALICE
    await say(slack, "subscribe alerts")
    await slack.ingest(answer(1, comment="<@U0BOSS> <!channel> *call me*"), answer(2),
                       answer(3, owner="nobody@acme.example"))
    await slack.services.worker.drain(timeout=10)
    posts = [dumps(p["blocks"]) for p in alert_posts(slack, "C0CA5")]
    assert "Owner: <@U0ALICE>" in posts[0] and "Owner: <@U0ALICE>" in posts[1]
    assert "<@" not in posts[2]  # an unknown owner is plain text
    # Customer text stays inert: the only mention in the message is the owner's.
    assert "<@U0BOSS>" not in posts[0] and "&lt;@U0BOSS&gt;" in posts[0] and "<!channel>" not in posts[0]
    lookups = slack.fake.all_calls("users.lookupByEmail")
    assert len(lookups) == 2  # alice once (cached), nobody once (cached as unknown)
    # The cache expires: a day later the owner is looked up again.
    slack.rt.clock.advance(days=1)
    await slack.ingest(answer(4))
    await slack.services.worker.drain(timeout=10)
    assert len(slack.fake.all_calls("users.lookupByEmail")) == 3


async def test_a_failing_lookup_never_holds_up_the_alert(slack):
    slack.fake.fail_next(5, methods=("users.lookupByEmail",), status=500)
    await say(slack, "subscribe alerts")
    await slack.ingest(answer(1))
    await slack.services.worker.drain(timeout=10)
    [post] = alert_posts(slack, "C0CA5")
    assert "Owner: alice@acme.example" in dumps(post["blocks"]) and "<@" not in dumps(post["blocks"])


# -- 3. duty rotation ---------------------------------------------------------------------------
async def test_the_rotation_hands_over_at_monday_midnight_in_the_channels_zone_across_dst(slack):
    # Berlin leaves summer time on Sunday 25 October 2026: that Monday starts at 23:00 UTC.
    slack.rt.clock.set(datetime(2026, 10, 20, 9, 0, tzinfo=UTC))
    await say(slack, "subscribe alerts")
    await say(slack, "digest schedule mon 09:00 Europe/Berlin")
    reply = await say(slack, "duty <@U0AMY|amy> <@U0BOB|bob>")
    assert "On duty now: amy; next: bob from Monday 2026-10-26 00:00 (Europe/Berlin)" in reply

    slack.rt.clock.set(datetime(2026, 10, 25, 22, 59, 59, tzinfo=UTC))  # Sunday 23:59:59 CET
    await slack.ingest(answer(1))
    slack.rt.clock.set(datetime(2026, 10, 25, 23, 0, tzinfo=UTC))  # Monday 00:00 CET
    await slack.ingest(answer(2))
    assert (followup(slack, 1).claimant_id, followup(slack, 2).claimant_id) == ("slack:U0AMY", "slack:U0BOB")
    assert ("assigned by rotation", "to amy") in trail(slack, 1)
    assert await say(slack, "duty") == ("On duty now: bob; next: amy from Monday 2026-11-02 00:00 (Europe/Berlin). "
                                        "Rotation: amy, bob.")
    await slack.services.worker.drain(timeout=10)
    dms = {p["channel"]: p["text"] for p in slack.fake.ok_calls("chat.postMessage") if p["channel"].startswith("U0")}
    assert "#1 was assigned to you by the rotation" in dms["U0AMY"]
    assert "#2 was assigned to you by the rotation" in dms["U0BOB"]
    [post] = [p for p in alert_posts(slack, "C0CA5") if "#2 ·" in dumps(p["blocks"])]
    assert "*Claimed* by <@U0BOB>" in dumps(post["blocks"])

    # Spring: Berlin starts summer time on Sunday 28 March 2027, so Monday 29 March 00:00 CEST is
    # 22:00 UTC on the Sunday.
    slack.rt.clock.set(datetime(2027, 3, 28, 21, 59, tzinfo=UTC))
    await slack.ingest(answer(3))
    slack.rt.clock.set(datetime(2027, 3, 28, 22, 0, tzinfo=UTC))
    await slack.ingest(answer(4))
    # 22 weeks after the first Monday (even: amy) then week 23 (odd: bob).
    assert (followup(slack, 3).claimant_name, followup(slack, 4).claimant_name) == ("amy", "bob")

    assert "duty rotation is off" in await say(slack, "duty off")
    await slack.ingest(answer(5))
    assert followup(slack, 5).status == "open"


async def test_two_channels_with_rotations_the_first_subscribed_wins(slack):
    await say(slack, "subscribe alerts", channel="C0ONE")
    await say(slack, "subscribe alerts", channel="C0TWO")
    await say(slack, "duty <@U0TWO|two>", channel="C0TWO")
    await say(slack, "duty <@U0ONE|one>", channel="C0ONE")
    await slack.ingest(answer(1))
    assert followup(slack, 1).claimant_name == "one"


async def test_duty_names_people_slack_sent_without_a_name(slack):
    slack.fake.users["U0AMY"] = {"id": "U0AMY", "name": "amy", "profile": {"display_name": "Amy P"}}
    assert "On duty now: Amy P; next: name-U0BOB" in await say(slack, "duty <@U0AMY> <@U0BOB>")


async def test_duty_errors_are_named(slack):
    assert "`amy` is not a person" in await say(slack, "duty amy")
    assert "no duty rotation" in await say(slack, "duty")


# -- 4. escalation and 5. snooze ----------------------------------------------------------------
async def test_an_unclaimed_follow_up_is_escalated_once_and_its_buttons_work_there(slack):
    await say(slack, "subscribe alerts")
    reply = await say(slack, "escalate to <#C0ESC|cx-leads> after 24h")
    assert reply == ("Follow-ups alerted here and still unclaimed 24 hours after they opened will be posted to "
                     "#cx-leads, once.")
    await slack.ingest(answer(1))
    await slack.services.worker.drain(timeout=10)
    slack.rt.clock.advance(hours=23, minutes=59)
    assert escalate_due(slack.rt) == 0
    slack.rt.clock.advance(minutes=2)
    assert escalate_due(slack.rt) == 1
    assert escalate_due(slack.rt) == 0  # once
    await slack.services.worker.drain(timeout=10)
    [escalated] = alert_posts(slack, "C0ESC")
    blocks = dumps(escalated["blocks"])
    assert ":arrow_double_up: *escalated*" in blocks and "nps_claim" in blocks
    [update] = [u for u in slack.fake.ok_calls("chat.update") if u["channel"] == "C0CA5"]
    assert "*escalated*" in dumps(update["blocks"])
    assert ("escalated", "unclaimed for 24 hours") in trail(slack, 1)

    # Claim from the escalation channel: both copies show it.
    esc_ts = slack.posted_ts()
    resp, key = await slack.click("nps_claim", 1, channel="C0ESC", message_ts=esc_ts, user_id="U0LEAD")
    assert (await slack.fake.wait_response(key))[0]["text"] == "You claimed #1."
    await slack.services.worker.drain(timeout=10)
    updated = {u["channel"] for u in slack.fake.ok_calls("chat.update") if "U0LEAD" in dumps(u["blocks"])}
    assert updated == {"C0CA5", "C0ESC"}

    assert await say(slack, "escalate off") == "Escalation from this channel is off."


async def test_escalation_errors_are_named_and_change_nothing(slack):
    await say(slack, "subscribe alerts")
    assert "`#general` is not a channel I can post in" in await say(slack, "escalate to #general after 24h")
    assert "`3x` is not a duration; use 30m, 24h or 3d" in await say(slack, "escalate to <#C0ESC|x> after 3x")
    assert "`escalate` takes `to #channel after 24h` or `off`" in await say(slack, "escalate C0ESC")
    with read_scope(slack.rt.engine) as s:
        assert s.execute(select(Subscription.escalate_to)).scalar_one() is None


async def test_a_snoozed_follow_up_gets_neither_reminder_nor_escalation(slack):
    await say(slack, "subscribe alerts")
    await say(slack, "escalate to <#C0ESC|cx-leads> after 24h")
    await slack.ingest(answer(1), answer(2))
    await slack.services.worker.drain(timeout=10)
    reply = await say(slack, "snooze 1 3d")
    assert reply == "#1 is snoozed until 2026-11-23 12:00 UTC: no reminders or escalation till then."
    assert "`3x` is not a duration; use 30m, 24h or 3d" in await say(slack, "snooze 1 3x")
    await slack.services.worker.drain(timeout=10)
    [update] = [u for u in slack.fake.ok_calls("chat.update") if u["channel"] == "C0CA5"]
    assert ":zzz: snoozed until 2026-11-23 12:00 UTC" in dumps(update["blocks"])

    slack.rt.clock.advance(hours=30)
    assert escalate_due(slack.rt) == 1  # #2 only
    assert send_reminders(slack.rt) == 1  # #2 only
    assert followup(slack, 1).claim_reminded_at is None
    with read_scope(slack.rt.engine) as s:
        from storage.models import Escalation
        assert s.execute(select(Escalation.followup_id)).scalars().all() == [2]

    # The snooze menu on the alert ends it; then #1 escalates like any other.
    payload, key = slack.action_payload("nps_snooze", 1)
    payload["actions"][0] = {"type": "overflow", "action_id": "nps_snooze", "block_id": "nps_actions_1",
                             "selected_option": {"text": {"type": "plain_text", "text": "End snooze"},
                                                 "value": "1:off"}, "action_ts": "1548426417.840180"}
    assert (await slack.interactive(payload)).status == 200
    assert (await slack.fake.wait_response(key))[0]["text"] == "#1 is no longer snoozed."
    assert escalate_due(slack.rt) == 1


async def test_the_snooze_menu_snoozes_for_the_chosen_time(slack):
    await slack.alert()
    payload, key = slack.action_payload("nps_snooze", 1)
    payload["actions"][0] = {"type": "overflow", "action_id": "nps_snooze", "block_id": "nps_actions_1",
                             "selected_option": {"text": {"type": "plain_text", "text": "Snooze 7 days"},
                                                 "value": "1:7d"}, "action_ts": "1548426417.840180"}
    await slack.interactive(payload)
    assert "snoozed until 2026-11-27 12:00 UTC" in (await slack.fake.wait_response(key))[0]["text"]
    assert await say(slack, "snooze 1 off") == "#1 is no longer snoozed."
    assert await say(slack, "snooze 1 7d") == (
        "#1 is snoozed until 2026-11-27 12:00 UTC: no reminders or escalation till then.")
    assert followup(slack, 1).snoozed_until is not None
    assert ("snoozed", "until 2026-11-27 12:00 UTC") in trail(slack, 1)


# -- 6. App Home --------------------------------------------------------------------------------
async def test_app_home_lists_what_the_rotation_assigned_to_me(slack):
    await say(slack, "subscribe alerts")
    await say(slack, "duty <@U0AMY|amy>")
    await slack.ingest(answer(1))
    event = {"token": "x", "team_id": "T0CAG", "api_app_id": "A0CA5", "type": "event_callback",
             "event_id": "Ev0HOME1", "event_time": 1, "event": {"type": "app_home_opened", "user": "U0AMY",
                                                                  "channel": "D0AMY", "tab": "home"}}
    assert (await slack.event(event)).status == 200
    [published] = await slack.fake.wait_for(lambda: slack.fake.ok_calls("views.publish") or None)
    home = dumps(published["view"]["blocks"])
    assert "Your follow-ups (1)" in home and "#1 · 3/10" in home
