"""Recovery in the digest: numbers from the real tables, in text, Slack blocks and the Teams card."""

from __future__ import annotations

import json

from bot import followups
from bot.actors import Actor
from bot.digest import build_digest
from bot.ingest import ResponseIn, ingest
from bot.mail.outgoing import email_customer
from handlers.slack.digest_blocks import digest_blocks
from handlers.teams.digest_card import digest_card

MARIA = Actor("shell", "maria", "maria")


def answer(rt, rid: str, cid: str, score: int, arr: float) -> None:
    ingest(rt, [ResponseIn(id=rid, score=score, submitted_at=rt.clock.now(),
                           customer={"id": cid, "name": cid, "email": f"{cid}@x.example", "arr": arr})])


def test_recovery_compares_contacted_with_not_contacted(mail_settings, clock):
    from bot.app import build_runtime

    rt = build_runtime(mail_settings(), clock=clock)
    clock.advance(days=-15)  # answers must not lie in the real future
    for i in range(4):  # follow-ups #1..#4
        answer(rt, f"a{i}", f"c{i}", 2, 1000.0 * (i + 1))
    clock.advance(hours=3)
    email_customer(rt, 1, "Sorry!", MARIA)
    email_customer(rt, 2, "Sorry!", MARIA)
    followups.close(rt, 3, followups.Outcome.RECOVERED, None, MARIA)
    clock.advance(days=10)
    answer(rt, "b0", "c0", 9, 1000.0)  # contacted, recovered
    answer(rt, "b1", "c1", 5, 2000.0)  # contacted, not recovered (joins #2 as a detractor answer)
    answer(rt, "b2", "c2", 8, 3000.0)  # not contacted, recovered
    clock.advance(hours=1)
    digest = build_digest(rt, period_end=clock.now(), with_chart=False)
    r = digest.recovery
    assert (r.cohort, r.contacted.followups, r.not_contacted.followups) == (4, 2, 2)
    assert (r.contacted.recovered, r.contacted.measured) == (1, 2)
    assert (r.not_contacted.recovered, r.not_contacted.measured) == (1, 1)
    assert r.median_to_contact.total_seconds() == 3 * 3600
    assert r.arr_recovered == 1000.0 + 3000.0 and r.staff_recovered == 1

    text = digest.as_text()
    assert "contacted 1/2 (50%) · not contacted 1/1 (100%)" in text
    assert "Contacted 2 (median 3h" in text
    slack = json.dumps(digest_blocks(digest), ensure_ascii=False)
    assert "contacted 1/2 (50%)" in slack and "Recovered: the customer's next score" in slack
    teams = json.dumps(digest_card(digest), ensure_ascii=False)
    assert "contacted 1/2 (50%)" in teams and "ARR of recovered customers $4k" in teams
    rt.engine.dispose()


def test_without_email_the_digest_has_no_recovery_section(make_settings, clock):
    from bot.app import build_runtime

    rt = build_runtime(make_settings(), clock=clock)
    answer(rt, "a", "c", 2, 10.0)
    digest = build_digest(rt, period_end=clock.now(), with_chart=False)
    assert digest.recovery is None and "Recovery" not in digest.as_text()
    rt.engine.dispose()
