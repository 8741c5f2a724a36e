"""Digest periods: 7 calendar days in the channel's time zone, and the weeks of the trend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def zone(name: str | None, default: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or default)
    except (KeyError, ValueError):
        return ZoneInfo(default)


def week_edges(period_end: datetime, tz: ZoneInfo, weeks: int) -> list[datetime]:
    """`weeks`+1 UTC instants, oldest first, each 7 calendar days apart in `tz`.

    Aware arithmetic within one zone is wall-clock arithmetic in Python, so subtracting 7 days
    from Monday 09:00 CEST gives Monday 09:00 CET across the change, not 08:00.
    """
    local_end = period_end.astimezone(tz)
    edges = []
    for k in range(weeks, -1, -1):
        edges.append((local_end - timedelta(days=7 * k)).astimezone(UTC))
    return edges


def period_start_for(period_end: datetime, tz: ZoneInfo) -> datetime:
    return week_edges(period_end, tz, 1)[0]
