"""The weekly digest as an Adaptive Card 1.5 for Teams: a DigestView in, a card dict out. Pure.

Teams reads a TextBlock's text as Markdown, so TextBlocks and FactSets carry only our own words
and numbers. Anything that came from a customer or a person (segment names, comment quotes,
customer and claimant names, the title with its segment) goes into RichTextBlock TextRuns, which
Teams shows literally: no links, no formatting, no mentions. The trend chart is embedded as a
`data:image/png;base64,…` image (Teams accepts PNG up to 1024x1024; base64 images do not count
towards the message size limit).
"""

from __future__ import annotations

import base64
from typing import Any

from bot.digest import RECOVERED_MEANS, DigestView, duration, overdue_text, segment_figure
from bot.nps import format_nps
from bot.textview import money
from bot.theme_digest import add_command
from bot.wording import counted, insufficient_data, signed_change, verdict
from handlers.teams import theme_cards
from handlers.teams.cards import card, rich, run, text_block

MAX_RUN = 400


def _short_run(text: str | None, **style: Any) -> dict:
    """The digest's TextRuns are shorter than a reply's: a quote or a name, never a whole comment."""
    return run(text, limit=MAX_RUN, **style)


def _facts(pairs: list[tuple[str, str]], **style: Any) -> dict:
    return {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in pairs], **style}


def _heading(text: str) -> dict:
    return text_block(text, weight="Bolder", size="Medium", spacing="Large", separator=True)


def _headline(d: DigestView) -> dict:
    c = d.current
    margin = f" ±{c.margin:.0f}" if c.margin is not None else ""
    ch = d.change
    if ch.delta is None:
        change, colour = "no responses the week before", "Default"
    else:
        change = f"{signed_change(ch.delta)} vs {format_nps(d.previous.nps)} · {verdict(ch)}"
        colour = ("Good" if ch.delta > 0 else "Attention") if ch.significant else "Default"
    nps_items = [text_block("NPS", isSubtle=True, size="Small"),
                 text_block(f"{format_nps(c.nps)}{margin}", size="ExtraLarge", weight="Bolder", spacing="None")]
    if d.margin_text:
        nps_items.append(text_block("at 95% confidence", isSubtle=True, size="Small", spacing="None"))
    if c.insufficient:
        nps_items.append(text_block(insufficient_data(c.n, thousands=True), size="Small", color="Warning",
                                    spacing="None"))
    return {
        "type": "ColumnSet",
        "columns": [
            {"type": "Column", "width": "auto", "items": nps_items},
            {"type": "Column", "width": "stretch", "verticalContentAlignment": "Center", "items": [
                text_block(change, color=colour),
                text_block(f"{counted(c.n, 'response', thousands=True)} · "
                           f"{counted(c.promoters, 'promoter', thousands=True)} · "
                           f"{counted(c.passives, 'passive', thousands=True)} · "
                           f"{counted(c.detractors, 'detractor', thousands=True)}", isSubtle=True, spacing="Small"),
            ]},
        ],
    }


def _segments(d: DigestView) -> list[dict]:
    if d.segment is not None or not d.segments:
        return []
    out = [_heading("NPS by segment")]
    for s in d.segments:
        out.append(rich(_short_run(s.label, weight="Bolder"), _short_run("  " + segment_figure(s),
                                                               color="Warning" if s.insufficient else "Default"),
                         spacing="Small"))
    if d.segments_total > len(d.segments):
        out.append(text_block(f"… and {d.segments_total - len(d.segments)} more segments", isSubtle=True,
                         spacing="Small"))
    return out


def _themes(d: DigestView) -> list[dict]:
    out = [_heading(f"What detractors wrote about ({counted(d.detractor_comments, 'comment', thousands=True)})")]
    if not d.detractor_comments:
        out.append(text_block("No detractor comments this week.", isSubtle=True))
        return out
    for t in d.themes:
        change = f" · {t.change:+d}" if t.change is not None else ""
        inlines = [_short_run(t.name, weight="Bolder"), _short_run(f"  {t.count:,} ({t.share:.0%}){change}")]
        if t.example:
            inlines.append(_short_run(f"  “{t.example}”", italic=True, isSubtle=True))
        out.append(rich(*inlines, spacing="Small"))
    if d.uncategorised:
        out.append(rich(_short_run("Other", weight="Bolder"), _short_run(f"  {d.uncategorised:,}"), spacing="Small"))
    # Proposed themes: the command that adds one, to send as a message to the bot (customer words in runs).
    for p in d.theme_proposals:
        out.append(rich(_short_run("Proposed theme: ", weight="Bolder"), _short_run(f"{p.name} · {p.count:,}"),
                         _short_run(f"  “{p.example}”" if p.example else "", italic=True, isSubtle=True),
                         _short_run(f"  Add it: {add_command(p)}", isSubtle=True), spacing="Small"))
        out.append({"type": "ActionSet", "actions": [theme_cards.add_theme_action(p)]})
    if d.causes:
        out.append(rich(_short_run("Causes of closed follow-ups: ", weight="Bolder"),
                         _short_run(", ".join(f"{c.name} {c.count:,}" for c in d.causes)), spacing="Small"))
    return out


def _loop(d: DigestView) -> list[dict]:
    lp = d.loop
    out = [_heading("Follow-up loop"), _facts([
        ("Opened · claimed · closed", f"{lp.opened:,} · {lp.claimed:,} · {lp.closed:,}"),
        ("Median time to claim", duration(lp.median_to_claim)),
        ("Median time to close", duration(lp.median_to_close)),
        ("Detractors recovered", f"{lp.recovered:,}"),
        ("Open detractors", f"{lp.open_detractors:,}"),
        ("ARR at risk", money(lp.arr_at_risk)),
    ])]
    if lp.overdue_total:
        out.append(text_block(f"Overdue ({lp.overdue_total:,}): past {d.sla_claim_hours:g} h unclaimed or "
                         f"{d.sla_close_days:g} days claimed and open", weight="Bolder", color="Attention",
                         spacing="Medium"))
        for o in lp.overdue:
            out.append(rich(_short_run(overdue_text(o)), spacing="Small"))
        if lp.overdue_total > len(lp.overdue):
            out.append(text_block(f"… and {lp.overdue_total - len(lp.overdue):,} more: send `open` to list them.",
                             isSubtle=True, spacing="Small"))
    else:
        out.append(text_block("Nothing overdue.", color="Good", spacing="Small"))
    out.append(text_block(d.claim_sla_text, spacing="Small"))
    if lp.outcomes:
        out.append(text_block(d.outcomes_text, spacing="Small"))
    out.append(text_block(RECOVERED_MEANS, isSubtle=True, size="Small", spacing="Small"))
    return out


def digest_card(digest: DigestView) -> dict:
    """The digest as an Adaptive Card 1.5 (the `content` of an adaptive card attachment)."""
    d = digest
    body: list[dict] = [
        rich(_short_run(d.title, weight="Bolder", size="Large")),
        text_block(f"{d.period_text}, compared with the 7 days before.", isSubtle=True, size="Small",
                   spacing="None"),
    ]
    if d.quiet:
        body.append(text_block(d.quiet_text, spacing="Medium"))
    else:
        body.append(_headline(d))
        if d.chart_png:
            body.append({"type": "Image", "url": "data:image/png;base64," + base64.b64encode(d.chart_png).decode(),
                         "altText": f"Weekly NPS over the last {len(d.trend)} weeks: {d.trend_text}",
                         "size": "Stretch", "spacing": "Medium"})
        elif len(d.trend) > 1:
            body.append(text_block(f"Weekly NPS, oldest first: {d.trend_text}", isSubtle=True, size="Small"))
        body += _segments(d) + _themes(d) + _loop(d)
    if d.recovery is not None:
        from bot.mail.recovery import recovery_lines

        head, *rest = recovery_lines(d.recovery, money=money, duration=duration)
        body.append(_heading(head.rstrip(":")))
        body += [rich(_short_run(line.strip(), isSubtle=line.strip().startswith("·")), spacing="None")
                 for line in rest]
    return card(body)
