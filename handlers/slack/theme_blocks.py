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
    register_select(app, door)


SELECT_ACTION = "nps_theme_select"


def theme_option(name: str, value: str) -> dict:
    return {"text": {"type": "plain_text", "text": clip(escape(name), 75) or " ", "emoji": False},
            "value": value[:150]}


def theme_select(a) -> list[dict]:
    """A select on the alert to file it under another theme (value `N|name`), showing the current one."""
    if not a.theme_options:
        return []
    options = [theme_option(name, f"{a.number}|{name}") for name in a.theme_options[:99]]
    options.append(theme_option("No theme", f"{a.number}|none"))
    element = {"type": "static_select", "action_id": SELECT_ACTION, "options": options,
               "placeholder": {"type": "plain_text", "text": "Theme", "emoji": False}}
    if a.theme in a.theme_options[:99]:
        element["initial_option"] = theme_option(a.theme, f"{a.number}|{a.theme}")
    return [element]


def cause_choices(rt, number: int) -> tuple[tuple[str, ...], str | None]:
    """(themes in force, #N's theme) for the close modal; read before it opens."""
    from sqlalchemy import select

    from bot.theme_service import themes_in_force
    from storage.db import read_scope
    from storage.models import FollowUp, Response

    with read_scope(rt.engine) as s:
        names = tuple(t.name for t in themes_in_force(s, rt.settings))
        theme = s.execute(select(Response.theme).join(FollowUp, FollowUp.latest_response_id == Response.id)
                          .where(FollowUp.id == number)).scalar()
    return names, theme


def cause_from(values: dict) -> dict:
    """`{"cause": name}` from a close modal's state, or `{}` when none was picked."""
    picked = ((values.get("cause") or {}).get("value") or {}).get("selected_option") or {}
    return {"cause": str(picked["value"])} if picked.get("value") else {}


def register_select(app, door) -> None:
    """The alert's theme select: `theme N NAME` as whoever picked it."""

    async def on_select(ack, body: dict, action: dict, respond, client) -> None:
        await ack()
        number, _, name = str((action.get("selected_option") or {}).get("value") or "").partition("|")
        if not number.isdigit() or not name:
            log.warning("slack.bad_theme_select")
            return
        channel, _ = door._origin(body)
        user_id = body["user"]["id"]
        reply = await door.run(Command(Verb.THEME, number=int(number), text=name), door.actor_of(body["user"]),
                               Place("slack", channel or user_id))
        notice = reply if isinstance(reply, Notice) else Notice("Done.")
        if body.get("response_url"):
            await door.answer(body, respond, alert_blocks.reply_message(notice))
        else:
            await door.tell(client, channel, user_id, notice)

    app.action(SELECT_ACTION)(on_select)
