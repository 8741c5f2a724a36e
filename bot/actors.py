"""Who acts, and where: platform-qualified identities shared by every front door."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """A person acting on a platform; `key` is stored as claimant and in the audit trail."""

    platform: str
    user_id: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.user_id}"

    def is_admin(self, admins: frozenset[str]) -> bool:
        """Empty admin list means everyone may change settings."""
        return not admins or self.user_id in admins or self.key in admins


SYSTEM = Actor("system", "npsbot", "npsbot")


@dataclass(frozen=True)
class Place:
    """The channel (or 1:1 chat) a command was typed in."""

    platform: str
    channel_id: str
