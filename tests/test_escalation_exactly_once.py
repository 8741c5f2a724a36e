"""Escalation happens once per follow-up and rule: with two replicas racing on one database, and
across a `kill -9` of a real `npsbot serve` in the middle of posting escalations."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.actors import Actor, Place
from bot.app import build_runtime, build_services
from bot.clock import FixedClock
from bot.config import Settings
from bot.escalation import escalate_due
from bot.ingest import ingest, validate_body
from storage.db import read_scope
from storage.models import Escalation, Outbox
from tests.conftest import NOW
from tests.test_faults_crash import fake, free_port, server_env, start_server  # noqa: F401 - fixtures

ANN = Actor("slack", "U1", "ann")


def open_unclaimed(rt, count: int) -> None:
    services = build_services(rt)
    services.dispatcher.handle_text("subscribe alerts", ANN, Place("slack", "C1"))
    services.dispatcher.handle_text("escalate to <#CESC|leads> after 30m", ANN, Place("slack", "C1"))
    items, _ = validate_body([{"id": f"r{i}", "score": 2, "customer": {"id": f"c{i}"}} for i in range(count)])
    ingest(rt, items)


async def test_two_replicas_escalate_each_follow_up_once(any_db):
    clock = FixedClock(NOW)
    replicas = [build_runtime(Settings(DATABASE_URL=any_db), clock=clock, migrate=i == 0) for i in range(2)]
    open_unclaimed(replicas[0], 25)
    clock.advance(minutes=31)
    # Both replicas tick at once, several times over (no scheduler leadership to help them).
    results = await asyncio.gather(*(asyncio.to_thread(escalate_due, replicas[i % 2]) for i in range(8)))
    assert sum(results) == 25
    with read_scope(replicas[0].engine) as s:
        assert s.execute(select(func.count()).select_from(Escalation)).scalar_one() == 25
        posts = s.execute(select(Outbox.followup_id).where(Outbox.channel_id == "CESC",
                                                           Outbox.kind == "alert.post")).scalars().all()
    assert sorted(posts) == list(range(1, 26))
    for rt in replicas:
        rt.engine.dispose()


def escalated_posts(slack_api) -> Counter:
    return Counter(p["text"].split(" ")[0] for p in slack_api.ok_calls("chat.postMessage")
                   if p["channel"] == "CESC" and "blocks" in p)


async def test_kill_9_while_escalations_are_posted_loses_none_and_repeats_none(server_env, fake, make_settings):  # noqa: F811
    # Follow-ups opened an hour ago: the server's first scheduler tick (5 s after start) escalates them.
    rt = build_runtime(make_settings(), clock=FixedClock(datetime.now(UTC) - timedelta(hours=1)))
    open_unclaimed(rt, 20)
    rt.engine.dispose()
    server_env = {**server_env, "NPSBOT_SLACK_POST_INTERVAL": "0.2"}
    port = free_port()
    server = start_server(server_env, port)
    try:
        await fake.wait_for(lambda: len(escalated_posts(fake)) >= 3, timeout=30)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        assert len(escalated_posts(fake)) < 20, "the crash came too late to test anything"
        server = start_server(server_env, port)
        await fake.wait_for(lambda: len(escalated_posts(fake)) == 20, timeout=40)
        await asyncio.sleep(6)  # the restarted server's first scheduler tick has run
    finally:
        server.kill()
        server.wait(timeout=10)
    counts = escalated_posts(fake)
    assert set(counts) == {f"#{n}" for n in range(1, 21)}
    assert sum(v - 1 for v in counts.values()) <= 1, counts.most_common(3)  # only the send in flight
    check = build_runtime(make_settings())
    with read_scope(check.engine) as s:
        assert s.execute(select(func.count()).select_from(Escalation)).scalar_one() == 20
    check.engine.dispose()
