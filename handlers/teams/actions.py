"""Universal Actions for every Teams card: one way to build an `Action.Execute`.

Microsoft's Universal Actions guidance: every Action.Execute falls back to Action.Submit, or older
clients render no button. The schema wants the fallback as an action, so it is one, with the same
data (bot.py accepts it as a submit).
"""

from __future__ import annotations

from typing import Any


def execute(title: str, verb: str, data: dict, **extra: Any) -> dict:
    """An `Action.Execute` with its `Action.Submit` fallback."""
    return {"type": "Action.Execute", "title": title, "verb": verb, "data": data,
            "fallback": {"type": "Action.Submit", "title": title, "data": dict(data)}, **extra}
