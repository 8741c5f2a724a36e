"""A digest is queued once per channel and period: two replicas, restarts, and a leader that dies."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from bot import channels
from bot.actors import Place
from bot.app import build_runtime
from bot.scheduler import DigestScheduler, enqueue_due
from storage.db import make_engine, read_scope
from storage.models import DigestRun, Outbox
from tests.digest.helpers import MARIA

C1 = Place("slack", "C1")
# Monday 2026-11-23 09:00 in Berlin (CET) is 08:00 UTC.
FIRE = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def counts(rt) -> tuple[int, int]:
    with read_scope(rt.engine) as s:
        runs = s.execute(select(func.count()).select_from(DigestRun)).scalar_one()
        posts = s.execute(select(func.count()).select_from(Outbox).where(Outbox.kind == "digest.post")).scalar_one()
    return runs, posts


@pytest.fixture
def replicas(any_db, make_settings, clock):
    """Two `npsbot serve` processes' runtimes on one database, sharing the test clock."""
    clock.set(datetime(2026, 11, 18, 12, tzinfo=UTC))
    a = build_runtime(make_settings(DATABASE_URL=any_db), clock=clock)
    b = build_runtime(make_settings(DATABASE_URL=any_db), clock=clock, migrate=False)
    channels.schedule_digest(a, C1, MARIA, weekday="mon", time="09:00", timezone="Europe/Berlin")
    yield a, b
    a.engine.dispose()
    b.engine.dispose()


def test_simultaneous_runs_on_two_replicas_queue_one_digest(replicas, clock):
    a, b = replicas
    clock.set(FIRE + timedelta(seconds=20))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda rt: enqueue_due(rt), [a, b] * 6))
    assert sum(results) == 1
    assert counts(a) == (1, 1)
    with read_scope(a.engine) as s:
        row = s.execute(select(Outbox)).scalar_one()
        run = s.execute(select(DigestRun)).scalar_one()
    assert (row.platform, row.channel_id) == ("slack", "C1")
    assert row.payload["period_end"] == FIRE.isoformat() and row.payload["timezone"] == "Europe/Berlin"
    assert row.payload["segment"] is None
    assert run.period_start.replace(tzinfo=UTC) == FIRE - timedelta(days=7)


async def test_two_schedulers_and_a_restart_around_the_time(replicas, clock):
    a, b = replicas
    s1, s2 = DigestScheduler(a), DigestScheduler(b)
    clock.set(FIRE - timedelta(minutes=1))
    assert await asyncio.gather(s1.sync(), s2.sync()) == [0, 0]
    clock.set(FIRE + timedelta(seconds=5))
    # The cron job of whichever leads, the other's catch-up, and both again: one digest.
    results = await asyncio.gather(s1.run_digest(1), s2.sync(), s1.sync(), s2.run_digest(1))
    assert sum(results) <= 1
    assert counts(a) == (1, 1)
    await s1.stop()
    # Process 1 restarts two minutes later: its first sync finds the DigestRun and queues nothing.
    clock.set(FIRE + timedelta(minutes=2))
    restarted = DigestScheduler(build_runtime(a.settings, clock=clock, migrate=False))
    assert await restarted.sync() == 0
    assert counts(a) == (1, 1)
    await asyncio.gather(restarted.stop(), s2.stop())
    restarted.rt.engine.dispose()


async def test_a_run_missed_during_a_restart_still_happens_once(replicas, clock):
    a, _ = replicas
    clock.set(FIRE + timedelta(hours=2))  # the process was down at 09:00 local
    sched = DigestScheduler(a)
    assert await sched.sync() == 1
    assert await sched.run_digest(1) == 0 and await sched.sync() == 0
    assert counts(a) == (1, 1)
    # A restart more than 6 hours late posts nothing for that week; the next week is normal.
    clock.set(FIRE + timedelta(days=7, hours=7))
    assert await sched.sync() == 0
    clock.set(FIRE + timedelta(days=14, seconds=1))
    assert await sched.sync() == 1
    assert counts(a) == (2, 2)
    await sched.stop()


async def test_digest_off_stops_it(replicas, clock):
    a, _ = replicas
    channels.digest_off(a, C1, MARIA)
    clock.set(FIRE + timedelta(seconds=5))
    sched = DigestScheduler(a)
    assert await sched.sync() == 0
    assert counts(a) == (0, 0)
    await sched.stop()


# -- PostgreSQL: one leader through an advisory lock ------------------------------------------------
@pytest.fixture
def pg_replicas(request, make_settings, clock):
    url = request.getfixturevalue("pg_database_url")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text('TRUNCATE "digestrun", "outbox", "subscription" RESTART IDENTITY CASCADE'))
    engine.dispose()
    clock.set(datetime(2026, 11, 18, 12, tzinfo=UTC))
    a = build_runtime(make_settings(DATABASE_URL=url), clock=clock, migrate=False)
    b = build_runtime(make_settings(DATABASE_URL=url), clock=clock, migrate=False)
    channels.schedule_digest(a, C1, MARIA, weekday="mon", time="09:00", timezone="Europe/Berlin")
    yield a, b, url
    a.engine.dispose()
    b.engine.dispose()


def kill_session(url: str, leadership) -> None:
    """End the leader's lock session from outside, as a crashed process or lost network would."""
    pid = leadership._conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    leadership._conn.commit()
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    # Termination is asynchronous: wait (bounded) until the session, and with it the lock, is gone.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with admin.connect() as conn:
            if not conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                {"pid": pid}).scalar_one():
                break
        time.sleep(0.02)
    admin.dispose()


async def test_one_leader_and_a_takeover_when_it_dies(pg_replicas, clock):
    a, b, url = pg_replicas
    s1, s2 = DigestScheduler(a), DigestScheduler(b)
    await s1.start(run_now=False)
    await s2.start(run_now=False)
    try:
        clock.set(FIRE - timedelta(hours=1))
        await s1.sync()
        await s2.sync()
        assert (s1.leader, s2.leader) == (True, False)
        assert list(s1.digest_jobs()) == [1] and s2.digest_jobs() == {}
        assert await s2.run_digest(1) == 0 and await s2.remind() == 0  # followers do nothing

        kill_session(url, s1.leadership)  # the leader dies before 09:00
        clock.set(FIRE + timedelta(seconds=30))
        assert await s2.sync() == 1  # the follower takes over and catches up
        assert s2.leader and list(s2.digest_jobs()) == [1]
        assert await s1.sync() == 0  # the old leader notices it lost the lock
        assert not s1.leader and s1.digest_jobs() == {}
        assert enqueue_due(a) == 0  # even run by hand, the period is taken
        assert counts(a) == (1, 1)

        # Next week the new leader queues, then dies; the other takes over and does not repeat it.
        clock.set(FIRE + timedelta(days=7, seconds=10))
        assert await s2.sync() == 1
        kill_session(url, s2.leadership)
        clock.set(FIRE + timedelta(days=7, minutes=1))
        assert await s1.sync() == 0 and s1.leader
        assert counts(a) == (2, 2)
    finally:
        await asyncio.gather(s1.stop(), s2.stop())


async def test_leadership_is_released_on_stop(pg_replicas, clock):
    a, b, _ = pg_replicas
    s1, s2 = DigestScheduler(a), DigestScheduler(b)
    await s1.sync()
    await s2.sync()
    assert (s1.leader, s2.leader) == (True, False)
    await s1.stop()
    await s2.sync()
    assert s2.leader
    await s2.stop()
