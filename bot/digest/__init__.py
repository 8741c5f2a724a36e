"""The weekly digest: numbers for a channel and period, computed by the database.

A digest covers the 7 days before `period_end` (calendar days in the channel's time zone, so a
week that crosses a daylight-saving change is still Monday 09:00 to Monday 09:00) and compares them
with the 7 days before those. Every count is an SQL aggregate over indexed timestamps:

- one GROUP BY over the 12 trend weeks gives the trend, this week and the week before;
- one GROUP BY segment for the week; GROUP BY the stored theme for this week and the week before,
  with a representative comment and proposed new themes (bot.theme_digest);
- the follow-up loop: counts over `opened_at` / `claimed_at` / `closed_at`, medians in SQL
  (PostgreSQL: `percentile_cont(0.5)`; SQLite has no percentile function, so the median is read
  with `ORDER BY duration LIMIT 2 OFFSET (n-1)/2` over the week's follow-ups: still in SQL),
  the overdue list (`LIMIT 10`), recovered detractors and ARR at risk.

`DigestView` is plain frozen data; renderers (text in bot.textview, Block Kit and Adaptive Cards in
the platform handlers) draw it.

The package: `views` (the dataclasses and their shared sentences), `format` (helpers the renderers
share), `periods`, `sql` (trend, segments, medians), `loop` (the follow-up loop), `build` (views
from the database, the CLI previews) and `posting` (the one way digests are queued, and the
outbox sender). Everything other modules use is re-exported here.
"""

from __future__ import annotations

from bot.digest.build import build_digest, build_digest_for, preview_chart, preview_text
from bot.digest.format import duration, overdue_state, overdue_text, segment_figure, short_quote
from bot.digest.periods import period_start_for, week_edges, zone
from bot.digest.posting import enqueue_digests, request_digest, send_digest
from bot.digest.views import (
    NO_SEGMENT,
    RECOVERED_MEANS,
    TREND_WEEKS,
    DigestView,
    LoopView,
    OverdueLine,
    SegmentLine,
    ThemeLine,
)

__all__ = [
    "NO_SEGMENT", "RECOVERED_MEANS", "TREND_WEEKS", "DigestView", "LoopView", "OverdueLine", "SegmentLine",
    "ThemeLine", "build_digest", "build_digest_for", "duration", "enqueue_digests", "overdue_state",
    "overdue_text", "period_start_for", "preview_chart", "preview_text", "request_digest", "segment_figure",
    "send_digest", "short_quote", "week_edges", "zone",
]
