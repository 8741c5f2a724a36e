"""The digest's view data: what a digest shows, for every renderer (text, Block Kit, Adaptive Cards).

`DigestView` is plain frozen data with the sentences every renderer shares; the whole plain-text
digest is drawn by `bot.textview.digest_text`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.chart import WeekPoint
from bot.digest.format import duration, stamp
from bot.nps import Change, NpsSummary, format_nps
from bot.textview import money
from bot.wording import counted, day, insufficient_data, signed_change, verdict

# Shown wherever "recovered" is: the word has a measured meaning, distinct from the outcome staff pick.
RECOVERED_MEANS = ("Recovered = a detractor whose follow-up was closed and who then answered 7 or more "
                   "(counted in the week of that answer); “Closed as: recovered” is what staff chose on close.")

TREND_WEEKS = 12
OVERDUE_SHOWN = 10
SEGMENTS_SHOWN = 12
THEMES_SHOWN = 7
NO_SEGMENT = "(no segment)"


@dataclass(frozen=True)
class SegmentLine:
    """NPS of one segment this week; `name` None means responses without a segment."""

    name: str | None
    summary: NpsSummary

    @property
    def label(self) -> str:
        return self.name if self.name is not None else NO_SEGMENT

    @property
    def insufficient(self) -> bool:
        return self.summary.insufficient


@dataclass(frozen=True)
class ThemeLine:
    """A theme of this week's detractor comments; `example` is raw customer text (escape it)."""

    name: str
    count: int
    share: float  # of the week's detractor comments, 0..1
    example: str | None = None
    change: int | None = None  # count minus the previous period's


@dataclass(frozen=True)
class OverdueLine:
    """A follow-up past its service level; `customer` and `claimant_name` are raw text."""

    number: int
    status: str
    score: int | None
    customer: str | None
    claimant_name: str | None
    waiting: timedelta  # since opened (open) or since claimed (claimed)


@dataclass(frozen=True)
class LoopView:
    """The follow-up loop for the week: is every detractor being called back?"""

    opened: int = 0
    claimed: int = 0
    closed: int = 0
    median_to_claim: timedelta | None = None
    median_to_close: timedelta | None = None
    overdue: tuple[OverdueLine, ...] = ()
    overdue_total: int = 0
    recovered: int = 0
    open_detractors: int = 0
    arr_at_risk: float = 0.0
    # How the week's closes ended, in Outcome order: ((outcome, count), …), zeros included.
    outcomes: tuple[tuple[str, int], ...] = ()
    # Of the week's new follow-ups whose claim SLA has run out or that were claimed: how many
    # were claimed within it (`claim_sla_base` is that denominator).
    claimed_in_sla: int = 0
    claim_sla_base: int = 0


@dataclass(frozen=True)
class DigestView:
    """Everything a digest shows, for every renderer."""

    title: str
    segment: str | None
    timezone: str
    period_start: datetime  # UTC
    period_end: datetime  # UTC
    current: NpsSummary
    previous: NpsSummary
    change: Change
    segments: tuple[SegmentLine, ...] = ()
    segments_total: int = 0
    themes: tuple[ThemeLine, ...] = ()
    detractor_comments: int = 0
    uncategorised: int = 0
    theme_proposals: tuple = ()  # bot.theme_digest.ThemeProposal
    causes: tuple = ()  # bot.theme_digest.CauseLine
    loop: LoopView = field(default_factory=LoopView)
    trend: tuple[WeekPoint, ...] = ()
    chart_png: bytes | None = None
    sla_claim_hours: float = 24.0
    sla_close_days: float = 7.0
    recovery: Any = None  # bot.mail.recovery.RecoveryView

    @property
    def quiet(self) -> bool:
        """No responses this week: the digest is a short note, not an empty report."""
        return self.current.n == 0

    @property
    def local_start(self) -> datetime:
        return self.period_start.astimezone(ZoneInfo(self.timezone))

    @property
    def local_end(self) -> datetime:
        return self.period_end.astimezone(ZoneInfo(self.timezone))

    @property
    def period_text(self) -> str:
        """`Nov 13 09:00 – Nov 20 09:00 (Europe/Berlin)`."""
        start, end = stamp(self.local_start), stamp(self.local_end)
        return f"{start} – {end} ({self.timezone})"

    @property
    def headline(self) -> str:
        """`NPS +12 ±9` (with the insufficient-data note when under 30 responses)."""
        c = self.current
        text = f"NPS {format_nps(c.nps)}"
        if self.margin_text:
            text += f" {self.margin_text}"
        if c.insufficient and c.n:
            text += f" ({insufficient_data(c.n, thousands=True)})"
        return text

    @property
    def change_text(self) -> str:
        ch = self.change
        if ch.delta is None:
            return "no responses the week before to compare with"
        return (f"{signed_change(ch.delta)} vs the week before ({format_nps(self.previous.nps)} from "
                f"{counted(self.previous.n, 'response', thousands=True)}); {verdict(ch)}")

    @property
    def margin_text(self) -> str:
        """`±15 at 95% confidence`, or empty when there is no margin to state (under 30 answers)."""
        m = self.current.margin
        return "" if m is None else f"±{m:.0f} at 95% confidence"

    @property
    def outcomes_text(self) -> str:
        """`Closed as: resolved 4 · recovered 2 · unreachable 1 · churned 0 · no-action 2`."""
        return "Closed as: " + " · ".join(f"{name} {n:,}" for name, n in self.loop.outcomes)

    @property
    def claim_sla_text(self) -> str:
        lp, sla = self.loop, f"{self.sla_claim_hours:g} h"
        if not lp.claim_sla_base:
            return f"Claimed within the {sla} claim SLA: no follow-up due this week"
        share = lp.claimed_in_sla / lp.claim_sla_base
        return (f"Claimed within the {sla} claim SLA: {lp.claimed_in_sla:,} of {lp.claim_sla_base:,} "
                f"detractor follow-ups opened this week ({share:.0%})")

    @property
    def counts_text(self) -> str:
        c = self.current
        return " · ".join(counted(n, noun, thousands=True) for n, noun in (
            (c.n, "response"), (c.promoters, "promoter"), (c.passives, "passive"), (c.detractors, "detractor")))

    @property
    def trend_text(self) -> str:
        return " · ".join(format_nps(p.summary.nps) for p in self.trend)

    @property
    def loop_text(self) -> str:
        lp = self.loop
        return f"Opened {lp.opened:,} · claimed {lp.claimed:,} · closed {lp.closed:,}"

    @property
    def medians_text(self) -> str:
        lp = self.loop
        return (f"Median time to claim {duration(lp.median_to_claim)} · "
                f"to close {duration(lp.median_to_close)}")

    @property
    def risk_text(self) -> str:
        lp = self.loop
        return (f"Detractors recovered: {lp.recovered:,} · open detractors: {lp.open_detractors:,} · "
                f"ARR at risk {money(lp.arr_at_risk)}")

    @property
    def quiet_text(self) -> str:
        start, end = self.local_start, self.local_end
        text = f"Quiet week: no survey responses between {day(start)} and {day(end)}."
        lp = self.loop
        if lp.open_detractors:
            text += (f" {lp.open_detractors:,} follow-up{'s' if lp.open_detractors != 1 else ''} still open"
                     + (f", {lp.overdue_total:,} overdue" if lp.overdue_total else "")
                     + " (`open` lists them).")
        return text

    def as_text(self) -> str:
        """The whole digest as plain text (terminal, shell, and every platform's fallback)."""
        from bot.textview import digest_text

        return digest_text(self)
