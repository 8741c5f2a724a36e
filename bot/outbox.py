"""The outbox: writing deliveries inside the caller's transaction, and the delivery worker's SQL.

The writing side (`row`, `add`, `refresh_alerts`) runs in the transaction of the change it
announces. The reading side (`heads`, `lease`, `mark_sent`, …) is what bot.delivery's worker runs,
each in a short transaction of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, CursorResult, Engine, and_, case, func, insert, or_, select, update
from sqlmodel import Session

from bot.clock import as_utc
from storage.db import read_scope, session_scope
from storage.models import Outbox, OutboxStatus, PostedMessage

ALERT_POST = "alert.post"
ALERT_UPDATE = "alert.update"
THREAD_NOTE = "thread.note"
TEXT = "text"
DIGEST_POST = "digest.post"


def row(*, platform: str, channel_id: str, kind: str, now: datetime, followup_id: int | None = None,
        payload: dict | None = None) -> dict:
    return {
        "platform": platform, "channel_id": channel_id, "kind": kind, "followup_id": followup_id,
        "payload": payload, "status": OutboxStatus.PENDING, "attempts": 0,
        "next_attempt_at": now, "created_at": now,
    }


def add(session: Session | Connection, rows: list[dict]) -> None:
    if rows:
        session.execute(insert(Outbox), rows)


def matching_subscriptions(subs: list, *, score: int, segment: str | None, arr: float | None = None,
                           tags: dict | None = None, theme: str | None = None) -> list:
    """Channels whose alert filter lets this response through (all its conditions hold)."""
    from bot.routing import extra_conditions_hold, first_subscribed

    return first_subscribed([
        s for s in subs
        if s.alerts and score <= s.max_score and (s.segment is None or s.segment == segment)
        and extra_conditions_hold(s, arr=arr, tags=tags, theme=theme)
    ])


def alert_targets(session: Session | Connection, followup_id: int) -> set[tuple[str, str]]:
    """Every (platform, channel) that shows, or is about to show, the alert of a follow-up."""
    return alert_targets_many(session, [followup_id])[followup_id]


def alert_targets_many(session: Session | Connection, followup_ids: list[int]) -> dict[int, set[tuple[str, str]]]:
    """`alert_targets` for several follow-ups in two queries."""
    posted = session.execute(
        select(PostedMessage.followup_id, PostedMessage.platform, PostedMessage.channel_id).where(
            PostedMessage.followup_id.in_(followup_ids)
        )
    ).all()
    pending = session.execute(
        select(Outbox.followup_id, Outbox.platform, Outbox.channel_id).where(
            Outbox.followup_id.in_(followup_ids),
            Outbox.kind == ALERT_POST,
            Outbox.status == OutboxStatus.PENDING,
        )
    ).all()
    targets: dict[int, set[tuple[str, str]]] = {fid: set() for fid in followup_ids}
    for fid, platform, channel in [*posted, *pending]:
        targets[fid].add((platform, channel))
    return targets


def refresh_alerts(session: Session | Connection, thread_texts: dict[int, str | None], *, now: datetime) -> None:
    """Re-render each follow-up's alert everywhere it is shown and leave a line in its thread."""
    rows = []
    for fid, places in alert_targets_many(session, list(thread_texts)).items():
        for platform, channel in sorted(places):
            rows.append(row(platform=platform, channel_id=channel, kind=ALERT_UPDATE, now=now, followup_id=fid))
            if thread_texts[fid]:
                rows.append(row(platform=platform, channel_id=channel, kind=THREAD_NOTE, now=now,
                                followup_id=fid, payload={"text": thread_texts[fid]}))
    add(session, rows)


def refresh_alert(session: Session | Connection, followup_id: int, *, now: datetime, thread_text: str | None) -> None:
    """Re-render one follow-up's alert everywhere it is shown and leave a line in its thread."""
    refresh_alerts(session, {followup_id: thread_text}, now=now)


# -- the reading side: what the delivery worker (bot.delivery) leases, sends and settles ----------
@dataclass
class Job:
    """One outbox row as the worker carries it."""

    id: int
    platform: str
    channel_id: str
    kind: str
    followup_id: int | None
    payload: dict | None
    attempts: int


def heads(engine: Engine, platforms: list[str], *, now: datetime, owner: str) -> list[tuple[Job, datetime, bool]]:
    """The oldest pending row of every channel: later rows wait for it (order per channel).

    Each with when it is due and whether another worker holds its lease.
    """
    with read_scope(engine) as s:
        # Two lanes per channel: posts (alerts, thread lines, texts, digests) keep their order
        # and pacing; in-place updates of alerts already posted need neither, so a burst of
        # new alerts never delays the "claimed by" on an older one.
        lane = case((Outbox.kind == ALERT_UPDATE, "update"), else_="post")
        first = (
            select(func.min(Outbox.id))
            .where(Outbox.status == OutboxStatus.PENDING, Outbox.platform.in_(platforms))
            .group_by(Outbox.platform, Outbox.channel_id, lane)
        )
        rows = s.execute(select(Outbox).where(Outbox.id.in_(first))).scalars().all()
        return [
            (Job(r.id, r.platform, r.channel_id, r.kind, r.followup_id, r.payload, r.attempts),
             as_utc(r.next_attempt_at),
             r.lease_until is not None and as_utc(r.lease_until) > now and r.lease_owner != owner)
            for r in rows
        ]


def lease(engine: Engine, job: Job, *, owner: str, now: datetime, until: datetime) -> bool:
    """Take a pending row for `owner` unless another worker's lease on it is still running."""
    with session_scope(engine) as s:
        return cast(CursorResult, s.execute(
            update(Outbox)
            .where(Outbox.id == job.id, Outbox.status == OutboxStatus.PENDING,
                   or_(Outbox.lease_until.is_(None), Outbox.lease_until < now,
                       and_(Outbox.lease_owner == owner)))
            .values(lease_owner=owner, lease_until=until)
        )).rowcount == 1


def renew(engine: Engine, job: Job, *, owner: str, until: datetime) -> None:
    with session_scope(engine) as s:
        s.execute(update(Outbox).where(Outbox.id == job.id, Outbox.lease_owner == owner)
                  .values(lease_until=until))


def superseded(engine: Engine, job: Job) -> bool:
    """A newer update of the same alert is queued in the same channel."""
    with read_scope(engine) as s:
        return s.execute(select(Outbox.id).where(
            Outbox.status == OutboxStatus.PENDING, Outbox.kind == ALERT_UPDATE,
            Outbox.followup_id == job.followup_id, Outbox.platform == job.platform,
            Outbox.channel_id == job.channel_id, Outbox.id > job.id,
        ).limit(1)).first() is not None


def post_pending(engine: Engine, job: Job) -> bool:
    """The alert this row is about is still waiting to be posted in the same channel."""
    with read_scope(engine) as s:
        return s.execute(select(Outbox.id).where(
            Outbox.status == OutboxStatus.PENDING, Outbox.kind == ALERT_POST,
            Outbox.followup_id == job.followup_id, Outbox.platform == job.platform,
            Outbox.channel_id == job.channel_id,
        ).limit(1)).first() is not None


def posted_refs(engine: Engine, job: Job) -> list[str]:
    """The message references of the job's follow-up alert in the job's channel, oldest first."""
    with read_scope(engine) as s:
        return list(s.execute(
            select(PostedMessage.message_ref).where(
                PostedMessage.followup_id == job.followup_id, PostedMessage.platform == job.platform,
                PostedMessage.channel_id == job.channel_id,
            ).order_by(PostedMessage.id)
        ).scalars())


def mark_sent(engine: Engine, job: Job, posted_ref: str | None, *, now: datetime) -> None:
    """Settle a delivered row (and remember where a new alert was posted)."""
    with session_scope(engine) as s:
        if job.kind == ALERT_POST and posted_ref and job.followup_id is not None:
            s.add(PostedMessage(followup_id=job.followup_id, platform=job.platform,
                                channel_id=job.channel_id, message_ref=str(posted_ref), posted_at=now))
        s.execute(update(Outbox).where(Outbox.id == job.id).values(
            status=OutboxStatus.SENT, sent_at=now, lease_owner=None, lease_until=None,
            attempts=Outbox.attempts + 1))


def mark_failed(engine: Engine, job: Job, *, owner: str, dead: bool, attempts: int, retry_at: datetime,
                error: str) -> None:
    """Give a failed row back for a retry at `retry_at`, or park it as dead."""
    with session_scope(engine) as s:
        s.execute(update(Outbox).where(Outbox.id == job.id, Outbox.lease_owner == owner).values(
            status=OutboxStatus.DEAD if dead else OutboxStatus.PENDING, attempts=attempts,
            next_attempt_at=retry_at, lease_owner=None, lease_until=None, last_error=error[:500]))
