"""Buttons, modals and App Home through signed block_actions / view_submission payloads."""

import asyncio
import json

from sqlalchemy import select

from storage.db import read_scope
from storage.models import Event, FollowUp


def followup(rt, number=1) -> FollowUp:
    with read_scope(rt.engine) as s:
        return s.get(FollowUp, number)


async def test_claim_button_claims_and_the_alert_is_updated_in_place(slack):
    ts = await slack.alert()
    resp, key = await slack.click("nps_claim", 1, user_id="U0MARIA", user_name="maria", message_ts=ts)
    assert resp.status == 200
    [reply] = await slack.fake.wait_response(key)
    assert reply == {"text": "You claimed #1.", "response_type": "ephemeral", "replace_original": False,
                     "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "You claimed #1.",
                                                             "verbatim": True}}]}
    assert followup(slack.rt).claimant_id == "slack:U0MARIA"
    await slack.services.worker.drain(timeout=10)
    [update] = slack.fake.ok_calls("chat.update")
    assert update["ts"] == ts
    blocks = json.dumps(update["blocks"])
    assert "*Claimed* by <@U0MARIA>" in blocks
    assert [b["action_id"] for b in update["blocks"][-1]["elements"]] == [
        "nps_note", "nps_close", "nps_theme_select", "nps_snooze"]
    [line] = [p for p in slack.fake.ok_calls("chat.postMessage") if p.get("thread_ts") == ts]
    assert line["text"] == "maria claimed #1."


async def test_twenty_simultaneous_claim_clicks_have_one_winner_and_the_others_are_told(slack):
    await slack.alert()
    clicks = [slack.click("nps_claim", 1, user_id=f"U{i:04d}", user_name=f"user{i}") for i in range(20)]
    results = await asyncio.gather(*clicks)
    assert all(resp.status == 200 for resp, _ in results)
    replies = [(await slack.fake.wait_response(key, timeout=15))[0] for _, key in results]
    texts = [r["blocks"][0]["text"]["text"] for r in replies]
    fu = followup(slack.rt)
    assert texts.count("You claimed #1.") == 1
    assert sorted(t for t in texts if t != "You claimed #1.") == [
        f":warning: #1 is already claimed by {fu.claimant_name}."] * 19
    assert all(r["response_type"] == "ephemeral" for r in replies)
    with read_scope(slack.rt.engine) as s:
        claims = s.execute(select(Event).where(Event.action == "claimed")).scalars().all()
    assert len(claims) == 1 and claims[0].actor_id == fu.claimant_id


async def test_add_note_opens_a_modal_and_the_submission_adds_the_note(slack):
    ts = await slack.alert()
    payload, _ = slack.action_payload("nps_note", 1, message_ts=ts)
    resp = await slack.interactive(payload)
    assert resp.status == 200
    [opened] = await slack.fake.wait_for(lambda: slack.fake.ok_calls("views.open"))
    assert opened["trigger_id"] == payload["trigger_id"]
    modal = opened["view"]
    assert modal["callback_id"] == "nps_note" and json.loads(modal["private_metadata"])["n"] == 1

    resp = await slack.interactive(slack.submission("nps_note", 1, note="Called them <!channel> *soon*"))
    assert resp.status == 200 and await resp.text() == ""
    assert followup(slack.rt).last_note == "Called them <!channel> *soon*"
    await slack.services.worker.drain(timeout=10)
    [update] = slack.fake.ok_calls("chat.update")
    assert "Last note: Called them &lt;!channel&gt; *soon*" in json.dumps(update["blocks"])
    [line] = [p for p in slack.fake.ok_calls("chat.postMessage") if p.get("thread_ts") == ts]
    assert line["text"] == "amy added a note: Called them &lt;!channel&gt; *soon*"


async def test_blank_note_is_refused_inside_the_modal(slack):
    await slack.alert()
    resp = await slack.interactive(slack.submission("nps_note", 1, note="   "))
    assert await resp.json() == {"response_action": "errors", "errors": {"note": "A note needs some text."}}
    assert followup(slack.rt).last_note is None


async def test_close_modal_closes_with_the_outcome_and_a_second_close_is_refused_in_the_modal(slack):
    await slack.alert()
    resp, _ = await slack.click("nps_close", 1)
    [opened] = await slack.fake.wait_for(lambda: slack.fake.ok_calls("views.open"))
    assert opened["view"]["callback_id"] == "nps_close"
    resp = await slack.interactive(slack.submission("nps_close", 1, note="Refunded", outcome="recovered"))
    assert resp.status == 200 and await resp.text() == ""
    fu = followup(slack.rt)
    assert (fu.status, fu.outcome, fu.last_note) == ("closed", "recovered", "Refunded")
    resp = await slack.interactive(slack.submission("nps_close", 1, note=None, outcome="churned"))
    assert await resp.json() == {"response_action": "errors",
                                 "errors": {"outcome": "#1 is already closed (recovered)."}}

    await slack.services.worker.drain(timeout=10)
    update = slack.fake.ok_calls("chat.update")[-1]
    assert ":white_check_mark: *Closed* as recovered" in json.dumps(update["blocks"])
    assert [b["action_id"] for b in update["blocks"][-1]["elements"]] == ["nps_note", "nps_reopen", "nps_theme_select"]

    resp, key = await slack.click("nps_reopen", 1)
    [reply] = await slack.fake.wait_response(key)
    assert reply["text"] == "#1 is open again."
    assert followup(slack.rt).status == "open"


async def test_claim_from_app_home_republishes_home_with_the_result(slack):
    await slack.alert()
    payload, _ = slack.action_payload("nps_claim", 1, home=True, user_id="U0HOME", user_name="homer")
    resp = await slack.interactive(payload)
    assert resp.status == 200
    [published] = await slack.fake.wait_for(lambda: slack.fake.ok_calls("views.publish"))
    assert published["user_id"] == "U0HOME"
    text = json.dumps(published["view"], ensure_ascii=False)
    assert "You claimed #1." in text and "Your follow-ups (1)" in text
    assert followup(slack.rt).claimant_id == "slack:U0HOME"
