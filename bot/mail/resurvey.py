"""Re-survey: ask a customer again, `NPSBOT_RESURVEY_DAYS` after their follow-up was closed well.

One `Resurvey` row per follow-up (unique) is written with its outbox e-mail in one transaction,
so several schedulers or replicas ask once. A customer is never asked twice within 90 days or
after unsubscribing; a skipped re-survey keeps its reason. The answer, from a signed link, is a
normal response (source `resurvey`) linked to the follow-up; clicking again changes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot import outbox
from bot.actors import SYSTEM
from bot.mail.compose import new_message_id, payload, render
from bot.mail.outgoing import customer_address, queue_email
from bot.mail.tokens import BadToken, read_resurvey, read_unsubscribe, resurvey_token, unsubscribe_token
from bot.nps import classify
from bot.runtime import Runtime
from storage.db import session_scope
from storage.models import Customer, Event, FollowUp, MailOptOut, Outcome, Response, Resurvey, Status

log = logging.getLogger(__name__)

GUARD = timedelta(days=90)
# Follow-ups closed longer ago than this before their re-survey date are not asked (e.g. when
# e-mail is switched on for a database with years of history).
CATCH_UP = timedelta(days=14)
BATCH = 200
MAX_COMMENT = 2000
SOURCE = "resurvey"


def run_due(rt: Runtime) -> int:
    """Send (or skip, with the reason) every re-survey that is due; returns how many were sent."""
    s = rt.settings
    if not s.resurvey_days or not s.mail_enabled or not s.public_url or not s.secret_key:
        return 0
    now = rt.clock.now()
    due = now - timedelta(days=s.resurvey_days)
    sent = 0
    with session_scope(rt.engine) as session:
        candidates = session.execute(
            select(FollowUp).where(
                FollowUp.status == Status.CLOSED,
                FollowUp.outcome.in_((Outcome.RESOLVED.value, Outcome.RECOVERED.value)),
                FollowUp.closed_at <= due, FollowUp.closed_at >= due - CATCH_UP,
                ~exists().where(Resurvey.followup_id == FollowUp.id),
            ).order_by(FollowUp.closed_at).limit(BATCH)
        ).scalars().all()
        for fu in candidates:
            try:
                with session.begin_nested():
                    sent += _one(rt, session, fu, now)
            except IntegrityError:
                continue  # another replica took this follow-up first
    if sent:
        rt.wake()
        log.info("resurvey.sent", extra={"count": sent})
    return sent


def _one(rt: Runtime, session, fu: FollowUp, now) -> int:
    customer, refusal = customer_address(session, fu)
    reason = refusal and ("unsubscribed" if "unsubscribed" in refusal else "no e-mail address")
    if not reason:
        assert customer is not None  # no refusal: customer_address found the customer
        if session.execute(select(Resurvey.id).where(
                Resurvey.customer_id == customer.id, Resurvey.sent_at >= now - GUARD).limit(1)).first():
            reason = "asked within the last 90 days"
    values = {"followup_id": fu.id, "customer_id": fu.customer_id, "created_at": now}
    if reason:
        session.execute(insert(Resurvey).values(status="skipped", reason=reason, **values))
        return 0
    session.execute(insert(Resurvey).values(status="sent", sent_at=now, **values))
    assert customer is not None and customer.email  # no refusal: customer_address found a usable address
    assert rt.settings.public_url  # run_due sends nothing without it
    base = rt.settings.public_url.rstrip("/")
    token = resurvey_token(rt, fu.id, customer.id)
    links = [(score, f"{base}/r/{token}/{score}") for score in range(11)]
    unsubscribe_url = f"{base}/u/{unsubscribe_token(rt, customer.id)}"
    greeting = f"Hello {customer.name}," if customer.name else "Hello,"
    sender = rt.settings.mail_from or "npsbot"
    plain, html = render(rt.settings, "resurvey", greeting=greeting, links=links, sender=sender,
                         unsubscribe_url=unsubscribe_url, number=fu.id)
    mail = payload(rt.settings, to=customer.email.strip(), subject=f"A quick question [#{fu.id}]", text=plain,
                   html=html, message_id=new_message_id(rt.settings), unsubscribe_url=unsubscribe_url)
    queue_email(session, now=now, number=fu.id, to=customer.email.strip(), kind="resurvey", actor_name=None,
                mail=mail)
    session.execute(insert(Event).values(followup_id=fu.id, at=now, actor_id=SYSTEM.key, actor_name=SYSTEM.name,
                                         action="re-survey sent", text=None))
    outbox.refresh_alert(session, fu.id, now=now, thread_text=f"✉ Re-survey e-mailed to the customer of #{fu.id}.")
    return 1


@dataclass(frozen=True)
class Answer:
    followup_id: int
    score: int
    customer: str
    comment: str | None


def record_answer(rt: Runtime, token: str, score: int) -> Answer:
    """Store (or change) the answer a re-survey link carries. BadToken for forged/expired links."""
    if not 0 <= score <= 10:
        raise BadToken("Scores go from 0 to 10.")
    number, customer_id = read_resurvey(rt, token)
    for attempt in range(2):
        try:
            return _record(rt, number, customer_id, score)
        except IntegrityError:
            if attempt:  # two clicks at once: the second becomes a change of the first
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _record(rt: Runtime, number: int, customer_id: int, score: int) -> Answer:
    now = rt.clock.now()
    with session_scope(rt.engine) as session:
        survey = session.execute(select(Resurvey).where(Resurvey.followup_id == number)).scalar_one_or_none()
        customer = session.get(Customer, customer_id)
        if survey is None or survey.customer_id != customer_id or customer is None:
            raise BadToken("This link is not valid.")
        who = customer.name or customer.external_id
        existing = session.execute(select(Response).where(
            Response.source == SOURCE, Response.external_id == f"followup-{number}")).scalar_one_or_none()
        if existing is not None and existing.score == score:
            return Answer(number, score, who, existing.comment)
        if existing is None:
            response_id = session.execute(insert(Response).values(
                source=SOURCE, external_id=f"followup-{number}", score=score, category=classify(score).value,
                submitted_at=now, received_at=now, customer_id=customer_id, segment=customer.segment,
                arr=customer.arr, followup_id=number).returning(Response.id)).scalar_one()
            comment = None
            text = f"{score}/10"
        else:
            before = existing.score
            session.execute(update(Response).where(Response.id == existing.id).values(
                score=score, category=classify(score).value, submitted_at=now, received_at=now))
            response_id, comment = existing.id, existing.comment
            text = f"{score}/10 (changed from {before})"
        session.execute(update(Resurvey).where(Resurvey.id == survey.id).values(
            status="answered", answered_at=now, response_id=response_id))
        session.execute(insert(Event).values(followup_id=number, at=now, actor_id=f"customer:{customer.external_id}",
                                             actor_name=who[:200], action="re-survey answer", text=text))
        outbox.refresh_alert(session, number, now=now, thread_text=f"📋 Re-survey answer from {who}: {text}")
    rt.wake()
    return Answer(number, score, who, comment)


def add_comment(rt: Runtime, token: str, comment: str) -> Answer:
    """Attach the page's optional comment to the answer already recorded for this link."""
    number, customer_id = read_resurvey(rt, token)
    comment = (comment or "").strip()[:MAX_COMMENT]
    now = rt.clock.now()
    with session_scope(rt.engine) as session:
        response = session.execute(select(Response).where(
            Response.source == SOURCE, Response.external_id == f"followup-{number}",
            Response.customer_id == customer_id)).scalar_one_or_none()
        if response is None:
            raise BadToken("Please pick a score first.")
        customer = session.get(Customer, customer_id)
        assert customer is not None  # the response just found is this customer's
        who = customer.name or customer.external_id
        if comment and comment != (response.comment or ""):
            session.execute(update(Response).where(Response.id == response.id).values(comment=comment))
            session.execute(insert(Event).values(
                followup_id=number, at=now, actor_id=f"customer:{customer.external_id}", actor_name=who[:200],
                action="re-survey comment", text=comment))
            outbox.refresh_alert(session, number, now=now, thread_text=f"📋 {who} added: {comment}")
        score = response.score
    rt.wake()
    return Answer(number, score, who, comment or None)


def unsubscribe(rt: Runtime, token: str) -> str:
    """Opt the customer of an unsubscribe link out of all npsbot e-mail; returns their name."""
    customer_id = read_unsubscribe(rt, token)
    with session_scope(rt.engine) as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise BadToken("This link is not valid.")
        if session.get(MailOptOut, customer_id) is None:
            session.add(MailOptOut(customer_id=customer_id, at=rt.clock.now()))
        return customer.name or customer.external_id


__all__ = ["Answer", "BadToken", "add_comment", "record_answer", "run_due", "unsubscribe"]
