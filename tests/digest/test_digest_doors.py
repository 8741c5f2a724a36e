"""Through the doors: chat commands, the delivery worker, APScheduler jobs, the real app's startup,
and the CLI helpers (`npsbot digest [--channel] [--preview]`)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.actors import Place
from bot.app import build_app
from bot.digest import DigestView, enqueue_digests, preview_text
from bot.errors import NpsError
from bot.scheduler import GRACE, DigestScheduler, start_scheduler
from storage.db import read_scope
from storage.models import Outbox
from tests.conftest import serve
from tests.digest.helpers import END, MARIA, ViewNotifier, at, seed_known_week

CX = Place("slack", "C_CX")
SMB = Place("slack", "C_SMB")


@pytest.fixture
def wired(services):
    notifier = ViewNotifier("slack")
    services.worker.notifiers["slack"] = notifier
    return services, notifier


async def test_digest_now_posts_this_channels_digest_with_its_segment(wired, rt, clock):
    services, notifier = wired
    seed_known_week(rt, clock)
    d = services.dispatcher
    d.handle_text("subscribe alerts segment=smb", MARIA, SMB)
    await services.worker.drain()
    reply = d.handle_text("digest now", MARIA, SMB)
    assert reply.ok and "Building the digest" in reply.text
    d.handle_text("digest now", MARIA, CX)
    await services.worker.drain()
    got = dict(notifier.digests)
    assert set(got) == {"C_SMB", "C_CX"}
    smb, everyone = got["C_SMB"], got["C_CX"]
    assert isinstance(smb, DigestView) and smb.segment == "smb" and smb.current.n == 10
    assert everyone.segment is None and everyone.current.n == 50
    assert smb.period_end == END and everyone.chart_png.startswith(b"\x89PNG")


async def test_schedule_then_scheduler_tick_posts_once_at_the_local_time(wired, rt, clock):
    services, notifier = wired
    seed_known_week(rt, clock)  # the clock is now Fri Nov 20 12:00 UTC
    reply = services.dispatcher.handle_text("digest schedule fri 14:00 Europe/Berlin", MARIA, CX)
    assert reply.text == "This channel gets the NPS digest every Friday at 14:00 (Europe/Berlin)."
    sched = DigestScheduler(services.rt)
    clock.set(at(20, 12, 59))
    assert await sched.sync() == 0
    clock.set(at(20, 13, 0, ) + timedelta(seconds=1))  # 14:00 in Berlin
    assert await sched.run_digest(1) == 1
    assert await sched.sync() == 0
    await services.worker.drain()
    clock.advance(minutes=5)
    assert await sched.sync() == 0
    await services.worker.drain()
    assert [c for c, _ in notifier.digests] == ["C_CX"]
    view = notifier.digests[0][1]
    assert view.timezone == "Europe/Berlin" and view.period_end == at(20, 13)
    assert view.period_start == at(13, 13)
    assert view.title == "NPS digest · week to Fri Nov 20, 2026"
    await sched.stop()


async def test_cron_jobs_follow_the_database(wired, rt, clock):
    services, _ = wired
    d = services.dispatcher
    sched = DigestScheduler(services.rt)
    await sched.start(run_now=False)
    try:
        d.handle_text("digest schedule mon 09:00 Europe/Berlin", MARIA, CX)
        d.handle_text("digest schedule fri 17:30", MARIA, SMB)  # NPSBOT_TIMEZONE (UTC here)
        await sched.sync()
        jobs = sched.digest_jobs()
        assert sorted(jobs) == [1, 2]
        mon = jobs[1]
        fields = {f.name: str(f) for f in mon.trigger.fields}
        assert (fields["day_of_week"], fields["hour"], fields["minute"]) == ("mon", "9", "0")
        assert mon.trigger.timezone == ZoneInfo("Europe/Berlin")
        assert mon.misfire_grace_time == int(GRACE.total_seconds()) and mon.coalesce and mon.max_instances == 1
        assert mon.next_run_time.astimezone(ZoneInfo("Europe/Berlin")).strftime("%a %H:%M") == "Mon 09:00"
        assert jobs[2].trigger.timezone == ZoneInfo("UTC")
        # A change made by any replica is picked up at the next sync; `digest off` removes the job.
        d.handle_text("digest schedule tue 08:15 Europe/Berlin", MARIA, CX)
        d.handle_text("digest off", MARIA, SMB)
        await sched.sync()
        jobs = sched.digest_jobs()
        assert list(jobs) == [1]
        assert jobs[1].next_run_time.astimezone(ZoneInfo("Europe/Berlin")).strftime("%a %H:%M") == "Tue 08:15"
    finally:
        await sched.stop()
    assert not sched.scheduler.running


async def test_the_served_app_catches_up_a_digest_missed_during_a_restart(services, rt, clock):
    notifier = ViewNotifier("slack")
    services.worker.notifiers["slack"] = notifier
    services.dispatcher.handle_text("digest schedule fri 11:00", MARIA, CX)
    clock.set(clock.now() + timedelta(days=7))  # next Friday 12:00: 11:00 passed while we were down
    async with serve(build_app(services, with_platforms=False)) as client:
        assert (await client.get("/healthz")).status == 200
        deadline = time.monotonic() + 10
        while not notifier.digests and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    assert [c for c, _ in notifier.digests] == ["C_CX"]
    assert notifier.digests[0][1].period_end == datetime(2026, 11, 27, 11, tzinfo=UTC)


async def test_start_scheduler_returns_something_that_stops(services):
    sched = await start_scheduler(services)
    assert sched.scheduler.running
    await sched.stop()
    assert not sched.scheduler.running


def test_preview_and_enqueue_for_the_cli(wired, rt, clock):
    services, _ = wired
    seed_known_week(rt, clock)
    # No schedules: the all-segments digest, and nothing to post to.
    text = preview_text(rt, None)
    assert text.startswith("NPS digest · week to Fri Nov 20, 2026") and "50 responses" in text
    assert enqueue_digests(rt, None) == 0
    d = services.dispatcher
    d.handle_text("subscribe alerts segment=smb", MARIA, SMB)
    d.handle_text("digest schedule mon 09:00", MARIA, SMB)
    d.handle_text("digest schedule mon 09:00", MARIA, CX)
    both = preview_text(rt, None)
    assert "── slack C_CX ──" in both and "── slack C_SMB ──" in both and "segment smb" in both
    one = preview_text(rt, "C_SMB")
    assert "segment smb" in one and "10 responses" in one and "──" not in one
    assert enqueue_digests(rt, None) == 2
    assert enqueue_digests(rt, "C_SMB") == 1
    with read_scope(rt.engine) as s:
        rows = s.execute(select(Outbox).where(Outbox.kind == "digest.post").order_by(Outbox.id)).scalars().all()
    assert [(r.channel_id, r.payload["segment"], r.payload["on_demand"]) for r in rows] == [
        ("C_CX", None, True), ("C_SMB", "smb", True), ("C_SMB", "smb", True)]
    with pytest.raises(NpsError):
        enqueue_digests(rt, "C_UNKNOWN")  # no platform configured and never seen
