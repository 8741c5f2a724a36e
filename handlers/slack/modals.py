"""Slack modals: add a note, close with an outcome (and cause), e-mail the customer.

Each modal carries in `private_metadata` the follow-up number and where it was opened from
(`parse_meta` reads it back); the submission becomes a `Command` in bot/command_inputs.py.
"""

from __future__ import annotations

import json

from bot.wording import OUTCOME_LABELS
from handlers.slack.blocks import CLOSE_CALLBACK, EMAIL_CALLBACK, NOTE_CALLBACK


def _meta(number: int, channel: str | None, home: bool) -> str:
    return json.dumps({"n": number, "c": channel, "home": home}, separators=(",", ":"))


def parse_meta(raw: str | None) -> dict:
    """The follow-up number and where the modal was opened from; {} when unreadable."""
    try:
        meta = json.loads(raw or "")
    except ValueError:
        return {}
    if not isinstance(meta, dict) or not isinstance(meta.get("n"), int):
        return {}
    return meta


def _note_input(optional: bool, label: str) -> dict:
    return {
        "type": "input", "block_id": "note", "optional": optional,
        "label": {"type": "plain_text", "text": label},
        "element": {"type": "plain_text_input", "action_id": "text", "multiline": True, "max_length": 3000},
    }


def note_modal(number: int, *, channel: str | None, home: bool = False) -> dict:
    return {
        "type": "modal", "callback_id": NOTE_CALLBACK, "private_metadata": _meta(number, channel, home),
        "title": {"type": "plain_text", "text": f"Note on #{number}"[:24]},
        "submit": {"type": "plain_text", "text": "Add note"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [_note_input(False, "What happened?")],
    }


def close_modal(number: int, *, channel: str | None, home: bool = False, causes: tuple[str, ...] = (),
                cause: str | None = None) -> dict:
    options = [{"text": {"type": "plain_text", "text": label}, "value": o.value}
               for o, label in OUTCOME_LABELS.items()]
    return {
        "type": "modal", "callback_id": CLOSE_CALLBACK, "private_metadata": _meta(number, channel, home),
        "title": {"type": "plain_text", "text": f"Close #{number}"[:24]},
        "submit": {"type": "plain_text", "text": "Close"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "input", "block_id": "outcome", "label": {"type": "plain_text", "text": "Outcome"},
             "element": {"type": "static_select", "action_id": "value", "options": options,
                         "initial_option": options[0]}},
            _note_input(True, "Note (optional)"),
        ] + cause_input(causes, cause),
    }


def cause_input(causes: tuple[str, ...], cause: str | None) -> list[dict]:
    """The close modal's cause: the themes, prefilled with the follow-up's theme."""
    from handlers.slack.theme_blocks import theme_option

    if not causes:
        return []
    options = [theme_option(name, name) for name in causes[:100]]
    element: dict = {"type": "static_select", "action_id": "value", "options": options}
    if cause in causes[:100]:
        element["initial_option"] = theme_option(cause, cause)
    return [{"type": "input", "block_id": "cause", "optional": True,
             "label": {"type": "plain_text", "text": "Cause"}, "element": element}]


def email_modal(number: int, *, channel: str | None, home: bool = False) -> dict:
    """Email customer: the text is prefilled and editable; the reply comes back to the thread."""
    text_input = _note_input(False, "Your e-mail to the customer")
    from bot.mail.compose import EMAIL_PREFILL

    text_input["element"]["initial_value"] = EMAIL_PREFILL
    text_input["hint"] = {"type": "plain_text",
                          "text": "Sent from the team's address; the customer's reply appears in the alert's thread."}
    return {
        "type": "modal", "callback_id": EMAIL_CALLBACK, "private_metadata": _meta(number, channel, home),
        "title": {"type": "plain_text", "text": f"Email #{number}"[:24]},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [text_input],
    }
