"""Block Kit for an alert-storm summary (bot/storms.py): one message listing a minute's extra alerts.

Our own sentences are mrkdwn; every line that carries a customer's name or words is plain_text
(escaped, never parsed), so a comment cannot format, mention or link.
"""

from __future__ import annotations

from bot.storms import REACH, StormView, line_text, summary_title
from handlers.slack.blocks import FALLBACK_MAX, MESSAGE_BLOCKS, TEXT_MAX, clip, context, escape, mrkdwn, plain, section


def summary_blocks(view: StormView) -> list[dict]:
    blocks = [section(mrkdwn(f":rotating_light: *{escape(summary_title(view))}*"))]
    room = MESSAGE_BLOCKS - 3  # title, the closing line, and an "and N more" line
    chunk: list[str] = []
    listed = 0
    for alert in view.alerts:
        line = line_text(alert)
        if chunk and len(escape("\n".join([*chunk, line]))) > TEXT_MAX:
            if len(blocks) > room:
                break
            blocks.append(section(plain("\n".join(chunk), emoji=False)))
            chunk = []
        chunk.append(line)
        listed += 1
    if chunk:
        blocks.append(section(plain("\n".join(chunk), emoji=False)))
    if listed < len(view.alerts):
        blocks.append(context(mrkdwn(f"…and {len(view.alerts) - listed} more: `unclaimed` lists them all.")))
    blocks.append(context(mrkdwn(escape(REACH).replace("`show N`", "`/nps show N`")
                                 .replace("`claim N`", "`/nps claim N`"))))
    return blocks


def summary_message(view: StormView) -> dict:
    """chat.postMessage / chat.update arguments: the blocks and the notification fallback."""
    fallback = summary_title(view) + ": " + ", ".join(f"#{a.number}" for a in view.alerts)
    return {"text": clip(escape(fallback), FALLBACK_MAX), "blocks": summary_blocks(view)}
