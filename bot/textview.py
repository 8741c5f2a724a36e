"""Plain-text rendering of every view: the shell's output and the chat platforms' fallback text.

Customer text is shown literally; control characters (terminal escape sequences included) are
replaced so a comment cannot rewrite a terminal or a log line.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.commands import Verb
from bot.nps import format_nps
from bot.views import (
    AlertView,
    FollowUpDetail,
    FollowUpList,
    HelpView,
    HomeView,
    Notice,
    ScoreView,
)
from bot.wording import UNKNOWN_CUSTOMER, clip, counted, insufficient_data, signed_change, verdict
from bot.wording import day as day
from bot.wording import timestamp as when

if TYPE_CHECKING:
    from bot.digest.views import DigestView

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Invisible characters that change how text around them reads: bidi embeddings, overrides and
# isolates (`invoice\u202egnp.exe` shows as `invoiceexe.png`), zero-width spaces and joiners, the
# word joiner and the BOM. Shown as their code, like control characters.
_INVISIBLE = re.compile("[\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
CATEGORY_ICON = {"detractor": "🔴", "passive": "🟡", "promoter": "🟢"}


def safe(text: str | None) -> str:
    """Customer text with control characters made visible and harmless."""
    if text is None:
        return ""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def money(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 1_000_000:
        return f"${value / 1_000_000:.1f}M"
    if value >= 1_000:
        return f"${value / 1_000:.0f}k"
    return f"${value:,.0f}"


def status_line(a: AlertView) -> str:
    """Open / claimed by whom / closed with outcome: the state at a glance."""
    if a.status == "closed":
        return f"Closed as {a.outcome.value if a.outcome else '—'}"
    if a.status == "claimed":
        return f"Claimed by {safe(a.claimant_name or a.claimant_id)}" + (" · OVERDUE" if a.overdue else "") \
            + routing_marks(a)
    return "Open, unclaimed" + (" · OVERDUE" if a.overdue else "") + routing_marks(a)


def routing_marks(a: AlertView) -> str:
    """` · ESCALATED`, ` · snoozed until …` (issue 16): what routing did to a follow-up."""
    marks = " · ESCALATED" if a.escalated else ""
    if a.snoozed_until:
        marks += f" · snoozed until {when(a.snoozed_until)}"
    return marks


def customer_line(a: AlertView) -> str:
    c = a.customer
    parts = [safe(c.label) if c else UNKNOWN_CUSTOMER]
    if c and c.email:
        parts.append(safe(c.email))
    parts.append(f"segment {safe(a.segment) or '—'}")
    parts.append(f"ARR {money(a.arr)}")
    parts.append(f"owner {safe(c.owner) if c and c.owner else '—'}")
    return " · ".join(parts)


def earlier_line(a: AlertView) -> str:
    if not a.earlier_scores:
        return "Earlier scores: none"
    return "Earlier scores: " + ", ".join(f"{p.score} ({day(p.submitted_at)})" for p in a.earlier_scores)


def loop_line(a: AlertView) -> str:
    """`✉ contacted 2026-11-20 12:00 UTC · re-surveyed: 9` (empty before any e-mail)."""
    parts = []
    if a.contacted_at:
        parts.append(f"✉ contacted {when(a.contacted_at)}")
    if a.resurvey_score is not None:
        parts.append(f"re-surveyed: {a.resurvey_score}")
    return " · ".join(parts)


def alert_headline(a: AlertView) -> str:
    return f"#{a.number} · {CATEGORY_ICON.get(a.category, '')} {a.score}/10 {a.category} · {status_line(a)}"


def alert_text(a: AlertView) -> str:
    lines = [alert_headline(a), customer_line(a)]
    if a.comment:
        lines.append(f"“{safe(a.comment)}”")
    else:
        lines.append("(no comment)")
    lines.append(f"Theme: {safe(a.theme or 'none')}" + (f" · Cause: {safe(a.cause)}" if a.cause else ""))
    if a.response_count > 1:
        lines.append(f"{a.response_count} answers in this follow-up")
    lines.append(earlier_line(a))
    if a.last_note:
        lines.append(f"Last note: {safe(a.last_note)}")
    if loop_line(a):
        lines.append(loop_line(a))
    lines.append("Actions: " + " · ".join(f"{v.value} {a.number}" for v in a.actions))
    return "\n".join(lines)


def list_text(v: FollowUpList) -> str:
    if not v.items:
        return v.empty_text
    lines = [f"{v.title} ({v.total})"]
    for a in v.items:
        who = safe(a.customer.label) if a.customer else UNKNOWN_CUSTOMER
        lines.append(f"  #{a.number}  {a.score}/10  {who} — {status_line(a)}")
        if a.comment:
            comment = safe(a.comment)
            lines.append(f"      “{comment[:70] + '…' if len(comment) > 71 else comment}”")
    if v.total > len(v.items):
        lines.append(f"  … and {v.total - len(v.items)} more")
    return "\n".join(lines)


def detail_text(d: FollowUpDetail) -> str:
    lines = [alert_text(d.alert), "", "Answers:"]
    for r in d.responses:
        lines.append(f"  {when(r.submitted_at)}  {r.score}/10  {safe(r.comment) or '(no comment)'}")
    if d.history:
        lines.append("Score history: " + " → ".join(str(p.score) for p in d.history))
    lines.append("Trail:")
    for e in d.events:
        lines.append(f"  {when(e.at)}  {safe(e.actor_name)} {e.action}" + (f": {safe(e.text)}" if e.text else ""))
    return "\n".join(lines)


def score_text(v: ScoreView) -> str:
    c = v.current
    scope = f" · segment {safe(v.segment)}" if v.segment else ""
    head = f"NPS last {v.period_days} days{scope}: {format_nps(c.nps)}"
    if c.margin is not None:
        head += f" ±{c.margin:.0f}"
    if c.insufficient:
        head += f" ({insufficient_data(c.n)})"
    lines = [head, f"{counted(c.n, 'response')} · {counted(c.promoters, 'promoter')} · "
             f"{counted(c.passives, 'passive')} · {counted(c.detractors, 'detractor')}"]
    ch = v.change
    if ch.delta is None:
        lines.append(f"Change vs the {v.period_days} days before: no earlier responses to compare.")
    else:
        lines.append(f"Change vs the {v.period_days} days before: {signed_change(ch.delta)} ({verdict(ch)}; "
                     f"previous {format_nps(v.previous.nps)} from {counted(v.previous.n, 'response')})")
    return "\n".join(lines)


def help_text(v: HelpView) -> str:
    lines = []
    if v.error:
        lines += [f"⚠ {v.error}", ""]
    lines.append("npsbot commands:")
    lines += [f"  {cmd}  —  {what}" for cmd, what in v.lines]
    return "\n".join(lines)


def home_text(v: HomeView) -> str:
    mine = FollowUpList("Your follow-ups", v.mine, len(v.mine) if v.mine_total is None else v.mine_total,
                        "You have no follow-ups.")
    queue = FollowUpList("Unclaimed", v.unclaimed, v.unclaimed_total, "No unclaimed follow-ups.")
    return "\n\n".join([score_text(v.score), list_text(mine), list_text(queue)])


def reply_text(reply) -> str:
    """Render any reply view as plain text."""
    match reply:
        case Notice():
            return ("" if reply.ok else "⚠ ") + reply.text
        case HelpView():
            return help_text(reply)
        case FollowUpList():
            return list_text(reply)
        case FollowUpDetail():
            return detail_text(reply)
        case ScoreView():
            return score_text(reply)
        case HomeView():
            return home_text(reply)
        case AlertView():
            return alert_text(reply)
    if hasattr(reply, "as_text"):
        return reply.as_text()
    raise TypeError(f"no text rendering for {type(reply).__name__}")


def action_label(verb: Verb) -> str:
    return {Verb.CLAIM: "Claim", Verb.NOTE: "Add note", Verb.CLOSE: "Close", Verb.REOPEN: "Reopen",
            Verb.EMAIL: "Email customer"}[verb]


def digest_text(view: DigestView) -> str:
    """The whole weekly digest as plain text (terminal, shell, and every platform's fallback)."""
    from bot.digest.format import duration, overdue_text, segment_figure
    from bot.digest.views import RECOVERED_MEANS
    from bot.mail.recovery import recovery_lines
    from bot.theme_digest import text_lines as theme_lines

    lines = [view.title, f"{view.period_text}, compared with the 7 days before."]
    if view.quiet:
        lines += ["", view.quiet_text]
        if view.recovery is not None:
            lines += ["", *recovery_lines(view.recovery, money=money, duration=duration)]
        return "\n".join(lines)
    lines += ["", f"{view.headline} · change {view.change_text}", view.counts_text]
    if len(view.trend) > 1:
        lines.append(f"Trend ({len(view.trend)} weeks, oldest first): {view.trend_text}")
    if view.segments and view.segment is None:
        lines += ["", "By segment:"]
        labels = [clip(safe(s.label), 32) for s in view.segments]
        width = max(len(label) for label in labels)
        for label, s in zip(labels, view.segments, strict=True):
            lines.append(f"  {label:<{width}}  {segment_figure(s)}")
        if view.segments_total > len(view.segments):
            lines.append(f"  … and {view.segments_total - len(view.segments)} more segments")
    lines += ["", f"What detractors wrote about ({counted(view.detractor_comments, 'comment', thousands=True)}):"]
    if not view.detractor_comments:
        lines.append("  No detractor comments this week.")
    for t in view.themes:
        quote = f"  “{safe(t.example)}”" if t.example else ""
        change = f" {t.change:+d}" if t.change is not None else ""
        lines.append(f"  {safe(t.name):<28} {t.count:>4} ({t.share:.0%}){change}{quote}")
    if view.uncategorised:
        lines.append(f"  {'Other':<28} {view.uncategorised:>4}")
    lines += theme_lines(view)
    lines += ["", "Follow-up loop:", f"  {view.loop_text}", f"  {view.medians_text}",
              f"  {view.risk_text}", f"  {view.claim_sla_text}"]
    if view.loop.outcomes:
        lines.append(f"  {view.outcomes_text}")
    lines.append(f"  {RECOVERED_MEANS}")
    lp = view.loop
    if lp.overdue_total:
        lines.append(f"  Overdue ({lp.overdue_total:,}):")
        for o in lp.overdue:
            lines.append(f"    {overdue_text(o)}")
        if lp.overdue_total > len(lp.overdue):
            lines.append(f"    … and {lp.overdue_total - len(lp.overdue):,} more (`open` lists them)")
    else:
        lines.append("  Nothing overdue.")
    if view.recovery is not None:
        lines += ["", *recovery_lines(view.recovery, money=money, duration=duration)]
    return "\n".join(lines)
