"""Stored Bot Framework conversation references, so proactive posts work after restarts.

A reference is saved (TeamsConversation table) for every conversation the bot hears from:
installation, conversationUpdate and every message. Keys:

- the conversation id, with a channel thread's `;messageid=…` suffix removed, so a command
  typed in any thread of a channel and the alerts posted to that channel share one key;
- `user:<id>` for a 1:1 (personal) chat, once under the user's Entra object id and once under
  the Teams user id, so `post_text` can reach a claimant directly;
- `member:<id>` for a person last seen in a team or group chat (the reference of that
  conversation, with them as its user): enough to open a 1:1 chat with them when there is none.

Synchronous (call through asyncio.to_thread); a small in-process cache skips rewriting a
reference that has not changed.
"""

from __future__ import annotations

import json
import threading

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.runtime import Runtime
from storage.db import read_scope, session_scope
from storage.models import TeamsConversation

USER_PREFIX = "user:"
MEMBER_PREFIX = "member:"
_MESSAGE_ID = ";messageid="


def base_conversation_id(conversation_id: str) -> str:
    """The channel (or chat) a conversation id belongs to, without a thread's message id."""
    return conversation_id.split(_MESSAGE_ID, 1)[0]


def user_key(user_id: str) -> str:
    return USER_PREFIX + user_id


def member_key(user_id: str) -> str:
    """A person seen in a team or group chat: where to start a 1:1 chat with them from."""
    return MEMBER_PREFIX + user_id


class ConversationStore:
    """Reads and upserts references; keys are at most 500 characters (the column's size)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._seen: dict[str, str] = {}
        self._lock = threading.Lock()

    def save(self, keys: list[str], reference: dict) -> None:
        encoded = json.dumps(reference, sort_keys=True)
        for key in dict.fromkeys(k[:500] for k in keys if k):
            with self._lock:
                if self._seen.get(key) == encoded:
                    continue
            self._upsert(key, reference)
            with self._lock:
                self._seen[key] = encoded

    def _upsert(self, key: str, reference: dict) -> None:
        now = self.rt.clock.now()
        for _ in range(2):
            try:
                with session_scope(self.rt.engine) as s:
                    changed = s.execute(
                        update(TeamsConversation).where(TeamsConversation.conversation_id == key)
                        .values(reference=reference, updated_at=now)
                    ).rowcount
                    if not changed:
                        s.add(TeamsConversation(conversation_id=key, reference=reference, updated_at=now))
                return
            except IntegrityError:
                # Another replica inserted the same key between our UPDATE and INSERT: update it.
                continue

    def load(self, key: str) -> dict | None:
        with read_scope(self.rt.engine) as s:
            return s.execute(
                select(TeamsConversation.reference).where(TeamsConversation.conversation_id == key[:500])
            ).scalar_one_or_none()

    def find(self, channel_id: str) -> dict | None:
        """A conversation by id, or a person's 1:1 chat by their id (`teams:` prefix allowed)."""
        target = channel_id.removeprefix("teams:")
        return self.load(base_conversation_id(target)) or self.load(user_key(target))

    def find_member(self, user_id: str) -> dict | None:
        return self.load(member_key(user_id.removeprefix("teams:")))
