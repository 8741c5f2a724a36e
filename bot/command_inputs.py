"""What a button or a form stands for, the same on every platform: action ids and form inputs → `Command`.

A Slack button's `action_id` is `nps_<word>`, a Teams card's `data.npsbot` is `<word>`; both are
encoded and decoded here. A Slack modal's state and a Teams card's inputs are read by each door
into plain values (text, outcome, cause) and turned into a `Command` by `form_command`, so both
refuse an empty note or an unknown outcome with the same sentence, naming the field.
"""

from __future__ import annotations

from bot.commands import Command, Verb
from bot.errors import CommandError
from storage.models import Outcome

# The word each button carries (Teams `data.npsbot`; Slack's action id is `nps_` + the word).
ACTION_WORDS = {Verb.CLAIM: "claim", Verb.NOTE: "note", Verb.CLOSE: "close", Verb.REOPEN: "reopen",
                Verb.SHOW: "show", Verb.SNOOZE: "snooze", Verb.THEME: "theme", Verb.EMAIL: "email"}
_VERBS = {word: verb for verb, word in ACTION_WORDS.items()}
_SLACK_PREFIX = "nps_"

NEEDS_NOTE = "A note needs some text."
NEEDS_EMAIL = "The e-mail needs some text."
PICK_OUTCOME = "Pick one of the outcomes in the list."


class InputError(CommandError):
    """A form field the command cannot run with; `field` names it (Slack shows the message under it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def action_word(verb: Verb) -> str:
    return ACTION_WORDS[verb]


def verb_of(word: str) -> Verb | None:
    """The verb of a card's `npsbot` word; None for anything else."""
    return _VERBS.get(word)


def slack_action_id(verb: Verb) -> str:
    return _SLACK_PREFIX + ACTION_WORDS[verb]


def verb_of_slack_action(action_id: str) -> Verb | None:
    """`nps_claim` → Verb.CLAIM; None for an action id that is not one of ours."""
    return _VERBS.get(action_id[len(_SLACK_PREFIX):]) if action_id.startswith(_SLACK_PREFIX) else None


def form_command(verb: Verb, number: int, *, text: str = "", outcome: str = "", cause: str = "") -> Command:
    """The Command a submitted note, e-mail or close form stands for; `InputError` names a bad field."""
    text = text.strip()
    if verb in (Verb.NOTE, Verb.EMAIL):
        if not text:
            raise InputError("note", NEEDS_NOTE if verb == Verb.NOTE else NEEDS_EMAIL)
        return Command(verb, number=number, text=text)
    if verb != Verb.CLOSE:
        return Command(verb, number=number)
    try:
        picked = Outcome(outcome or Outcome.RESOLVED.value)
    except ValueError:
        raise InputError("outcome", PICK_OUTCOME) from None
    cause = cause.strip()
    return Command(Verb.CLOSE, number=number, outcome=picked, text=text or None,
                   extra={"cause": cause} if cause else {})
