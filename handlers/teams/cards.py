"""Adaptive Cards (version 1.5) for Teams: alerts, lists, follow-up details, score and help.

Pure functions: views in, card dicts out; they never query. Teams renders a TextBlock's text as
Markdown (links, bold, lists), so every string that came from a customer or a person is placed in
a RichTextBlock's TextRun, which Teams shows as is. TextBlocks carry only our own words and
numbers.

Card actions are `Action.Execute` (Universal Actions) whose data names the command:
`{"npsbot": "claim", "n": 12}`; inputs of the Add note / Close forms are merged into the same
data by Teams. The handlers accept the same data from an `Action.Submit` too.
"""

from __future__ import annotations

from typing import Any

from bot.commands import Verb
from bot.nps import format_nps
from bot.textview import (
    CATEGORY_ICON,
    day,
    earlier_line,
    loop_line,
    money,
    reply_text,
    safe,
    status_line,
    when,
)
from bot.views import (
    AlertView,
    FollowUpDetail,
    FollowUpList,
    HelpView,
    Notice,
    ScoreView,
)
from bot.wording import (
    OUTCOME_LABELS,
    UNKNOWN_CUSTOMER,
    clip,
    counted,
    customer_name,
    insufficient_data,
    signed_change,
    verdict,
)
from handlers.teams import actions, card_size, theme_cards
from storage.models import Outcome

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_TEXT = 2000  # a long comment is cut here; `show N` has the whole of it
LIST_COMMENT = 120
NOTE_INPUT, OUTCOME_INPUT, CLOSE_NOTE_INPUT = "note_text", "close_outcome", "close_note"
STATUS_STYLE = {"open": "attention", "claimed": "warning", "closed": "good"}


# -- building blocks ----------------------------------------------------------------------------
def card(body: list[dict], actions: list[dict] | None = None) -> dict:
    """A top-level Adaptive Card, full width in Teams."""
    out: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION,
                           "msteams": {"width": "Full"}, "body": body}
    if actions:
        out["actions"] = actions
    return card_size.fit(out)


def text_block(text: str, **style: Any) -> dict:
    """Our own words only: Teams reads this text as Markdown."""
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def run(text: str | None, *, limit: int = MAX_TEXT, **style: Any) -> dict:
    """A TextRun: shown literally (no Markdown, no mentions), control characters made visible."""
    return {"type": "TextRun", "text": clip(safe(text), limit), **style}


def rich(*inlines: dict, **style: Any) -> dict:
    return {"type": "RichTextBlock", "inlines": list(inlines), **style}


def _execute(title: str, verb: str, number: int, **extra: Any) -> dict:
    return actions.execute(title, verb, {"npsbot": verb, "n": number}, **extra)


# -- the alert ----------------------------------------------------------------------------------
def _status_runs(a: AlertView) -> list[dict]:
    if a.status == "closed":
        runs = [run(f"Closed as {a.outcome.value if a.outcome else '—'}", weight="Bolder", color="Good")]
    elif a.status == "claimed":
        runs = [run("Claimed by ", weight="Bolder"),
                run(a.claimant_name or a.claimant_id, weight="Bolder")]
    else:
        runs = [run("Open, unclaimed", weight="Bolder", color="Attention")]
    if a.overdue:
        runs.append(run(" · OVERDUE", weight="Bolder", color="Attention"))
    if a.status != "closed" and a.escalated:
        runs.append(run(" · ESCALATED", weight="Bolder", color="Attention"))
    if a.status != "closed" and a.snoozed_until:
        runs.append(run(f" · snoozed until {when(a.snoozed_until)}"))
    return runs


def alert_body(a: AlertView) -> list[dict]:
    """Everything the Slack alert shows: score, customer, segment, ARR, owner, history, comment."""
    c = a.customer
    head = text_block(f"#{a.number} · {CATEGORY_ICON.get(a.category, '')} {a.score}/10 {a.category}",
                      size="Medium", weight="Bolder")
    customer = [run(customer_name(c), weight="Bolder")]
    if c and c.email:
        customer += [run(" · "), run(c.email)]
    details = rich(
        run("Segment ", isSubtle=True), run(a.segment or "—"),
        run(" · ARR ", isSubtle=True), run(money(a.arr)),
        run(" · Owner ", isSubtle=True), run(c.owner if c and c.owner else "—"),
        spacing="None",
    )
    body: list[dict] = [
        {"type": "Container", "style": STATUS_STYLE.get(a.status, "default"), "bleed": True,
         "items": [head, rich(*_status_runs(a), spacing="None")]},
        rich(*customer),
        details,
    ]
    if a.comment:
        body.append(rich(run(f"“{a.comment}”", italic=True)))
    else:
        body.append(rich(run("(no comment)", isSubtle=True, italic=True)))
    body.append(rich(run(f"Theme: {a.theme or 'none'}" + (f" · Cause: {a.cause}" if a.cause else ""),
                         isSubtle=True), spacing="None"))
    if a.response_count > 1:
        body.append(text_block(f"{a.response_count} answers in this follow-up", isSubtle=True, spacing="None"))
    body.append(text_block(earlier_line(a), isSubtle=True, spacing="Small"))
    if a.last_note:
        body.append(rich(run("Last note: ", weight="Bolder"), run(a.last_note)))
    if loop_line(a):
        body.append(text_block(loop_line(a), isSubtle=True, spacing="Small"))
    body.append(rich(run(f"Answered {when(a.submitted_at)} via ", isSubtle=True), run(a.source, isSubtle=True),
                     spacing="Small"))
    return body


def alert_actions(a: AlertView) -> list[dict]:
    """Buttons for the actions the view allows (the rule lives in bot.queries.actions_for)."""
    n = a.number
    actions: list[dict] = []
    for verb in a.actions:
        if verb == Verb.CLAIM:
            actions.append(_execute("Claim", "claim", n))
        elif verb == Verb.NOTE:
            actions.append({"type": "Action.ShowCard", "title": "Add note", "card": {
                "type": "AdaptiveCard",
                "body": [{"type": "Input.Text", "id": NOTE_INPUT, "label": f"Note on #{n}",
                          "isMultiline": True, "maxLength": 3000, "isRequired": True,
                          "errorMessage": "Write the note first.",
                          "placeholder": "Called the customer; follow-up on Friday"}],
                "actions": [_execute("Save note", "note", n)],
            }})
        elif verb == Verb.CLOSE:
            actions.append({"type": "Action.ShowCard", "title": "Close", "card": {
                "type": "AdaptiveCard",
                "body": [
                    {"type": "Input.ChoiceSet", "id": OUTCOME_INPUT, "label": "Outcome", "style": "compact",
                     "value": Outcome.RESOLVED.value, "isRequired": True,
                     "choices": [{"title": t, "value": o.value} for o, t in OUTCOME_LABELS.items()]},
                    {"type": "Input.Text", "id": CLOSE_NOTE_INPUT, "label": "Note (optional)",
                     "isMultiline": True, "maxLength": 3000},
                    *theme_cards.cause_inputs(a),
                ],
                "actions": [_execute(f"Close #{n}", "close", n)],
            }})
        elif verb == Verb.REOPEN:
            actions.append(_execute("Reopen", "reopen", n))
        elif verb == Verb.EMAIL:
            actions.append(email_action(n))
    if a.status != "closed":
        actions.append(snooze_action(a))
    return actions + theme_cards.theme_actions(a)


SNOOZE_INPUT = "snooze_for"
SNOOZE_CHOICES = (("24h", "24 hours"), ("3d", "3 days"), ("7d", "7 days"))


def snooze_action(a: AlertView) -> dict:
    """Snooze reminders and escalation (issue 16): a choice of durations, or end the snooze."""
    choices = list(SNOOZE_CHOICES) + ([("off", "End snooze")] if a.snoozed_until else [])
    return {"type": "Action.ShowCard", "title": "Snooze", "card": {
        "type": "AdaptiveCard",
        "body": [{"type": "Input.ChoiceSet", "id": SNOOZE_INPUT, "label": "No reminders or escalation for",
                  "style": "compact", "value": "3d", "isRequired": True,
                  "choices": [{"title": t, "value": v} for v, t in choices]}],
        "actions": [_execute(f"Snooze #{a.number}", "snooze", a.number)],
    }}


def owner_mention(a: AlertView) -> tuple[dict, dict] | None:
    """(TextBlock, mention entity) for the owner when they are a Teams user: our one mention."""
    if not a.owner_user_id or not a.owner_name:
        return None
    name = "".join(ch for ch in a.owner_name if ch not in "<>*_[]`#\\~|")[:100] or "owner"
    tag = f"<at>{name}</at>"
    return (text_block(f"Owner: {tag}", spacing="Small"),
            {"type": "mention", "text": tag, "mentioned": {"id": a.owner_user_id, "name": name}})


EMAIL_INPUT = "email_text"


def email_action(n: int) -> dict:
    """Email customer: a card input prefilled with an editable text (bot/mail sends it)."""
    from bot.mail.compose import EMAIL_PREFILL

    return {"type": "Action.ShowCard", "title": "Email customer", "card": {
        "type": "AdaptiveCard",
        "body": [{"type": "Input.Text", "id": EMAIL_INPUT, "label": f"E-mail to the customer of #{n}",
                  "isMultiline": True, "maxLength": 10000, "isRequired": True, "value": EMAIL_PREFILL,
                  "errorMessage": "Write the e-mail first."}],
        "actions": [_execute("Send e-mail", "email", n, style="positive")],
    }}


def alert_card(a: AlertView) -> dict:
    """The alert as posted to a channel and updated in place after every change."""
    out = card(alert_body(a), alert_actions(a))
    mention = owner_mention(a)
    if mention:
        out["body"].append(mention[0])
        out["msteams"]["entities"] = [mention[1]]
    return out


def alert_summary(a: AlertView) -> str:
    """Notification text (plain) for the card's activity."""
    who = safe(a.customer.label) if a.customer else UNKNOWN_CUSTOMER
    return clip(f"#{a.number} · {a.score}/10 {a.category} · {who} · {status_line(a)}", 200)


# -- replies ------------------------------------------------------------------------------------
def list_card(v: FollowUpList) -> dict:
    if not v.items:
        return card([text_block(v.title, weight="Bolder"), rich(run(v.empty_text))])
    body = [text_block(f"{v.title} ({v.total})", size="Medium", weight="Bolder")]
    for a in v.items:
        who = customer_name(a.customer)
        items = [rich(run(f"#{a.number}", weight="Bolder"), run(f" · {a.score}/10 · "), run(who),
                      run(" · "), run(status_line(a), color="Attention" if a.overdue else "Default"))]
        if a.comment:
            items.append(rich(run(clip(a.comment, LIST_COMMENT), italic=True, isSubtle=True),
                              spacing="None"))
        body.append({"type": "Container", "separator": True, "items": items})
    if v.total > len(v.items):
        body.append(text_block(f"… and {v.total - len(v.items)} more", isSubtle=True))
    return card(body)


def detail_card(d: FollowUpDetail) -> dict:
    """`show N`: the alert with its buttons, every answer, the score history and the audit trail."""
    body = alert_body(d.alert)
    answers = [rich(run(f"{when(r.submitted_at)} · {r.score}/10 · ", isSubtle=True),
                    run(r.comment or "(no comment)", italic=bool(r.comment)), spacing="Small") for r in d.responses]
    trail = []
    for e in d.events:
        inlines = [run(f"{when(e.at)} · ", isSubtle=True), run(e.actor_name, weight="Bolder"), run(f" {e.action}")]
        if e.text:
            inlines += [run(": "), run(e.text)]
        trail.append(rich(*inlines, spacing="Small"))
    history = []
    if d.history:
        points = " → ".join(f"{p.score} ({day(p.submitted_at)})" for p in d.history)
        history.append(text_block(f"Score history: {points}", isSubtle=True))
    # Long follow-ups keep their newest answers and trail entries within Teams' size limit and
    # say how many earlier ones are left out (as the Slack renderer clips).
    actions = alert_actions(d.alert)
    budget = card_size.LIMIT - card_size.size(card(body + history, actions)) - 600
    answers = card_size.keep_newest(answers, budget // 3, lambda k: text_block(
        f"… {k} earlier answer{'s' if k != 1 else ''}", isSubtle=True, spacing="Small"))
    trail = card_size.keep_newest(trail, budget - card_size.size(answers), lambda k: text_block(
        f"… {k} earlier trail entr{'ies' if k != 1 else 'y'} (notes and changes)", isSubtle=True, spacing="Small"))
    body.append(text_block("Answers", weight="Bolder", separator=True))
    body += answers + history
    body.append(text_block("Trail", weight="Bolder", separator=True))
    body += trail
    return card(body, actions)


def score_card(v: ScoreView) -> dict:
    c = v.current
    title = [run(f"NPS, last {v.period_days} days", weight="Bolder")]
    if v.segment:
        title += [run(" · segment ", weight="Bolder"), run(v.segment, weight="Bolder")]
    big = format_nps(c.nps) + (f" ±{c.margin:.0f}" if c.margin is not None else "")
    body = [rich(*title), text_block(big, size="ExtraLarge", weight="Bolder", spacing="None")]
    if c.insufficient:
        body.append(text_block(insufficient_data(c.n).capitalize(), color="Warning",
                               spacing="None"))
    body.append(text_block(f"{counted(c.n, 'response')} · {counted(c.promoters, 'promoter')} · "
                           f"{counted(c.passives, 'passive')} · {counted(c.detractors, 'detractor')}", spacing="Small"))
    ch = v.change
    if ch.delta is None:
        body.append(text_block(f"Change vs the {v.period_days} days before: no earlier responses to compare.",
                               isSubtle=True))
    else:
        body.append(text_block(f"Change vs the {v.period_days} days before: {signed_change(ch.delta)} ({verdict(ch)}; "
                               f"previous {format_nps(v.previous.nps)} from {counted(v.previous.n, 'response')})",
                               isSubtle=True))
    return card(body)


def help_card(v: HelpView) -> dict:
    body: list[dict] = []
    if v.error:
        body.append(rich(run("⚠ " + v.error, color="Attention", weight="Bolder")))
    body.append(text_block("npsbot commands", size="Medium", weight="Bolder"))
    body.append(text_block("Mention me in a channel (@npsbot claim 12) or write to me directly.",
                           isSubtle=True, spacing="None"))
    for command, what in v.lines:
        body.append(rich(run(command, fontType="Monospace", weight="Bolder"), run(f" — {what}"), spacing="Small"))
    return card(body)


def text_card(text: str) -> dict:
    """Any reply as literal text, one RichTextBlock per line."""
    return card([rich(run(line or " "), spacing="None") for line in text.splitlines()] or [rich(run(" "))])


def reply_card(reply) -> dict | None:
    """The card for a command's reply; None when plain text suits it better (short notices)."""
    match reply:
        case FollowUpList():
            return list_card(reply)
        case FollowUpDetail():
            return detail_card(reply)
        case ScoreView():
            return score_card(reply)
        case HelpView():
            return help_card(reply)
        case AlertView():
            return alert_card(reply)
        case Notice():
            return None
    return text_card(reply_text(reply))
