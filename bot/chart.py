"""The digest's trend chart: 12 weeks of NPS with its 95% margin band and the response counts.

The NPS line has its own axis; the weekly response counts are a strip of bars below it, never
on the NPS scale. The headline compares the first and last weeks of 30+ responses with the same
significance test as the digest's text (bot.nps.compare), and says "within the margin of error"
when the change could be noise.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, safe in worker
threads). 1000x440 px stays inside Teams' 1024x1024 image limit and reads well in Slack.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.nps import MIN_RESPONSES, NpsSummary, compare
from bot.wording import SIGNIFICANT, WITHIN_MARGIN, day, signed_change

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

INK = "#1f2933"
MUTED = "#7b8794"
GRID = "#e4e7eb"
LINE = "#2563eb"
BAND = "#93c5fd"
BARS = "#cbd2d9"
GOOD, BAD = "#16a34a", "#dc2626"


@dataclass(frozen=True)
class WeekPoint:
    """One week of the trend: [start, end) and its counts."""

    start: datetime
    end: datetime
    summary: NpsSummary


def _label(end: datetime) -> str:
    # The label is the week's last day, which is the day before its exclusive end.
    last = end - timedelta(seconds=1)
    return day(last)


def trend_headline(points: Sequence[WeekPoint]) -> tuple[str, str] | None:
    """The chart's headline and its colour: the change between the first and the last week with
    at least 30 responses, tested like the digest's text; None when fewer than two such weeks."""
    solid = [p for p in points if p.summary.n >= MIN_RESPONSES]
    if len(solid) < 2:
        return None
    first, last = solid[0], solid[-1]
    change = compare(last.summary, first.summary)
    delta = change.delta or 0.0
    span = f"{signed_change(delta)} since the week of {_label(first.end)}"
    if not change.significant:
        return f"{span}: {WITHIN_MARGIN}", MUTED
    return f"{span}: {SIGNIFICANT}", GOOD if delta > 0 else BAD


def render_trend(points: Sequence[WeekPoint], *, title: str = "Weekly NPS, last 12 weeks") -> bytes | None:
    """PNG bytes of the chart, or None when there is nothing to draw or drawing fails."""
    if not points or all(p.summary.n == 0 for p in points):
        return None
    try:
        return _draw(points, title)
    except Exception:  # the text digest must stand alone if the chart cannot be drawn
        log.exception("chart.failed")
        return None


def _draw(points: Sequence[WeekPoint], title: str) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    xs = list(range(len(points)))
    nps = [p.summary.nps for p in points]
    margin = [p.summary.margin for p in points]
    counts = [p.summary.n for p in points]

    fig = Figure(figsize=(10, 4.4), dpi=100, facecolor="white")
    FigureCanvasAgg(fig)
    # The NPS axis on top; the response counts in a strip of their own below it.
    ax = fig.add_axes((0.07, 0.36, 0.86, 0.52))
    bars = fig.add_axes((0.07, 0.18, 0.86, 0.12), sharex=ax)

    _count_strip(bars, xs, counts)
    ax.tick_params(axis="x", labelbottom=False)
    known = _nps_range(ax, xs, nps, margin)
    _band_and_line(ax, xs, nps, margin)
    _points(ax, xs, nps, counts)
    if known:
        x, v, _ = known[-1]
        ax.annotate(f"{round(v):+d}" if round(v) else "0", (x, v), xytext=(0, 9), textcoords="offset points",
                    ha="center", fontsize=11, fontweight="bold", color=INK, zorder=6)
    headline = trend_headline(points)
    if headline:
        fig.text(0.93, 0.93, headline[0], ha="right", va="center", fontsize=9, color=headline[1])
    _axes_style(ax, bars, xs, [_label(p.end) for p in points], counts)
    _captions(fig, title)

    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100, facecolor="white", metadata={"Software": None})
    return _palette(out.getvalue())


def _count_strip(bars: Axes, xs: list[int], counts: list[int]) -> None:
    """The weekly response counts as a strip of bars of their own, never on the NPS scale."""
    bars.bar(xs, counts, width=0.6, color=BARS, alpha=0.9, zorder=1)
    peak = max(counts) or 1
    bars.set_ylim(0, peak * 1.05)
    bars.set_yticks([])  # each bar carries its own count label, under its date
    bars.set_ylabel("responses", color=INK, fontsize=8)


def _nps_range(ax: Axes, xs: list[int], nps: list[float | None],
               margin: list[float | None]) -> list[tuple[int, float, float | None]]:
    """Fit the NPS axis to the weeks with answers and their margins, draw the zero line, and
    return those weeks as (x, nps, margin)."""
    known = [(x, v, m) for x, v, m in zip(xs, nps, margin, strict=True) if v is not None]
    lows = [v - (m or 0) for _, v, m in known]
    highs = [v + (m or 0) for _, v, m in known]
    lo = max(-100.0, min(lows + [0.0]) - 8)
    hi = min(100.0, max(highs + [0.0]) + 8)
    ax.set_ylim(lo, hi)
    ax.axhline(0, color=MUTED, linewidth=0.8, linestyle=(0, (4, 3)), zorder=2)
    return known


def _runs(xs: list[int], nps: list[float | None], margin: list[float | None]) -> list[list[tuple[int, float, float]]]:
    """The runs of consecutive weeks with answers, as (x, nps, margin); empty runs included."""
    runs: list[list[tuple[int, float, float]]] = []
    for x, v, m in zip(xs, nps, margin, strict=True):
        if v is None:
            runs.append([])
            continue
        if not runs or (runs[-1] and runs[-1][-1][0] != x - 1):
            runs.append([])
        runs[-1].append((x, v, m or 0.0))
    return runs


def _band_and_line(ax: Axes, xs: list[int], nps: list[float | None], margin: list[float | None]) -> None:
    # Draw each run of weeks with answers separately so an empty week shows as a gap.
    for run in (r for r in _runs(xs, nps, margin) if r):
        rx = [p[0] for p in run]
        ry = [p[1] for p in run]
        ax.fill_between(rx, [y - m for _, y, m in run], [y + m for _, y, m in run], color=BAND,
                        alpha=0.35, linewidth=0, zorder=3)
        ax.plot(rx, ry, color=LINE, linewidth=2.2, zorder=4, solid_capstyle="round")


def _points(ax: Axes, xs: list[int], nps: list[float | None], counts: list[int]) -> None:
    """A point per week with answers; hollow when it has too few responses for a margin."""
    for x, v, n in zip(xs, nps, counts, strict=True):
        if v is None:
            continue
        thin = n < MIN_RESPONSES
        ax.plot([x], [v], marker="o", markersize=6.5, zorder=5, color=LINE,
                markerfacecolor="white" if thin else LINE, markeredgewidth=1.8)


def _axes_style(ax: Axes, bars: Axes, xs: list[int], labels: list[str], counts: list[int]) -> None:
    from matplotlib.ticker import MaxNLocator

    # Each week's response count sits under its date, below the strip of bars.
    bars.set_xticks(xs, [f"{label}\n{n:,}" for label, n in zip(labels, counts, strict=True)], fontsize=8,
                    color=INK, linespacing=1.5)
    bars.tick_params(axis="x", length=0, pad=6)
    ax.set_xlim(-0.6, len(xs) - 0.4)
    ax.yaxis.set_major_locator(MaxNLocator(6, integer=True))
    ax.tick_params(axis="y", labelsize=8, colors=INK, length=0)
    ax.tick_params(axis="x", length=0, pad=6)
    ax.set_ylabel("NPS", color=INK, fontsize=9)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    for a in (ax, bars):
        for side in ("top", "right", "left"):
            a.spines[side].set_visible(False)
        a.spines["bottom"].set_color(GRID)


def _captions(fig: Figure, title: str) -> None:
    fig.text(0.07, 0.93, title, ha="left", va="center", fontsize=12, fontweight="bold", color=INK)
    fig.text(0.07, 0.035, "Shaded: 95% margin of error · hollow points: under 30 responses (no margin) · "
             "bars and the numbers under the dates: responses per week", ha="left", fontsize=7.5, color=MUTED)


def _palette(png: bytes) -> bytes:
    """The same picture as a 64-colour PNG: about a quarter of the size, so the digest card that
    embeds it stays under Teams' 28 KB card limit (handlers/teams/card_size.py)."""
    from PIL import Image  # matplotlib's own image dependency

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
