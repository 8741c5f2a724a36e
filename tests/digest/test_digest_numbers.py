"""Digest numbers on a known data set, on SQLite and PostgreSQL: every count, NPS, median and list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import build_runtime
from bot.digest import build_digest, build_digest_for
from bot.nps import NpsSummary, compare
from tests.digest.helpers import END, at, seed_known_week


@pytest.fixture
def known(any_db, make_settings, clock):
    rt = build_runtime(make_settings(DATABASE_URL=any_db), clock=clock)
    seed_known_week(rt, clock)
    yield rt
    rt.engine.dispose()


def test_week_numbers(known):
    d = build_digest(known, period_end=END, with_chart=False)
    assert d.period_start == at(13) and d.period_end == END
    assert d.current == NpsSummary(promoters=22, passives=13, detractors=15)
    assert round(d.current.nps) == 14
    assert d.previous == NpsSummary(promoters=10, passives=11, detractors=20)
    assert d.change == compare(d.current, d.previous)
    assert d.change.significant and round(d.change.delta) == 38
    assert [(s.name, s.summary.n, s.insufficient) for s in d.segments] == [
        ("enterprise", 40, False), ("smb", 10, True)]
    assert d.segments[0].summary.nps == 25.0 and d.segments[1].summary.nps == -30.0
    # 12 weeks of trend, the last two are this week and the week before.
    assert len(d.trend) == 12 and d.trend[-1].summary == d.current and d.trend[-2].summary == d.previous
    assert all(p.summary.n == 0 for p in d.trend[:-2])


def test_themes_of_detractor_comments(known):
    d = build_digest(known, period_end=END, with_chart=False)
    assert d.detractor_comments == 7
    # One theme per comment, by meaning (bot/theme_assign.py); "meh" fits none.
    assert [(t.name, t.count) for t in d.themes] == [
        ("Price & billing", 3), ("Bugs & reliability", 1), ("Pushy sales", 1), ("Support", 1)]
    assert d.uncategorised == 1
    assert d.themes[0].example == "Too expensive"  # the one nearest the centre of the three
    assert d.themes[0].share == pytest.approx(3 / 7)


def test_follow_up_loop(known):
    lp = build_digest(known, period_end=END, with_chart=False).loop
    assert (lp.opened, lp.claimed, lp.closed) == (15, 4, 3)
    # Claims this week took 126 h (#4), 1 h (#23), 3 h (#21) and 24 h (#22): median 13 h 30 m.
    assert lp.median_to_claim == timedelta(hours=13, minutes=30)
    # Closes this week took 12 h (#23), 48 h (#21) and 240 h (#5): median 48 h.
    assert lp.median_to_close == timedelta(hours=48)
    assert lp.overdue_total == 27
    assert [o.number for o in lp.overdue] == list(range(7, 17))  # oldest first, 10 shown
    assert lp.overdue[0].status == "open" and lp.overdue[0].waiting == timedelta(days=12)
    assert lp.overdue[0].customer == "Customer d6" and lp.overdue[0].score == 2
    assert lp.recovered == 2  # d0 and d1; d2 came back the week before
    assert lp.open_detractors == 29
    assert lp.arr_at_risk == 34500.0


def test_segment_filtered_digest_shows_its_segment_only(known):
    d = build_digest(known, period_end=END, segment="smb", with_chart=False)
    assert d.title.endswith("· segment smb")
    assert d.current == NpsSummary(2, 3, 5) and d.previous.n == 0
    assert d.change.delta is None and not d.change.significant
    assert [s.name for s in d.segments] == ["smb"]
    assert d.detractor_comments == 2 and [(t.name, t.count) for t in d.themes] == [("Price & billing", 1)]
    lp = d.loop
    assert (lp.opened, lp.claimed, lp.closed, lp.recovered) == (5, 0, 0, 0)
    assert (lp.open_detractors, lp.overdue_total, lp.arr_at_risk) == (5, 5, 2500.0)
    text = d.as_text()
    assert "By segment" not in text and "enterprise" not in text


def test_quiet_week_is_a_short_note(known, clock):
    later = END + timedelta(days=21)
    d = build_digest(known, period_end=later)
    assert d.quiet and d.chart_png is None
    text = d.as_text()
    assert "Quiet week: no survey responses between Dec 4 and Dec 11." in text
    assert "29 follow-ups still open, 29 overdue" in text
    assert "What detractors wrote about" not in text and len(text.splitlines()) <= 4


def test_digest_for_an_outbox_payload(known):
    d = build_digest_for(known, "slack", "C1", {"period_end": END.isoformat(), "segment": "enterprise"})
    assert d.current == NpsSummary(20, 10, 10) and d.chart_png is not None
    text = d.as_text()
    assert "NPS +25 ±" in text and "40 responses · 20 promoters · 10 passives · 10 detractors" in text
