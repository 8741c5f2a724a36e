"""Themes through the Slack door: a correction over signed requests, causes on close."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from bot.digest import build_digest
from storage.db import read_scope
from storage.models import Event, ThemeExample


async def _show(slack, number: int) -> str:
    resp, key = await slack.command(f"show {number}")
    assert resp.status == 200
    [reply] = await slack.fake.wait_response(key)
    return json.dumps(reply)


async def test_a_correction_through_slack_changes_show_and_the_digest_and_teaches_later_comments(slack):
    await slack.alert(comment="The invoices never match the contract")
    assert "Theme: Price &amp; billing" in await _show(slack, 1)

    resp, key = await slack.command("theme 1 integrations")
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

    resp, key = await slack.command("theme 1 nonsense")
    [refusal] = await slack.fake.wait_response(key)
    assert "There is no theme `nonsense`" in refusal["text"]


async def test_close_with_a_cause_and_a_required_cause_is_refused_with_the_reason(slack):
    await slack.alert()
    slack.rt.settings.close_requires_cause = True
    resp, key = await slack.command("close 1 resolved called them")
    [refusal] = await slack.fake.wait_response(key)
    assert "Closing needs a cause" in refusal["text"]
    resp, key = await slack.command('close 1 resolved cause="support" called them')
    [done] = await slack.fake.wait_response(key)
    assert "#1 closed as resolved (cause: Support)." in done["text"]
    assert "Cause: Support" in await _show(slack, 1)
