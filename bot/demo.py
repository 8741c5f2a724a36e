"""A realistic sample data set for `npsbot shell --demo`: 12 weeks of answers and follow-ups.

About 560 responses from 160 customers across the lifecycle segments prospect / new / renewal /
advocate / loss, with detractor comments drawn from the common reasons (pushy sales, confusing
website, slow support, implementation problems, product under-delivers, price, bugs), and
follow-ups in every state. Deterministic (seeded) and idempotent: loading twice stores nothing twice.
"""

from __future__ import annotations

import heapq
import random
from datetime import datetime, timedelta
from typing import Any

from bot import followups
from bot.actors import Actor
from bot.clock import FixedClock
from bot.errors import NpsError
from bot.ingest import ResponseIn, ingest
from bot.runtime import Runtime
from storage.models import Outcome

SEGMENTS = {"prospect": 0.12, "new": 0.28, "renewal": 0.32, "advocate": 0.18, "loss": 0.10}
# Segment score tendencies: advocates love us, lost customers don't.
SEGMENT_BIAS = {"prospect": 0.0, "new": 0.3, "renewal": 0.0, "advocate": 1.8, "loss": -2.5}
STAFF = ("maria", "li", "sam", "priya")
COMPANIES = (
    "Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Logistics", "Wayne Foods", "Hooli",
    "Vandelay Imports", "Soylent", "Tyrell Labs", "Cyberdyne", "Wonka Retail", "Oscorp", "Aperture",
    "Massive Dynamic", "Pied Piper", "Dunder Mifflin", "Gringotts", "Monarch Travel", "Nakatomi",
)
DETRACTOR_COMMENTS = (
    "The sales rep kept calling me every day, way too pushy.",
    "Sales promised features that don't exist. Felt like a hard sell.",
    "Your website is confusing, I couldn't find the pricing page.",
    "Checkout on the website failed twice and the UX is a maze.",
    "Support took four days to answer my ticket.",
    "Slow support, nobody called back about the outage.",
    "Implementation dragged on for months, onboarding was chaotic.",
    "The rollout and data migration were a mess; shipping of the hardware was late.",
    "The product doesn't do half of what the demo showed.",
    "Reporting is too basic, the product under-delivers for the price.",
    "Too expensive for what we get, the price went up again.",
    "Constant bugs in the mobile app, it crashes on login.",
    "Sync errors every week, data goes missing.",
    "",
)
PASSIVE_COMMENTS = ("It's fine, does the job.", "Good but support could be faster.",
                    "Decent product, onboarding was a bit slow.", "", "")
PROMOTER_COMMENTS = ("Love it, the team is fantastic!", "Support is quick and friendly.",
                     "Saved us hours every week.", "Great product, easy rollout.", "", "")


def _score(rng: random.Random, segment: str) -> int:
    base = rng.gauss(7.6 + SEGMENT_BIAS[segment], 2.2)
    return max(0, min(10, round(base)))


def sample_responses(now: datetime, *, count: int = 560, seed: int = 7) -> list[dict]:
    """Generic-format responses spread over the 12 weeks before `now`, oldest first."""
    rng = random.Random(seed)
    customers: list[dict[str, Any]] = []
    for i in range(160):
        segment = rng.choices(list(SEGMENTS), weights=list(SEGMENTS.values()))[0]
        company = COMPANIES[i % len(COMPANIES)]
        suffix = ("EU", "US", "APAC", "Labs", "Group", "Retail", "Cloud")[i % 7]
        name = company if i < len(COMPANIES) else f"{company} {suffix} {i}"
        slug = name.lower().replace(" ", "-")
        customers.append({
            "id": f"cus_{i + 1:03d}", "name": name, "email": f"ops@{slug}.example",
            "segment": segment, "arr": float(rng.choice([6, 12, 18, 24, 36, 48, 60, 96, 120, 240]) * 1000),
            "owner": f"{rng.choice(STAFF)}@npsbot.example",
        })
    out: list[dict[str, Any]] = []
    for n in range(count):
        customer = rng.choice(customers)
        # Slightly more answers in recent weeks, as survey programmes grow.
        age = timedelta(days=84 * (1 - rng.random() ** 0.8), hours=rng.random() * 24)
        score = _score(rng, customer["segment"])
        pool = DETRACTOR_COMMENTS if score <= 6 else PASSIVE_COMMENTS if score <= 8 else PROMOTER_COMMENTS
        item: dict[str, Any] = {"id": f"demo-{n + 1:04d}", "source": "demo", "score": score,
                "submitted_at": (now - age).isoformat(), "customer": customer,
                "tags": {"channel": rng.choice(["email", "in-app", "web"])}}
        comment = rng.choice(pool)
        if comment:
            item["comment"] = comment
        out.append(item)
    out.sort(key=lambda r: r["submitted_at"])
    return out


def _submitted(item: ResponseIn) -> datetime:
    assert item.submitted_at is not None  # every sample answer carries its time
    return item.submitted_at


def load_demo(rt: Runtime, *, seed: int = 7) -> int:
    """Load the sample into the database with its history; returns the responses stored.

    Time is replayed day by day: each day's answers arrive, then staff claim, annotate and close
    follow-ups at plausible moments, so a later detractor answer joins only a follow-up that was
    still open then.
    """
    now = rt.clock.now()
    rng = random.Random(seed)
    items = [ResponseIn.model_validate(r) for r in sample_responses(now, seed=seed)]
    by_day: dict[str, list[ResponseIn]] = {}
    for item in items:
        by_day.setdefault(_submitted(item).date().isoformat(), []).append(item)
    real_clock, clock = rt.clock, FixedClock(now)
    rt.clock = clock
    plan: list[tuple[datetime, int, str, int, Actor, object]] = []
    stored = 0
    try:
        for _, day_items in sorted(by_day.items()):
            arrival = max(_submitted(i) for i in day_items) + timedelta(minutes=5)
            _replay(rt, clock, plan, until=arrival)
            clock.set(arrival)
            result = ingest(rt, day_items)
            stored += result.accepted
            for number in result.opened:
                _plan_followup(plan, number, arrival, now, rng)
        _replay(rt, clock, plan, until=now)
    finally:
        rt.clock = real_clock
    return stored


_OUTCOMES = [Outcome.RESOLVED] * 4 + [Outcome.RECOVERED] * 3 + [Outcome.UNREACHABLE, Outcome.CHURNED,
                                                                 Outcome.NO_ACTION]
_NOTES = ("Called the customer, walked through the fix.", "Sent a discount for the next renewal.",
          "Escalated to product; customer is in the beta.", "Left a voicemail, will try again Friday.",
          "Support manager apologised and set up a weekly check-in.")


# The follow-ups the README's walkthrough and the shell's banner name: left open and unclaimed, so
# `show 3`, `claim 3`, `note 3 …`, `close 3 recovered` and `\react 5 eyes` work on a fresh demo.
WALKTHROUGH = (3, 5)


def _plan_followup(plan: list, number: int, opened_at: datetime, now: datetime, rng: random.Random) -> None:
    """Decide when (and whether) staff claim, annotate and close a new follow-up."""
    who = rng.choice(STAFF)
    actor = Actor("shell", who, who)
    if rng.random() < 0.06 or number in WALKTHROUGH:
        return  # nobody picked it up: the queue and the overdue list are never empty in real life
    claim_at = opened_at + timedelta(hours=rng.uniform(0.3, 30) if rng.random() < 0.8 else rng.uniform(30, 80))
    heapq.heappush(plan, (claim_at, number * 10, "claim", number, actor, None))
    if rng.random() < 0.5:
        heapq.heappush(plan, (claim_at + timedelta(hours=rng.uniform(1, 48)), number * 10 + 1, "note", number,
                              actor, rng.choice(_NOTES)))
    if rng.random() < 0.9:
        close_at = claim_at + timedelta(days=rng.uniform(0.2, 9))
        heapq.heappush(plan, (close_at, number * 10 + 2, "close", number, actor,
                              (rng.choice(_OUTCOMES), rng.choice((None, rng.choice(_NOTES))))))


def _replay(rt: Runtime, clock: FixedClock, plan: list, *, until: datetime) -> None:
    while plan and plan[0][0] <= until:
        at, _, action, number, actor, extra = heapq.heappop(plan)
        clock.set(at)
        try:
            if action == "claim":
                followups.claim(rt, number, actor)
            elif action == "note":
                followups.note(rt, number, extra, actor)
            else:
                outcome, text = extra
                followups.close(rt, number, outcome, text, actor)
        except NpsError:
            continue  # e.g. the follow-up was already closed by then: real life does that too
