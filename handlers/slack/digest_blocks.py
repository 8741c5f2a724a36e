"""Block Kit for the weekly digest: a DigestView in, at most 50 blocks out. A pure function.

Customer-derived strings (segment names, comment quotes, customer and claimant names) are escaped
(`&`, `<`, `>`) and placed in `plain_text` objects, so they can never mention, link or format;
`mrkdwn` objects carry only our own words and numbers and are `verbatim`. The chart is not a
block: the notifier uploads `digest.chart_png` with files_upload_v2 after posting these blocks.
"""

from __future__ import annotations

from bot.digest import RECOVERED_MEANS, DigestView, duration, overdue_text, segment_figure
from bot.nps import format_nps
from bot.textview import money
from bot.wording import counted, insufficient_data, signed_change, verdict
from handlers.slack import theme_blocks
from handlers.slack.blocks import FIELD_MAX, HEADER_MAX, MESSAGE_BLOCKS, clip, context, escape, mrkdwn, plain, section

SEGMENT_FIELDS = 10  # a section holds at most 10 fields


DIVIDER = {"type": "divider"}


def _headline_fields(d) -> list[dict]:
    c = d.current
    nps = format_nps(c.nps) + (f" {d.margin_text}" if d.margin_text else "")
    if c.insufficient:
        nps += f"  _({insufficient_data(c.n, thousands=True)})_"
    ch = d.change
    if ch.delta is None:
        change = "no responses the week before"
    else:
        trend = "" if not ch.significant else ":chart_with_upwards_trend: " if ch.delta > 0 else \
            ":chart_with_downwards_trend: "
        change = (f"{signed_change(ch.delta)} vs {format_nps(d.previous.nps)} "
                  f"({counted(d.previous.n, 'response', thousands=True)}) · {trend}{verdict(ch)}")
    return [
        mrkdwn(f"*NPS*\n{nps}", FIELD_MAX),
        mrkdwn(f"*Change*\n{change}", FIELD_MAX),
        mrkdwn(f"*Responses*\n{c.n:,}", FIELD_MAX),
        mrkdwn(f"*Promoters · passives · detractors*\n{c.promoters:,} · {c.passives:,} · {c.detractors:,}",
            FIELD_MAX),
    ]


def _segment_blocks(d) -> list[dict]:
    if d.segment is not None or not d.segments:
        return []
    fields = [plain(f"{s.label}\n{segment_figure(s)}", limit=FIELD_MAX) for s in d.segments[:SEGMENT_FIELDS]]
    blocks = [section(mrkdwn("*NPS by segment*"), fields=fields)]
    rest = d.segments_total - len(fields)
    if rest > 0:
        blocks.append(context(mrkdwn(f"… and {rest} more segments")))
    return blocks


def _theme_blocks(d) -> list[dict]:
    head = f"*What detractors wrote about* ({counted(d.detractor_comments, 'comment', thousands=True)})"
    if not d.detractor_comments:
        return [section(mrkdwn(f"{head}\nNo detractor comments this week."))]
    blocks = [section(mrkdwn(head))]
    for t in d.themes:
        elements = [plain(theme_blocks.theme_line(t))]
        if t.example:
            elements.append(plain(f"“{t.example}”"))
        blocks.append(context(*elements))
    if d.uncategorised:
        blocks.append(context(mrkdwn(f"Other · {d.uncategorised:,}")))
    return blocks + theme_blocks.proposal_blocks(d)


def _loop_blocks(d) -> list[dict]:
    lp = d.loop
    fields = [
        mrkdwn(f"*Opened · claimed · closed*\n{lp.opened:,} · {lp.claimed:,} · {lp.closed:,}", FIELD_MAX),
        mrkdwn(f"*Median time to claim · to close*\n{duration(lp.median_to_claim)} · "
            f"{duration(lp.median_to_close)}", FIELD_MAX),
        mrkdwn(f"*Detractors recovered*\n{lp.recovered:,}", FIELD_MAX),
        mrkdwn(f"*Open detractors · ARR at risk*\n{lp.open_detractors:,} · {money(lp.arr_at_risk)}", FIELD_MAX),
    ]
    blocks = [section(mrkdwn("*Follow-up loop*"), fields=fields)]
    if lp.overdue_total:
        blocks.append(section(mrkdwn(f":alarm_clock: *Overdue ({lp.overdue_total:,})* — past "
                                   f"{d.sla_claim_hours:g} h unclaimed or {d.sla_close_days:g} days "
                                   "claimed and open")))
        lines = [overdue_text(o) for o in lp.overdue]
        if lp.overdue_total > len(lp.overdue):
            lines.append(f"… and {lp.overdue_total - len(lp.overdue):,} more")
        blocks.append(section(plain("\n".join(lines))))
        blocks.append(context(mrkdwn("`/nps open` lists every follow-up that is not closed; "
                                   "`/nps claim N` takes one.")))
    else:
        blocks.append(context(mrkdwn(":white_check_mark: Nothing overdue.")))
    blocks.append(context(plain(d.claim_sla_text)))
    if lp.outcomes:
        blocks.append(context(plain(d.outcomes_text)))
    blocks.append(context(plain(RECOVERED_MEANS)))
    return blocks


def _recovery_blocks(d) -> list[dict]:
    """The customer loop's recovery figures (bot/mail/recovery.py), when e-mail is on."""
    if d.recovery is None:
        return []
    from bot.mail.recovery import recovery_lines

    head, *rest = recovery_lines(d.recovery, money=money, duration=duration)
    figures = [line.strip() for line in rest if not line.strip().startswith("·")]
    notes = [line.strip() for line in rest if line.strip().startswith("·")]
    blocks = [DIVIDER, section(plain("\n".join([head, *figures])))]
    if notes:
        blocks.append(context(plain("\n".join(notes))))
    return blocks


def digest_blocks(digest: DigestView) -> list[dict]:
    """The digest as Block Kit blocks (header, numbers, segments, themes, follow-up loop)."""
    d = digest
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(escape(d.title), HEADER_MAX),
                                    "emoji": True}},
        context(mrkdwn(f"{escape(d.period_text)}, compared with the 7 days before.")),
    ]
    if d.quiet:
        blocks.append(section(mrkdwn(f":zzz: {escape(d.quiet_text)}")))
        return blocks + _recovery_blocks(d)
    blocks.append(section(fields=_headline_fields(d)))
    if len(d.trend) > 1:
        blocks.append(context(mrkdwn(f"Weekly NPS, oldest first: {d.trend_text}")))
    blocks.append(DIVIDER)
    blocks += _segment_blocks(d)
    loop = _loop_blocks(d) + _recovery_blocks(d)
    # However many themes there are, the follow-up loop keeps its place in the 50 blocks.
    themes = _theme_blocks(d)
    room = MESSAGE_BLOCKS - len(blocks) - 1 - len(loop)
    if len(themes) > room:
        themes = themes[: max(room - 1, 1)] + [context(mrkdwn(f"… and {len(themes) - max(room - 1, 1)} more themes"))]
    blocks += themes
    blocks.append(DIVIDER)
    blocks += loop
    if len(blocks) > MESSAGE_BLOCKS:
        blocks = blocks[: MESSAGE_BLOCKS - 1] + [context(mrkdwn("(shortened to fit Slack's 50 blocks)"))]
    return blocks
