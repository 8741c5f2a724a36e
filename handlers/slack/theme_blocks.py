"""Slack pieces for themes: the digest's proposed themes with an **Add theme** button, and causes.

Proposal names and examples are made of customer words: plain_text only (escaped), never mrkdwn.
The button's value carries the proposal as JSON; pressing it runs `themes add` as the presser.
"""

from __future__ import annotations

import json
import logging

from bot.actors import Place
from bot.commands import Command, Verb
from bot.theme_digest import change_text
from bot.views import Notice
from handlers.slack import blocks as alert_blocks
from handlers.slack.blocks import clip, escape

log = logging.getLogger(__name__)
ADD_THEME_ACTION = "nps_theme_add"
VALUE_MAX = 2000


def _plain(text: str, limit: int = 2000) -> dict:
    return {"type": "plain_text", "text": clip(escape(text), limit) or " ", "emoji": False}


def theme_line(t) -> str:
    change = change_text(t.change)
    return f"{t.name} · {t.count:,} ({t.share:.0%})" + (f" · {change}" if change else "")


def proposal_blocks(d) -> list[dict]:
    out: list[dict] = []
    for i, p in enumerate(d.theme_proposals):
        elements = [_plain(f"Proposed theme: {p.name} · {p.count:,} comments")]
        if p.example:
            elements.append(_plain(f"“{p.example}”"))
        out.append({"type": "context", "elements": elements})
        value = json.dumps({"name": p.name, "description": p.description}, ensure_ascii=False)[:VALUE_MAX]
        out.append({"type": "actions", "block_id": f"nps_theme_proposal_{i}", "elements": [{
            "type": "button", "action_id": ADD_THEME_ACTION, "value": value,
            "text": {"type": "plain_text", "text": clip(escape(f"Add theme “{p.name}”"), 75), "emoji": False}}]})
    if d.causes:
        out.append({"type": "context", "elements": [_plain(
            "Causes of closed follow-ups: " + ", ".join(f"{c.name} {c.count:,}" for c in d.causes))]})
    return out


def register(app, door) -> None:
    """The **Add theme** button: runs `themes add` for whoever pressed it and tells them."""

    async def on_add_theme(ack, body: dict, action: dict, respond, client) -> None:
        await ack()
        try:
            proposal = json.loads(action.get("value") or "")
            command = Command(Verb.THEMES_ADD, text=str(proposal["name"]),
                              extra={"description": str(proposal.get("description") or "")})
        except (ValueError, KeyError, TypeError):
            log.warning("slack.bad_theme_button")
            return
        channel, _ = door._origin(body)
        user_id = body["user"]["id"]
        reply = await door.run(command, door.actor_of(body["user"]), Place("slack", channel or user_id))
        notice = reply if isinstance(reply, Notice) else Notice("Done.")
        if body.get("response_url"):
            await door.answer(body, respond, alert_blocks.reply_message(notice))
        else:
            await door.tell(client, channel, user_id, notice)

    app.action(ADD_THEME_ACTION)(on_add_theme)
