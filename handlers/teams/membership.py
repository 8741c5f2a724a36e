"""Who belongs to a Teams channel or group chat (the Bot Connector roster), for bot/visibility.py.

The dispatcher runs in a worker thread; the roster call goes through the notifier's stored
conversation on the server's event loop and the thread waits for it (at most ROSTER_TIMEOUT).
Both ids of each member count: the Teams id (`29:…`) and the Entra object id npsbot acts as.
"""

from __future__ import annotations

import asyncio

from bot.delivery import DeliveryError

ROSTER_TIMEOUT = 5.0


def members_lookup(notifier, loop_of):
    """`loop_of()` returns the server's running loop (known once the app has started)."""

    async def roster(channel_id: str) -> frozenset[str]:
        try:
            found = await notifier._call(
                channel_id, lambda c, conv, ref: c.conversations.get_conversation_members(conv))
        except DeliveryError as exc:
            if exc.permanent:
                return frozenset()  # the app is not in that conversation (any more): nobody via it
            raise
        ids: set[str] = set()
        for member in found or []:
            ids.update(i for i in (member.id, getattr(member, "aad_object_id", None)) if i)
        return frozenset(ids)

    def members(channel_id: str) -> frozenset[str]:
        loop = loop_of()
        if loop is None:
            raise RuntimeError("the server is not running")
        return asyncio.run_coroutine_threadsafe(roster(channel_id), loop).result(ROSTER_TIMEOUT)

    return members
