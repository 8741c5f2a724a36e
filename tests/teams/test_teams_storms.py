"""Storm control in Teams: the minute's extra alerts in one card, updated in place."""

import re

from sqlalchemy import select

from bot.actors import Actor, Place
from storage.db import read_scope

from .conftest import CHANNEL, card_of
from .test_teams_flow import blocks_of


def detractors(n: int, prefix: str = "r") -> list[dict]:
    return [{"id": f"{prefix}{i}", "score": i % 7, "comment": f"Problem number {i} *again* <!channel> & more words",
             "customer": {"id": f"cus_{prefix}{i}", "name": f"Customer {i}"}} for i in range(n)]


async def test_teams_gets_the_same_summary_card_updated_in_place(teams, rt, monkeypatch):
    await teams.post("installation_update_team")
    await teams.post("message_channel_mention", COMMAND="subscribe alerts")
    monkeypatch.setattr(rt.settings, "alert_burst", 3)
    resp = await teams.client.post("/webhooks/responses", json=detractors(8),
                                   headers={"Authorization": "Bearer test-token"})
    assert resp.status == 202
    teams.connector.clear()
    await teams.drain()
    posts = teams.connector.posts(CHANNEL)
    assert len(posts) == 4
    summary = posts[-1]
    runs = [r["text"] for r in blocks_of(card_of(summary), "TextRun")]
    assert [int(re.match(r"#(\d+)", r).group(1)) for r in runs] == [4, 5, 6, 7, 8]
    assert "<!channel>" in runs[0]  # a TextRun shows it literally; Teams never parses it
    teams.services.dispatcher.handle_text("claim 6", Actor("teams", "u1", "Sam"), Place("teams", CHANNEL))
    await teams.drain()
    updated = [u for u in teams.connector.updates() if u.activity_id == summary_id(teams, posts)]
    assert updated and "claimed by Sam" in str(card_of(updated[-1]))


def summary_id(teams, posts) -> str:
    from storage.models import AlertStorm

    with read_scope(teams.services.rt.engine) as s:
        return s.execute(select(AlertStorm.message_ref)).scalar_one()
