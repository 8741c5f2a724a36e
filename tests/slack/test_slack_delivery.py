"""The Slack Notifier under the outbox worker: 429 storms, 5xx, dead channels, restarts, pacing,
digests and escaping of thread lines."""

import asyncio
import time

import pytest
from sqlalchemy import select

from bot.app import build_app, build_runtime, build_services
from bot.delivery import DeliveryError
from storage.db import read_scope
from storage.models import Outbox, PostedMessage
from tests.conftest import serve
from tests.slack.conftest import Slack


def outbox_rows(rt) -> list[Outbox]:
    with read_scope(rt.engine) as s:
        return list(s.execute(select(Outbox).order_by(Outbox.id)).scalars())


def alert_posts(fake) -> list[dict]:
    return [p for p in fake.ok_calls("chat.postMessage") if "blocks" in p]


def detractors(n: int) -> list[dict]:
    return [{"id": f"r{i}", "score": i % 7, "comment": f"comment {i}", "customer": {"id": f"c{i}"}}
            for i in range(n)]


async def test_a_429_storm_honours_retry_after_and_loses_or_repeats_nothing(slack, clock):
    await slack.subscribe("C0CA5")
    await slack.subscribe("C0TWO")
    slack.fake.fail_next(6, status=429, retry_after=7)
    await slack.ingest(*detractors(4))
    for _ in range(10):
        await slack.services.worker.drain(timeout=10)
        pending = [r for r in outbox_rows(slack.rt) if r.status == "pending"]
        if not pending:
            break
        # Every postponed row waits exactly what Retry-After said, on the injected clock.
        assert {(r.next_attempt_at.replace(tzinfo=None) - clock.now().replace(tzinfo=None)).total_seconds()
                for r in pending if r.attempts} <= {7.0}
        clock.advance(seconds=7)
    assert len([c for c in slack.fake.all_calls("chat.postMessage") if c.status == 429]) == 6
    posts = alert_posts(slack.fake)
    assert len(posts) == 8  # 4 alerts x 2 channels, each exactly once
    assert len({(p["channel"], p["blocks"][0]["text"]["text"]) for p in posts}) == 8
    with read_scope(slack.rt.engine) as s:
        assert len(s.execute(select(PostedMessage)).scalars().all()) == 8
    assert all(r.status == "sent" for r in outbox_rows(slack.rt))


async def test_server_errors_retry_with_backoff_and_a_dead_channel_is_given_up(slack, clock):
    await slack.subscribe("C0CA5")
    await slack.subscribe("C0GONE")
    slack.fake.fail_next(2, status=503)
    slack.fake.fail_next(1, status=200, error="channel_not_found")
    await slack.ingest(*detractors(1))
    for _ in range(6):
        await slack.services.worker.drain(timeout=10)
        clock.advance(seconds=600)
    rows = {r.channel_id: r for r in outbox_rows(slack.rt) if r.kind == "alert.post"}
    # One of the two channels got the 5xx (retried), then one got channel_not_found (dead).
    statuses = sorted(r.status for r in rows.values())
    assert statuses == ["dead", "sent"]
    dead = next(r for r in rows.values() if r.status == "dead")
    assert "channel_not_found" in dead.last_error and dead.attempts <= 3
    assert len(alert_posts(slack.fake)) == 1


async def test_a_restart_resumes_delivery_without_losing_or_repeating_an_alert(
        make_settings, slack_env, clock, fake_slack):
    settings = make_settings(**slack_env)
    rt1 = build_runtime(settings, clock=clock)
    services1 = build_services(rt1)
    async with serve(build_app(services1, run_workers=False)) as http:
        first = Slack(rt1, services1, http, fake_slack)
        await first.subscribe("C0CA5")
        fake_slack.fail_next(3, status=500)
        await first.ingest(*detractors(3))
        await services1.worker.drain(timeout=10)
        assert len(alert_posts(fake_slack)) == 0 or len(alert_posts(fake_slack)) < 3
        delivered_before = len(alert_posts(fake_slack))
    await services1.worker.stop()
    rt1.engine.dispose()

    # A new process on the same database: new runtime, worker and Slack app.
    clock.advance(seconds=3600)
    rt2 = build_runtime(settings, clock=clock)
    services2 = build_services(rt2)
    async with serve(build_app(services2, run_workers=False)):
        for _ in range(5):
            await services2.worker.drain(timeout=10)
            clock.advance(seconds=600)
    posts = alert_posts(fake_slack)
    assert delivered_before < 3
    assert len(posts) == 3
    assert sorted(p["blocks"][0]["text"]["text"].split(" ·")[0] for p in posts) == ["#1", "#2", "#3"]
    assert all(r.status == "sent" for r in outbox_rows(rt2))
    rt2.engine.dispose()


async def test_posts_in_one_channel_are_paced(make_settings, slack_env, clock, fake_slack):
    env = dict(slack_env, NPSBOT_SLACK_POST_INTERVAL="0.15")
    rt = build_runtime(make_settings(**env), clock=clock)
    services = build_services(rt)
    async with serve(build_app(services, run_workers=False)) as http:
        s = Slack(rt, services, http, fake_slack)
        await s.subscribe("C0CA5")
        await s.ingest(*detractors(3))
        task = asyncio.create_task(services.worker.run())
        try:
            await fake_slack.wait_for(lambda: len(alert_posts(fake_slack)) == 3, timeout=5)
        finally:
            await services.worker.stop()
            task.cancel()
    times = [c.at for c in fake_slack.all_calls("chat.postMessage") if "blocks" in c.params]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(g >= 0.14 for g in gaps), gaps
    rt.engine.dispose()


async def test_thread_lines_and_direct_texts_are_escaped(slack):
    ts = await slack.alert()
    notifier = slack.services.worker.notifiers["slack"]
    await notifier.post_thread("C0CA5", ts, "New answer: “<!here> <@U1> <https://evil.example|x> & co”")
    await notifier.post_text("U0MARIA", "Reminder: #1 for <Acme> is overdue")
    thread, direct = slack.fake.ok_calls("chat.postMessage")[-2:]
    assert thread["text"] == ("New answer: “&lt;!here&gt; &lt;@U1&gt; &lt;https://evil.example|x&gt; "
                              "&amp; co”")
    assert thread["thread_ts"] == ts
    assert direct == {**direct, "channel": "U0MARIA", "text": "Reminder: #1 for &lt;Acme&gt; is overdue"}
    # `*bold*` or `_italic_` in a quoted comment must not format the line either.
    assert thread["mrkdwn"] in (False, "false", "0") and direct["mrkdwn"] in (False, "false", "0")


async def test_digest_now_posts_blocks_then_the_chart_and_a_failed_upload_leaves_the_text(slack):
    earlier = [dict(r, submitted_at="2026-11-19T10:00:00Z") for r in detractors(3)]
    await slack.ingest(*earlier, {"id": "p1", "score": 10, "submitted_at": "2026-11-18T10:00:00Z"})
    resp, key = await slack.command("digest now", channel="C0DIGEST")
    [reply] = await slack.fake.wait_response(key)
    assert "Building the digest" in reply["text"]
    await slack.services.worker.drain(timeout=20)
    [post] = [p for p in slack.fake.ok_calls("chat.postMessage") if p["channel"] == "C0DIGEST"]
    assert post["blocks"] and post["text"]
    [complete] = slack.fake.ok_calls("files.completeUploadExternal")
    assert complete["channel_id"] == "C0DIGEST"
    assert slack.fake.uploads and slack.fake.uploads[0].startswith(b"\x89PNG")

    slack.fake.fail_next(1, methods=("files.getUploadURLExternal",), status=500)
    resp, key = await slack.command("digest now", channel="C0DIGEST")
    await slack.fake.wait_response(key)
    await slack.services.worker.drain(timeout=20)
    # The second digest's text is posted once, its chart upload failed and was not retried.
    assert len([p for p in slack.fake.ok_calls("chat.postMessage") if p["channel"] == "C0DIGEST"]) == 2
    assert len(slack.fake.ok_calls("files.completeUploadExternal")) == 1
    assert all(r.status == "sent" for r in outbox_rows(slack.rt))


@pytest.mark.parametrize(("status", "error", "permanent", "retry_after"), [
    (429, None, False, 30.0),
    (503, None, False, None),
    (200, "not_in_channel", True, None),
    (200, "is_archived", True, None),
    (200, "invalid_auth", True, None),
    (200, "account_inactive", True, None),
    (200, "internal_error", False, None),
])
async def test_slack_errors_map_to_delivery_errors(slack, status, error, permanent, retry_after):
    notifier = slack.services.worker.notifiers["slack"]
    slack.fake.fail_next(1, status=status, error=error, retry_after=30 if status == 429 else None)
    with pytest.raises(DeliveryError) as info:
        await notifier.post_text("C0CA5", "hello")
    assert info.value.permanent is permanent
    assert info.value.retry_after == retry_after


async def test_a_network_failure_is_retriable(slack):
    notifier = slack.services.worker.notifiers["slack"]
    notifier.client.base_url = "http://127.0.0.1:9/api/"  # nothing listens on the discard port
    started = time.monotonic()
    with pytest.raises(DeliveryError) as info:
        await notifier.post_text("C0CA5", "hello")
    assert not info.value.permanent and time.monotonic() - started < 5
