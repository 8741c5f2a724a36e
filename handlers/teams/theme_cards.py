"""Teams pieces for themes: the alert's **Theme** card (file it under another theme) and the cause
input of the close card, prefilled with the follow-up's theme. Theme names go into choice titles,
which Teams shows as plain text."""

from __future__ import annotations

from bot.commands import Command, Verb
from bot.views import AlertView
from handlers.teams import actions

THEME_INPUT, CAUSE_INPUT = "theme_name", "close_cause"
NO_THEME = "none"


def _choices(a: AlertView) -> list[dict]:
    return [{"title": name, "value": name} for name in a.theme_options[:100]]


def cause_inputs(a: AlertView) -> list[dict]:
    if not a.theme_options:
        return []
    return [{"type": "Input.ChoiceSet", "id": CAUSE_INPUT, "label": "Cause", "style": "compact",
             "value": a.theme if a.theme in a.theme_options else "", "isRequired": False,
             "choices": _choices(a)}]


def theme_actions(a: AlertView) -> list[dict]:
    if not a.theme_options:
        return []
    return [{"type": "Action.ShowCard", "title": "Theme", "card": {
        "type": "AdaptiveCard",
        "body": [{"type": "Input.ChoiceSet", "id": THEME_INPUT, "label": f"Theme of #{a.number}",
                  "style": "compact", "value": a.theme or NO_THEME, "isRequired": True,
                  "choices": _choices(a) + [{"title": "No theme", "value": NO_THEME}]}],
        "actions": [actions.execute("Set theme", "theme", {"npsbot": "theme", "n": a.number})],
    }}]


def theme_command(number: int, data: dict) -> Command:
    return Command(Verb.THEME, number=number, text=str(data.get(THEME_INPUT) or NO_THEME))


ADD_VERB = "themes add"


def add_theme_action(p) -> dict:
    """The digest card's one-click **Add theme** for a proposed theme."""
    return actions.execute(f"Add theme “{p.name}”"[:80], ADD_VERB,
                           {"npsbot": ADD_VERB, "name": p.name, "description": p.description})


def add_command(data: dict) -> Command | None:
    name = str(data.get("name") or "").strip()
    if not name:
        return None
    return Command(Verb.THEMES_ADD, text=name, extra={"description": str(data.get("description") or "")})
