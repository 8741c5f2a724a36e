"""Signed links sent to customers (re-survey, unsubscribe), via `itsdangerous`.

Timestamps come from the runtime clock, so expiry is testable without sleeping.
"""

from __future__ import annotations

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from bot.errors import NpsError
from bot.runtime import Runtime

RESURVEY_MAX_AGE = 30 * 86400
UNSUBSCRIBE_MAX_AGE = 400 * 86400


class BadToken(NpsError):
    """A link that was forged or altered (or names nothing we know)."""

    status = 404


class ExpiredToken(BadToken):
    """A genuine link past its 30 days."""

    status = 410


def _serializer(rt: Runtime, salt: str) -> URLSafeTimedSerializer:
    if rt.settings.secret_key is None:
        raise BadToken("This link cannot be checked: the server has no NPSBOT_SECRET_KEY.")
    clock = rt.clock

    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock.now().timestamp())

    return URLSafeTimedSerializer(rt.settings.secret_key.get_secret_value(), salt=salt, signer=ClockSigner)


def resurvey_token(rt: Runtime, followup_id: int, customer_id: int) -> str:
    return _serializer(rt, "npsbot.resurvey").dumps({"f": followup_id, "c": customer_id})


def unsubscribe_token(rt: Runtime, customer_id: int) -> str:
    return _serializer(rt, "npsbot.unsubscribe").dumps({"c": customer_id})


def read_resurvey(rt: Runtime, token: str) -> tuple[int, int]:
    """(follow-up id, customer id) of a valid re-survey token, else BadToken."""
    data = _load(rt, "npsbot.resurvey", token, RESURVEY_MAX_AGE)
    return int(data["f"]), int(data["c"])


def read_unsubscribe(rt: Runtime, token: str) -> int:
    return int(_load(rt, "npsbot.unsubscribe", token, UNSUBSCRIBE_MAX_AGE)["c"])


def csrf_token(rt: Runtime, token: str) -> str:
    """The hidden form value that proves a comment was posted from our own page for this link."""
    return _serializer(rt, "npsbot.csrf").dumps(token[-40:])


def check_csrf(rt: Runtime, token: str, value: str) -> bool:
    try:
        return _serializer(rt, "npsbot.csrf").loads(value, max_age=RESURVEY_MAX_AGE) == token[-40:]
    except BadData:
        return False


def _load(rt: Runtime, salt: str, token: str, max_age: int) -> dict:
    try:
        data = _serializer(rt, salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise ExpiredToken("This link has expired.") from None
    except BadData:
        raise BadToken("This link is not valid.") from None
    if not isinstance(data, dict):
        raise BadToken("This link is not valid.")
    return data
