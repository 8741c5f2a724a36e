"""The one Command model, parsed from the chat command grammar of interface.md.

Every door (Slack `/nps`, a Teams message, a button, a modal, a reaction, a shell line) builds a
`Command`; the dispatcher is the only place that acts on it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import CommandError
from bot.theme_commands import parse_theme_command, take_cause
from storage.models import Outcome


class Verb(StrEnum):
    HELP = "help"
    SCORE = "score"
    OPEN = "open"
    UNCLAIMED = "unclaimed"
    MINE = "mine"
    SHOW = "show"
    CLAIM = "claim"
    ASSIGN = "assign"
    NOTE = "note"
    CLOSE = "close"
    REOPEN = "reopen"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    DIGEST_NOW = "digest now"
    DIGEST_SCHEDULE = "digest schedule"
    DIGEST_OFF = "digest off"
    # Routing, ownership and escalation (bot/routing.py parses these).
    SUBSCRIBE_SHOW = "subscribe show"
    DUTY = "duty"
    DUTY_SET = "duty set"
    DUTY_OFF = "duty off"
    ESCALATE = "escalate"
    ESCALATE_OFF = "escalate off"
    SNOOZE = "snooze"
    THEME = "theme"
    THEMES = "themes"
    THEMES_ADD = "themes add"
    EMAIL = "email"


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PERIODS = {"7d": 7, "30d": 30, "90d": 90}

# Reactions name their verb here, not in the platform handlers.
REACTION_VERBS: dict[str, Verb] = {"eyes": Verb.CLAIM, "white_check_mark": Verb.CLOSE}

HELP_LINES: tuple[tuple[str, str], ...] = (
    ("help", "lists the commands"),
    ("score [7d|30d|90d] [segment=S]", "NPS with counts, margin of error and change"),
    ("open · unclaimed · mine", "follow-ups not closed · with no claimant · claimed by me"),
    ("show N", "one follow-up with its response, history, notes and audit trail"),
    ("claim N", "take follow-up #N"),
    ("assign N @user", "give follow-up #N to someone"),
    ("note N text", "add a note to #N"),
    ("close N [resolved|recovered|unreachable|churned|no-action] [text]", "close #N with an outcome"),
    ("reopen N", "reopen a closed follow-up"),
    ("email N text", "e-mail the customer of #N; their reply comes back to the alert's thread"),
    ("subscribe alerts [segment=S] [max_score=6]", "post detractor alerts in this channel"),
    ("unsubscribe alerts", "stop alerts in this channel"),
    ("digest now · digest schedule mon 09:00 [Europe/Berlin] · digest off", "this channel's digest"),
    ("subscribe alerts [segment=S] [max_score=N] [min_arr=N] [theme=T] [tag.K=V] · subscribe",
     "this channel's alert filter · show it"),
    ("duty @a @b … · duty · duty off", "this channel's weekly duty rotation"),
    ("escalate to #channel after 24h · escalate off", "post what nobody claimed to another channel"),
    ("snooze N 3d · snooze N off", "no reminders or escalation for #N for a while"),
    ("theme N NAME · themes · themes add NAME [description]", "file #N under a theme · themes with 30-day counts"),
)


@dataclass(frozen=True)
class Command:
    """A parsed request: the verb and whichever arguments it takes."""

    verb: Verb
    number: int | None = None
    text: str | None = None
    outcome: Outcome | None = None
    period_days: int = 30
    segment: str | None = None
    max_score: int = 6
    assignee: str | None = None
    weekday: str | None = None
    time: str | None = None
    timezone: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# Slack `<@U123|name>`; Teams mentions arrive as `<@29:1abc…|name>` or an Entra object id.
_MENTION = re.compile(r"^<@([A-Za-z0-9][\w:.\-]*)(?:\|([^>]*))?>$")


def _number(token: str | None, verb: str) -> int:
    if token is None:
        raise CommandError(f"`{verb}` needs a follow-up number, e.g. `{verb} 12`.")
    digits = token[1:] if token.startswith("#") else token
    if not digits.isdigit() or int(digits) == 0 or len(digits) > 9:
        raise CommandError(f"`{token}` is not a follow-up number; use the number shown as #N.")
    return int(digits)


def _options(tokens: list[str], allowed: set[str], verb: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep or key not in allowed or not value:
            names = ", ".join(f"`{a}=…`" for a in sorted(allowed))
            raise CommandError(f"`{verb}` does not understand `{token}`; it takes {names}.")
        options[key] = value
    return options


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def parse_command(text: str) -> Command:
    """Parse a chat command (`claim 12`, `score 7d segment=renewal`, ...).

    Raises:
        CommandError: naming what was wrong, for the help to show.
    """
    text = (text or "").strip()
    if text.lower().startswith("/nps"):
        text = text[4:].strip()
    if not text:
        return Command(Verb.HELP)
    head, _, rest = text.partition(" ")
    word = head.lower()
    rest = rest.strip()
    tokens = _split(rest) if rest else []
    parser = _PARSERS.get(word)
    if parser is None:
        raise CommandError(f"I don't know the command `{head}`.")
    return parser(word, rest, tokens)


# Each verb's parser takes (the lower-cased verb word, the rest of the line, the rest as tokens).
_Parser = Callable[[str, str, list[str]], Command]


def _parse_help(word: str, rest: str, tokens: list[str]) -> Command:
    return Command(Verb.HELP)


def _parse_score(word: str, rest: str, tokens: list[str]) -> Command:
    period = 30
    seg = None
    for token in tokens:
        if token.lower() in PERIODS:
            period = PERIODS[token.lower()]
        elif "=" not in token:
            raise CommandError(f"`score` does not understand `{token}`; the period is one of "
                               f"{'|'.join(PERIODS)} (e.g. `score 7d`), a segment is `segment=…`.")
        else:
            seg = _options([token], {"segment"}, "score")["segment"]
    return Command(Verb.SCORE, period_days=period, segment=seg)


def _parse_list(word: str, rest: str, tokens: list[str]) -> Command:
    """`open`, `unclaimed`, `mine`."""
    if tokens:
        raise CommandError(f"`{word}` takes no arguments.")
    return Command(Verb(word))


def _parse_numbered(word: str, rest: str, tokens: list[str]) -> Command:
    """`show N`, `claim N`, `reopen N`."""
    if len(tokens) > 1:
        raise CommandError(f"`{word}` takes just a follow-up number, e.g. `{word} 12`.")
    return Command(Verb(word), number=_number(tokens[0] if tokens else None, word))


def _parse_assign(word: str, rest: str, tokens: list[str]) -> Command:
    number = _number(tokens[0] if tokens else None, word)
    if len(tokens) != 2:
        raise CommandError("`assign` needs a number and a person, e.g. `assign 12 @maria`.")
    return Command(Verb.ASSIGN, number=number, assignee=tokens[1])


def _number_and_text(word: str, rest: str, missing: str) -> Command:
    """`note N text` and `email N text`: the number, then the rest of the line as it was typed."""
    parts = rest.split(None, 1)
    number = _number(parts[0] if parts else None, word)
    text = parts[1].strip() if len(parts) > 1 else ""
    if not text:
        raise CommandError(missing)
    return Command(Verb(word), number=number, text=text)


def _parse_note(word: str, rest: str, tokens: list[str]) -> Command:
    return _number_and_text(word, rest, "`note` needs some text, e.g. `note 12 called, will follow up Friday`.")


def _parse_email(word: str, rest: str, tokens: list[str]) -> Command:
    return _number_and_text(word, rest, "`email` needs the text to send, e.g. `email 12 Sorry about the ticket, …`.")


def _parse_theme(word: str, rest: str, tokens: list[str]) -> Command:
    return parse_theme_command(word, rest)


def _parse_close(word: str, rest: str, tokens: list[str]) -> Command:
    cause, rest = take_cause(rest)
    parts = rest.split(None, 2)
    number = _number(parts[0] if parts else None, word)
    outcome = Outcome.RESOLVED
    note_parts = parts[1:]
    if note_parts:
        try:
            outcome = Outcome(note_parts[0].lower())
            note_parts = note_parts[1:]
        except ValueError:
            # Without a known outcome word, everything after the number is the note.
            pass
    close_note = " ".join(note_parts).strip() or None
    return Command(Verb.CLOSE, number=number, outcome=outcome, text=close_note,
                   extra={"cause": cause} if cause else {})


def _parse_routing(word: str, rest: str, tokens: list[str]) -> Command:
    """`duty …`, `escalate …`, `snooze …`, `subscribe [alerts …]`: bot/routing.py parses these."""
    if word == "subscribe" and tokens and tokens[0].lower() != "alerts":
        raise CommandError(f"Did you mean `{word} alerts`?")
    from bot import routing  # routing builds on this module

    return routing.parse(word, tokens)


def _parse_unsubscribe(word: str, rest: str, tokens: list[str]) -> Command:
    if not tokens or tokens[0].lower() != "alerts":
        raise CommandError(f"Did you mean `{word} alerts`?")
    if len(tokens) > 1:
        raise CommandError("`unsubscribe alerts` takes no options.")
    return Command(Verb.UNSUBSCRIBE)


def _parse_digest(word: str, rest: str, tokens: list[str]) -> Command:
    sub = tokens[0].lower() if tokens else ""
    if sub == "now" and len(tokens) == 1:
        return Command(Verb.DIGEST_NOW)
    if sub == "off" and len(tokens) == 1:
        return Command(Verb.DIGEST_OFF)
    if sub == "schedule":
        return _digest_schedule(tokens[1:])
    raise CommandError("`digest` takes `now`, `schedule mon 09:00 [Europe/Berlin]` or `off`.")


_PARSERS: dict[str, _Parser] = {
    "help": _parse_help, "?": _parse_help,
    "score": _parse_score,
    "open": _parse_list, "unclaimed": _parse_list, "mine": _parse_list,
    "show": _parse_numbered, "claim": _parse_numbered, "reopen": _parse_numbered,
    "assign": _parse_assign,
    "note": _parse_note,
    "theme": _parse_theme, "themes": _parse_theme,
    "email": _parse_email,
    "close": _parse_close,
    "duty": _parse_routing, "escalate": _parse_routing, "snooze": _parse_routing, "subscribe": _parse_routing,
    "unsubscribe": _parse_unsubscribe,
    "digest": _parse_digest,
}


_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _digest_schedule(tokens: list[str]) -> Command:
    example = "e.g. `digest schedule mon 09:00 Europe/Berlin`"
    if len(tokens) not in (2, 3):
        raise CommandError(f"`digest schedule` needs a weekday and a time, {example}.")
    day = tokens[0].lower()[:3]
    if day not in WEEKDAYS or not tokens[0].isalpha():
        raise CommandError(f"`{tokens[0]}` is not a weekday; use mon, tue, wed, thu, fri, sat or sun.")
    match = _TIME.match(tokens[1])
    if not match:
        raise CommandError(f"`{tokens[1]}` is not a time of day; use 24-hour HH:MM, {example}.")
    tz = None
    if len(tokens) == 3:
        tz = tokens[2]
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise CommandError(
                f"`{tz}` is not a time zone I know; use an IANA name like Europe/Berlin."
            ) from None
    hhmm = f"{int(match.group(1)):02d}:{match.group(2)}"
    return Command(Verb.DIGEST_SCHEDULE, weekday=day, time=hhmm, timezone=tz)


def parse_mention(token: str) -> tuple[str, str]:
    """Return (user id, display name) for `<@U123|maria>`, `<@U123>`, `@maria` or `maria`."""
    match = _MENTION.match(token)
    if match:
        return match.group(1), match.group(2) or match.group(1)
    name = token.lstrip("@")
    if not name:
        raise CommandError("`assign` needs a person, e.g. `assign 12 @maria`.")
    return name, name


def reaction_command(reaction: str, number: int) -> Command | None:
    """The command a reaction stands for on an alert (`eyes` claims, `white_check_mark` closes)."""
    verb = REACTION_VERBS.get(reaction.strip(":").split("::")[0])
    if verb is None:
        return None
    if verb == Verb.CLOSE:
        return Command(Verb.CLOSE, number=number, outcome=Outcome.RESOLVED)
    return Command(verb, number=number)


_T = TypeVar("_T")


def given(value: _T | None) -> _T:
    """A `Command` field its verb's parser always fills (`claim N` has a number), narrowed for the type checker."""
    assert value is not None, "the parser fills this field for this verb"
    return value
