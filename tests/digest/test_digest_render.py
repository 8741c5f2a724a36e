"""Renderers: golden files for Block Kit, the Adaptive Card and the text digest; escaping; the chart.

Set NPSBOT_UPDATE_GOLDEN=1 to rewrite the golden
files after an intended change, then review the diff.
"""

from __future__ import annotations

import json
import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.chart import WeekPoint, render_trend
from bot.digest import DigestView, LoopView, OverdueLine, SegmentLine, ThemeLine
from bot.nps import NpsSummary, compare
from bot.textview import reply_text
from handlers.slack.digest_blocks import digest_blocks
from handlers.teams.digest_card import digest_card
from tests.golden import assert_golden

GOLDEN = Path(__file__).parent / "golden"
END = datetime(2026, 11, 23, 8, tzinfo=UTC)
HOSTILE = "<!channel> *free* [click](http://evil.example) & <@U123|boss> _now_"
PNG = b"\x89PNG\r\n\x1a\n-not-a-real-chart-"


def weeks(counts: list[tuple[int, int, int]]) -> tuple[WeekPoint, ...]:
    n = len(counts)
    return tuple(WeekPoint(END - timedelta(days=7 * (n - k)), END - timedelta(days=7 * (n - k - 1)),
                           NpsSummary(*c)) for k, c in enumerate(counts))


def week_view(**changes) -> DigestView:
    trend = weeks([(40, 20, 30), (45, 20, 25), (0, 0, 0), (10, 5, 12), (50, 30, 20), (52, 25, 23),
                   (48, 30, 22), (55, 20, 25), (60, 22, 18), (58, 25, 17), (30, 20, 25), (64, 20, 16)])
    current, previous = trend[-1].summary, trend[-2].summary
    view = DigestView(
        title="NPS digest · week to Mon Nov 23, 2026", segment=None, timezone="Europe/Berlin",
        period_start=END - timedelta(days=7), period_end=END, current=current, previous=previous,
        change=compare(current, previous),
        segments=(SegmentLine("enterprise", NpsSummary(40, 10, 8)), SegmentLine(HOSTILE, NpsSummary(5, 2, 4)),
                  SegmentLine(None, NpsSummary(19, 8, 4))),
        segments_total=3,
        themes=(ThemeLine("Price", 6, 0.5, "Way too expensive for what we get"),
                ThemeLine("Support", 3, 0.25, HOSTILE), ThemeLine("Bugs", 1, 1 / 12, None)),
        detractor_comments=12, uncategorised=2,
        loop=LoopView(opened=16, claimed=12, closed=9, median_to_claim=timedelta(hours=3, minutes=20),
                      median_to_close=timedelta(days=2, hours=4),
                      overdue=(OverdueLine(7, "open", 2, "Acme & Co", None, timedelta(days=2, hours=3)),
                               OverdueLine(9, "claimed", 4, HOSTILE, "<@U1> maria *", timedelta(days=9))),
                      overdue_total=5, recovered=2, open_detractors=11, arr_at_risk=120_500.0,
                      outcomes=(("resolved", 4), ("recovered", 2), ("unreachable", 1), ("churned", 0),
                                ("no-action", 2)), claimed_in_sla=9, claim_sla_base=14),
        trend=trend, chart_png=PNG,
    )
    return replace(view, **changes)


def quiet_view() -> DigestView:
    empty = NpsSummary()
    return DigestView(title="NPS digest · week to Mon Nov 23, 2026 · segment smb", segment="smb",
                      timezone="UTC", period_start=END - timedelta(days=7), period_end=END, current=empty,
                      previous=NpsSummary(3, 1, 1), change=compare(empty, NpsSummary(3, 1, 1)),
                      loop=LoopView(open_detractors=3, overdue_total=1))


def golden(name: str, actual: str) -> None:
    assert_golden(GOLDEN / name, actual)


def as_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name,view", [("week", week_view), ("quiet", quiet_view)])
def test_golden_files(name, view):
    d = view()
    golden(f"digest_{name}.txt", d.as_text() + "\n")
    golden(f"digest_{name}.slack.json", as_json(digest_blocks(d)))
    golden(f"digest_{name}.teams.json", as_json(digest_card(d)))
    assert reply_text(d) == d.as_text()


def _strings(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, path + (i,))
    elif isinstance(node, str):
        yield path, node


def test_slack_blocks_escape_customer_text_and_fit():
    blocks = digest_blocks(week_view())
    assert len(blocks) <= 50
    texts = [s for p, s in _strings(blocks) if p[-1] == "text"]
    assert not any("<" in t or ">" in t for t in texts)  # no mention or link can be formed
    assert any("&lt;!channel&gt;" in t for t in texts) and any("Acme &amp; Co" in t for t in texts)
    # Customer words never sit in mrkdwn: every mrkdwn object is our own sentence.
    mrkdwn = [b for b in _objects(blocks) if b.get("type") == "mrkdwn"]
    assert all(b["verbatim"] is True for b in mrkdwn)
    assert not any("[click]" in b["text"] or "maria" in b["text"] for b in mrkdwn)
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= 150


def _objects(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _objects(v)
    elif isinstance(node, list):
        for v in node:
            yield from _objects(v)


def test_slack_blocks_stay_under_fifty_with_many_themes():
    many = tuple(ThemeLine(f"Theme {i}", 60 - i, 0.01, "x" * 400) for i in range(60))
    blocks = digest_blocks(week_view(themes=many))
    assert len(blocks) == 50


def test_teams_card_keeps_customer_text_out_of_markdown():
    card = digest_card(week_view())
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    textblocks = [o for o in _objects(card) if o.get("type") == "TextBlock"]
    assert not any("evil" in t["text"] or "Acme" in t["text"] or "maria" in t["text"] for t in textblocks)
    runs = [o["text"] for o in _objects(card) if o.get("type") == "TextRun"]
    assert any(HOSTILE in r for r in runs)  # shown literally by Teams (TextRun has no Markdown)
    facts = [f for o in _objects(card) if o.get("type") == "FactSet" for f in o["facts"]]
    assert not any("evil" in f["value"] for f in facts)
    image = next(o for o in _objects(card) if o.get("type") == "Image")
    assert image["url"].startswith("data:image/png;base64,iVBORw0KGgo")


def test_teams_card_without_a_chart_shows_the_trend_in_words():
    card = digest_card(week_view(chart_png=None))
    assert not any(o.get("type") == "Image" for o in _objects(card))
    assert any("Weekly NPS, oldest first" in o.get("text", "") for o in _objects(card))


def test_chart_is_a_png_within_teams_limits():
    png = render_trend(week_view().trend)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert width <= 1024 and height <= 1024 and width > height
    assert len(png) < 200_000
    assert render_trend(weeks([(0, 0, 0)] * 12)) is None
