"""Scheduled work: weekly digests and SLA reminders (APScheduler 3.x, in-process)."""

from __future__ import annotations


async def start_scheduler(services):
    """Start the scheduler for these services; returns an object with `async stop()`, or None."""
    return None
