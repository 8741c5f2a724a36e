"""The digest's theme section: counts by stored theme, change, a representative comment, proposals.

Counts come from SQL over `response.theme` (assigned at ingest, corrected by people), for this
period and the one before. The comment quoted for a theme is the one nearest the centre of that
theme's comments this period (mean of their embeddings), not the first or newest. Comments that fit
no theme are clustered (greedy, by cosine to each cluster's centre, in id order: deterministic) and
each cluster of at least `MIN_PROPOSAL` comments is proposed as a new theme, named by its most
distinctive words (frequent in the cluster, rare in the period's other comments). Causes named
when closing follow-ups in the period are counted beside.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import func, select
from sqlmodel import Session

from bot.config import Settings
from bot.theme_model import load_model
from storage.models import Category, FollowUp, Response

THEMES_SHOWN = 7
SAMPLE = 300  # comments embedded per theme / for clustering: bounded work whatever the volume
CLUSTER_MIN_COSINE = 0.75
MIN_PROPOSAL = 2
PROPOSALS_SHOWN = 3
QUOTE_MAX = 160
_STOP = frozenset("""a an and are as at be by for from has have in is it its of on or the their them they this to
too was were with what which who not no but so than that then there these those very our your you we i my me
does did done do about after into out up down over under more most less other some such only own same can will
just should now been being had having if while because until when where why how all any both each also get got
us it's don't can't i'm we're they're every still even really much many one""".split())


@dataclass(frozen=True)
class ThemeProposal:
    """Comments that fit no theme and look alike; `name`/`example` are derived from customer text."""

    name: str
    description: str
    count: int
    example: str | None


@dataclass(frozen=True)
class CauseLine:
    name: str
    count: int


def _quote(text: str | None) -> str | None:
    if not text:
        return None
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_MAX else text[:QUOTE_MAX - 1] + "…"


def _where(start: datetime, end: datetime, segment: str | None) -> list:
    where = [Response.submitted_at >= start, Response.submitted_at < end,
             Response.category == Category.DETRACTOR.value, Response.comment.is_not(None), Response.comment != ""]
    if segment:
        where.append(Response.segment == segment)
    return where


def representative(texts: list[str]) -> str | None:
    """The text nearest the centre of all of them."""
    if not texts:
        return None
    vecs = load_model().embed(texts)
    centre = vecs.mean(axis=0)
    return texts[int(np.argmax(vecs @ centre))]


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z][a-z'\-]+", text.lower()) if len(w) > 2 and w not in _STOP}


def propose(texts: list[str]) -> list[ThemeProposal]:
    """Cluster comments that fit no theme; name each cluster by its most distinctive words."""
    if len(texts) < MIN_PROPOSAL:
        return []
    vecs = load_model().embed(texts)
    sums: list[np.ndarray] = []
    members: list[list[int]] = []
    for i, v in enumerate(vecs):
        if not v.any():
            continue
        best, best_sim = -1, CLUSTER_MIN_COSINE
        for k, s in enumerate(sums):
            sim = float(v @ s) / (float(np.linalg.norm(s)) or 1.0)
            if sim >= best_sim:
                best, best_sim = k, sim
        if best < 0:
            sums.append(v.copy())
            members.append([i])
        else:
            sums[best] += v
            members[best].append(i)
    doc_freq = Counter(w for t in texts for w in _words(t))
    out = []
    for k, idx in enumerate(members):
        if len(idx) < MIN_PROPOSAL:
            continue
        tf = Counter(w for i in idx for w in _words(texts[i]))
        ranked = sorted(tf, key=lambda w: (-(tf[w] * math.log(1 + len(texts) / doc_freq[w])), w))
        if not ranked:
            continue
        name = " / ".join(ranked[:2]).capitalize()
        centre = sums[k] / (np.linalg.norm(sums[k]) or 1.0)
        example = texts[max(idx, key=lambda i: float(vecs[i] @ centre))]
        out.append(ThemeProposal(name[:80], "Comments about " + ", ".join(ranked[:5]) + ".", len(idx),
                                 _quote(example)))
    out.sort(key=lambda p: (-p.count, p.name))
    return out[:PROPOSALS_SHOWN]


def theme_section(session: Session, settings: Settings, start: datetime, end: datetime, segment: str | None):
    """(theme lines, detractor comments, unthemed, proposals, causes) for the digest."""
    from bot.digest import ThemeLine

    prev_start = start - (end - start)
    counts: dict[str | None, int] = dict(session.execute(
        select(Response.theme, func.count()).where(*_where(start, end, segment)).group_by(Response.theme)).all())
    before: dict[str | None, int] = dict(session.execute(
        select(Response.theme, func.count()).where(*_where(prev_start, start, segment))
        .group_by(Response.theme)).all())
    total = sum(counts.values())
    unthemed = counts.pop(None, 0)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:THEMES_SHOWN]
    lines = []
    for name, n in ranked:
        assert name is not None  # the unthemed count was popped above
        texts = list(session.execute(
            select(Response.comment).where(*_where(start, end, segment), Response.theme == name)
            .order_by(Response.id).limit(SAMPLE)).scalars())
        lines.append(ThemeLine(name, n, n / total if total else 0.0, _quote(representative(texts)),
                               change=n - before.get(name, 0)))
    loose = list(session.execute(
        select(Response.comment).where(*_where(start, end, segment), Response.theme.is_(None))
        .order_by(Response.id).limit(SAMPLE)).scalars())
    proposals = propose(loose)
    cause_q = select(FollowUp.cause, func.count()).where(
        FollowUp.closed_at >= start, FollowUp.closed_at < end, FollowUp.cause.is_not(None))
    if segment:
        # A segment's digest counts the follow-ups whose answer belongs to the segment.
        cause_q = cause_q.join(Response, Response.id == FollowUp.response_id).where(Response.segment == segment)
    causes = [CauseLine(c, n) for c, n in session.execute(
        cause_q.group_by(FollowUp.cause).order_by(func.count().desc(), FollowUp.cause)).all()]
    return lines, total, unthemed, tuple(proposals), tuple(causes)


def change_text(change: int | None) -> str:
    if change is None:
        return ""
    return f"{change:+d} vs previous week" if change else "no change"



def add_command(p: ThemeProposal) -> str:
    """The shell/Teams command that adds a proposal (quotes in the name cannot break out)."""
    name = p.name.replace('"', "'")
    return f'themes add "{name}" {p.description}'


def text_lines(d) -> list[str]:
    """The plain-text digest's proposals and causes (customer words made safe by the caller's `safe`)."""
    from bot.textview import safe

    out = []
    for p in d.theme_proposals:
        quote = f"  “{safe(p.example)}”" if p.example else ""
        out.append(f"  Proposed theme: {safe(p.name)} ({p.count}){quote}")
        out.append(f"    add it: {safe(add_command(p))}")
    if d.causes:
        out.append("  Causes of closed follow-ups: " + ", ".join(f"{safe(c.name)} {c.count}" for c in d.causes))
    return out
