"""Formatting helpers the digest's renderers share (text here, Block Kit and Adaptive Cards in handlers/)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.nps import format_nps
from bot.textview import safe
from bot.wording import UNKNOWN_CUSTOMER, counted, day
from storage.models import Status

if TYPE_CHECKING:
    from bot.digest.views import OverdueLine, SegmentLine

QUOTE_CHARS = 160


def stamp(value: datetime) -> str:
    """`Mon Nov 3 09:00`."""
    return f"{value:%a} {day(value)} {value:%H:%M}"


def duration(value: timedelta | None) -> str:
    """`45m`, `5h 20m`, `3d 4h`, or an em dash."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def segment_figure(s: SegmentLine) -> str:
    """`+20 ±12 · 64 responses`, or the count with "insufficient data" under 30."""
    n = s.summary.n
    if s.insufficient:
        return f"insufficient data ({n:,} response{'s' if n != 1 else ''}, {format_nps(s.summary.nps)})"
    margin = f" ±{s.summary.margin:.0f}" if s.summary.margin is not None else ""
    return f"{format_nps(s.summary.nps)}{margin} · {counted(n, 'response', thousands=True)}"


def overdue_state(o: OverdueLine) -> str:
    """Our own words for the state (no customer text)."""
    if o.status == Status.CLAIMED:
        return f"claimed {duration(o.waiting)} ago, not closed"
    return f"unclaimed for {duration(o.waiting)}"


def overdue_text(o: OverdueLine) -> str:
    who = safe(o.customer) if o.customer else UNKNOWN_CUSTOMER
    score = f" · {o.score}/10" if o.score is not None else ""
    by = f" by {safe(o.claimant_name)}" if o.claimant_name and o.status == Status.CLAIMED else ""
    return f"#{o.number} · {who}{score} · {overdue_state(o)}{by}"


def short_quote(text: str | None) -> str | None:
    if not text:
        return None
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"

