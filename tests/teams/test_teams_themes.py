"""Themes through the Teams door: the alert's Theme card and the cause on the close card."""

from __future__ import annotations

from bot.queries import alert_view
from storage.db import read_scope

from .test_teams_flow import alert_posted, blocks_of


async def test_the_theme_card_refiles_the_alert_and_the_close_card_takes_a_cause(teams, rt):
    alert_id = await alert_posted(teams)

    async def execute(verb, title, **inputs):
        status, body = await teams.post("invoke_adaptive_card_action", ALERT_ID=alert_id, TITLE=title,
                                        VERB=verb, DATA={"npsbot": verb, "n": 1, **inputs})
        assert status == 200
        return body

    refiled = await execute("theme", "Set theme", theme_name="Price & billing")
    texts = [r["text"] for r in blocks_of(refiled["value"], "TextRun")]
    assert "Theme: Price & billing" in texts
    close_card = next(a for a in refiled["value"]["actions"] if a["title"] == "Close")["card"]
    [cause] = [b for b in close_card["body"] if b["id"] == "close_cause"]
    assert cause["value"] == "Price & billing"  # prefilled with the follow-up's theme
    closed = await execute("close", "Close #1", close_outcome="resolved", close_note="", close_cause="Support")
    assert "Theme: Price & billing · Cause: Support" in [r["text"] for r in blocks_of(closed["value"], "TextRun")]
    with read_scope(rt.engine) as s:
        view = alert_view(s, 1, settings=rt.settings, now=rt.clock.now())
    assert (view.theme, view.cause) == ("Price & billing", "Support")


async def test_the_digest_cards_add_theme_action_adds_the_proposed_theme(teams, rt):
    alert_id = await alert_posted(teams)
    data = {"npsbot": "themes add", "name": "Invoices / pdf", "description": "Comments about invoices, pdf."}
    status, body = await teams.post("invoke_adaptive_card_action", ALERT_ID=alert_id, TITLE="Add theme",
                                    VERB="themes add", DATA=data)
    assert status == 200
    assert body["value"] == "Added the theme `Invoices / pdf`; new comments can be filed under it from now on."
    from bot.theme_service import theme_counts
    assert ("Invoices / pdf", 0) in theme_counts(rt)
    status, body = await teams.post("invoke_adaptive_card_action", ALERT_ID=alert_id, TITLE="Add theme",
                                    VERB="themes add", DATA=data)
    assert body["value"] == "There is already a theme `Invoices / pdf`."
