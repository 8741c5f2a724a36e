"""The weekly digest: numbers for a channel and period, computed by the database.

A digest covers the 7 days before `period_end` (calendar days in the channel's time zone, so a
week that crosses a daylight-saving change is still Monday 09:00 to Monday 09:00) and compares them
with the 7 days before those. Every count is an SQL aggregate over indexed timestamps:

- one GROUP BY over the 12 trend weeks gives the trend, this week and the week before;
- one GROUP BY segment for the week; GROUP BY the stored theme for this week and the week before,
  with a representative comment and proposed new themes (bot.theme_digest);
- the follow-up loop: counts over `opened_at` / `claimed_at` / `closed_at`, medians in SQL
  (PostgreSQL: `percentile_cont(0.5)`; SQLite has no percentile function, so the median is read
  with `ORDER BY duration LIMIT 2 OFFSET (n-1)/2` over the week's follow-ups: still in SQL),
  the overdue list (`LIMIT 10`), recovered detractors and ARR at risk.

`DigestView` is plain frozen data; renderers (text here, Block Kit and Adaptive Cards in the
platform handlers) draw it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, and_, case, cast, exists, func, literal, or_, select, text
from sqlalchemy.orm import aliased
from sqlmodel import Session

from bot import outbox, theme_digest
from bot.chart import WeekPoint, render_trend
from bot.clock import as_utc
from bot.errors import NpsError
from bot.limits import MAX_ARR
from bot.mail.recovery import recovery as mail_recovery
from bot.nps import Change, NpsSummary, compare, format_nps
from bot.runtime import Runtime
from bot.textview import money, safe
from bot.wording import counted, signed_change
from storage.db import read_scope, session_scope
from storage.models import (
    Customer,
    FollowUp,
    Outcome,
    Response,
    Status,
    Subscription,
    TeamsConversation,
)

log = logging.getLogger(__name__)

# Shown wherever "recovered" is: the word has a measured meaning, distinct from the outcome staff pick.
RECOVERED_MEANS = ("Recovered = a detractor whose follow-up was closed and who then answered 7 or more "
                   "(counted in the week of that answer); “Closed as: recovered” is what staff chose on close.")

PERIOD = timedelta(days=7)
TREND_WEEKS = 12
OVERDUE_SHOWN = 10
SEGMENTS_SHOWN = 12
THEMES_SHOWN = 7
QUOTE_CHARS = 160
NO_SEGMENT = "(no segment)"


# -- views ---------------------------------------------------------------------------------------
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
        start, end = _stamp(self.local_start), _stamp(self.local_end)
        return f"{start} – {end} ({self.timezone})"

    @property
    def headline(self) -> str:
        """`NPS +12 ±9` (with the insufficient-data note when under 30 responses)."""
        c = self.current
        text = f"NPS {format_nps(c.nps)}"
        if self.margin_text:
            text += f" {self.margin_text}"
        if c.insufficient and c.n:
            text += f" (insufficient data: {counted(c.n, 'response', thousands=True)}, 30 needed)"
        return text

    @property
    def change_text(self) -> str:
        ch = self.change
        if ch.delta is None:
            return "no responses the week before to compare with"
        verdict = "significant" if ch.significant else "within the margin of error"
        return (f"{signed_change(ch.delta)} vs the week before ({format_nps(self.previous.nps)} from "
                f"{counted(self.previous.n, 'response', thousands=True)}); {verdict}")

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
        text = f"Quiet week: no survey responses between {_day(start)} and {_day(end)}."
        lp = self.loop
        if lp.open_detractors:
            text += (f" {lp.open_detractors:,} follow-up{'s' if lp.open_detractors != 1 else ''} still open"
                     + (f", {lp.overdue_total:,} overdue" if lp.overdue_total else "")
                     + " (`open` lists them).")
        return text

    def as_text(self) -> str:
        """The whole digest as plain text (terminal, shell, and every platform's fallback)."""
        lines = [self.title, f"{self.period_text}, compared with the 7 days before."]
        if self.quiet:
            lines += ["", self.quiet_text]
            if self.recovery is not None:
                from bot.mail.recovery import recovery_lines

                lines += ["", *recovery_lines(self.recovery, money=money, duration=duration)]
            return "\n".join(lines)
        lines += ["", f"{self.headline} · change {self.change_text}", self.counts_text]
        if len(self.trend) > 1:
            lines.append(f"Trend ({len(self.trend)} weeks, oldest first): {self.trend_text}")
        if self.segments and self.segment is None:
            lines += ["", "By segment:"]
            labels = [_clip(safe(s.label), 32) for s in self.segments]
            width = max(len(label) for label in labels)
            for label, s in zip(labels, self.segments, strict=True):
                lines.append(f"  {label:<{width}}  {segment_figure(s)}")
            if self.segments_total > len(self.segments):
                lines.append(f"  … and {self.segments_total - len(self.segments)} more segments")
        lines += ["", f"What detractors wrote about ({counted(self.detractor_comments, 'comment', thousands=True)}):"]
        if not self.detractor_comments:
            lines.append("  No detractor comments this week.")
        for t in self.themes:
            quote = f"  “{safe(t.example)}”" if t.example else ""
            change = f" {t.change:+d}" if t.change is not None else ""
            lines.append(f"  {safe(t.name):<28} {t.count:>4} ({t.share:.0%}){change}{quote}")
        if self.uncategorised:
            lines.append(f"  {'Other':<28} {self.uncategorised:>4}")
        lines += theme_digest.text_lines(self)
        lines += ["", "Follow-up loop:", f"  {self.loop_text}", f"  {self.medians_text}",
                  f"  {self.risk_text}", f"  {self.claim_sla_text}"]
        if self.loop.outcomes:
            lines.append(f"  {self.outcomes_text}")
        lines.append(f"  {RECOVERED_MEANS}")
        lp = self.loop
        if lp.overdue_total:
            lines.append(f"  Overdue ({lp.overdue_total:,}):")
            for o in lp.overdue:
                lines.append(f"    {overdue_text(o)}")
            if lp.overdue_total > len(lp.overdue):
                lines.append(f"    … and {lp.overdue_total - len(lp.overdue):,} more (`open` lists them)")
        else:
            lines.append("  Nothing overdue.")
        if self.recovery is not None:
            from bot.mail.recovery import recovery_lines

            lines += ["", *recovery_lines(self.recovery, money=money, duration=duration)]
        return "\n".join(lines)


# -- formatting helpers shared by the renderers ---------------------------------------------------
def _day(value: datetime) -> str:
    """`Nov 3` (no leading zero on the day)."""
    return f"{value:%b} {value.day}"


def _stamp(value: datetime) -> str:
    """`Mon Nov 3 09:00`."""
    return f"{value:%a} {_day(value)} {value:%H:%M}"


def duration(value: timedelta | None) -> str:
    """`45m`, `5h 20m`, `3d 4h`, or an em dash."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def segment_figure(s: SegmentLine) -> str:
    """`+20 ±12 · 64 responses`, or the count with "insufficient data" under 30."""
    n = s.summary.n
    if s.insufficient:
        return f"insufficient data ({n:,} response{'s' if n != 1 else ''}, {format_nps(s.summary.nps)})"
    margin = f" ±{s.summary.margin:.0f}" if s.summary.margin is not None else ""
    return f"{format_nps(s.summary.nps)}{margin} · {counted(n, 'response', thousands=True)}"


def overdue_state(o: OverdueLine) -> str:
    """Our own words for the state (no customer text)."""
    if o.status == Status.CLAIMED:
        return f"claimed {duration(o.waiting)} ago, not closed"
    return f"unclaimed for {duration(o.waiting)}"


def overdue_text(o: OverdueLine) -> str:
    who = safe(o.customer) if o.customer else "Unknown customer"
    score = f" · {o.score}/10" if o.score is not None else ""
    by = f" by {safe(o.claimant_name)}" if o.claimant_name and o.status == Status.CLAIMED else ""
    return f"#{o.number} · {who}{score} · {overdue_state(o)}{by}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_quote(text: str | None) -> str | None:
    if not text:
        return None
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"


# -- periods -------------------------------------------------------------------------------------
def zone(name: str | None, default: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or default)
    except (KeyError, ValueError):
        return ZoneInfo(default)


def week_edges(period_end: datetime, tz: ZoneInfo, weeks: int) -> list[datetime]:
    """`weeks`+1 UTC instants, oldest first, each 7 calendar days apart in `tz`.

    Aware arithmetic within one zone is wall-clock arithmetic in Python, so subtracting 7 days
    from Monday 09:00 CEST gives Monday 09:00 CET across the change, not 08:00.
    """
    local_end = period_end.astimezone(tz)
    edges = []
    for k in range(weeks, -1, -1):
        edges.append((local_end - timedelta(days=7 * k)).astimezone(UTC))
    return edges


def period_start_for(period_end: datetime, tz: ZoneInfo) -> datetime:
    return week_edges(period_end, tz, 1)[0]


# -- SQL -----------------------------------------------------------------------------------------
def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _trend(session: Session, edges: list[datetime], segment: str | None) -> list[NpsSummary]:
    """Counts per week and category for the len(edges)-1 weeks, in one GROUP BY."""
    col = Response.submitted_at
    weeks = len(edges) - 1
    bucket = case(*((col >= edges[k], k) for k in range(weeks - 1, 0, -1)), else_=0).label("bucket")
    q = (select(bucket, Response.category, func.count())
         .where(col >= edges[0], col < edges[-1]))
    if segment:
        q = q.where(Response.segment == segment)
    q = q.group_by("bucket", Response.category)
    counts = [{"promoter": 0, "passive": 0, "detractor": 0} for _ in range(weeks)]
    for k, category, n in session.execute(q):
        counts[int(k)][category] = n
    return [NpsSummary(c["promoter"], c["passive"], c["detractor"]) for c in counts]


def _segments(session: Session, start: datetime, end: datetime,
              segment: str | None) -> tuple[list[SegmentLine], int]:
    q = (select(Response.segment, Response.category, func.count())
         .where(Response.submitted_at >= start, Response.submitted_at < end))
    if segment:
        q = q.where(Response.segment == segment)
    q = q.group_by(Response.segment, Response.category)
    found: dict[str | None, dict[str, int]] = {}
    for seg, category, n in session.execute(q):
        found.setdefault(seg, {"promoter": 0, "passive": 0, "detractor": 0})[category] = n
    lines = [SegmentLine(seg, NpsSummary(c["promoter"], c["passive"], c["detractor"]))
             for seg, c in found.items()]
    # Biggest segments first; the unnamed bucket last so named segments lead.
    lines.sort(key=lambda s: (s.name is None, -s.summary.n, s.label))
    return lines[:SEGMENTS_SHOWN], len(lines)


def _seconds(session: Session, later, earlier):
    if _is_pg(session):
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _median(session: Session, duration_expr, where: list, segment: str | None, n: int) -> float | None:
    """Median of `duration_expr` over the `n` follow-ups matching `where`, computed by the database."""
    def base(q):
        q = q.select_from(FollowUp)
        if segment:
            q = q.join(Response, Response.id == FollowUp.response_id).where(Response.segment == segment)
        return q.where(*where)

    if _is_pg(session):
        value = session.execute(
            base(select(func.percentile_cont(0.5).within_group(duration_expr)))
        ).scalar_one()
        return None if value is None else float(value)
    if not n:
        return None
    # The middle one (odd n) or the middle two (even n), read in SQL.
    middle = base(select(cast(duration_expr, Float).label("d"))).order_by("d").limit(2 - n % 2) \
        .offset((n - 1) // 2).subquery()
    return float(session.execute(select(func.avg(middle.c.d))).scalar_one())


def _loop(session: Session, start: datetime, end: datetime, segment: str | None,
          claim_hours: float, close_days: float) -> LoopView:
    f = FollowUp
    first = aliased(Response)  # the response that opened the follow-up: its segment counts

    def count(*where) -> int:
        q = select(func.count()).select_from(f)
        if segment:
            q = q.join(first, first.id == f.response_id).where(first.segment == segment)
        return session.execute(q.where(*where)).scalar_one()

    opened = count(f.opened_at >= start, f.opened_at < end)
    # No index on claimed_at: these read the follow-up table once, sequentially (no opened_at
    # condition, which would turn the scan into 100,000 index lookups on SQLite).
    claimed_where = [f.claimed_at >= start, f.claimed_at < end]
    claimed = count(*claimed_where)
    closed_where = [f.closed_at >= start, f.closed_at < end]
    closed = count(*closed_where)
    to_claim = _median(session, _seconds(session, f.claimed_at, f.opened_at), claimed_where, segment,
                       claimed) if claimed else None
    to_close = _median(session, _seconds(session, f.closed_at, f.opened_at), closed_where, segment,
                       closed) if closed else None

    # Open detractors, their ARR, and the overdue ones, as of the end of the period. ARR is the
    # one recorded with the customer's latest answer, else the customer's current ARR (looked up
    # only for the rows that lack it).
    latest = aliased(Response)
    claim_due = end - timedelta(hours=claim_hours)
    close_due = end - timedelta(days=close_days)
    active = [f.status.in_([Status.OPEN.value, Status.CLAIMED.value]), f.opened_at < end]
    overdue_cond = or_(and_(f.status == Status.OPEN.value, f.opened_at < claim_due),
                       and_(f.status == Status.CLAIMED.value,
                            func.coalesce(f.claimed_at, f.opened_at) < close_due))
    customer_arr = select(Customer.arr).where(Customer.id == f.customer_id).scalar_subquery()
    arr = func.coalesce(latest.arr, customer_arr)
    # Each value capped as the door caps it, so rows stored before the cap cannot overflow a sum.
    arr = case((arr > MAX_ARR, MAX_ARR), else_=arr)
    q = (select(func.count(), func.coalesce(func.sum(arr), 0.0),
                func.count(case((overdue_cond, 1))))
         .select_from(f).outerjoin(latest, latest.id == f.latest_response_id).where(*active))
    if segment:
        q = q.where(latest.segment == segment)
    open_n, arr_sum, overdue_n = session.execute(q).one()

    overdue: list[OverdueLine] = []
    if overdue_n:
        # The ten that have waited longest, chosen on the follow-up table alone; then their names.
        waiting_since = case((f.status == Status.OPEN.value, f.opened_at),
                             else_=func.coalesce(f.claimed_at, f.opened_at))
        pick = select(f.id.label("fid"), waiting_since.label("since")).where(*active, overdue_cond)
        if segment:
            pick = pick.join(latest, latest.id == f.latest_response_id).where(latest.segment == segment)
        top = pick.order_by("since", f.id).limit(OVERDUE_SHOWN).subquery()
        q = (select(f.id, f.status, latest.score, func.coalesce(Customer.name, Customer.external_id),
                    f.claimant_name, top.c.since)
             .select_from(top).join(f, f.id == top.c.fid)
             .outerjoin(latest, latest.id == f.latest_response_id)
             .outerjoin(Customer, Customer.id == f.customer_id)
             .order_by(top.c.since, f.id))
        for fid, status, score, who, claimant, since in session.execute(q):
            since_at = as_utc(since if isinstance(since, datetime) else datetime.fromisoformat(since))
            overdue.append(OverdueLine(fid, status, score, who, claimant, end - since_at))

    # Recovered: a response of 7+ this week, after one of the customer's follow-ups was closed,
    # and the first such response since that close (so a recovery is counted once, in its week).
    # Only the customers who answered 7+ this week are candidates: the follow-up table is read
    # once against that list, then each candidate's answers are found by (customer, time) index.
    later, earlier = aliased(Response), aliased(Response)
    week_fans = select(Response.customer_id).where(
        Response.submitted_at >= start, Response.submitted_at < end, Response.score >= 7,
        Response.customer_id.is_not(None))
    if segment:
        week_fans = week_fans.where(Response.segment == segment)
    q = (select(func.count(func.distinct(f.id))).select_from(f)
         .join(later, and_(later.customer_id == f.customer_id, later.submitted_at > f.closed_at,
                           later.submitted_at >= start, later.submitted_at < end, later.score >= 7))
         .where(f.closed_at < end, f.customer_id.in_(week_fans),
                ~exists().where(earlier.customer_id == f.customer_id, earlier.submitted_at > f.closed_at,
                                earlier.submitted_at < start, earlier.score >= 7)))
    if segment:
        q = q.where(later.segment == segment)
    recovered = session.execute(q).scalar_one()

    # How this week's closes ended, and the claim SLA kept for the week's new follow-ups.
    q = select(f.outcome, func.count()).select_from(f)
    if segment:
        q = q.join(first, first.id == f.response_id).where(first.segment == segment)
    by_outcome = dict(session.execute(q.where(*closed_where).group_by(f.outcome)).all())
    outcomes = tuple((o.value, by_outcome.get(o.value, 0)) for o in Outcome) if closed else ()
    sla_seconds = claim_hours * 3600.0
    week = [f.opened_at >= start, f.opened_at < end]
    due = or_(f.claimed_at.is_not(None), f.opened_at < end - timedelta(hours=claim_hours))
    claim_sla_base = count(*week, due)
    claimed_in_sla = count(*week, f.claimed_at.is_not(None),
                           _seconds(session, f.claimed_at, f.opened_at) <= sla_seconds) if claim_sla_base else 0

    return LoopView(
        opened=opened, claimed=claimed, closed=closed, outcomes=outcomes,
        claimed_in_sla=claimed_in_sla, claim_sla_base=claim_sla_base,
        median_to_claim=None if to_claim is None else timedelta(seconds=round(to_claim)),
        median_to_close=None if to_close is None else timedelta(seconds=round(to_close)),
        overdue=tuple(overdue), overdue_total=overdue_n, recovered=recovered,
        open_detractors=open_n, arr_at_risk=float(arr_sum or 0.0),
    )


# -- building ------------------------------------------------------------------------------------
def build_digest(rt: Runtime, *, period_end: datetime, segment: str | None = None,
                 timezone: str | None = None, with_chart: bool = True) -> DigestView:
    """The digest of the 7 days before `period_end` (and the 12-week trend) for one segment or all."""
    tz = zone(timezone, rt.settings.timezone)
    end = as_utc(period_end)
    edges = week_edges(end, tz, TREND_WEEKS)
    start = edges[-2]
    settings = rt.settings
    with read_scope(rt.engine) as s:
        if _is_pg(s):
            # These queries take milliseconds; PostgreSQL's JIT would spend ~60 ms compiling each
            # one whose estimated cost passes jit_above_cost. Off for this transaction only.
            s.execute(text("SET LOCAL jit = off"))
        weekly = _trend(s, edges, segment)
        current, previous = weekly[-1], weekly[-2]
        loop = _loop(s, start, end, segment, settings.sla_claim_hours, settings.sla_close_days)
        recovery = mail_recovery(s, end, segment) if settings.mail_enabled else None
        if current.n:
            segs, segs_total = _segments(s, start, end, segment)
            theme_lines, comments, other, proposals, causes = theme_digest.theme_section(
                s, settings, start, end, segment)
        else:
            segs, segs_total, theme_lines, comments, other, proposals, causes = [], 0, [], 0, 0, (), ()
    trend = tuple(WeekPoint(edges[k].astimezone(tz), edges[k + 1].astimezone(tz), weekly[k])
                  for k in range(TREND_WEEKS))
    local_end = end.astimezone(tz)
    title = f"NPS digest · week to {local_end:%a} {_day(local_end)}, {local_end.year}"
    if segment:
        title += f" · segment {segment}"
    chart = render_trend(trend) if with_chart and current.n else None
    return DigestView(
        title=title, segment=segment, timezone=tz.key, period_start=start, period_end=end,
        current=current, previous=previous, change=compare(current, previous),
        segments=tuple(segs), segments_total=segs_total, themes=tuple(theme_lines),
        detractor_comments=comments, uncategorised=other, theme_proposals=proposals, causes=causes,
        loop=loop, trend=trend, chart_png=chart,
        sla_claim_hours=settings.sla_claim_hours, sla_close_days=settings.sla_close_days,
        recovery=recovery,
    )


def _subscription(session: Session, platform: str | None, channel_id: str) -> Subscription | None:
    q = select(Subscription).where(Subscription.channel_id == channel_id)
    if platform:
        q = q.where(Subscription.platform == platform)
    return session.execute(q.order_by(Subscription.id).limit(1)).scalar_one_or_none()


def build_digest_for(rt: Runtime, platform: str, channel_id: str, payload: dict) -> DigestView:
    """Build the digest view an outbox `digest.post` row asks for (the delivery worker calls this).

    The payload carries `period_end` (ISO 8601) and `segment`; the time zone is the payload's
    `timezone`, else the channel's digest time zone, else NPSBOT_TIMEZONE.
    """
    raw_end = payload.get("period_end")
    end = as_utc(datetime.fromisoformat(raw_end)) if raw_end else rt.clock.now()
    tz = payload.get("timezone")
    if not tz:
        with read_scope(rt.engine) as s:
            sub = _subscription(s, platform, channel_id)
            tz = sub.digest_tz if sub else None
    return build_digest(rt, period_end=end, segment=payload.get("segment"), timezone=tz)


# -- CLI entry points (`npsbot digest [--channel ID] [--preview]`) ----------------------------------
def _scheduled(session: Session) -> list[Subscription]:
    return list(session.execute(
        select(Subscription).where(Subscription.digest_weekday.is_not(None))
        .order_by(Subscription.platform, Subscription.channel_id)
    ).scalars())


def preview_text(rt: Runtime, channel_id: str | None) -> str:
    """The plain-text digest(s) as of now: one channel's (its segment), every scheduled channel's,
    or the all-segments digest when no channel has a schedule."""
    now = rt.clock.now()
    with read_scope(rt.engine) as s:
        subs = [_subscription(s, None, channel_id)] if channel_id else _scheduled(s)
    subs = [x for x in subs if x is not None]
    if not subs:
        return build_digest(rt, period_end=now, with_chart=False).as_text()
    parts = []
    for sub in subs:
        view = build_digest(rt, period_end=now, segment=sub.segment, timezone=sub.digest_tz,
                            with_chart=False)
        head = f"── {sub.platform} {sub.channel_id} ──"
        parts.append(f"{head}\n{view.as_text()}" if len(subs) > 1 or not channel_id else view.as_text())
    return "\n\n".join(parts)


def preview_chart(rt: Runtime, channel_id: str | None) -> bytes | None:
    """The trend chart `npsbot digest --preview --chart FILE` writes: the channel's segment, if any."""
    with read_scope(rt.engine) as s:
        sub = _subscription(s, None, channel_id) if channel_id else None
    view = build_digest(rt, period_end=rt.clock.now(), segment=sub.segment if sub else None,
                        timezone=sub.digest_tz if sub else None)
    return view.chart_png


def _platform_of(session: Session, rt: Runtime, channel_id: str) -> str:
    sub = _subscription(session, None, channel_id)
    if sub is not None:
        return sub.platform
    known_teams = session.execute(
        select(literal(1)).where(TeamsConversation.conversation_id == channel_id)
    ).first()
    if known_teams:
        return "teams"
    s = rt.settings
    if s.slack_enabled and not s.teams_enabled:
        return "slack"
    if s.teams_enabled and not s.slack_enabled:
        return "teams"
    raise NpsError(f"I don't know which platform channel {channel_id} is on; run `/nps digest now` "
                   "in it, or subscribe it first.")


def enqueue_digests(rt: Runtime, channel_id: str | None) -> int:
    """Queue `digest.post` rows now for one channel, or for every channel with a schedule.

    On-demand digests do not count as the scheduled one: the weekly post still goes out.
    """
    now = rt.clock.now()
    rows = []
    with session_scope(rt.engine) as s:
        if channel_id:
            sub = _subscription(s, None, channel_id)
            platform = _platform_of(s, rt, channel_id)
            targets = [(platform, channel_id, sub.segment if sub else None, sub.digest_tz if sub else None)]
        else:
            targets = [(x.platform, x.channel_id, x.segment, x.digest_tz) for x in _scheduled(s)]
        for platform, channel, segment, tz in targets:
            payload = {"period_end": now.isoformat(), "segment": segment, "on_demand": True}
            if tz:
                payload["timezone"] = tz
            rows.append(outbox.row(platform=platform, channel_id=channel, kind=outbox.DIGEST_POST, now=now,
                                   payload=payload))
        outbox.add(s, rows)
    if rows:
        rt.wake()
    return len(rows)
