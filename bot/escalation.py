"""Escalation: a follow-up alerted in a channel and still unclaimed `after` its opening is posted,
once, to that channel's escalation channel as a full alert marked *escalated*.

`escalate to #channel after 24h` / `escalate off` set the rule on the channel's subscription.
Exactly once, like digests: an `Escalation` row unique on (follow-up, rule) is inserted with
`ON CONFLICT DO NOTHING` in the same transaction as the alert's outbox row, so a second replica,
a second tick or a restart after a crash finds the row and does nothing; a crash before the
commit leaves neither. Snoozed follow-ups (bot/snooze.py) wait until they wake up.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import exists, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from bot import outbox
from bot.actors import Actor, Place
from bot.errors import NpsError
from bot.routing import duration_words
from bot.runtime import Runtime
from bot.snooze import awake
from storage.db import session_scope
from storage.models import Escalation, Event, FollowUp, Outbox, OutboxStatus, PostedMessage, Status, Subscription

log = logging.getLogger(__name__)
BATCH = 200


def set_rule(rt: Runtime, place: Place, actor: Actor, *, channel: str, name: str, minutes: int) -> str:
    from bot.channels import _subscription, require_admin

    require_admin(rt, actor)
    if channel == place.channel_id:
        raise NpsError("Escalate to another channel than this one.")
    if place.platform == "teams":
        from storage.models import TeamsConversation

        with session_scope(rt.engine) as session:
            known = session.execute(select(TeamsConversation.id).where(
                TeamsConversation.conversation_id == channel)).first()
        if known is None:
            raise NpsError(f"`{name}` is not a channel I can post in; add me to it first.")
    with session_scope(rt.engine) as session:
        sub = _subscription(session, place, rt, actor)
        sub.escalate_to, sub.escalate_after_minutes = channel, minutes
        sub.updated_at = rt.clock.now()
        alerts = sub.alerts
    note = "" if alerts else " This channel gets no alerts yet: `subscribe alerts` to start them."
    return (f"Follow-ups alerted here and still unclaimed {duration_words(timedelta(minutes=minutes))} after "
            f"they opened will be posted to #{name}, once.{note}")


def rule_off(rt: Runtime, place: Place, actor: Actor) -> str:
    from bot.channels import require_admin

    require_admin(rt, actor)
    with session_scope(rt.engine) as session:
        sub = session.execute(select(Subscription).where(
            Subscription.platform == place.platform, Subscription.channel_id == place.channel_id)
        ).scalar_one_or_none()
        if sub is None or not sub.escalate_to:
            raise NpsError("This channel has no escalation.")
        sub.escalate_to = sub.escalate_after_minutes = None
        sub.updated_at = rt.clock.now()
    return "Escalation from this channel is off."


def _insert_ignore(session):
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return dialect_insert(Escalation.__table__)


def escalate_due(rt: Runtime) -> int:
    """Queue every escalation owed now; return how many follow-ups were escalated."""
    now = rt.clock.now()
    escalated = 0
    with session_scope(rt.engine) as session:
        rules = session.execute(select(Subscription).where(Subscription.escalate_to.is_not(None))).scalars().all()
        for rule in rules:
            after = timedelta(minutes=rule.escalate_after_minutes or 0)
            shown_here = exists().where(
                PostedMessage.followup_id == FollowUp.id, PostedMessage.platform == rule.platform,
                PostedMessage.channel_id == rule.channel_id)
            queued_here = exists().where(
                Outbox.followup_id == FollowUp.id, Outbox.platform == rule.platform,
                Outbox.channel_id == rule.channel_id, Outbox.kind == outbox.ALERT_POST,
                Outbox.status == OutboxStatus.PENDING)
            done = exists().where(Escalation.followup_id == FollowUp.id, Escalation.subscription_id == rule.id)
            due = session.execute(
                select(FollowUp.id).where(FollowUp.status == Status.OPEN.value, FollowUp.opened_at <= now - after,
                                          awake(now), shown_here | queued_here, ~done)
                .order_by(FollowUp.id).limit(BATCH)
            ).scalars().all()
            for fid in due:
                won = session.execute(
                    _insert_ignore(session).values(followup_id=fid, subscription_id=rule.id, platform=rule.platform,
                                                   channel_id=rule.escalate_to, created_at=now)
                    .on_conflict_do_nothing(index_elements=["followup_id", "subscription_id"])
                    .returning(Escalation.__table__.c.id)
                ).scalar_one_or_none()
                if won is None:
                    continue  # another replica (or an earlier tick) escalated it
                waited = duration_words(after)
                session.execute(insert(Event).values(
                    followup_id=fid, at=now, actor_id="system:npsbot", actor_name="npsbot", action="escalated",
                    text=f"unclaimed for {waited}"))
                outbox.refresh_alert(session, fid, now=now,
                                     thread_text=f"⏫ #{fid} was escalated: nobody claimed it within {waited}.")
                outbox.add(session, [outbox.row(platform=rule.platform, channel_id=rule.escalate_to,
                                                kind=outbox.ALERT_POST, now=now, followup_id=fid,
                                                payload={"escalated": True})])
                escalated += 1
    if escalated:
        log.info("escalation.queued", extra={"followups": escalated})
        rt.wake()
    return escalated
