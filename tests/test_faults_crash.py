"""Crash and outage tests against a real `npsbot serve` process and a fake Slack Web API.

* kill -9 while alerts are being posted, then restart: every accepted alert arrives; only the
  sends in flight at the crash (one per channel) can repeat, once;
* the Slack API answering 429 and 5xx for a while: every alert arrives, in order per channel.
"""

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from bot.actors import Actor, Place
from bot.app import build_runtime, build_services
from tests.slack.slack_fake import FakeSlack

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    pytest.fail("npsbot serve did not start within 30 s")


def alert_numbers(fake: FakeSlack) -> list[tuple[str, int]]:
    """(channel, #N) of every alert posted (thread lines carry thread_ts and are not alerts)."""
    out = []
    for params in fake.ok_calls("chat.postMessage"):
        if params.get("thread_ts"):
            continue
        match = re.search(r"#(\d+)", params.get("text", ""))
        if match:
            out.append((params["channel"], int(match.group(1))))
    return out


@pytest.fixture
async def fake():
    slack = await FakeSlack().start()
    yield slack
    await slack.stop()


@pytest.fixture
def server_env(db_url, fake, make_settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "NPSBOT_", "MICROSOFT_"))}
    env.update({"DATABASE_URL": db_url, "NPSBOT_WEBHOOK_TOKEN": TOKEN, "SLACK_BOT_TOKEN": "xoxb-test",
                "SLACK_SIGNING_SECRET": "secret", "SLACK_API_URL": fake.api_url,
                "NPSBOT_SLACK_POST_INTERVAL": "0.05", "NPSBOT_OUTBOX_LEASE_SECONDS": "2",
                "NPSBOT_OUTBOX_POLL_SECONDS": "0.1",
                # Every alert is posted on its own here: storm control (tests/test_storms.py) is off.
                "NPSBOT_ALERT_BURST": "1000"})
    # Subscribe two channels through the dispatcher on the same database.
    rt = build_runtime(make_settings())
    services = build_services(rt)
    for channel in ("C1", "C2"):
        services.dispatcher.handle_text("subscribe alerts", Actor("slack", "U1", "ann"), Place("slack", channel))
    rt.engine.dispose()
    return env


async def post_detractors(port: int, count: int) -> None:
    body = [{"id": f"r{i}", "score": i % 7, "customer": {"id": f"c{i}"}} for i in range(count)]
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{port}/webhooks/responses", json=body,
                                headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
            assert resp.status == 202
            assert (await resp.json())["accepted"] == count


async def test_kill_9_during_delivery_loses_no_alert_and_repeats_at_most_one(server_env, fake):
    port = free_port()
    server = start_server(server_env, port)
    try:
        await post_detractors(port, 30)
        await fake.wait_for(lambda: len(alert_numbers(fake)) >= 10, timeout=20)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        delivered_before = len(alert_numbers(fake))
        assert delivered_before < 60, "the crash came too late to test anything"
        server = start_server(server_env, port)
        await fake.wait_for(lambda: {n for _, n in alert_numbers(fake)} == set(range(1, 31))
                            and len({(c, n) for c, n in alert_numbers(fake)}) == 60, timeout=30)
        await asyncio.sleep(0.5)  # let a stray duplicate show itself
    finally:
        server.kill()
        server.wait(timeout=10)
    counts = Counter(alert_numbers(fake))
    assert set(counts) == {(c, n) for c in ("C1", "C2") for n in range(1, 31)}
    # Only a send in flight when the process died can repeat: one per channel being delivered
    # (two channels here), and no alert more than twice.
    assert max(counts.values()) <= 2, counts.most_common(3)
    assert sum(v - 1 for v in counts.values()) <= 2, counts.most_common(3)
    for channel in ("C1", "C2"):
        assert sum(v - 1 for (c, _), v in counts.items() if c == channel) <= 1, counts.most_common(3)


async def test_a_storm_of_429s_and_500s_delays_alerts_but_loses_none_and_keeps_order(server_env, fake):
    fake.fail_next(6, status=429, retry_after=1)
    fake.fail_next(4, status=500)
    fake.fail_next(2, status=200, error="internal_error")
    port = free_port()
    server = start_server(server_env, port)
    try:
        await post_detractors(port, 12)
        await fake.wait_for(lambda: len(alert_numbers(fake)) >= 24, timeout=45)
    finally:
        server.kill()
        server.wait(timeout=10)
    posts = alert_numbers(fake)
    for channel in ("C1", "C2"):
        assert [n for c, n in posts if c == channel] == list(range(1, 13))
    failed = [c for c in fake.all_calls("chat.postMessage") if not c.ok]
    assert len(failed) == 12
