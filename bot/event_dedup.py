"""Events a platform may deliver twice (Slack retries for up to 24 h): act on each event id once.

The doors ask `first_delivery` before acting; the row is the proof it was acted on. Old rows are
pruned at most once an hour, past the platform's retry window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from storage.db import session_scope
from storage.models import SeenEvent

SEEN_EVENT_TTL = timedelta(days=2)  # Slack retries for at most 24 h (with delayed events on)
_PRUNE_EVERY = timedelta(hours=1)


class EventDedup:
    """Records event ids of one platform in `seen_event`."""

    def __init__(self, rt, platform: str) -> None:
        self.rt = rt
        self.platform = platform
        self._pruned_at: datetime | None = None

    def first_delivery(self, event_id: str | None) -> bool:
        """Record an event id; False when it was already acted on (a retry). No id: always first."""
        if not event_id:
            return True
        now = self.rt.clock.now()
        try:
            with session_scope(self.rt.engine) as s:
                s.add(SeenEvent(event_id=f"{self.platform}:{event_id}", platform=self.platform, seen_at=now))
        except IntegrityError:
            return False
        if self._pruned_at is None or now - self._pruned_at > _PRUNE_EVERY:
            self._pruned_at = now
            with session_scope(self.rt.engine) as s:
                s.execute(delete(SeenEvent).where(SeenEvent.platform == self.platform,
                                                  SeenEvent.seen_at < now - SEEN_EVENT_TTL))
        return True
