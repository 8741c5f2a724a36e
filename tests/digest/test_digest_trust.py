"""A digest a CX lead can trust: the margin says what it is, "recovered" is defined where it is
shown, closes are broken down by outcome, the claim SLA is reported with the SLA stated, the
chart's headline is tested like the text, and many themes never push the follow-up loop out."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bot.actors import Place
from bot.chart import MUTED, trend_headline
from bot.digest import RECOVERED_MEANS, ThemeLine
from bot.nps import NpsSummary
from handlers.slack.digest_blocks import digest_blocks
from handlers.teams.digest_card import digest_card
from tests.digest.helpers import MARIA, ViewNotifier, seed_known_week
from tests.digest.test_digest_render import week_view, weeks


@pytest.fixture
def wired(services):
    notifier = ViewNotifier("slack")
    services.worker.notifiers["slack"] = notifier
    return services, notifier


async def test_digest_now_reports_outcomes_claim_sla_margin_and_what_recovered_means(wired, rt, clock):
    services, notifier = wired
    seed_known_week(rt, clock)
    reply = services.dispatcher.handle_text("digest now", MARIA, Place("slack", "C_CX"))
    assert reply.ok
    await services.worker.drain()
    [(_, view)] = notifier.digests
    text = view.as_text()
    # 50 answers: a margin, said in words.
    assert f"NPS {'+' if view.current.nps > 0 else ''}{round(view.current.nps)} ±" in text
    assert "at 95% confidence" in text
    # This week's closes: #23 resolved, #21 recovered, #5 no action.
    assert "Closed as: resolved 1 · recovered 1 · unreachable 0 · churned 0 · no-action 1" in text
    # #21..#35 opened this week, all past their 24 h; #23 (1 h), #21 (3 h) and #22 (24 h) made it.
    assert "Claimed within the 24 h claim SLA: 3 of 15 detractor follow-ups opened this week (20%)" in text
    assert RECOVERED_MEANS in text
    slack = json.dumps(digest_blocks(view), ensure_ascii=False)
    teams = json.dumps(digest_card(view), ensure_ascii=False)
    for rendered in (slack, teams):
        assert "3 of 15" in rendered and "no-action 1" in rendered and "Recovered = " in rendered
        assert "95% confidence" in rendered


def test_many_themes_never_push_out_the_follow_up_loop():
    themes = tuple(ThemeLine(f"Theme {i}", 1, 0.01, f"comment {i}") for i in range(80))
    view = week_view(themes=themes, detractor_comments=80)
    blocks = digest_blocks(view)
    assert len(blocks) <= 50
    text = json.dumps(blocks)
    assert "Follow-up loop" in text and "Recovered = " in text
    assert "more themes" in text


def test_the_chart_headline_is_tested_like_the_text_and_ignores_thin_weeks():
    # Weeks under 30 answers never make a headline.
    assert trend_headline(weeks([(1, 0, 9), (9, 0, 1)])) is None
    # A small move between two solid weeks is "within the margin of error", in a neutral colour.
    text, colour = trend_headline(weeks([(20, 10, 10), (2, 0, 1), (21, 10, 9)]))
    assert text.endswith("within the margin of error") and colour == MUTED
    assert text.startswith("+5 since the week of")
    # A real move is called significant.
    text, _ = trend_headline(weeks([(10, 10, 40), (45, 10, 5)]))
    assert text.startswith("+117 since") and text.endswith(": significant")


def test_one_response_has_no_margin_anywhere_in_the_digest():
    one = NpsSummary(0, 0, 1)
    view = week_view(current=one, previous=NpsSummary(), change=replace(week_view().change, delta=None))
    assert view.margin_text == ""
    text = view.as_text()
    assert "±" not in text.split("\n")[3] and "1 response · 0 promoters · 0 passives · 1 detractor" in text
    assert "±0" not in json.dumps(digest_blocks(view)) and "±0" not in json.dumps(digest_card(view))
