"""Display names of the people acting in Teams, looked up when an activity leaves them out.

Microsoft's own `messageReaction` activities carry `from.id` and `from.aadObjectId` but no
`from.name`; without a lookup the card and the thread would read "Claimed by c33aafc4-…". The
name comes from the conversation's roster (`TeamsInfo.get_member`), as the Slack side asks
`users.info`, and is cached per member id so a busy channel costs one lookup per person.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo

log = logging.getLogger(__name__)

# Shown when the roster cannot be read (bot removed, connector down): never a raw id.
UNKNOWN = "a Teams user"
# Activities whose sender does something npsbot records under their name.
ACTING = frozenset({"message", "messageReaction", "invoke"})


class MemberNames:
    """`fill()` gives `activity.from.name` a value when Teams sent none."""

    def __init__(self, size: int = 2048) -> None:
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._size = size

    async def fill(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.type not in ACTING:
            return  # installs and member changes name nobody who acts: no roster call for them
        person = activity.from_property
        if person is None or not person.id or (person.name or "").strip():
            return
        person.name = await self.name_of(turn_context, person.id)

    async def name_of(self, turn_context: TurnContext, member_id: str) -> str:
        if member_id in self._cache:
            self._cache.move_to_end(member_id)
            return self._cache[member_id]
        try:
            member = await TeamsInfo.get_member(turn_context, member_id)
        except Exception:  # a failed lookup must not lose the reaction
            log.warning("teams.member_name_unavailable")
            return UNKNOWN
        name = (getattr(member, "name", None) or "").strip() or UNKNOWN
        if name != UNKNOWN:
            self._cache[member_id] = name
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return name
