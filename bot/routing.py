"""Routing: which channel's alert filter lets a follow-up through, and the commands that set it.

A channel holds one filter (`subscribe alerts [segment=S] [max_score=N] [min_arr=N] [theme=T]
[tag.K=V]`); every given condition must hold. The parsing of the routing commands (`subscribe`,
`duty`, `escalate`, `snooze`) and their arguments (durations, channels, people) lives here too, so
`bot/commands.py` only hands the words over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.commands import Command, Verb, _number, parse_mention
from bot.errors import CommandError, NpsError
from bot.theme_service import themes_in_force
from storage.db import read_scope, session_scope
from storage.models import Subscription

FILTER_KEYS = ("segment", "max_score", "min_arr", "theme")
DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_DURATION = re.compile(r"^(\d{1,5})([mhd])$")
# Slack escapes a channel as `<#C123|name>` (or `<#C123>`); the Teams door turns a channel mention
# into `<@19:…@thread.tacv2|name>`; a Teams conversation id may also be typed as is.
_SLACK_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|([^>]*))?>$")
_TEAMS_CHANNEL = re.compile(r"^<@(19:[^|>]+)(?:\|([^>]*))?>$|^(19:\S+)$")
MAX_DUTY = 20


# -- parsing ------------------------------------------------------------------------------------
def parse_duration(token: str | None, *, what: str) -> timedelta:
    """`30m`, `24h`, `3d` -> timedelta; anything else names itself in the error."""
    if not token:
        raise CommandError(f"{what} needs a duration; use 30m, 24h or 3d.")
    match = _DURATION.match(token.lower())
    if not match or int(match.group(1)) == 0:
        raise CommandError(f"`{token}` is not a duration; use 30m, 24h or 3d.")
    return timedelta(**{DURATION_UNITS[match.group(2)]: int(match.group(1))})


def duration_words(delta: timedelta) -> str:
    """`24 hours`, `3 days`, `30 minutes`: days from two days up, as people say it."""
    minutes = int(delta.total_seconds() // 60)
    if minutes % 1440 == 0 and minutes >= 2880:
        n, unit = minutes // 1440, "day"
    elif minutes % 60 == 0:
        n, unit = minutes // 60, "hour"
    else:
        n, unit = minutes, "minute"
    return f"{n} {unit}{'s' if n != 1 else ''}"


def parse_channel(token: str) -> tuple[str, str]:
    """(channel id, display name) of a channel as Slack or Teams sends it."""
    match = _SLACK_CHANNEL.match(token)
    if match:
        return match.group(1), match.group(2) or match.group(1)
    match = _TEAMS_CHANNEL.match(token)
    if match:
        cid = match.group(1) or match.group(3)
        return cid, match.group(2) or cid
    raise CommandError(f"`{token}` is not a channel I can post in; pick it from the list as you type `#`.")


def parse_filter(tokens: list[str]) -> dict[str, Any]:
    """The options of `subscribe alerts`, validated; tags as {"tags": {K: V}}."""
    opts: dict[str, Any] = {"tags": {}}
    for token in tokens:
        key, sep, value = token.partition("=")
        if key.startswith("tag.") and sep and len(key) > 4 and value:
            opts["tags"][key[4:]] = value
            continue
        if not sep or key not in FILTER_KEYS or not value:
            names = ", ".join(f"`{k}=…`" for k in FILTER_KEYS) + " and `tag.K=V`"
            raise CommandError(f"`subscribe alerts` does not understand `{token}`; it takes {names}.")
        if key == "max_score":
            if not value.isdigit() or not 0 <= int(value) <= 10:
                raise CommandError(f"`max_score={value}` must be a whole number from 0 to 10.")
            opts[key] = int(value)
        elif key == "min_arr":
            try:
                amount = float(value.replace(",", "").replace("_", ""))
            except ValueError:
                amount = -1.0
            if not 0 <= amount < 1e15:
                raise CommandError(f"`min_arr={value}` must be an amount of 0 or more, e.g. `min_arr=50000`.")
            opts[key] = amount
        else:
            opts[key] = value
    return opts


def parse(word: str, tokens: list[str]) -> Command:
    """`duty …`, `escalate …`, `snooze …` and `subscribe [alerts …]`."""
    if word == "subscribe":
        if not tokens:
            return Command(Verb.SUBSCRIBE_SHOW)
        if tokens[0].lower() != "alerts":
            raise CommandError("Did you mean `subscribe alerts`?")
        opts = parse_filter(tokens[1:])
        extra = {"min_arr": opts.get("min_arr"), "theme": opts.get("theme"), "tags": opts["tags"] or None}
        return Command(Verb.SUBSCRIBE, segment=opts.get("segment"), max_score=opts.get("max_score", 6),
                       extra={k: v for k, v in extra.items() if v is not None})
    if word == "duty":
        if not tokens:
            return Command(Verb.DUTY)
        if len(tokens) == 1 and tokens[0].lower() == "off":
            return Command(Verb.DUTY_OFF)
        if len(tokens) > MAX_DUTY:
            raise CommandError(f"A rotation holds at most {MAX_DUTY} people.")
        people = []
        for token in tokens:
            if not token.startswith(("<@", "@")):
                raise CommandError(f"`{token}` is not a person; mention them, e.g. `duty @maria @joe`.")
            people.append(parse_mention(token))
        return Command(Verb.DUTY_SET, extra={"people": people})
    if word == "escalate":
        if len(tokens) == 1 and tokens[0].lower() == "off":
            return Command(Verb.ESCALATE_OFF)
        if len(tokens) != 4 or tokens[0].lower() != "to" or tokens[2].lower() != "after":
            raise CommandError("`escalate` takes `to #channel after 24h` or `off`.")
        channel, name = parse_channel(tokens[1])
        after = parse_duration(tokens[3], what="`escalate`")
        return Command(Verb.ESCALATE, extra={"channel": channel, "channel_name": name,
                                             "minutes": int(after.total_seconds() // 60)})
    if word == "snooze":
        number = _number(tokens[0] if tokens else None, "snooze")
        if len(tokens) != 2:
            raise CommandError("`snooze` needs a number and a duration, e.g. `snooze 12 3d` (or `snooze 12 off`).")
        if tokens[1].lower() == "off":
            return Command(Verb.SNOOZE, number=number, extra={"minutes": 0})
        delta = parse_duration(tokens[1], what="`snooze`")
        if delta > timedelta(days=90):
            raise CommandError(f"`{tokens[1]}` is too long; snooze for at most 90d.")
        return Command(Verb.SNOOZE, number=number, extra={"minutes": int(delta.total_seconds() // 60)})
    raise CommandError(f"I don't know the command `{word}`.")  # pragma: no cover


# -- matching -----------------------------------------------------------------------------------
def _tag_matches(tags: dict | None, wanted: dict | None) -> bool:
    if not wanted:
        return True
    have = {str(k).lower(): str(v).lower() for k, v in (tags or {}).items()}
    return all(have.get(str(k).lower()) == str(v).lower() for k, v in wanted.items())


def extra_conditions_hold(sub: Any, *, arr: float | None, tags: dict | None, theme: str | None) -> bool:
    """The conditions beyond score and segment: ARR floor, theme, tags (all must hold)."""
    min_arr = getattr(sub, "min_arr", None)
    if min_arr is not None and (arr is None or arr < min_arr):
        return False
    wanted_theme = getattr(sub, "theme", None)
    if wanted_theme and (theme or "").lower() != wanted_theme.lower():
        return False
    return _tag_matches(tags, getattr(sub, "tag_filter", None))


def first_subscribed(subs: list) -> list:
    """Channels in the order they subscribed to alerts (the first wins a rotation)."""
    def key(s):
        since = getattr(s, "alerts_since", None)
        return (since is None, since.isoformat() if since else "", getattr(s, "id", 0) or 0)
    return sorted(subs, key=key)


# -- describing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FilterWords:
    segment: str | None
    max_score: int
    min_arr: float | None
    theme: str | None
    tags: dict | None

    def sentence(self) -> str:
        parts = [f"every response scoring {self.max_score} or less"]
        parts.append(f"from segment {self.segment}" if self.segment else "from every segment")
        if self.min_arr is not None:
            parts.append(f"from customers with ARR of at least {self.min_arr:,.0f}")
        if self.theme:
            parts.append(f"about {self.theme}")
        for k, v in sorted((self.tags or {}).items()):
            parts.append(f"tagged {k}={v}")
        return " ".join(parts[:2]) + "".join(f", {p}" for p in parts[2:])


# -- the channel's filter (service) -------------------------------------------------------------
def _known_theme(name: str, rt) -> str:
    """A theme in force (the theme file's and those added from digests), by its name."""
    with read_scope(rt.engine) as s:
        names = [t.name for t in themes_in_force(s, rt.settings)]
    for known in names:
        if known.lower() == name.lower():
            return known
    raise NpsError(f"`theme={name}` is not a theme I know; use one of: {', '.join(names)}.")


def subscribe(rt, place, actor, c: Command) -> str:
    """Set this channel's one alert filter (replacing the one before)."""
    from bot.channels import _subscription, require_admin

    require_admin(rt, actor)
    extra = c.extra or {}
    theme = _known_theme(extra["theme"], rt) if extra.get("theme") else None
    now = rt.clock.now()
    with session_scope(rt.engine) as session:
        sub = _subscription(session, place, rt, actor)
        if not sub.alerts or sub.alerts_since is None:
            sub.alerts_since = now
        sub.alerts, sub.segment, sub.max_score = True, c.segment, c.max_score
        sub.min_arr, sub.theme, sub.tag_filter = extra.get("min_arr"), theme, extra.get("tags") or None
        sub.updated_at = now
        words = _words(sub)
    return f"This channel now gets an alert for {words.sentence()}."


def _words(sub) -> FilterWords:
    return FilterWords(sub.segment, sub.max_score, sub.min_arr, sub.theme, sub.tag_filter)


def describe(rt, place) -> str:
    """`subscribe` alone: the channel's filter, rotation and escalation in words."""
    from bot import rotation

    with read_scope(rt.engine) as session:
        sub = session.execute(select(Subscription).where(
            Subscription.platform == place.platform, Subscription.channel_id == place.channel_id)
        ).scalar_one_or_none()
        if sub is None or not sub.alerts:
            lines = ["This channel gets no alerts; `subscribe alerts` starts them."]
        else:
            lines = [f"This channel gets an alert for {_words(sub).sentence()}."]
        if sub is not None and sub.duty:
            lines.append(rotation.describe(sub, rt.settings, rt.clock.now()))
        if sub is not None and sub.escalate_to:
            after = duration_words(timedelta(minutes=sub.escalate_after_minutes or 0))
            lines.append(f"Unclaimed follow-ups go to {channel_label(sub.platform, sub.escalate_to)} after {after}.")
    return "\n".join(lines)


def channel_label(platform: str, channel_id: str) -> str:
    """Our own words for a channel (notices are escaped, so no `<#C…>` link)."""
    return f"#{channel_id}" if platform == "slack" else "the escalation channel"
