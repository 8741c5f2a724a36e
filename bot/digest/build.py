"""Building a digest view: the numbers of one channel's week, and the CLI's previews."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlmodel import Session

from bot import theme_digest
from bot.chart import WeekPoint, render_trend
from bot.clock import as_utc
from bot.digest import sql
from bot.digest.loop import follow_up_loop
from bot.digest.periods import week_edges, zone
from bot.digest.views import TREND_WEEKS, DigestView
from bot.mail.recovery import recovery as mail_recovery
from bot.nps import compare
from bot.runtime import Runtime
from bot.wording import day
from storage.db import read_scope
from storage.models import Subscription


def build_digest(rt: Runtime, *, period_end: datetime, segment: str | None = None,
                 timezone: str | None = None, with_chart: bool = True) -> DigestView:
    """The digest of the 7 days before `period_end` (and the 12-week trend) for one segment or all."""
    tz = zone(timezone, rt.settings.timezone)
    end = as_utc(period_end)
    edges = week_edges(end, tz, TREND_WEEKS)
    start = edges[-2]
    settings = rt.settings
    with read_scope(rt.engine) as s:
        if sql.is_pg(s):
            # These queries take milliseconds; PostgreSQL's JIT would spend ~60 ms compiling each
            # one whose estimated cost passes jit_above_cost. Off for this transaction only.
            s.execute(text("SET LOCAL jit = off"))
        weekly = sql.trend(s, edges, segment)
        current, previous = weekly[-1], weekly[-2]
        loop = follow_up_loop(s, start, end, segment, settings.sla_claim_hours, settings.sla_close_days)
        recovery = mail_recovery(s, end, segment) if settings.mail_enabled else None
        if current.n:
            segs, segs_total = sql.segments(s, start, end, segment)
            theme_lines, comments, other, proposals, causes = theme_digest.theme_section(
                s, settings, start, end, segment)
        else:
            segs, segs_total, theme_lines, comments, other, proposals, causes = [], 0, [], 0, 0, (), ()
    trend = tuple(WeekPoint(edges[k].astimezone(tz), edges[k + 1].astimezone(tz), weekly[k])
                  for k in range(TREND_WEEKS))
    local_end = end.astimezone(tz)
    title = f"NPS digest · week to {local_end:%a} {day(local_end)}, {local_end.year}"
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


def subscription(session: Session, platform: str | None, channel_id: str) -> Subscription | None:
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
            sub = subscription(s, platform, channel_id)
            tz = sub.digest_tz if sub else None
    return build_digest(rt, period_end=end, segment=payload.get("segment"), timezone=tz)


# -- CLI entry points (`npsbot digest [--channel ID] [--preview]`) ----------------------------------
def scheduled(session: Session) -> list[Subscription]:
    return list(session.execute(
        select(Subscription).where(Subscription.digest_weekday.is_not(None))
        .order_by(Subscription.platform, Subscription.channel_id)
    ).scalars())


def preview_text(rt: Runtime, channel_id: str | None) -> str:
    """The plain-text digest(s) as of now: one channel's (its segment), every scheduled channel's,
    or the all-segments digest when no channel has a schedule."""
    now = rt.clock.now()
    with read_scope(rt.engine) as s:
        subs = [subscription(s, None, channel_id)] if channel_id else scheduled(s)
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
        sub = subscription(s, None, channel_id) if channel_id else None
    view = build_digest(rt, period_end=rt.clock.now(), segment=sub.segment if sub else None,
                        timezone=sub.digest_tz if sub else None)
    return view.chart_png

