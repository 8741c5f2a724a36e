"""The follow-up lifecycle: open -> claimed -> closed, reopen, assign and note.

Every change is one conditional UPDATE (so of simultaneous claims exactly one wins), an audit
event, and outbox rows that re-render the alert everywhere it is shown, in one transaction.
"""

from __future__ import annotations

from sqlalchemy import case, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot import outbox, theme_service
from bot.actors import Actor
from bot.errors import Conflict, NotFound, NpsError
from bot.queries import alert_view
from bot.runtime import Runtime
from bot.views import AlertView
from storage.db import session_scope
from storage.models import Event, FollowUp, Outcome, Status

MAX_NOTE = 3000


def _event(session: Session, number: int, actor: Actor, action: str, text: str | None, now) -> None:
    session.execute(insert(Event).values(
        followup_id=number, at=now, actor_id=actor.key, actor_name=actor.name, action=action, text=text,
    ))


def _get(session: Session, number: int) -> FollowUp:
    fu = session.get(FollowUp, number)
    if fu is None:
        raise NotFound(f"There is no follow-up #{number}.")
    return fu


def _changed(rt: Runtime, session: Session, number: int, actor: Actor, action: str,
             text: str | None, thread: str) -> AlertView:
    now = rt.clock.now()
    _event(session, number, actor, action, text, now)
    outbox.refresh_alert(session, number, now=now, thread_text=thread)
    session.flush()
    session.expire_all()
    view = alert_view(session, number, settings=rt.settings, now=now)
    assert view is not None  # the follow-up was just changed in this session
    return view


def _who(fu: FollowUp) -> str:
    return fu.claimant_name or (fu.claimant_id or "someone")


def claim(rt: Runtime, number: int, actor: Actor) -> AlertView:
    """Take an open follow-up. Raises Conflict naming who has it when someone else won."""
    now = rt.clock.now()
    with session_scope(rt.engine) as session:
        won = session.execute(
            update(FollowUp)
            .where(FollowUp.id == number, FollowUp.status == Status.OPEN)
            .values(status=Status.CLAIMED, claimant_id=actor.key, claimant_name=actor.name,
                    claimed_at=now, updated_at=now)
        ).rowcount
        if not won:
            fu = _get(session, number)
            if fu.status == Status.CLOSED:
                raise Conflict(f"#{number} is closed ({fu.outcome}); `reopen {number}` to work on it again.")
            if fu.claimant_id == actor.key:
                raise Conflict(f"You already have #{number}.")
            raise Conflict(f"#{number} is already claimed by {_who(fu)}.")
        view = _changed(rt, session, number, actor, "claimed", None, f"{actor.name} claimed #{number}.")
    rt.wake()
    return view


def assign(rt: Runtime, number: int, assignee: Actor, actor: Actor) -> AlertView:
    now = rt.clock.now()
    with session_scope(rt.engine) as session:
        done = session.execute(
            update(FollowUp)
            .where(FollowUp.id == number, FollowUp.status != Status.CLOSED)
            .values(status=Status.CLAIMED, claimant_id=assignee.key, claimant_name=assignee.name,
                    claimed_at=now, updated_at=now, close_reminded_at=None)
        ).rowcount
        if not done:
            _get(session, number)
            raise Conflict(f"#{number} is closed; `reopen {number}` before assigning it.")
        view = _changed(rt, session, number, actor, "assigned", f"to {assignee.name}",
                        f"{actor.name} assigned #{number} to {assignee.name}.")
    rt.wake()
    return view


def note(rt: Runtime, number: int, text: str, actor: Actor) -> AlertView:
    text = text.strip()
    if not text:
        raise NpsError("A note needs some text.")
    if len(text) > MAX_NOTE:
        raise NpsError(f"Notes are limited to {MAX_NOTE:,} characters; this one has {len(text):,}.")
    now = rt.clock.now()
    with session_scope(rt.engine) as session:
        done = session.execute(
            update(FollowUp).where(FollowUp.id == number).values(last_note=text, updated_at=now)
        ).rowcount
        if not done:
            _get(session, number)
        view = _changed(rt, session, number, actor, "note", text, f"{actor.name} added a note: {text}")
    rt.wake()
    return view


def close(rt: Runtime, number: int, outcome: Outcome, text: str | None, actor: Actor, *,
          cause: str | None = None) -> AlertView:
    if text and len(text) > MAX_NOTE:
        raise NpsError(f"Notes are limited to {MAX_NOTE:,} characters; this one has {len(text):,}.")
    now = rt.clock.now()
    values: dict[str, object] = {"status": Status.CLOSED, "outcome": outcome.value, "closed_at": now, "updated_at": now}
    if text:
        values["last_note"] = text
    with session_scope(rt.engine) as session:
        values["cause"] = theme_service.check_cause(session, rt.settings, number, cause)
        done = session.execute(
            update(FollowUp).where(FollowUp.id == number, FollowUp.status != Status.CLOSED).values(**values)
        ).rowcount
        if not done:
            fu = _get(session, number)
            raise Conflict(f"#{number} is already closed ({fu.outcome}).")
        why = f" (cause: {values['cause']})" if values["cause"] else ""
        line = f"{actor.name} closed #{number} as {outcome.value}{why}" + (f": {text}" if text else ".")
        view = _changed(rt, session, number, actor, "closed",
                        f"{outcome.value}{why}" + (f": {text}" if text else ""), line)
    rt.wake()
    return view


def reopen(rt: Runtime, number: int, actor: Actor) -> AlertView:
    """Reopen a closed follow-up: back to its last claimant, or to the queue if it had none."""
    now = rt.clock.now()
    try:
        with session_scope(rt.engine) as session:
            done = session.execute(
                update(FollowUp)
                .where(FollowUp.id == number, FollowUp.status == Status.CLOSED)
                .values(
                    status=case((FollowUp.claimant_id.is_(None), Status.OPEN.value), else_=Status.CLAIMED.value),
                    outcome=None, closed_at=None, updated_at=now,
                    claimed_at=case((FollowUp.claimant_id.is_(None), None), else_=now),
                    claim_reminded_at=None, close_reminded_at=None,
                )
            ).rowcount
            if not done:
                _get(session, number)
                raise Conflict(f"#{number} is not closed.")
            view = _changed(rt, session, number, actor, "reopened", None, f"{actor.name} reopened #{number}.")
    except IntegrityError:
        raise Conflict(
            f"This customer already has another follow-up that is not closed; work on that one "
            f"instead of reopening #{number}."
        ) from None
    rt.wake()
    return view
