"""The bounds every door applies to numbers and staff text, sized for the platforms' own limits.

One place, so the validation at the command layer, the webhook models and the column sizes of
storage/models.py agree (a value the door accepts always fits its column on PostgreSQL).
"""

from __future__ import annotations

from bot.errors import NpsError

# Respondent-controlled (survey hidden fields): a bound keeps every sum of ARR finite.
MAX_ARR = 1e12

# Platform user ids: Slack `U…`/`W…` (≤ 21), Teams `29:…` ids and Entra object ids (≤ ~200).
MAX_USER_ID = 255  # columns hold `platform:` + id (300)
# Display names: Entra allows 256 characters, Slack 80 (display) / 255 (real name).
MAX_NAME = 256
# A segment name typed into `subscribe alerts segment=…` or `score segment=…`.
MAX_SEGMENT = 100


class TooLong(NpsError):
    """Typed text longer than npsbot keeps; the message names the field and the limit."""


def check_length(field: str, value: str | None, limit: int) -> str | None:
    """Return the value, or raise a CommandError naming the field when it is over `limit`."""
    if value is not None and len(value) > limit:
        raise TooLong(f"The {field} is {len(value):,} characters long; the most I take is {limit:,}.")
    return value


def check_command(command) -> None:
    """Refuse, naming the field, any typed text that is longer than its column can hold."""
    from bot.commands import parse_mention

    if command.assignee:
        check_length("person given to `assign`", command.assignee, MAX_USER_ID + MAX_NAME + 4)
        user_id, name = parse_mention(command.assignee)
        check_length("person's id given to `assign`", user_id, MAX_USER_ID)
        check_length("person's name given to `assign`", name, MAX_NAME)
    check_length("segment", command.segment, MAX_SEGMENT)


def fit_actor(actor):
    """The acting person as stored: platforms cap names at 256 (Entra) and ids well below 255,
    so longer values are not a real person's; they are cut rather than failing the write."""
    from dataclasses import replace

    if len(actor.name) <= MAX_NAME and len(actor.user_id) <= MAX_USER_ID:
        return actor
    return replace(actor, user_id=actor.user_id[:MAX_USER_ID], name=actor.name[:MAX_NAME])
