"""Themes through the Slack door: a correction over signed requests, causes on close."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from bot.digest import build_digest
from storage.db import read_scope
from storage.models import Event, ThemeExample


async def _show(slack, number: int) -> str:
    resp, key = await slack.command(f"show {number}", channel="C0CA5")
    assert resp.status == 200
    [reply] = await slack.fake.wait_response(key)
    return json.dumps(reply)


async def test_a_correction_through_slack_changes_show_and_the_digest_and_teaches_later_comments(slack):
    await slack.alert(comment="The invoices never match the contract")
    assert "Theme: Price &amp; billing" in await _show(slack, 1)

    resp, key = await slack.command("theme 1 integrations", channel="C0CA5")
    assert resp.status == 200
    [reply] = await slack.fake.wait_response(key)
    assert "#1 is filed under Integrations." in reply["text"]
    shown = await _show(slack, 1)
    assert "Theme: Integrations" in shown and "Theme: Price" not in shown

    digest = build_digest(slack.rt, period_end=slack.rt.clock.now() + timedelta(minutes=1), with_chart=False)
    assert [(t.name, t.count) for t in digest.themes] == [("Integrations", 1)]
    with read_scope(slack.rt.engine) as s:
        [event] = s.execute(select(Event).where(Event.action == "theme")).scalars().all()
        [example] = s.execute(select(ThemeExample)).scalars().all()
    assert event.text == "Price & billing → Integrations" and event.actor_name == "steve"
    assert (example.theme, example.text) == ("Integrations", "The invoices never match the contract")

    resp, key = await slack.command("theme 1 nonsense", channel="C0CA5")
    [refusal] = await slack.fake.wait_response(key)
    assert "There is no theme `nonsense`" in refusal["text"]


async def test_close_with_a_cause_and_a_required_cause_is_refused_with_the_reason(slack):
    await slack.alert()
    slack.rt.settings.close_requires_cause = True
    resp, key = await slack.command("close 1 resolved called them", channel="C0CA5")
    [refusal] = await slack.fake.wait_response(key)
    assert "Closing needs a cause" in refusal["text"]
    resp, key = await slack.command('close 1 resolved cause="support" called them', channel="C0CA5")
    [done] = await slack.fake.wait_response(key)
    assert "#1 closed as resolved (cause: Support)." in done["text"]
    assert "Cause: Support" in await _show(slack, 1)


async def test_the_theme_select_on_the_alert_files_it_under_another_theme(slack):
    ts = await slack.alert()
    await slack.services.worker.drain(timeout=10)
    [post] = [p for p in slack.fake.ok_calls("chat.postMessage") if "blocks" in p]
    select_el = next(e for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]
                     if e.get("action_id") == "nps_theme_select")
    assert select_el["initial_option"]["text"]["text"] == "Support"  # "Support never answered my ticket"
    payload, key = slack.action_payload("nps_theme_select", 1, message_ts=ts, user_name="maria")
    option = next(o for o in select_el["options"] if o["text"]["text"] == "Ease of use")
    payload["actions"][0] = {"action_id": "nps_theme_select", "block_id": "nps_actions_1", "type": "static_select",
                             "selected_option": option, "action_ts": "1548426417.840180"}
    resp = await slack.interactive(payload)
    assert resp.status == 200
    [reply] = await slack.fake.wait_response(key)
    assert reply["text"] == "#1 is filed under Ease of use."
    assert "Theme: Ease of use" in await _show(slack, 1)
    await slack.services.worker.drain(timeout=10)
    update = slack.fake.ok_calls("chat.update")[-1]
    assert "Theme: Ease of use" in json.dumps(update["blocks"])


async def test_the_close_modal_offers_the_themes_as_cause_prefilled_with_the_assigned_one(slack):
    await slack.alert()
    await slack.click("nps_close", 1)
    [opened] = await slack.fake.wait_for(lambda: slack.fake.ok_calls("views.open"))
    cause = next(b for b in opened["view"]["blocks"] if b["block_id"] == "cause")
    assert cause["element"]["initial_option"]["value"] == "Support"
    submission = slack.submission("nps_close", 1, note="Called back", outcome="resolved")
    submission["view"]["state"]["values"]["cause"] = {"value": {"type": "static_select", "selected_option": {
        "text": {"type": "plain_text", "text": "Onboarding & implementation"},
        "value": "Onboarding & implementation"}}}
    resp = await slack.interactive(submission)
    assert resp.status == 200 and await resp.text() == ""
    assert "Cause: Onboarding &amp; implementation" in await _show(slack, 1)


async def test_the_digests_add_theme_button_adds_the_proposed_theme(slack):
    await slack.alert()
    payload, key = slack.action_payload("nps_theme_add", 1, user_name="maria")
    payload["actions"][0]["value"] = json.dumps({"name": "Invoices / pdf", "description": "Comments about pdf."})
    resp = await slack.interactive(payload)
    assert resp.status == 200
    [reply] = await slack.fake.wait_response(key)
    assert reply["text"] == "Added the theme `Invoices / pdf`; new comments can be filed under it from now on."
    resp, key = await slack.command("themes", channel="C0CA5")
    [listing] = await slack.fake.wait_response(key)
    assert "Invoices / pdf: 0" in listing["text"]
