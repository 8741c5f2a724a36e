"""The follow-up loop of a digest week, in SQL: is every detractor being called back?

Counts over `opened_at` / `claimed_at` / `closed_at`, medians in SQL (bot.digest.sql.median), the
open detractors with their ARR and the overdue ones as of the end of the week, the recovered
detractors, how the week's closes ended and the claim SLA kept. Each step is one small query.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from bot.clock import as_utc
from bot.digest.sql import median, seconds
from bot.digest.views import OVERDUE_SHOWN, LoopView, OverdueLine
from bot.limits import MAX_ARR
from storage.models import Customer, FollowUp, Outcome, Response, Status

f = FollowUp
Counter = Callable[..., int]


def follow_up_loop(session: Session, start: datetime, end: datetime, segment: str | None,
                   claim_hours: float, close_days: float) -> LoopView:
    """The loop for the week [start, end), for one segment (the opening response's) or all."""
    count = _counter(session, segment)
    opened = count(f.opened_at >= start, f.opened_at < end)
    # No index on claimed_at: these read the follow-up table once, sequentially (no opened_at
    # condition, which would turn the scan into 100,000 index lookups on SQLite).
    claimed_where = [f.claimed_at >= start, f.claimed_at < end]
    claimed = count(*claimed_where)
    closed_where = [f.closed_at >= start, f.closed_at < end]
    closed = count(*closed_where)
    to_claim = median(session, seconds(session, f.claimed_at, f.opened_at), claimed_where, segment,
                      claimed) if claimed else None
    to_close = median(session, seconds(session, f.closed_at, f.opened_at), closed_where, segment,
                      closed) if closed else None
    active, overdue_cond = _overdue_terms(end, claim_hours, close_days)
    open_n, arr_sum, overdue_n = _open_detractors(session, segment, active, overdue_cond)
    overdue = _overdue(session, end, segment, active, overdue_cond) if overdue_n else []
    recovered = _recovered(session, start, end, segment)
    outcomes = _outcomes(session, closed_where, segment, closed)
    claim_sla_base, claimed_in_sla = _claim_sla(session, count, start, end, claim_hours)
    return LoopView(
        opened=opened, claimed=claimed, closed=closed, outcomes=outcomes,
        claimed_in_sla=claimed_in_sla, claim_sla_base=claim_sla_base,
        median_to_claim=None if to_claim is None else timedelta(seconds=round(to_claim)),
        median_to_close=None if to_close is None else timedelta(seconds=round(to_close)),
        overdue=tuple(overdue), overdue_total=overdue_n, recovered=recovered,
        open_detractors=open_n, arr_at_risk=float(arr_sum or 0.0),
    )


def _counter(session: Session, segment: str | None) -> Counter:
    """Counts follow-ups matching conditions; the segment is that of the response that opened them."""
    first = aliased(Response)

    def count(*where: Any) -> int:
        q = select(func.count()).select_from(f)
        if segment:
            q = q.join(first, first.id == f.response_id).where(first.segment == segment)
        return session.execute(q.where(*where)).scalar_one()

    return count


def _overdue_terms(end: datetime, claim_hours: float, close_days: float) -> tuple[list[Any], Any]:
    """Conditions for "active at the end of the week" and "past its service level then"."""
    claim_due = end - timedelta(hours=claim_hours)
    close_due = end - timedelta(days=close_days)
    active = [f.status.in_([Status.OPEN.value, Status.CLAIMED.value]), f.opened_at < end]
    overdue_cond = or_(and_(f.status == Status.OPEN.value, f.opened_at < claim_due),
                       and_(f.status == Status.CLAIMED.value,
                            func.coalesce(f.claimed_at, f.opened_at) < close_due))
    return active, overdue_cond


def _open_detractors(session: Session, segment: str | None, active: list[Any],
                     overdue_cond: Any) -> tuple[int, float, int]:
    """Open detractors, their ARR, and how many are overdue, as of the end of the period.

    ARR is the one recorded with the customer's latest answer, else the customer's current ARR
    (looked up only for the rows that lack it).
    """
    latest = aliased(Response)
    customer_arr = select(Customer.arr).where(Customer.id == f.customer_id).scalar_subquery()
    arr = func.coalesce(latest.arr, customer_arr)
    # Each value capped as the door caps it, so rows stored before the cap cannot overflow a sum.
    capped = case((arr > MAX_ARR, MAX_ARR), else_=arr)
    q = (select(func.count(), func.coalesce(func.sum(capped), 0.0),
                func.count(case((overdue_cond, 1))))
         .select_from(f).outerjoin(latest, latest.id == f.latest_response_id).where(*active))
    if segment:
        q = q.where(latest.segment == segment)
    open_n, arr_sum, overdue_n = session.execute(q).one()
    return open_n, arr_sum, overdue_n


def _overdue(session: Session, end: datetime, segment: str | None, active: list[Any],
             overdue_cond: Any) -> list[OverdueLine]:
    """The ten that have waited longest, chosen on the follow-up table alone; then their names."""
    latest = aliased(Response)
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
    overdue = []
    for fid, status, score, who, claimant, since in session.execute(q):
        since_at = as_utc(since if isinstance(since, datetime) else datetime.fromisoformat(since))
        overdue.append(OverdueLine(fid, status, score, who, claimant, end - since_at))
    return overdue


def _recovered(session: Session, start: datetime, end: datetime, segment: str | None) -> int:
    """Detractors recovered this week.

    A response of 7+ this week, after one of the customer's follow-ups was closed, and the first
    such response since that close (so a recovery is counted once, in its week). Only the
    customers who answered 7+ this week are candidates: the follow-up table is read once against
    that list, then each candidate's answers are found by (customer, time) index.
    """
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
    return session.execute(q).scalar_one()


def _outcomes(session: Session, closed_where: list[Any], segment: str | None,
              closed: int) -> tuple[tuple[str, int], ...]:
    """How this week's closes ended, in Outcome order, zeros included (none when nothing closed)."""
    first = aliased(Response)
    q = select(f.outcome, func.count()).select_from(f)
    if segment:
        q = q.join(first, first.id == f.response_id).where(first.segment == segment)
    by_outcome = dict(session.execute(q.where(*closed_where).group_by(f.outcome)).all())
    return tuple((o.value, by_outcome.get(o.value, 0)) for o in Outcome) if closed else ()


def _claim_sla(session: Session, count: Counter, start: datetime, end: datetime,
               claim_hours: float) -> tuple[int, int]:
    """(base, kept): the week's new follow-ups whose claim SLA ran out or that were claimed, and
    how many of those were claimed within it."""
    sla_seconds = claim_hours * 3600.0
    week = [f.opened_at >= start, f.opened_at < end]
    due = or_(f.claimed_at.is_not(None), f.opened_at < end - timedelta(hours=claim_hours))
    claim_sla_base = count(*week, due)
    claimed_in_sla = count(*week, f.claimed_at.is_not(None),
                           seconds(session, f.claimed_at, f.opened_at) <= sla_seconds) if claim_sla_base else 0
    return claim_sla_base, claimed_in_sla
