"""The outbox worker: alerts reach subscribed channels, updates follow every change, failures retry."""

from sqlalchemy import select

from bot.actors import Actor, Place
from bot.app import build_runtime, build_services
from bot.delivery import DeliveryError
from bot.ingest import ingest, validate_body
from storage.db import read_scope
from storage.models import Outbox, PostedMessage
from tests.recording import RecordingNotifier

MARIA = Actor("shell", "maria", "maria")
CX = Place("shell", "#cx")


def respond(rt, *bodies):
    items, errors = validate_body(list(bodies))
    assert not errors
    return ingest(rt, items)


def outbox_rows(rt):
    with read_scope(rt.engine) as s:
        return s.execute(select(Outbox).order_by(Outbox.id)).scalars().all()


async def test_a_detractor_is_posted_to_every_matching_channel_once(services, rt):
    notifier = RecordingNotifier()
    services.worker.notifiers["shell"] = notifier
    d = services.dispatcher
    d.handle_text("subscribe alerts", MARIA, CX)
    d.handle_text("subscribe alerts segment=renewal", MARIA, Place("shell", "#renewals"))
    d.handle_text("subscribe alerts max_score=3", MARIA, Place("shell", "#fires"))
    respond(rt, {"id": "a", "score": 5, "customer": {"id": "c1", "segment": "new"}},
            {"id": "b", "score": 2, "customer": {"id": "c2", "segment": "renewal"}},
            {"id": "c", "score": 9, "customer": {"id": "c3", "segment": "renewal"}})
    await services.worker.drain()
    posts = sorted((c[1], c[2]) for c in notifier.calls if c[0] == "post_alert")
    assert posts == [("#cx", 1), ("#cx", 2), ("#fires", 2), ("#renewals", 2)]
    await services.worker.drain()
    assert len([c for c in notifier.calls if c[0] == "post_alert"]) == 4


async def test_every_change_updates_the_alert_in_place_and_leaves_a_thread_line(services, rt):
    notifier = RecordingNotifier()
    services.worker.notifiers["shell"] = notifier
    d = services.dispatcher
    d.handle_text("subscribe alerts", MARIA, CX)
    respond(rt, {"id": "a", "score": 1, "customer": {"id": "c1"}})
    await services.worker.drain()
    for text in ("claim 1", "note 1 called them", "close 1 recovered", "reopen 1", "assign 1 @li"):
        assert d.handle_text(text, MARIA, CX).ok
    await services.worker.drain()
    updates = [c[3] for c in notifier.calls if c[0] == "update_alert"]
    threads = [c[3] for c in notifier.calls if c[0] == "post_thread"]
    # Updates render the state at delivery time; queued ones collapse into the newest.
    assert updates == ["claimed"]
    assert threads == ["maria claimed #1.", "maria added a note: called them", "maria closed #1 as recovered.",
                       "maria reopened #1.", "maria assigned #1 to li."]
    assert all(c[1] == "#cx" and c[-1] == "msg-1" for c in notifier.calls if c[0] == "update_alert")
    d.handle_text("close 1 churned", MARIA, CX)
    await services.worker.drain()
    last_update = [c for c in notifier.calls if c[0] == "update_alert"][-1]
    assert last_update[:4] == ("update_alert", "#cx", 1, "closed")


async def test_a_429_waits_for_retry_after_and_keeps_channel_order(services, rt, clock):
    notifier = RecordingNotifier()
    notifier.failures = [DeliveryError("rate limited", retry_after=30, status=429)]
    services.worker.notifiers["shell"] = notifier
    services.dispatcher.handle_text("subscribe alerts", MARIA, CX)
    respond(rt, {"id": "a", "score": 1}, {"id": "b", "score": 2})
    await services.worker.drain()
    assert notifier.calls == []  # the first alert waits 30 s, and the second waits behind it
    # A rate limit is not a failed attempt: it never counts towards giving up.
    assert (outbox_rows(rt)[0].attempts, outbox_rows(rt)[0].last_error) == (0, "rate limited")
    clock.advance(seconds=31)
    await services.worker.drain()
    assert [c[2] for c in notifier.calls if c[0] == "post_alert"] == [1, 2]


async def test_server_errors_back_off_and_then_deliver(services, rt, clock):
    notifier = RecordingNotifier()
    notifier.failures = [DeliveryError("500", status=500), ConnectionResetError("reset")]
    services.worker.notifiers["shell"] = notifier
    services.dispatcher.handle_text("subscribe alerts", MARIA, CX)
    respond(rt, {"id": "a", "score": 1})
    for _ in range(3):
        await services.worker.drain()
        clock.advance(minutes=10)
    assert notifier.kinds() == ["post_alert"]
    assert outbox_rows(rt)[0].attempts == 3


async def test_a_permanent_failure_is_parked_and_the_channel_moves_on(services, rt):
    notifier = RecordingNotifier()
    notifier.failures = [DeliveryError("channel_not_found", permanent=True)]
    services.worker.notifiers["shell"] = notifier
    services.dispatcher.handle_text("subscribe alerts", MARIA, CX)
    respond(rt, {"id": "a", "score": 1}, {"id": "b", "score": 2})
    await services.worker.drain()
    assert [r.status for r in outbox_rows(rt)] == ["dead", "sent"]


async def test_after_a_crash_mid_send_the_alert_is_sent_again_by_the_next_process(settings, clock):
    """A process that leased a row and died: the lease expires and a new process delivers it."""
    rt = build_runtime(settings, clock=clock)
    first = build_services(rt)
    first.dispatcher.handle_text("subscribe alerts", MARIA, CX)
    respond(rt, {"id": "a", "score": 1})
    job_id = outbox_rows(rt)[0].id
    # The first process leases the row, then "dies" before marking it sent.
    from bot.delivery import _Job

    assert first.worker._lease(_Job(job_id, "shell", "#cx", "alert.post", 1, None, 0))
    rt2 = build_runtime(settings, clock=clock, migrate=False)
    second = build_services(rt2)
    notifier = RecordingNotifier()
    second.worker.notifiers["shell"] = notifier
    await second.worker.drain()
    assert notifier.calls == []  # the lease is still held
    clock.advance(seconds=46)
    await second.worker.drain()
    assert notifier.kinds() == ["post_alert"]
    with read_scope(rt.engine) as s:
        assert s.execute(select(PostedMessage.message_ref)).scalars().all() == ["msg-1"]


async def test_posts_are_paced_per_channel_but_updates_are_not_held_behind_them(make_settings, clock):
    rt = build_runtime(make_settings(), clock=clock)
    services = build_services(rt)
    notifier = RecordingNotifier(post_interval=60)
    services.worker.notifiers["shell"] = notifier
    services.dispatcher.handle_text("subscribe alerts", MARIA, CX)
    respond(rt, {"id": "a", "score": 1})
    await services.worker.drain(ignore_pacing=False, timeout=1)
    respond(rt, {"id": "b", "score": 2})
    services.dispatcher.handle_text("claim 1", MARIA, CX)
    await services.worker.drain(ignore_pacing=False, timeout=1)
    # The second alert waits a minute in this channel; the claim on the first shows at once.
    assert notifier.kinds() == ["post_alert", "update_alert"]


async def test_a_change_made_while_the_alert_is_being_posted_still_reaches_it(services, rt, clock):
    import asyncio

    release = asyncio.Event()
    notifier = RecordingNotifier()
    original_post = notifier.post_alert

    async def slow_post(channel_id, alert):
        await release.wait()
        return await original_post(channel_id, alert)

    notifier.post_alert = slow_post
    services.worker.notifiers["shell"] = notifier
    services.dispatcher.handle_text("subscribe alerts", MARIA, CX)
    respond(rt, {"id": "a", "score": 1})
    worker = asyncio.create_task(services.worker.run())
    try:
        await asyncio.sleep(0.2)  # the post is in flight, rendered as "open"
        await asyncio.to_thread(services.dispatcher.handle_text, "claim 1", MARIA, CX)
        await asyncio.sleep(0.3)  # the update lane tries first, finds no message yet
        release.set()
        await asyncio.sleep(0.3)
        clock.advance(seconds=2)
        async with asyncio.timeout(5):
            while not any(c[0] == "update_alert" for c in notifier.calls):
                services.worker.wake()
                await asyncio.sleep(0.05)
    finally:
        await services.worker.stop()
        worker.cancel()
    assert notifier.calls[0][3] == "open"
    assert [c[3] for c in notifier.calls if c[0] == "update_alert"] == ["claimed"]
