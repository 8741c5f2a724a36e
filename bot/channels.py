"""Channel settings: alert subscriptions and digest schedules (admin-only when admins are set)."""

from __future__ import annotations

from sqlalchemy import select

from bot.actors import Actor, Place
from bot.errors import Forbidden, NpsError
from bot.runtime import Runtime
from storage.db import session_scope
from storage.models import Subscription

WEEKDAY_NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday",
                 "fri": "Friday", "sat": "Saturday", "sun": "Sunday"}


def require_admin(rt: Runtime, actor: Actor) -> None:
    if not actor.is_admin(rt.settings.admins):
        raise Forbidden(
            "Only the people listed in NPSBOT_ADMINS can change subscriptions and schedules; "
            "ask one of them."
        )


def _subscription(session, place: Place, rt: Runtime, actor: Actor) -> Subscription:
    sub = session.execute(
        select(Subscription).where(Subscription.platform == place.platform,
                                   Subscription.channel_id == place.channel_id)
    ).scalar_one_or_none()
    if sub is None:
        sub = Subscription(platform=place.platform, channel_id=place.channel_id,
                           updated_at=rt.clock.now(), created_by=actor.key)
        session.add(sub)
    return sub


def get(rt: Runtime, place: Place) -> Subscription | None:
    with session_scope(rt.engine) as session:
        return session.execute(
            select(Subscription).where(Subscription.platform == place.platform,
                                       Subscription.channel_id == place.channel_id)
        ).scalar_one_or_none()


def subscribe(rt: Runtime, place: Place, actor: Actor, *, segment: str | None, max_score: int) -> str:
    require_admin(rt, actor)
    with session_scope(rt.engine) as session:
        sub = _subscription(session, place, rt, actor)
        sub.alerts, sub.segment, sub.max_score = True, segment, max_score
        sub.updated_at = rt.clock.now()
    which = f"segment {segment}" if segment else "every segment"
    return f"This channel now gets an alert for every response scoring {max_score} or less from {which}."


def unsubscribe(rt: Runtime, place: Place, actor: Actor) -> str:
    require_admin(rt, actor)
    with session_scope(rt.engine) as session:
        sub = _subscription(session, place, rt, actor)
        if not sub.alerts:
            raise NpsError("This channel was not subscribed to alerts.")
        sub.alerts = False
        sub.updated_at = rt.clock.now()
    return "This channel no longer gets alerts. Follow-ups already posted keep working."


def schedule_digest(rt: Runtime, place: Place, actor: Actor, *, weekday: str, time: str,
                    timezone: str | None) -> str:
    require_admin(rt, actor)
    tz = timezone or rt.settings.timezone
    with session_scope(rt.engine) as session:
        sub = _subscription(session, place, rt, actor)
        sub.digest_weekday, sub.digest_time, sub.digest_tz = weekday, time, tz
        sub.updated_at = rt.clock.now()
    return f"This channel gets the NPS digest every {WEEKDAY_NAMES[weekday]} at {time} ({tz})."


def digest_off(rt: Runtime, place: Place, actor: Actor) -> str:
    require_admin(rt, actor)
    with session_scope(rt.engine) as session:
        sub = _subscription(session, place, rt, actor)
        if not sub.digest_weekday:
            raise NpsError("This channel has no digest schedule.")
        sub.digest_weekday = sub.digest_time = sub.digest_tz = None
        sub.updated_at = rt.clock.now()
    return "This channel's weekly digest is off."


def request_digest(rt: Runtime, place: Place, actor: Actor | None = None) -> str:
    """Queue a digest for this channel now (its segment filter applies; bot.digest.posting checks
    who may ask)."""
    from bot.digest.posting import request_digest as queue_digest

    queue_digest(rt, place, actor)
    return "Building the digest for this channel; it will be posted here in a moment."
