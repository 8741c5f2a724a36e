"""Runs the theme commands for the dispatcher: `theme N NAME`, `themes`, `themes add`."""

from __future__ import annotations

from bot import theme_service
from bot.actors import Actor
from bot.commands import Command, Verb, given
from bot.runtime import Runtime
from bot.views import Notice


def run(rt: Runtime, c: Command, actor: Actor) -> Notice:
    if c.verb == Verb.THEME:
        view = theme_service.set_theme(rt, given(c.number), c.text or "", actor)
        return Notice(f"#{c.number} is filed under {view.theme or 'no theme'}.", alert=view)
    if c.verb == Verb.THEMES_ADD:
        return Notice(theme_service.add_theme(rt, c.text or "", c.extra.get("description"), actor))
    counts = theme_service.theme_counts(rt)
    lines = [f"Themes of detractor comments, last 30 days ({sum(n for _, n in counts)} themed):"]
    lines += [f"• {name}: {n}" for name, n in counts]
    return Notice("\n".join(lines))
