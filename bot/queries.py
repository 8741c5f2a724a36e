"""Read models: load follow-ups, lists, histories and scores from the database into views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlmodel import Session

from bot.clock import as_utc
from bot.commands import Verb
from bot.config import Settings
from bot.nps import NpsSummary, compare
from bot.views import (
    AlertView,
    CustomerView,
    EventView,
    FollowUpDetail,
    FollowUpList,
    ResponseView,
    ScorePoint,
    ScoreView,
)
from storage.models import (
    Category,
    Customer,
    Escalation,
    Event,
    FollowUp,
    Outcome,
    PostedMessage,
    Response,
    Status,
)

EARLIER_SCORES = 5
LIST_LIMIT = 25


def mask_email(email: str | None, show: bool) -> str | None:
    """`ops@acme.example` -> `o…@acme.example` unless emails may be shown."""
    if not email or show:
        return email
    local, _, domain = email.partition("@")
    return f"{local[:1]}…@{domain}" if domain else "…"


def actions_for(status: str) -> tuple[Verb, ...]:
    """The buttons an alert offers in each state; every renderer uses this one rule."""
    if status == Status.CLOSED:
        return (Verb.NOTE, Verb.REOPEN)
    if status == Status.CLAIMED:
        return (Verb.NOTE, Verb.CLOSE)
    return (Verb.CLAIM, Verb.NOTE, Verb.CLOSE)


def is_overdue(fu: FollowUp, now: datetime, settings: Settings) -> bool:
    if fu.status == Status.OPEN:
        return now - as_utc(fu.opened_at) > timedelta(hours=settings.sla_claim_hours)
    if fu.status == Status.CLAIMED:
        since = as_utc(fu.claimed_at or fu.opened_at)
        return now - since > timedelta(days=settings.sla_close_days)
    return False


@dataclass(frozen=True)
class _AlertBatch:
    """What alert_views reads for several follow-ups at once, keyed for the per-row views."""

    responses: dict[int | None, Response]
    customers: dict[int | None, Customer]
    counts: dict[int, int]
    first_answer: dict[int, datetime]
    earlier: dict[int | None, list[tuple[int | None, ScorePoint]]]  # customer -> (follow-up, answer)
    escalated: set[int | None]
    theme_options: tuple[str, ...]
    mail_facts: dict[int, tuple[datetime | None, int | None]]


def _answer_counts(session: Session, ids: list[int]) -> tuple[dict[int, int], dict[int, datetime]]:
    """Each follow-up's number of answers and its first answer's time (re-surveys are shown on their own)."""
    counts: dict[int, int] = {}
    first_answer: dict[int, datetime] = {}
    for fid, n, first in session.execute(
        select(Response.followup_id, func.count(), func.min(Response.submitted_at))
        .where(Response.followup_id.in_(ids), Response.source != "resurvey")  # shown on its own
        .group_by(Response.followup_id)
    ).all():
        counts[fid], first_answer[fid] = n, as_utc(first)
    return counts, first_answer


def _earlier_answers(session: Session,
                     customer_ids: set[int]) -> dict[int | None, list[tuple[int | None, ScorePoint]]]:
    earlier: dict[int | None, list[tuple[int | None, ScorePoint]]] = {}  # customer -> (follow-up, answer)
    if customer_ids:
        # The customer's answers that are not part of this follow-up, newest first.
        rows = session.execute(
            select(Response.customer_id, Response.submitted_at, Response.score, Response.followup_id)
            .where(Response.customer_id.in_(customer_ids))
            .order_by(Response.customer_id, Response.submitted_at.desc())
        ).all()
        for cid, at, score, fid in rows:
            earlier.setdefault(cid, []).append((fid, ScorePoint(as_utc(at), score)))
    return earlier


def _read_alert_batch(session: Session, followups: list[FollowUp], settings: Settings) -> _AlertBatch:
    """The batch reads behind alert_views: a fixed number of queries however many follow-ups."""
    ids = [f.id for f in followups]
    latest_ids = [f.latest_response_id for f in followups if f.latest_response_id]
    responses = {r.id: r for r in session.execute(select(Response).where(Response.id.in_(latest_ids))).scalars()} \
        if latest_ids else {}
    customer_ids = {f.customer_id for f in followups if f.customer_id}
    customers = {c.id: c for c in session.execute(
        select(Customer).where(Customer.id.in_(customer_ids))).scalars()} if customer_ids else {}
    counts, first_answer = _answer_counts(session, ids)
    earlier = _earlier_answers(session, customer_ids)
    escalated = set(session.execute(
        select(Escalation.followup_id).where(Escalation.followup_id.in_(ids))).scalars())
    from bot.theme_service import themes_in_force  # the themes module reads queries too

    theme_options = tuple(t.name for t in themes_in_force(session, settings))
    from bot.mail.facts import loop_facts

    mail_facts = loop_facts(session, ids)
    return _AlertBatch(responses, customers, counts, first_answer, earlier, escalated, theme_options, mail_facts)


def alert_views(session: Session, followups: list[FollowUp], *, settings: Settings,
                now: datetime) -> list[AlertView]:
    """Build alert views for several follow-ups with a fixed number of queries."""
    if not followups:
        return []
    batch = _read_alert_batch(session, followups, settings)
    return [_alert_view_of(f, batch, settings=settings, now=now) for f in followups]


def _customer_view(c: Customer, settings: Settings) -> CustomerView:
    return CustomerView(
        external_id=c.external_id, name=c.name,
        email=mask_email(c.email, settings.show_emails),
        segment=c.segment, arr=c.arr, owner=c.owner,
    )


def _alert_view_of(f: FollowUp, batch: _AlertBatch, *, settings: Settings, now: datetime) -> AlertView:
    """One follow-up's alert view from the batch reads."""
    r = batch.responses.get(f.latest_response_id)
    c = batch.customers.get(f.customer_id)
    # Earlier means before this follow-up's first answer: a later answer is not history.
    since = batch.first_answer.get(f.id) or (as_utc(r.submitted_at) if r else as_utc(f.opened_at))
    points = tuple(
        p for fid, p in batch.earlier.get(f.customer_id, [])
        if fid != f.id and p.submitted_at < since
    )[:EARLIER_SCORES]
    return AlertView(
        number=f.id,
        status=Status(f.status),
        score=r.score if r else 0,
        category=Category(r.category) if r else Category.DETRACTOR,
        comment=r.comment if r else None,
        submitted_at=as_utc(r.submitted_at) if r else as_utc(f.opened_at),
        source=r.source if r else "",
        customer=_customer_view(c, settings) if c else None,
        segment=(r.segment if r else None) or (c.segment if c else None),
        arr=(r.arr if r and r.arr is not None else (c.arr if c else None)),
        earlier_scores=points,
        claimant_id=f.claimant_id,
        claimant_name=f.claimant_name,
        outcome=Outcome(f.outcome) if f.outcome else None,
        last_note=f.last_note,
        response_count=batch.counts.get(f.id, 1),
        opened_at=as_utc(f.opened_at),
        claimed_at=as_utc(f.claimed_at),
        closed_at=as_utc(f.closed_at),
        overdue=is_overdue(f, now, settings),
        actions=actions_for(f.status) + ((Verb.EMAIL,) if settings.mail_enabled else ()),
        contacted_at=batch.mail_facts[f.id][0],
        resurvey_score=batch.mail_facts[f.id][1],
        snoozed_until=as_utc(f.snoozed_until) if f.snoozed_until and as_utc(f.snoozed_until) > now else None,
        escalated=f.id in batch.escalated,
        theme=r.theme if r else None, cause=f.cause, theme_options=batch.theme_options,
    )


def alert_view(session: Session, number: int, *, settings: Settings, now: datetime) -> AlertView | None:
    fu = session.get(FollowUp, number)
    if fu is None:
        return None
    return alert_views(session, [fu], settings=settings, now=now)[0]


def followup_detail(session: Session, number: int, *, settings: Settings, now: datetime) -> FollowUpDetail | None:
    alert = alert_view(session, number, settings=settings, now=now)
    if alert is None:
        return None
    fu = session.get(FollowUp, number)
    assert fu is not None  # alert_view just read it in this session
    responses = tuple(
        ResponseView(as_utc(r.submitted_at), r.score, r.comment, r.source)
        for r in session.execute(
            select(Response).where(Response.followup_id == number).order_by(Response.submitted_at)
        ).scalars()
    )
    history: tuple[ScorePoint, ...] = ()
    if fu.customer_id:
        history = tuple(
            ScorePoint(as_utc(at), score) for at, score in session.execute(
                select(Response.submitted_at, Response.score)
                .where(Response.customer_id == fu.customer_id).order_by(Response.submitted_at)
            ).all()
        )
    events = tuple(
        EventView(as_utc(e.at), e.actor_name, e.action, e.text)
        for e in session.execute(
            select(Event).where(Event.followup_id == number).order_by(Event.at, Event.id)
        ).scalars()
    )
    return FollowUpDetail(alert=alert, responses=responses, history=history, events=events)


def followup_list(session: Session, which: Verb, *, actor_key: str, settings: Settings,
                  now: datetime, where=None) -> FollowUpList:
    """`open`, `unclaimed` and `mine`: oldest first, since the oldest waits longest.

    `where` narrows the list to what the asker may see (bot/visibility.py).
    """
    q = select(FollowUp)
    if where is not None:
        q = q.where(where)
    if which == Verb.OPEN:
        q = q.where(FollowUp.status != Status.CLOSED)
        title, empty = "Follow-ups not closed", "Nothing open. Every detractor has been followed up."
    elif which == Verb.UNCLAIMED:
        q = q.where(FollowUp.status == Status.OPEN)
        title, empty = "Unclaimed follow-ups", "No unclaimed follow-ups."
    else:
        q = q.where(FollowUp.status == Status.CLAIMED, FollowUp.claimant_id == actor_key)
        title, empty = "Your follow-ups", "You have no follow-ups. `unclaimed` shows the queue."
    total = session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = list(session.execute(q.order_by(FollowUp.opened_at, FollowUp.id).limit(LIST_LIMIT)).scalars())
    items = tuple(alert_views(session, rows, settings=settings, now=now))
    return FollowUpList(title=title, items=items, total=total, empty_text=empty)


def summary(session: Session, start: datetime, end: datetime, segment: str | None = None) -> NpsSummary:
    """Counts by category for responses submitted in [start, end), computed by the database."""
    q = select(
        func.count(case((Response.category == Category.PROMOTER, 1))),
        func.count(case((Response.category == Category.PASSIVE, 1))),
        func.count(case((Response.category == Category.DETRACTOR, 1))),
    ).where(Response.submitted_at >= start, Response.submitted_at < end)
    if segment:
        q = q.where(Response.segment == segment)
    p, pa, d = session.execute(q).one()
    return NpsSummary(promoters=p, passives=pa, detractors=d)


def score_view(session: Session, *, period_days: int, segment: str | None, now: datetime) -> ScoreView:
    period = timedelta(days=period_days)
    current = summary(session, now - period, now, segment)
    previous = summary(session, now - 2 * period, now - period, segment)
    return ScoreView(period_days=period_days, segment=segment, current=current, previous=previous,
                     change=compare(current, previous))


def followup_for_message(session: Session, platform: str, channel_id: str, message_ref: str) -> int | None:
    """The follow-up whose alert is this message (for reactions and card actions)."""
    return session.execute(
        select(PostedMessage.followup_id).where(
            PostedMessage.platform == platform, PostedMessage.channel_id == channel_id,
            PostedMessage.message_ref == message_ref,
        )
    ).scalar_one_or_none()
