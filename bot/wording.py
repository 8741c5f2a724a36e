"""The words and formats every surface shares (Slack, Teams, the shell, the digest, the chart).

One place for the sentences a person reads in more than one renderer, so they cannot drift apart:
counted nouns and signed changes, the significance verdict, "insufficient data", the outcome
labels, dates, the cut with an ellipsis and the one line a refused action answers with. Renderers
add only their platform's markup around these (what Sentry's message builders do for its Slack
and Teams integrations).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.nps import MIN_RESPONSES, Change
from bot.views import HelpView, Notice
from storage.models import Outcome

# Nouns whose plural is not noun + "s".
_PLURALS = {"reply": "replies", "company": "companies"}

UNKNOWN_CUSTOMER = "Unknown customer"
SIGNIFICANT = "significant"
WITHIN_MARGIN = "within the margin of error"
DONE = "Done."
OUTCOME_LABELS = {
    Outcome.RESOLVED: "Resolved",
    Outcome.RECOVERED: "Recovered (customer won back)",
    Outcome.UNREACHABLE: "Unreachable",
    Outcome.CHURNED: "Churned",
    Outcome.NO_ACTION: "No action needed",
}


def counted(n: int, noun: str, *, thousands: bool = False) -> str:
    """`counted(1, "response")` → "1 response"; `counted(1200, "response", thousands=True)` → "1,200 responses"."""
    number = f"{n:,}" if thousands else str(n)
    return f"{number} {noun if n == 1 else _PLURALS.get(noun, noun + 's')}"


def signed_change(delta: float) -> str:
    """A rounded change with its sign, never "-0" or "+0": `+4`, `-12`, `0`."""
    rounded = round(delta)
    return f"+{rounded}" if rounded > 0 else str(rounded)


def verdict(change: Change) -> str:
    """Whether a change is real: "significant" or "within the margin of error"."""
    return SIGNIFICANT if change.significant else WITHIN_MARGIN


def insufficient_data(n: int, *, thousands: bool = False) -> str:
    """`insufficient data: 12 responses, 30 needed` (lower case: it follows a number)."""
    return f"insufficient data: {counted(n, 'response', thousands=thousands)}, {MIN_RESPONSES} needed"


def customer_name(customer: Any) -> str:
    """The customer's label (raw: each surface escapes it its way), or "Unknown customer" when none."""
    return customer.label if customer is not None else UNKNOWN_CUSTOMER


def clip(text: str, limit: int) -> str:
    """Cut to `limit` characters, the last one an ellipsis (plain text; Slack's mrkdwn has its own)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timestamp(value: datetime | None) -> str:
    """`2026-03-02 14:05 UTC`, or a dash when there is none."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def day(value: datetime) -> str:
    """`Mar 2`: a day in a week's range or on a chart axis."""
    return value.strftime("%b %d").replace(" 0", " ")


def refused(reply: Any) -> str | None:
    """The sentence of a refusal (domain error or bad command), or None when it went through."""
    if isinstance(reply, Notice) and not reply.ok:
        return reply.text
    if isinstance(reply, HelpView) and reply.error:
        return reply.error
    return None


def click_answer(reply: Any) -> str:
    """The one line a button or card action answers with: the notice, the refusal, or "Done."."""
    if isinstance(reply, Notice):
        return reply.text
    return refused(reply) or DONE
