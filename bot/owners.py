"""Owner mentions: a customer's `owner` e-mail -> the chat user to mention on the alert.

The platform notifiers (handlers/slack, handlers/teams) supply the lookup (Slack
`users.lookupByEmail`, the Teams roster); this directory caches answers, found or not, with an
expiry, and never lets a lookup hold up a delivery: a slow or failing lookup counts as "not a chat
user" for a short while and the alert shows the e-mail as plain text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from cachetools import TTLCache

from bot.clock import Clock
from bot.views import AlertView

log = logging.getLogger(__name__)

FOUND_TTL = 6 * 3600.0     # people rarely change e-mail; a day-old answer is still right
MISSING_TTL = 15 * 60.0    # retry an unknown (or unreachable) owner after a quarter of an hour
LOOKUP_TIMEOUT = 2.0       # the alert waits at most this long for a first lookup
Person = tuple[str, str]   # (platform user id, display name)
Lookup = Callable[[str, str], Awaitable[Person | None]]  # (channel, e-mail) -> person


def owner_email(alert: AlertView) -> str | None:
    owner = alert.customer.owner if alert.customer else None
    if not owner or "@" not in owner or len(owner) > 320 or any(ch.isspace() for ch in owner.strip()):
        return None
    return owner.strip().lower()


class OwnerDirectory:
    """E-mail -> chat user, cached per (scope, e-mail) with expiry on the runtime's clock."""

    def __init__(self, lookup: Lookup, clock: Clock, *, timeout: float = LOOKUP_TIMEOUT) -> None:
        self.lookup = lookup
        self.timeout = timeout
        timer = lambda: clock.now().timestamp()  # noqa: E731 - the clock tests move
        self.found: TTLCache = TTLCache(maxsize=10_000, ttl=FOUND_TTL, timer=timer)
        self.missing: TTLCache = TTLCache(maxsize=10_000, ttl=MISSING_TTL, timer=timer)
        self.calls = 0

    async def find(self, scope: str, email: str) -> Person | None:
        key = (scope, email)
        if key in self.found:
            return self.found[key]
        if key in self.missing:
            return None
        self.calls += 1
        try:
            person = await asyncio.wait_for(self.lookup(scope, email), self.timeout)
        except Exception as exc:  # a lookup is a nicety: plain text instead
            log.warning("owners.lookup_failed", extra={"error": type(exc).__name__})
            person = None
        if person:
            self.found[key] = person
        else:
            self.missing[key] = True
        return person

    async def with_owner(self, scope: str, alert: AlertView) -> AlertView:
        """The alert with its owner's chat user filled in, when the owner is one."""
        email = owner_email(alert)
        person = await self.find(scope, email) if email else None
        if person is None:
            return alert
        return replace(alert, owner_user_id=person[0], owner_name=person[1])
