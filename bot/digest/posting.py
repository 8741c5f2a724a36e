"""A digest's trip through the outbox: the one way digests are queued, and the worker's sender.

Both doors queue through `enqueue`: the chat command (`/nps digest now`, via
`bot.channels.request_digest`, which checks who may ask) and the CLI (`npsbot digest`, one
channel or every scheduled one). On-demand digests do not count as the scheduled one: the weekly
post still goes out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import literal, select
from sqlmodel import Session

from bot import outbox
from bot.digest.build import build_digest_for, scheduled, subscription
from bot.errors import Forbidden, NpsError
from bot.runtime import Runtime
from storage.db import session_scope
from storage.models import Subscription, TeamsConversation

if TYPE_CHECKING:
    from bot.actors import Actor, Place
    from bot.delivery import DeliveryWorker, Notifier
    from bot.outbox import Job


@dataclass(frozen=True)
class Target:
    """A channel to post a digest to, with its segment filter and digest time zone."""

    platform: str
    channel_id: str
    segment: str | None = None
    timezone: str | None = None

    @classmethod
    def of(cls, platform: str, channel_id: str, sub: Subscription | None) -> Target:
        return cls(platform, channel_id, sub.segment if sub else None, sub.digest_tz if sub else None)


def enqueue(rt: Runtime, session: Session, targets: list[Target]) -> int:
    """Write one `digest.post` row per target in the caller's transaction (as of now); wake the
    worker after commit is the caller's (`rt.wake`)."""
    now = rt.clock.now()
    rows = []
    for t in targets:
        payload: dict = {"period_end": now.isoformat(), "segment": t.segment, "on_demand": True}
        if t.timezone:
            payload["timezone"] = t.timezone
        rows.append(outbox.row(platform=t.platform, channel_id=t.channel_id, kind=outbox.DIGEST_POST,
                               now=now, payload=payload))
    outbox.add(session, rows)
    return len(rows)


def request_digest(rt: Runtime, place: Place, actor: Actor | None = None) -> None:
    """Queue a digest for a chat channel now (its segment filter applies).

    Only admins may post one to a channel without a digest schedule: the schedule is the admin's
    decision that this channel sees the numbers.
    """
    with session_scope(rt.engine) as session:
        sub = subscription(session, place.platform, place.channel_id)
        if actor is not None and (sub is None or not sub.digest_weekday) and not actor.is_admin(rt.settings.admins):
            raise Forbidden("This channel has no digest schedule, so only the people listed in NPSBOT_ADMINS "
                            "can post a digest here.")
        enqueue(rt, session, [Target.of(place.platform, place.channel_id, sub)])
    rt.wake()


def enqueue_digests(rt: Runtime, channel_id: str | None) -> int:
    """Queue `digest.post` rows now for one channel, or for every channel with a schedule (the CLI)."""
    with session_scope(rt.engine) as s:
        if channel_id:
            targets = [Target.of(_platform_of(s, rt, channel_id), channel_id, subscription(s, None, channel_id))]
        else:
            targets = [Target.of(x.platform, x.channel_id, x) for x in scheduled(s)]
        queued = enqueue(rt, s, targets)
    if queued:
        rt.wake()
    return queued


def _platform_of(session: Session, rt: Runtime, channel_id: str) -> str:
    sub = subscription(session, None, channel_id)
    if sub is not None:
        return sub.platform
    known_teams = session.execute(
        select(literal(1)).where(TeamsConversation.conversation_id == channel_id)
    ).first()
    if known_teams:
        return "teams"
    s = rt.settings
    if s.slack_enabled and not s.teams_enabled:
        return "slack"
    if s.teams_enabled and not s.slack_enabled:
        return "teams"
    raise NpsError(f"I don't know which platform channel {channel_id} is on; run `/nps digest now` "
                   "in it, or subscribe it first.")


async def send_digest(worker: DeliveryWorker, notifier: Notifier, job: Job) -> str | None:
    """The delivery worker's sender for `digest.post`: build the view as the row asks, post it."""
    digest = await asyncio.to_thread(build_digest_for, worker.rt, job.platform, job.channel_id,
                                     job.payload or {})
    await notifier.post_digest(job.channel_id, digest)
    return None


