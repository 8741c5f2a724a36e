"""The live window: which detractor answers are news and which are history.

An answer whose `submitted_at` is older than `NPSBOT_LIVE_WINDOW_HOURS` when it arrives (an
imported export, a survey tool replaying its backlog on first connection) is history: it is stored
and counted in every number, but opens no follow-up, posts no alert, joins no open follow-up's
thread and triggers no reminder. Every door (webhooks, tool webhooks, CSV import) stores through
`bot.ingest`, whose planning step asks this one predicate.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def cutoff(now: datetime, window_hours: float) -> datetime:
    """Answers submitted before this moment are history when they arrive `now`."""
    return now - timedelta(hours=window_hours)


def is_history(submitted_at: datetime, cutoff_at: datetime) -> bool:
    return submitted_at < cutoff_at
