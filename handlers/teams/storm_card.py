"""The Adaptive Card of an alert-storm summary (bot/storms.py): a minute's extra alerts, one line each.

Lines carry customer names and words, so they are TextRuns (shown literally, never Markdown).
"""

from __future__ import annotations

from bot.storms import REACH, StormView, line_text, summary_title
from handlers.teams.cards import card, rich, run, text_block

MAX_LINES = 100  # a card stays readable (and under Teams' 28 KB) with this many lines


def summary_card(view: StormView) -> dict:
    body = [text_block(summary_title(view), weight="Bolder", color="Attention")]
    for alert in view.alerts[:MAX_LINES]:
        body.append(rich(run(line_text(alert)), spacing="Small"))
    if len(view.alerts) > MAX_LINES:
        body.append(text_block(f"…and {len(view.alerts) - MAX_LINES} more: `unclaimed` lists them all.",
                               isSubtle=True))
    body.append(text_block(REACH.replace("`show N`", "`@npsbot show N`").replace("`claim N`", "`@npsbot claim N`"),
                           isSubtle=True, size="Small"))
    return card(body)


def summary_preview(view: StormView) -> str:
    """The activity summary (the notification's text)."""
    return summary_title(view)
