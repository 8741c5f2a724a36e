"""Who may see a follow-up, and from where: the one `can_see` rule every command, list and App Home uses.

A follow-up is visible where it was alerted:
* from a channel, only follow-ups alerted in that channel;
* from a direct message (or App Home), only follow-ups alerted in a channel the person belongs to
  (membership asked of the platform, cached for `MEMBERSHIP_TTL`);
* the person a follow-up is claimed by or assigned to (by hand or by a duty rotation) sees it
  everywhere: they were told about it directly and must be able to act on it;
* admins listed in NPSBOT_ADMINS, and the local shell, see everything everywhere.
A follow-up that was alerted nowhere (no subscribed channel matched) is restricted by nothing and
visible to all staff. "Alerted in a channel" means an alert was posted there or is queued for it.

A refusal says why without naming the customer or quoting the comment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, exists, false, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from bot import outbox
from bot.actors import Actor, Place
from bot.errors import Forbidden
from bot.runtime import Runtime
from storage.db import read_scope
from storage.models import FollowUp, Outbox, PostedMessage

log = logging.getLogger(__name__)

MEMBERSHIP_TTL = 300.0  # seconds a channel's member list is trusted
TRUSTED_PLATFORMS = frozenset({"shell", "system"})  # a terminal on the server already holds the database

# Looks up a channel's members on its platform: returns platform user ids, raises when it cannot.
MembersLookup = Callable[[str], frozenset[str]]


class MembershipUnavailable(Forbidden):
    """The platform could not say who belongs to a channel; we refuse rather than guess."""


@dataclass(frozen=True)
class Scope:
    """The channels whose follow-ups a request may see: None = all (admin, shell)."""

    platform: str
    channels: frozenset[str] | None
    holder: str | None = None  # actor key: what they claimed or were assigned is always theirs to see

    def clause(self) -> ColumnElement[bool]:
        """SQL condition on FollowUp: alerted in one of `channels`, or alerted nowhere."""
        if self.channels is None:
            return ~false()
        posted_any = exists().where(PostedMessage.followup_id == FollowUp.id)
        queued_any = exists().where(Outbox.followup_id == FollowUp.id, Outbox.kind == outbox.ALERT_POST)
        mine = FollowUp.claimant_id == self.holder if self.holder else false()
        if not self.channels:
            return or_(mine, and_(not_(posted_any), not_(queued_any)))
        chans = sorted(self.channels)
        posted_here = exists().where(PostedMessage.followup_id == FollowUp.id,
                                     PostedMessage.platform == self.platform,
                                     PostedMessage.channel_id.in_(chans))
        queued_here = exists().where(Outbox.followup_id == FollowUp.id, Outbox.kind == outbox.ALERT_POST,
                                     Outbox.platform == self.platform, Outbox.channel_id.in_(chans))
        return or_(mine, posted_here, queued_here, and_(not_(posted_any), not_(queued_any)))


def is_listed_admin(actor: Actor, admins: frozenset[str]) -> bool:
    """Named in NPSBOT_ADMINS (bare id or `platform:id`). An empty list makes nobody see-all."""
    return actor.user_id in admins or actor.key in admins


def is_direct(place: Place, actor: Actor) -> bool:
    """A 1:1 chat with the app (Slack `D…` or App Home; Teams personal chats are `a:…`)."""
    cid = place.channel_id
    return cid == actor.user_id or (place.platform == "slack" and cid.startswith("D")) or \
        (place.platform == "teams" and cid.startswith("a:"))


class Visibility:
    """Applies the rule; platforms register how to look up a channel's members."""

    def __init__(self, rt: Runtime, clock: Callable[[], float] = time.monotonic) -> None:
        self.rt = rt
        self._lookups: dict[str, MembersLookup] = {}
        self._cache: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()
        self._now = clock

    def register(self, platform: str, lookup: MembersLookup) -> None:
        self._lookups[platform] = lookup

    # -- the rule -----------------------------------------------------------------------------
    def scope(self, actor: Actor, place: Place) -> Scope:
        if actor.platform in TRUSTED_PLATFORMS or is_listed_admin(actor, self.rt.settings.admins):
            return Scope(place.platform, None)
        if not is_direct(place, actor):
            return Scope(place.platform, frozenset({place.channel_id}), actor.key)
        return Scope(place.platform, self._member_channels(actor), actor.key)

    def can_see(self, actor: Actor, place: Place, number: int) -> bool:
        scope = self.scope(actor, place)
        if scope.channels is None:
            return True
        with read_scope(self.rt.engine) as s:
            return bool(s.execute(select(FollowUp.id).where(FollowUp.id == number, scope.clause())).first())

    def require(self, actor: Actor, place: Place, number: int) -> None:
        """Raise Forbidden (saying why, never what) unless `actor` may see #number from `place`."""
        if self.can_see(actor, place, number):
            return
        with read_scope(self.rt.engine) as s:
            if s.get(FollowUp, number) is None:
                return  # the command itself says "There is no follow-up #N."
        if is_direct(place, actor):
            raise Forbidden(f"#{number} was alerted only in channels you are not in, so I can't show "
                            "or change it here.")
        raise Forbidden(f"#{number} was not alerted in this channel, so it can't be seen or changed "
                        "from here; use the channel where it was alerted.")

    # -- membership ---------------------------------------------------------------------------
    def _alert_channels(self, platform: str) -> set[str]:
        with read_scope(self.rt.engine) as s:
            posted = s.execute(select(PostedMessage.channel_id).where(PostedMessage.platform == platform)
                               .distinct()).scalars()
            queued = s.execute(select(Outbox.channel_id).where(Outbox.platform == platform,
                                                               Outbox.kind == outbox.ALERT_POST)
                               .distinct()).scalars()
            return set(posted) | set(queued)

    def _member_channels(self, actor: Actor) -> frozenset[str]:
        lookup = self._lookups.get(actor.platform)
        channels = self._alert_channels(actor.platform)
        if lookup is None:
            return frozenset()  # no way to ask: only the unrestricted follow-ups
        return frozenset(c for c in channels if actor.user_id in self.members(actor.platform, c))

    def members(self, platform: str, channel_id: str) -> frozenset[str]:
        key, now = (platform, channel_id), self._now()
        with self._lock:
            hit = self._cache.get(key)
            if hit and hit[0] > now:
                return hit[1]
        try:
            found = self._lookups[platform](channel_id)
        except Exception as exc:  # any failure: refuse, never guess
            log.warning("visibility.members_unavailable", extra={"channel": channel_id, "error": type(exc).__name__})
            raise MembershipUnavailable("I couldn't check which channels you are in just now; try again in a "
                                        "minute, or ask from the channel where the alert was posted.") from None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now + MEMBERSHIP_TTL, found)
        return found
