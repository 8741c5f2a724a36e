"""Snooze: `snooze N 3d` silences reminders and escalation for #N until then; `snooze N off`.

The follow-up keeps `snoozed_until`; reminders (bot/reminders.py) and escalation
(bot/escalation.py) only pick follow-ups that are `awake`. The alert shows the snooze.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update

from bot import outbox
from bot.actors import Actor
from bot.errors import Conflict, NotFound
from bot.queries import alert_view
from bot.runtime import Runtime
from bot.views import AlertView
from storage.db import session_scope
from storage.models import Event, FollowUp, Status


def awake(now: datetime):
    """SQL condition: the follow-up is not snoozed at `now`."""
    return or_(FollowUp.snoozed_until.is_(None), FollowUp.snoozed_until <= now)


def until_words(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC"


def snooze(rt: Runtime, number: int, minutes: int, actor: Actor) -> tuple[str, AlertView]:
    """Snooze #N for `minutes` (0 ends the snooze); returns the sentence and the fresh alert."""
    now = rt.clock.now()
    until = now + timedelta(minutes=minutes) if minutes else None
    with session_scope(rt.engine) as session:
        done = session.execute(
            update(FollowUp).where(FollowUp.id == number, FollowUp.status != Status.CLOSED)
            .values(snoozed_until=until, updated_at=now)
        ).rowcount
        if not done:
            if session.get(FollowUp, number) is None:
                raise NotFound(f"There is no follow-up #{number}.")
            raise Conflict(f"#{number} is closed; there is nothing to snooze.")
        if until:
            text, line = f"until {until_words(until)}", f"{actor.name} snoozed #{number} until {until_words(until)}."
            sentence = f"#{number} is snoozed until {until_words(until)}: no reminders or escalation till then."
        else:
            text, line = None, f"{actor.name} ended the snooze of #{number}."
            sentence = f"#{number} is no longer snoozed."
        session.add(Event(followup_id=number, at=now, actor_id=actor.key, actor_name=actor.name,
                          action="snoozed" if until else "unsnoozed", text=text))
        outbox.refresh_alert(session, number, now=now, thread_text=line)
        session.flush()
        session.expire_all()
        view = alert_view(session, number, settings=rt.settings, now=now)
        assert view is not None  # the follow-up was just changed in this session
    rt.wake()
    return sentence, view
