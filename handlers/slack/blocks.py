"""Block Kit rendering: views in, Slack message / modal / Home payloads out. Pure functions.

Customer text (comments, names, segments, notes) is escaped (`&`, `<`, `>`) so Slack's parser
can never turn it into a mention or a link, and it is placed in `plain_text` objects so mrkdwn
characters (`*bold*`, `_x_`, `~x~`) show literally. Only our own words go into `mrkdwn`, and every
`mrkdwn` object is `verbatim` so bare URLs and `#channel` names are not linked either.
"""

from __future__ import annotations

import re
from typing import Any

from bot.command_inputs import slack_action_id
from bot.commands import Verb
from bot.textview import (
    CATEGORY_ICON,
    action_label,
    day,
    loop_line,
    money,
    reply_text,
    safe,
    score_text,
    status_line,
    when,
)
from bot.views import (
    AlertView,
    FollowUpDetail,
    FollowUpList,
    HelpView,
    HomeView,
    Notice,
    ScoreView,
)
from bot.wording import customer_name

# Slack's limits (docs.slack.dev Block Kit reference); we stay a little under them.
TEXT_MAX = 2900          # section / plain_text text: 3000
FIELD_MAX = 1900         # section field: 2000
HEADER_MAX = 150
FALLBACK_MAX = 3000      # top-level `text`: 4000 recommended
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100

ACTION_IDS = {v: slack_action_id(v) for v in (Verb.CLAIM, Verb.NOTE, Verb.CLOSE, Verb.REOPEN, Verb.EMAIL)}
NOTE_CALLBACK = "nps_note"
CLOSE_CALLBACK = "nps_close"
EMAIL_CALLBACK = "nps_email"
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


# -- text objects ---------------------------------------------------------------------------
def escape(text: str | None) -> str:
    """Escape Slack's three control characters (`&` first) and neutralise control bytes."""
    return safe(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Cut to `limit` characters with an ellipsis, never inside an escaped entity (`&gt;`)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&", max(0, len(cut) - 5))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]  # `&gt` without its `;` would show as text, or worse, as a broken entity
    return cut + "…"


# Slack has no escape for mrkdwn's formatting characters: in text Slack may read as mrkdwn (the
# notification fallback) names are shown with look-alikes, so `*Mallory*` cannot render bold.
_MRKDWN_LOOKALIKES = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})


def inert(text: str | None) -> str:
    """Escaped, and with mrkdwn's formatting characters replaced: safe anywhere Slack parses."""
    return escape(text).translate(_MRKDWN_LOOKALIKES)


def plain(text: str, *, emoji: bool = True, limit: int = TEXT_MAX) -> dict:
    """A plain_text object for text that may hold customer words (escaped, clipped, never parsed)."""
    return {"type": "plain_text", "text": clip(escape(text), limit) or " ", "emoji": emoji}


def mrkdwn(text: str, limit: int = TEXT_MAX) -> dict:
    """A mrkdwn object for our own sentences; callers escape anything that is not ours."""
    return {"type": "mrkdwn", "text": clip(text, limit) or " ", "verbatim": True}


def section(text: dict | None = None, **extra: Any) -> dict:
    """A section with text, or only `fields` (the digest's headline figures)."""
    return {"type": "section", **({"text": text} if text is not None else {}), **extra}


def context(*texts: dict) -> dict:
    return {"type": "context", "elements": list(texts)[:10]}  # Slack's limit: 10 elements


def header(text: str) -> dict:
    return {"type": "header",
            "text": {"type": "plain_text", "text": clip(escape(text), HEADER_MAX), "emoji": True}}


def button(verb: Verb, number: int, *, primary: bool = False) -> dict:
    b = {"type": "button", "action_id": ACTION_IDS[verb],
         "text": {"type": "plain_text", "text": action_label(verb)}, "value": str(number)}
    if primary:
        b["style"] = "primary"
    return b


# -- alerts ---------------------------------------------------------------------------------
def claimant_mention(a: AlertView) -> str | None:
    """A Slack mention when the claimant is a Slack user id (Slack renders their current name)."""
    if a.claimant_platform == "slack" and a.claimant_user_id and _SLACK_USER.match(a.claimant_user_id):
        return f"<@{a.claimant_user_id}>"
    return None


def claimant(a: AlertView) -> str:
    """Who has it, as mrkdwn: a Slack mention for a Slack user id, else the name made inert."""
    return claimant_mention(a) or inert(a.claimant_name or a.claimant_user_id or "someone")


def state_mrkdwn(a: AlertView) -> str:
    """Open / claimed by whom / closed with outcome: the state at a glance."""
    if a.status == "closed":
        text = f":white_check_mark: *Closed* as {a.outcome.value if a.outcome else '—'}"
    elif a.status == "claimed":
        text = f":raising_hand: *Claimed* by {claimant(a)}"
    else:
        text = ":large_orange_circle: *Open*, unclaimed"
    if a.overdue:
        text += " · :alarm_clock: *overdue*"
    if a.status != "closed" and a.escalated:
        text += " · :arrow_double_up: *escalated*"
    if a.status != "closed" and a.snoozed_until:
        text += f" · :zzz: snoozed until {when(a.snoozed_until)}"
    return text


def headline(a: AlertView) -> str:
    return f"#{a.number} · {CATEGORY_ICON.get(a.category, '')} {a.score}/10 {a.category}"


def earlier(a: AlertView) -> str:
    if not a.earlier_scores:
        return "none"
    return ", ".join(f"{p.score} ({day(p.submitted_at)})" for p in a.earlier_scores)


def alert_fields(a: AlertView) -> list[dict]:
    c = a.customer
    customer = customer_name(c) + (f" · {c.email}" if c and c.email else "")
    fields = [
        f"Customer: {customer}",
        f"Segment: {a.segment or '—'}",
        f"ARR: {money(a.arr)}",
        f"Owner: {(c.owner if c and c.owner else None) or '—'}",
        f"Earlier scores: {earlier(a)}",
        f"Answered: {when(a.submitted_at)}" + (f" via {a.source}" if a.source else ""),
        f"Theme: {a.theme or 'none'}" + (f" · Cause: {a.cause}" if a.cause else ""),
    ]
    return [{"type": "plain_text", "text": clip(escape(f), FIELD_MAX) or " ", "emoji": False} for f in fields]


def action_buttons(a: AlertView) -> dict:
    from handlers.slack.theme_blocks import theme_select  # it builds on this module

    elements = [button(v, a.number, primary=(v == Verb.CLAIM)) for v in a.actions] + theme_select(a)
    if a.status != "closed":
        elements.append(snooze_menu(a))
    return {"type": "actions", "block_id": f"nps_actions_{a.number}", "elements": elements}


SNOOZE_ACTION = "nps_snooze"
SNOOZE_CHOICES = (("24h", "Snooze 24 hours"), ("3d", "Snooze 3 days"), ("7d", "Snooze 7 days"))


def snooze_menu(a: AlertView) -> dict:
    """The alert's overflow menu: snooze reminders and escalation (value `N:3d`, or `N:off`)."""
    choices = list(SNOOZE_CHOICES) + ([("off", "End snooze")] if a.snoozed_until else [])
    return {"type": "overflow", "action_id": SNOOZE_ACTION, "options": [
        {"text": {"type": "plain_text", "text": label}, "value": f"{a.number}:{value}"} for value, label in choices]}


def owner_mention(a: AlertView) -> dict | None:
    """`Owner: @person` when the customer's owner e-mail is a Slack user: the one mention we make."""
    if a.owner_user_id and _SLACK_USER.match(a.owner_user_id):
        return mrkdwn(f"Owner: <@{a.owner_user_id}>")
    return None


def alert_blocks(a: AlertView, *, with_actions: bool = True) -> list[dict]:
    """The alert message: score, customer, comment, state, last note and the buttons that apply."""
    comment = f"“{a.comment}”" if a.comment else "(no comment)"
    blocks: list[dict] = [
        header(headline(a)),
        {"type": "section", "fields": alert_fields(a)},
        section(plain(comment, emoji=False)),
    ]
    state = [mrkdwn(state_mrkdwn(a))]
    if a.status == "claimed" and claimant_mention(a) is None:
        # A name typed by people (Teams, `assign @name`) goes in plain_text: literal, never mrkdwn.
        overdue = " · :alarm_clock: *overdue*" if a.overdue else ""
        state = [mrkdwn(":raising_hand: *Claimed* by"), plain(a.claimant_name or a.claimant_user_id or "someone",
                                                               emoji=False)]
        if overdue:
            state.append(mrkdwn(overdue.removeprefix(" ")))
    if a.response_count > 1:
        state.append(mrkdwn(f"{a.response_count} answers in this follow-up"))
    mention = owner_mention(a)
    if mention:
        state.append(mention)
    if loop_line(a):
        state.append(mrkdwn(escape(loop_line(a))))
    blocks.append(context(*state))
    if a.last_note:
        blocks.append(section(plain(f"Last note: {a.last_note}", emoji=False)))
    if with_actions and a.actions:
        blocks.append(action_buttons(a))
    return blocks


def alert_fallback(a: AlertView) -> str:
    """Notification text: no comment (it may be long or private), no mrkdwn from customers."""
    who = customer_name(a.customer)
    return clip(f"{escape(headline(a))} · {inert(who)} · {inert(status_line(a))}", FALLBACK_MAX)


def alert_message(a: AlertView) -> dict:
    return {"text": alert_fallback(a), "blocks": alert_blocks(a)}


# -- replies --------------------------------------------------------------------------------
def notice_blocks(n: Notice) -> list[dict]:
    icon = "" if n.ok else ":warning: "
    return [section(mrkdwn(icon + escape(n.text)))]


def help_blocks(v: HelpView, command: str = "/nps") -> list[dict]:
    blocks = []
    if v.error:
        blocks.append(section(mrkdwn(f":warning: {escape(v.error)}")))
    lines = [f"`{command} {escape(cmd)}` — {escape(what)}" for cmd, what in v.lines]
    blocks.append(section(mrkdwn("*npsbot commands*\n" + "\n".join(lines))))
    return blocks


def item_text(a: AlertView) -> str:
    who = customer_name(a.customer)
    line = f"#{a.number} · {a.score}/10 · {who} · {status_line(a)}"
    if a.comment:
        line += f"\n“{clip(a.comment, 150)}”"
    return line


def list_blocks(v: FollowUpList) -> list[dict]:
    if not v.items:
        return [section(mrkdwn(escape(v.empty_text)))]
    blocks = [section(mrkdwn(f"*{escape(v.title)}* ({v.total})"))]
    room = MESSAGE_BLOCKS - 2
    blocks += [section(plain(item_text(a), emoji=False)) for a in v.items[:room]]
    if v.total > min(len(v.items), room):
        blocks.append(context(mrkdwn(f"… and {v.total - min(len(v.items), room)} more, oldest first.")))
    return blocks


def detail_blocks(d: FollowUpDetail) -> list[dict]:
    blocks = alert_blocks(d.alert)
    answers = "\n".join(f"{when(r.submitted_at)} · {r.score}/10 · {r.comment or '(no comment)'}"
                        for r in d.responses)
    blocks.append(section(plain("Answers:\n" + answers, emoji=False)))
    if d.history:
        blocks.append(context(plain("Score history: " + " → ".join(str(p.score) for p in d.history))))
    trail = "\n".join(f"{when(e.at)} · {e.actor_name} {e.action}" + (f": {e.text}" if e.text else "")
                      for e in d.events)
    blocks.append(section(plain("Trail:\n" + (trail or "—"), emoji=False)))
    return blocks


def score_blocks(v: ScoreView) -> list[dict]:
    return [section(plain(score_text(v), emoji=False))]


def reply_blocks(reply: Any, command: str = "/nps") -> list[dict]:
    match reply:
        case Notice():
            return notice_blocks(reply)
        case HelpView():
            return help_blocks(reply, command)
        case FollowUpList():
            return list_blocks(reply)
        case FollowUpDetail():
            return detail_blocks(reply)
        case ScoreView():
            return score_blocks(reply)
        case HomeView():
            return home_blocks(reply)
        case AlertView():
            return alert_blocks(reply)
    raise TypeError(f"no Block Kit rendering for {type(reply).__name__}")


def reply_message(reply: Any, command: str = "/nps") -> dict:
    """An ephemeral answer: blocks plus the escaped plain-text fallback."""
    return {"text": clip(escape(reply_text(reply)), FALLBACK_MAX), "blocks": reply_blocks(reply, command)}


# -- App Home -------------------------------------------------------------------------------
def home_item(a: AlertView, verb: Verb | None) -> dict:
    block = section(plain(item_text(a), emoji=False))
    if verb is not None:
        block["accessory"] = button(verb, a.number, primary=(verb == Verb.CLAIM))
    return block


def home_blocks(v: HomeView, notice: Notice | None = None) -> list[dict]:
    blocks: list[dict] = [header("NPS follow-ups")]
    if notice is not None:
        blocks += notice_blocks(notice)
    blocks += score_blocks(v.score)
    # Both sections always show, each cut to its share of the 100 blocks with "… and N more":
    # the headers, the divider and the two "more" lines take 5.
    avail = VIEW_BLOCKS - len(blocks) - 6
    mine_room = min(len(v.mine), max(avail - min(len(v.unclaimed), avail // 2), avail // 2))
    mine_total = len(v.mine) if v.mine_total is None else v.mine_total
    blocks += [{"type": "divider"}, header(f"Your follow-ups ({mine_total})")]
    if v.mine:
        blocks += [home_item(a, Verb.CLOSE if Verb.CLOSE in a.actions else None) for a in v.mine[:mine_room]]
        if mine_total > min(len(v.mine), mine_room):
            more = mine_total - min(len(v.mine), mine_room)
            blocks.append(context(mrkdwn(f"… and {more} more; `/nps mine` lists them.")))
    else:
        blocks.append(context(mrkdwn("You have no follow-ups. Claim one from the queue below.")))
    blocks += [{"type": "divider"}, header(f"Unclaimed ({v.unclaimed_total})")]
    room = max(VIEW_BLOCKS - len(blocks) - 1, 0)
    shown = v.unclaimed[:room]
    if shown:
        blocks += [home_item(a, Verb.CLAIM) for a in shown]
    else:
        blocks.append(context(mrkdwn("No unclaimed follow-ups.")))
    if v.unclaimed_total > len(shown):
        more = v.unclaimed_total - len(shown)
        blocks.append(context(mrkdwn(f"… and {more} more; `/nps unclaimed` lists them.")))
    return blocks[:VIEW_BLOCKS]


def home_view(v: HomeView, notice: Notice | None = None) -> dict:
    return {"type": "home", "blocks": home_blocks(v, notice)}


def thread_text(text: str) -> str:
    """A thread line (our sentence around staff or customer words): escaped, never parsed."""
    return clip(escape(text), FALLBACK_MAX)


__all__ = [
    "alert_blocks", "alert_fallback", "alert_message", "escape", "home_view", "reply_message", "thread_text",
]
