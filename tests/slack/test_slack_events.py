"""Events API: reactions on alerts and App Home, de-duplicated on event_id."""

import copy
import json

from sqlalchemy import func, select

from storage.db import read_scope
from storage.models import Event, FollowUp, SeenEvent
from tests.slack.conftest import fixture_json


def reaction(ts: str, *, name: str = "eyes", user: str = "U0RIA", channel: str = "C0CA5",
             event_id: str = "Ev0REACT01") -> dict:
    payload = copy.deepcopy(fixture_json("event_reaction_added.json"))
    payload["event_id"] = event_id
    payload["event"].update(reaction=name, user=user)
    payload["event"]["item"].update(channel=channel, ts=ts)
    return payload


def claims(rt) -> int:
    with read_scope(rt.engine) as s:
        return s.execute(select(func.count()).select_from(Event).where(Event.action == "claimed")).scalar_one()


async def test_eyes_claims_as_the_reacting_user(slack):
    ts = await slack.alert()
    slack.fake.users["U0RIA"] = {"id": "U0RIA", "name": "ria", "profile": {"display_name": "Ria"}}
    resp = await slack.event(reaction(ts))
    assert resp.status == 200
    await slack.fake.wait_for(lambda: claims(slack.rt) == 1)
    with read_scope(slack.rt.engine) as s:
        fu = s.get(FollowUp, 1)
    assert (fu.claimant_id, fu.claimant_name) == ("slack:U0RIA", "Ria")
    await slack.services.worker.drain(timeout=10)
    assert "*Claimed* by <@U0RIA>" in json.dumps(slack.fake.ok_calls("chat.update")[-1]["blocks"])


async def test_a_retried_event_acts_once_but_a_first_delivery_with_a_retry_header_acts(slack):
    ts = await slack.alert()
    # The first attempt never reached us; the retry (x-slack-retry-num: 1) is the first we see.
    first = await slack.event(reaction(ts, event_id="Ev0RETRY1"), retry_num=1)
    assert first.status == 200
    await slack.fake.wait_for(lambda: claims(slack.rt) == 1)
    # The same event again (Slack retrying after a slow answer), and once more: no second action.
    for n in (2, 3):
        again = await slack.event(reaction(ts, event_id="Ev0RETRY1", user="U0OTHER"), retry_num=n)
        assert again.status == 200
    await slack.services.worker.drain(timeout=10)
    with read_scope(slack.rt.engine) as s:
        assert s.get(FollowUp, 1).claimant_id == "slack:U0RIA"
        assert s.execute(select(func.count()).select_from(SeenEvent)).scalar_one() == 1
    assert claims(slack.rt) == 1
    assert slack.fake.ok_calls("chat.postEphemeral") == []  # nobody was told "already claimed"


async def test_white_check_mark_closes_as_resolved_and_a_losing_reaction_is_told_why(slack):
    ts = await slack.alert()
    await slack.event(reaction(ts, name="white_check_mark", event_id="Ev0CLOSE"))
    await slack.fake.wait_for(lambda: slack.services.dispatcher.handle_text(
        "show 1", *_someone()).alert.status == "closed")
    with read_scope(slack.rt.engine) as s:
        assert s.get(FollowUp, 1).outcome == "resolved"
    await slack.event(reaction(ts, name="eyes", user="U0LATE", event_id="Ev0LATE"))
    [told] = await slack.fake.wait_for(lambda: slack.fake.ok_calls("chat.postEphemeral"))
    assert told["user"] == "U0LATE" and told["channel"] == "C0CA5"
    assert "#1 is closed (resolved)" in told["text"]


def _someone():
    from bot.actors import Actor, Place

    return Actor("slack", "U0X", "x"), Place("slack", "C0CA5")


async def test_reactions_on_other_messages_or_other_emoji_do_nothing(slack):
    ts = await slack.alert()
    await slack.event(reaction("1111.2222", event_id="Ev0OTHER"))
    await slack.event(reaction(ts, name="tada", event_id="Ev0TADA"))
    await slack.services.worker.drain(timeout=5)
    assert claims(slack.rt) == 0
    with read_scope(slack.rt.engine) as s:
        assert s.execute(select(func.count()).select_from(SeenEvent)).scalar_one() == 0


async def test_app_home_opened_publishes_mine_the_queue_and_the_score(slack):
    await slack.alert()
    await slack.command("claim 1", user_id="U123ABC456", user_name="me", channel="C0CA5")
    await slack.fake.wait_for(lambda: claims(slack.rt) == 1)
    await slack.ingest({"id": "resp-2", "score": 4, "comment": "Too slow", "customer": {"id": "cus_7"}})
    resp = await slack.event(fixture_json("event_app_home_opened.json"))
    assert resp.status == 200
    [published] = await slack.fake.wait_for(lambda: slack.fake.ok_calls("views.publish"))
    assert published["user_id"] == "U123ABC456"
    view = published["view"]
    assert view["type"] == "home"
    text = json.dumps(view, ensure_ascii=False)
    assert "Your follow-ups (1)" in text and "Unclaimed (1)" in text and "NPS last 30 days" in text
    assert "#2 · 4/10 · cus_7" in text
