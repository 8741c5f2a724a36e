"""App Home with a long queue, through the signed /slack/events door: both sections always show,
each cut with "… and N more"."""

from __future__ import annotations

import json

from bot.actors import Actor, Place

from .conftest import fixture_json


async def test_app_home_with_many_follow_ups_keeps_both_sections_and_says_how_many_more(slack):
    await slack.ingest(*[{"id": f"r{i}", "score": 3, "customer": {"id": f"cus_{i}"}} for i in range(140)])
    me, place = Actor("slack", "U123ABC456", "me"), Place("slack", "C1")
    for n in range(1, 111):
        slack.services.dispatcher.handle_text(f"claim {n}", me, place)
    resp = await slack.event(fixture_json("event_app_home_opened.json"))
    assert resp.status == 200
    [published] = await slack.fake.wait_for(lambda: slack.fake.ok_calls("views.publish"))
    view = published["view"]
    assert len(view["blocks"]) <= 100
    text = json.dumps(view, ensure_ascii=False)
    assert "Unclaimed (30)" in text and "#111 · 3/10" in text
    assert "Your follow-ups (110)" in text
    assert "… and 85 more; `/nps mine` lists them." in text


def test_home_cut_to_100_blocks_still_shows_the_unclaimed_section():
    from bot.views import HomeView
    from handlers.slack import blocks
    from tests.slack.test_slack_blocks import CLAIMED, alert, score_view

    mine = tuple(alert(number=n, **CLAIMED) for n in range(1, 120))
    queue = tuple(alert(number=n) for n in range(200, 320))
    home = blocks.home_view(HomeView(mine=mine, unclaimed=queue, unclaimed_total=300, score=score_view()))
    text = json.dumps(home, ensure_ascii=False)
    assert len(home["blocks"]) <= 100
    assert "Unclaimed (300)" in text and "#200 · " in text
    assert "`/nps mine` lists them." in text and "`/nps unclaimed` lists them." in text
