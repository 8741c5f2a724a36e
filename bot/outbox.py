"""Writing deliveries into the outbox, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select
from sqlmodel import Session

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
