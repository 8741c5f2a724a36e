"""Two replicas on one database behave as one bot: each alert is posted once, in order per channel."""

import asyncio

import pytest

from bot.actors import Actor, Place
from bot.app import build_runtime, build_services
from bot.config import Settings
from bot.ingest import ingest, validate_body
from tests.recording import RecordingNotifier


async def test_two_workers_share_the_outbox_and_post_each_alert_once(any_db, clock):
    replicas = []
    shared = RecordingNotifier()
    for _ in range(2):
        rt = build_runtime(Settings(DATABASE_URL=any_db, NPSBOT_OUTBOX_POLL_SECONDS=0.05), clock=clock,
                           migrate=not replicas)
        services = build_services(rt)
        services.worker.notifiers["shell"] = shared
        replicas.append(services)
    d = replicas[0].dispatcher
    for channel in ("#a", "#b", "#c"):
        d.handle_text("subscribe alerts", Actor("shell", "maria", "maria"), Place("shell", channel))
    items, _ = validate_body([{"id": f"r{i}", "score": i % 7, "customer": {"id": f"c{i}"}} for i in range(30)])
    ingest(replicas[1].rt, items)

    tasks = [asyncio.create_task(r.worker.run()) for r in replicas]
    try:
        async with asyncio.timeout(20):
            while len(shared.calls) < 90:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # a duplicate would show up now
    finally:
        for r in replicas:
            await r.worker.stop()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    posts = [(c[1], c[2]) for c in shared.calls if c[0] == "post_alert"]
    assert len(posts) == 90 and len(set(posts)) == 90
    for channel in ("#a", "#b", "#c"):
        numbers = [n for ch, n in posts if ch == channel]
        assert numbers == sorted(numbers) == list(range(1, 31))
    for r in replicas:
        r.rt.engine.dispose()


@pytest.mark.parametrize("claims", [10])
async def test_claims_racing_across_replicas_have_one_winner(any_db, clock, claims):
    replicas = [build_services(build_runtime(Settings(DATABASE_URL=any_db), clock=clock, migrate=i == 0))
                for i in range(2)]
    items, _ = validate_body({"id": "r1", "score": 1})
    ingest(replicas[0].rt, items)

    def claim(i):
        return replicas[i % 2].dispatcher.handle_text("claim 1", Actor("slack", f"U{i}", f"user{i}"),
                                                      Place("slack", "C1"))

    replies = await asyncio.gather(*(asyncio.to_thread(claim, i) for i in range(claims)))
    assert sum(r.ok for r in replies) == 1
    for r in replicas:
        r.rt.engine.dispose()
