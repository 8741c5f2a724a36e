"""The digest's theme section from stored themes: change, representative comment, proposals, causes."""

from __future__ import annotations

from bot import followups
from bot.actors import Actor
from bot.app import build_runtime
from bot.digest import build_digest
from bot.ingest import ResponseIn, ingest
from storage.models import Outcome
from tests.digest.helpers import END, at

MARIA = Actor("slack", "U0MARIA", "maria")


def _answers(prefix: str, comments: list[str], day: int) -> list[ResponseIn]:
    return [ResponseIn(id=f"{prefix}{i}", score=2, comment=c, submitted_at=at(day), customer={"id": f"{prefix}{i}"})
            for i, c in enumerate(comments)]


def test_counts_change_and_the_comment_nearest_the_centre(any_db, make_settings, clock):
    rt = build_runtime(make_settings(DATABASE_URL=any_db), clock=clock)
    clock.set(at(10))
    ingest(rt, _answers("w", ["Way too expensive"], 10))
    clock.set(at(18))
    price = ["Way too expensive for what we get", "The price went up again at renewal",
             "Too expensive, and billing sent the wrong invoice"]
    ingest(rt, _answers("p", price, 18) + _answers("s", ["Sales rep was pushy"], 18))
    clock.set(END)
    d = build_digest(rt, period_end=END, with_chart=False)
    lines = {t.name: t for t in d.themes}
    assert (lines["Price & billing"].count, lines["Price & billing"].change) == (3, 2)
    assert (lines["Pushy sales"].count, lines["Pushy sales"].change) == (1, 1)
    assert lines["Price & billing"].example in price
    assert "Price & billing" in d.as_text() and "+2" in d.as_text()
    rt.engine.dispose()


def test_unthemed_comments_are_proposed_as_new_themes_and_causes_are_counted(any_db, make_settings, clock):
    # A threshold nothing reaches: every comment is unthemed, so the proposals are all there is.
    rt = build_runtime(make_settings(DATABASE_URL=any_db, NPSBOT_THEME_MIN_SCORE="0.99"), clock=clock)
    clock.set(at(18))
    comments = ["The PDF export of invoices is broken", "Invoice PDF export fails every month",
                "Exporting an invoice to PDF never works", "Push notifications on the mobile app never arrive",
                "Mobile app notifications stopped arriving", "no"]
    result = ingest(rt, _answers("u", comments, 18))
    followups.close(rt, result.opened[0], Outcome.RESOLVED, None, MARIA, cause="support")
    clock.set(END)
    d = build_digest(rt, period_end=END, with_chart=False)
    assert d.themes == () and d.uncategorised == 6
    names = [p.name.lower() for p in d.theme_proposals]
    assert any("pdf" in n or "invoice" in n or "export" in n for n in names), names
    top = d.theme_proposals[0]
    assert top.count >= 2 and top.example in comments
    assert [(c.name, c.count) for c in d.causes] == [("Support", 1)]
    assert "Proposed theme:" in d.as_text() and 'themes add "' in d.as_text()
    assert "Causes of closed follow-ups: Support 1" in d.as_text()
    rt.engine.dispose()
