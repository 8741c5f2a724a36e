"""One reading of a platform's `Retry-After` header, shared by every notifier.

A hostile or broken server may send `inf`, `nan`, `1e12`, a negative number or an HTTP date.
`timedelta` raises on the first three, and zero skips the backoff altogether, so the value is
clamped to [MIN_WAIT, MAX_WAIT] and anything that is not a finite number counts as absent.
"""

from __future__ import annotations

import math
from typing import Any

MIN_WAIT = 1.0  # seconds: never re-send at once
MAX_WAIT = 15 * 60.0  # seconds: a longer pause is a broken header, not pacing


def parse_retry_after(raw: Any) -> float | None:
    """Seconds to wait, clamped to 1 s–15 min; None when the header is absent or garbage."""
    if isinstance(raw, list | tuple):
        raw = raw[0] if raw else None
    if raw is None or isinstance(raw, bool):
        return None
    try:
        seconds = float(str(raw).strip())
    except (TypeError, ValueError):
        return None  # an HTTP date or junk: the worker's exponential backoff applies
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, MIN_WAIT), MAX_WAIT)
