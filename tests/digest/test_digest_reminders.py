"""SLA reminders: unclaimed past the claim SLA -> the alert's thread; claimed and open past the close
SLA -> the thread and a direct message to the claimant; once per breach; closed ones never."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from bot.actors import Actor, Place
from bot.app import build_runtime, build_services
from bot.ingest import ResponseIn, ingest
from bot.reminders import send_reminders
from storage.db import read_scope
from storage.models import Event, FollowUp, PostedMessage
from tests.digest.helpers import MARIA, ViewNotifier

CX = Place("slack", "C_CX")
FIRES = Place("slack", "C_FIRES")


def detractor(rt, rid: str, customer: str, score: int = 2) -> None:
    ingest(rt, [ResponseIn(id=rid, score=score, comment="rude <@U999> support",
                           customer={"id": customer, "name": customer})])


async def setup(rt):
    services = build_services(rt)
    notifier = ViewNotifier("slack")
    services.worker.notifiers["slack"] = notifier
    d = services.dispatcher
    d.handle_text("subscribe alerts", MARIA, CX)
    d.handle_text("subscribe alerts max_score=3", MARIA, FIRES)
    detractor(rt, "r1", "acme")          # #1, in both channels
    detractor(rt, "r2", "globex", 5)     # #2, in #cx only
    detractor(rt, "r3", "initech")       # #3
    await services.worker.drain()
    notifier.calls.clear()
    return services, notifier


def reminders_of(rt):
    with read_scope(rt.engine) as s:
        return s.execute(select(Event.followup_id, Event.text).where(Event.action == "reminded")
                         .order_by(Event.id)).all()


async def test_unclaimed_past_the_sla_is_reminded_once_in_every_alert_thread(rt, clock):
    services, notifier = await setup(rt)
    services.dispatcher.handle_text("claim 3", MARIA, CX)
    await services.worker.drain()
    notifier.calls.clear()
    clock.advance(hours=23, minutes=59)
    assert send_reminders(rt) == 0
    clock.advance(minutes=2)
    assert send_reminders(rt) == 2  # #1 and #2; #3 is claimed
    assert send_reminders(rt) == 0  # once per breach
    await services.worker.drain()
    threads = sorted((c[1], c[2]) for c in notifier.calls if c[0] == "post_thread")
    posted = {}
    with read_scope(rt.engine) as s:
        for pm in s.execute(select(PostedMessage)).scalars():
            posted[(pm.followup_id, pm.channel_id)] = pm.message_ref
    assert threads == sorted([("C_CX", posted[(1, "C_CX")]), ("C_FIRES", posted[(1, "C_FIRES")]),
                              ("C_CX", posted[(2, "C_CX")])])
    text = next(c[3] for c in notifier.calls if c[0] == "post_thread")
    assert "without anyone claiming it (target: 24 hours)" in text and "<@U999>" not in text
    assert [f for f, _ in reminders_of(rt)] == [1, 2]
    # A day later nothing more: the breach was reminded.
    clock.advance(days=1)
    assert send_reminders(rt) == 0


async def test_claimed_and_open_past_the_close_sla_messages_the_claimant_once(rt, clock):
    services, notifier = await setup(rt)
    bob = Actor("slack", "U0BOB", "bob")
    services.dispatcher.handle_text("claim 1", bob, CX)
    services.dispatcher.handle_text("claim 2", bob, CX)
    services.dispatcher.handle_text("close 2 resolved", bob, CX)
    await services.worker.drain()
    clock.advance(hours=1)
    send_reminders(rt)  # nothing is due for #1/#2; #3 is 1 hour old
    notifier.calls.clear()
    clock.advance(days=7, minutes=1)
    assert send_reminders(rt) == 2  # #1 (close SLA) and #3 (claim SLA); #2 is closed
    await services.worker.drain()
    dms = [c for c in notifier.calls if c[0] == "post_text"]
    assert len(dms) == 1 and dms[0][1] == "U0BOB"
    assert "You claimed #1" in dms[0][2] and "close 1 resolved" in dms[0][2]
    assert send_reminders(rt) == 0
    clock.advance(days=30)
    assert send_reminders(rt) == 0
    with read_scope(rt.engine) as s:
        one, two = s.get(FollowUp, 1), s.get(FollowUp, 2)
    assert one.close_reminded_at is not None and one.claim_reminded_at is None
    assert two.close_reminded_at is None and two.claim_reminded_at is None


async def test_reassigning_starts_a_new_close_clock(rt, clock):
    services, _ = await setup(rt)
    services.dispatcher.handle_text("claim 1", MARIA, CX)
    clock.advance(days=8)
    send_reminders(rt)
    assert [f for f, t in reminders_of(rt) if "after claim" in t] == [1]
    services.dispatcher.handle_text("assign 1 <@U0BOB|bob>", MARIA, CX)
    assert send_reminders(rt) == 0
    clock.advance(days=7, minutes=1)
    assert send_reminders(rt) == 1
    assert [f for f, t in reminders_of(rt) if "after claim" in t] == [1, 1]


def test_two_replicas_remind_once(any_db, make_settings, clock):
    a = build_runtime(make_settings(DATABASE_URL=any_db), clock=clock)
    b = build_runtime(make_settings(DATABASE_URL=any_db), clock=clock, migrate=False)
    for i in range(30):
        detractor(a, f"r{i}", f"c{i}")
    clock.advance(days=2)
    with ThreadPoolExecutor(max_workers=4) as pool:
        total = sum(pool.map(send_reminders, [a, b, a, b]))
    assert total == 30
    assert len(reminders_of(a)) == 30
    a.engine.dispose()
    b.engine.dispose()


def test_custom_sla_settings(make_settings, clock):
    rt = build_runtime(make_settings(NPSBOT_SLA_CLAIM_HOURS="0.5"), clock=clock)
    detractor(rt, "r1", "acme")
    clock.advance(minutes=29)
    assert send_reminders(rt) == 0
    clock.advance(minutes=2)
    assert send_reminders(rt) == 1
    assert reminders_of(rt) == [(1, "unclaimed past 0.5 hours")]
    rt.engine.dispose()
