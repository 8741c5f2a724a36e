"""SLA reminders: no detractor waits forgotten.

- A follow-up still unclaimed `NPSBOT_SLA_CLAIM_HOURS` after it opened gets a line in its alert's
  thread, in every channel that shows the alert.
- A follow-up claimed but not closed `NPSBOT_SLA_CLOSE_DAYS` after its claim gets a line in its
  alert's thread and a direct message to the claimant.

Each breach reminds once: the reminder is claimed with a conditional UPDATE that sets
`claim_reminded_at` / `close_reminded_at` where it is still empty, in the same transaction as the
outbox rows and the audit event, so two replicas (or two ticks) never remind twice. Closed
follow-ups never match. Reopening or reassigning clears the mark (bot/followups.py), which starts a
new service-level clock. Reminder texts hold no customer text: only `#N`, the score and durations.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, insert, select, update
from sqlmodel import Session

from bot import outbox
from bot.clock import as_utc
from bot.runtime import Runtime
from bot.snooze import awake
from storage.db import session_scope
from storage.models import Event, FollowUp, Status

log = logging.getLogger(__name__)

# Platforms that can take a direct message; others (the shell) have no one to message.
DM_PLATFORMS = frozenset({"slack", "teams"})
BATCH = 200


def _hours(value: float) -> str:
    return f"{value:g} hour{'s' if value != 1 else ''}"


def _days(value: float) -> str:
    return f"{value:g} day{'s' if value != 1 else ''}"


def _waited(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 48:
        return f"{hours:.0f} hours"
    return f"{hours / 24:.0f} days"


def _event(now: datetime, followup_id: int, text: str) -> dict:
    return {"followup_id": followup_id, "at": now, "actor_id": "system:npsbot", "actor_name": "npsbot",
            "action": "reminded", "text": text}


def _take(session: Session, due, marker, now: datetime) -> list[FollowUp]:
    """Mark up to BATCH due follow-ups as reminded; return those this transaction marked."""
    ids = list(session.execute(
        select(FollowUp.id).where(due, marker.is_(None)).order_by(FollowUp.id).limit(BATCH)
    ).scalars())
    if not ids:
        return []
    # The marker must still be empty when we write it: whoever sets it first reminds.
    won = list(session.execute(
        update(FollowUp).where(FollowUp.id.in_(ids), due, marker.is_(None))
        .values({marker.key: now}).returning(FollowUp.id)
    ).scalars())
    if not won:
        return []
    return list(session.execute(select(FollowUp).where(FollowUp.id.in_(won)).order_by(FollowUp.id)).scalars())


def send_reminders(rt: Runtime) -> int:
    """Queue the reminders that are due now; return how many follow-ups were reminded."""
    now = rt.clock.now()
    s = rt.settings
    claim_due = now - timedelta(hours=s.sla_claim_hours)
    close_due = now - timedelta(days=s.sla_close_days)
    reminded = 0
    with session_scope(rt.engine) as session:
        rows: list[dict] = []
        events: list[dict] = []
        unclaimed = _take(session, and_(FollowUp.status == Status.OPEN.value, FollowUp.opened_at < claim_due,
                                         awake(now)),
                          FollowUp.claim_reminded_at, now)
        for fu in unclaimed:
            waited = _waited(now - as_utc(fu.opened_at))
            text = (f"⏰ Reminder: #{fu.id} has waited {waited} without anyone claiming it "
                    f"(target: {_hours(s.sla_claim_hours)}). `claim {fu.id}` to take it.")
            for platform, channel in sorted(outbox.alert_targets(session, fu.id)):
                rows.append(outbox.row(platform=platform, channel_id=channel, kind=outbox.TEXT, now=now,
                                       followup_id=fu.id, payload={"text": text, "thread": True}))
            events.append(_event(now, fu.id, f"unclaimed past {_hours(s.sla_claim_hours)}"))

        stale = _take(session, and_(FollowUp.status == Status.CLAIMED.value, FollowUp.claimed_at < close_due,
                                     awake(now)),
                      FollowUp.close_reminded_at, now)
        for fu in stale:
            assert fu.claimed_at is not None  # picked by `claimed_at < close_due`
            waited = _waited(now - as_utc(fu.claimed_at))
            who = fu.claimant_name or "its owner"
            thread = (f"⏰ Reminder: #{fu.id} was claimed by {who} {waited} ago and is not closed yet "
                      f"(target: {_days(s.sla_close_days)}).")
            for platform, channel in sorted(outbox.alert_targets(session, fu.id)):
                rows.append(outbox.row(platform=platform, channel_id=channel, kind=outbox.TEXT, now=now,
                                       followup_id=fu.id, payload={"text": thread, "thread": True}))
            platform, _, user_id = (fu.claimant_id or "").partition(":")
            if platform in DM_PLATFORMS and user_id:
                dm = (f"⏰ You claimed #{fu.id} {waited} ago and it is still open "
                      f"(target: close within {_days(s.sla_close_days)}). When it is done: "
                      f"`close {fu.id} resolved` (or recovered, unreachable, churned, no-action).")
                rows.append(outbox.row(platform=platform, channel_id=user_id, kind=outbox.TEXT, now=now,
                                       followup_id=fu.id, payload={"text": dm}))
            events.append(_event(now, fu.id, f"open past {_days(s.sla_close_days)} after claim"))

        outbox.add(session, rows)
        if events:
            session.execute(insert(Event), events)
        reminded = len(unclaimed) + len(stale)
    if reminded:
        log.info("reminders.sent", extra={"followups": reminded})
        rt.wake()
    return reminded
