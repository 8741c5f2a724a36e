"""Duty rotations: `duty @a @b …` gives each new follow-up alerted in a channel to whoever is on duty.

The rotation is weekly and hands over on Monday 00:00 in the channel's time zone (its digest time
zone, else `NPSBOT_TIMEZONE`). Whose week it is comes from calendar dates in that zone, never from
a count of 7×24 hours, so a week that gains or loses an hour to daylight saving still changes
hands at local midnight. Stored on the subscription as `{"people": [{"id", "name"}], "since":
"<the Monday the rotation started>"}`.

Assignment happens in the transaction that opens the follow-up (bot/ingest.py calls
`assign_new`): the follow-up becomes the person's (as `assign` would), the audit trail says
"assigned by rotation" and the person gets a direct message. A follow-up alerted in several
channels with rotations goes to the channel that subscribed first.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, select, update

from bot import outbox
from bot.actors import Actor, Place
from bot.config import Settings
from bot.errors import NpsError
from bot.routing import first_subscribed
from bot.runtime import Runtime
from storage.db import session_scope
from storage.models import Event, FollowUp, Status, Subscription

DM_PLATFORMS = frozenset({"slack", "teams"})


def channel_tz(sub, settings: Settings) -> ZoneInfo:
    return ZoneInfo(getattr(sub, "digest_tz", None) or settings.timezone)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def on_duty(duty: dict, tz: ZoneInfo, now: datetime, *, weeks_ahead: int = 0) -> dict | None:
    """The person on duty at `now` (or that many weeks later): {"id", "name"}."""
    people = (duty or {}).get("people") or []
    if not people:
        return None
    since = date.fromisoformat(duty.get("since") or _monday(now.astimezone(tz).date()).isoformat())
    weeks = (_monday(now.astimezone(tz).date()) - since).days // 7 + weeks_ahead
    return people[weeks % len(people)]


def next_handover(tz: ZoneInfo, now: datetime) -> datetime:
    """The next Monday 00:00 in the channel's zone, as an aware datetime."""
    monday = _monday(now.astimezone(tz).date()) + timedelta(days=7)
    return datetime.combine(monday, time(0), tzinfo=tz)


def _who(person: dict) -> str:
    return person.get("name") or person["id"].partition(":")[2]


def describe(sub, settings: Settings, now: datetime) -> str:
    tz = channel_tz(sub, settings)
    current, after = on_duty(sub.duty, tz, now), on_duty(sub.duty, tz, now, weeks_ahead=1)
    assert current is not None and after is not None  # a rotation being described has people
    handover = next_handover(tz, now)
    return (f"On duty now: {_who(current)}; next: {_who(after)} from Monday "
            f"{handover:%Y-%m-%d} 00:00 ({tz.key}). Rotation: {', '.join(_who(p) for p in sub.duty['people'])}.")


def _get(session, place: Place) -> Subscription | None:
    return session.execute(select(Subscription).where(
        Subscription.platform == place.platform, Subscription.channel_id == place.channel_id)
    ).scalar_one_or_none()


def set_duty(rt: Runtime, place: Place, actor: Actor, people: list[tuple[str, str]]) -> str:
    from bot.channels import _subscription, require_admin

    require_admin(rt, actor)
    now = rt.clock.now()
    seen, rota = set(), []
    for user_id, name in people:
        key = f"{place.platform}:{user_id}"
        if key not in seen:
            seen.add(key)
            rota.append({"id": key, "name": name})
    with session_scope(rt.engine) as session:
        sub = _subscription(session, place, rt, actor)
        tz = channel_tz(sub, rt.settings)
        sub.duty = {"people": rota, "since": _monday(now.astimezone(tz).date()).isoformat()}
        sub.updated_at = now
        text = describe(sub, rt.settings, now)
        alerts = sub.alerts
    note = "" if alerts else " This channel gets no alerts yet: `subscribe alerts` to start them."
    return f"Duty rotation set, changing every Monday 00:00 ({tz.key}). {text}{note}"


def show_duty(rt: Runtime, place: Place) -> str:
    with session_scope(rt.engine) as session:
        sub = _get(session, place)
        if sub is None or not sub.duty:
            raise NpsError("This channel has no duty rotation; `duty @a @b` sets one.")
        return describe(sub, rt.settings, rt.clock.now())


def duty_off(rt: Runtime, place: Place, actor: Actor) -> str:
    from bot.channels import require_admin

    require_admin(rt, actor)
    with session_scope(rt.engine) as session:
        sub = _get(session, place)
        if sub is None or not sub.duty:
            raise NpsError("This channel has no duty rotation.")
        sub.duty = None
        sub.updated_at = rt.clock.now()
    return "This channel's duty rotation is off. Follow-ups already assigned stay with their people."


def assign_new(session, matched: dict[int, list], *, settings: Settings, now: datetime) -> list[dict]:
    """Give each newly opened follow-up to the person on duty in the first matching channel.

    `matched` maps follow-up id -> the subscriptions its alert goes to. Runs inside the ingest
    transaction; returns the outbox rows (direct messages) for the caller to add.
    """
    picks: list[dict] = []
    for fid, subs in matched.items():
        for sub in first_subscribed([s for s in subs if getattr(s, "duty", None)]):
            person = on_duty(sub.duty, channel_tz(sub, settings), now)
            if person:
                picks.append({"fid": fid, "cid": person["id"], "cname": _who(person), "ch": sub.channel_id,
                              "platform": sub.platform})
                break
    if not picks:
        return []
    table = FollowUp.__table__
    session.execute(
        update(table).where(table.c.id == bindparam("fid"), table.c.status == Status.OPEN.value)
        .values(status=Status.CLAIMED.value, claimant_id=bindparam("cid"), claimant_name=bindparam("cname"),
                claimed_at=now, updated_at=now),
        [{"fid": p["fid"], "cid": p["cid"], "cname": p["cname"]} for p in picks],
    )
    session.execute(insert(Event), [
        {"followup_id": p["fid"], "at": now, "actor_id": "system:npsbot", "actor_name": "npsbot",
         "action": "assigned by rotation", "text": f"to {p['cname']}"} for p in picks
    ])
    rows = []
    for p in picks:
        platform, _, user_id = p["cid"].partition(":")
        if platform in DM_PLATFORMS and user_id:
            rows.append(outbox.row(platform=platform, channel_id=user_id, kind=outbox.TEXT, now=now,
                                   followup_id=p["fid"], payload={"text": (
                                       f"You are on duty: follow-up #{p['fid']} was assigned to you by the "
                                       f"rotation. `show {p['fid']}` to see it, `close {p['fid']}` when done.")}))
    return rows
