"""The digest's SQL aggregates over responses: the trend weeks and the segments, plus the helpers
(dialect, seconds between two timestamps, median in SQL) the follow-up loop shares."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, case, cast, func, select
from sqlmodel import Session

from bot.digest.views import SEGMENTS_SHOWN, SegmentLine
from bot.nps import NpsSummary
from storage.models import FollowUp, Response


def is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def trend(session: Session, edges: list[datetime], segment: str | None) -> list[NpsSummary]:
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


def segments(session: Session, start: datetime, end: datetime,
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


def seconds(session: Session, later: Any, earlier: Any) -> Any:
    """Seconds from `earlier` to `later`, as an SQL expression of this dialect."""
    if is_pg(session):
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def median(session: Session, duration_expr: Any, where: list, segment: str | None, n: int) -> float | None:
    """Median of `duration_expr` over the `n` follow-ups matching `where`, computed by the database."""
    def base(q: Any) -> Any:
        q = q.select_from(FollowUp)
        if segment:
            q = q.join(Response, Response.id == FollowUp.response_id).where(Response.segment == segment)
        return q.where(*where)

    if is_pg(session):
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

