"""Slack acknowledgement benchmark (not a test): how fast `npsbot serve` answers Slack.

Starts, as separate processes, `npsbot serve` (fresh SQLite, Slack mounted, Web API pointed at a
fake Slack running in this process) and a bare Bolt AsyncApp on aiohttp that only acks (the
baseline: same signature verification, same local authorize). Then, through signed HTTP:
  * `/nps open` at concurrency 20 over --requests requests: p50/p99 ack latency, npsbot vs bare;
  * Claim button clicks (block_actions) at concurrency 20 over --requests requests, each on its
    own follow-up, so every click does real work after its ack: p50/p99, npsbot vs bare;
  * detractor webhook (POST /webhooks/responses) to the alert's chat.postMessage arriving at the
    fake Slack, one at a time, --alerts samples, with no per-channel pacing: p50/p99.

    python bench/slack_ack.py [--requests 1000] [--alerts 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.slack.slack_fake import FakeSlack  # noqa: E402

SECRET = "bench-signing-secret"
TOKEN = "bench-token"
CONCURRENCY = 20
FIXTURES = ROOT / "tests" / "fixtures" / "slack"

BARE_APP = """
import sys
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult

async def authorize(enterprise_id=None, team_id=None, user_id=None, **_):
    return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token="xoxb-bench")

bolt = AsyncApp(signing_secret=sys.argv[2], authorize=authorize)

@bolt.command("/nps")
async def command(ack):
    await ack()

@bolt.action("nps_claim")
async def claim(ack):
    await ack()

async def events(request):
    return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

app = web.Application()
app.router.add_post("/slack/events", events)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(proc: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def start_npsbot(db: Path, port: int, api_url: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "NPSBOT_"))}
    env.update(DATABASE_URL=f"sqlite:///{db}", NPSBOT_WEBHOOK_TOKEN=TOKEN, PORT=str(port),
               SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=api_url,
               NPSBOT_SLACK_POST_INTERVAL="0", NPSBOT_OUTBOX_POLL_SECONDS="0.5")
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(proc, port)
    return proc


def start_bare(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port), SECRET], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(proc, port)
    return proc


def signed(body: str, content_type: str) -> dict:
    ts = str(int(time.time()))
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)}


def command_body(text: str, response_url: str, user: str = "U0BENCH") -> str:
    form = dict(parse_qsl((FIXTURES / "slash_command.txt").read_text()))
    form.update(text=text, response_url=response_url, user_id=user, user_name="bench", channel_id="C0BENCH")
    return urlencode(form)


def claim_body(number: int, response_url: str) -> str:
    payload = json.loads((FIXTURES / "block_actions.json").read_text())
    payload["user"].update(id=f"U{number:06d}", username=f"user{number}", name=f"user{number}")
    payload["actions"][0].update(action_id="nps_claim", value=str(number))
    payload["channel"]["id"] = payload["container"]["channel_id"] = "C0BENCH"
    payload["response_url"] = response_url
    return urlencode({"payload": json.dumps(payload)})


async def load(url: str, bodies: list[str]) -> list[float]:
    """POST every body (form-encoded, freshly signed) at CONCURRENCY; return ack latencies (s)."""
    latencies: list[float] = []
    queue = list(reversed(bodies))
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker() -> None:
            while queue:
                body = queue.pop()
                headers = signed(body, "application/x-www-form-urlencoded")
                t0 = time.perf_counter()
                async with session.post(url, data=body.encode(), headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise SystemExit(f"{url} answered {resp.status}")
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return latencies


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def line(name: str, ours: list[float], bare: list[float] | None = None) -> str:
    text = f"{name:<34} p50 {pct(ours, 50):7.1f} ms   p99 {pct(ours, 99):7.1f} ms"
    if bare:
        text += (f"   | bare bolt p50 {pct(bare, 50):6.1f} ms  p99 {pct(bare, 99):6.1f} ms"
                 f"   | ratio p50 {pct(ours, 50) / pct(bare, 50):4.2f}  p99 {pct(ours, 99) / pct(bare, 99):4.2f}")
    return text


async def main(requests: int, alerts: int) -> None:
    fake = await FakeSlack().start()
    tmp = Path(tempfile.mkdtemp(prefix="npsbot-bench-"))
    ours_port, bare_port = free_port(), free_port()
    ours = start_npsbot(tmp / "bench.db", ours_port, fake.api_url)
    bare = start_bare(bare_port)
    base, bare_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{bare_port}/slack/events"
    events = f"{base}/slack/events"
    try:
        async with aiohttp.ClientSession() as session:
            body = command_body("subscribe alerts", fake.response_url("setup"))
            async with session.post(events, data=body.encode(),
                                    headers=signed(body, "application/x-www-form-urlencoded")) as r:
                assert r.status == 200
            await fake.wait_response("setup", timeout=10)

            # 1. Detractor webhook -> chat.postMessage, one at a time.
            webhook = []
            for n in range(alerts):
                before = len(fake.ok_calls("chat.postMessage"))
                item = {"id": f"w{n}", "score": 2, "comment": "Support never answered",
                        "customer": {"id": f"cus_w{n}", "name": f"Customer {n}"}}
                t0 = time.monotonic()
                async with session.post(f"{base}/webhooks/responses", json=item,
                                        headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                    assert r.status == 202, await r.text()
                await fake.wait_for(lambda b=before: len(fake.ok_calls("chat.postMessage")) > b, timeout=10)
                webhook.append(fake.all_calls("chat.postMessage")[-1].at - t0)

            # Follow-ups for the claim clicks: one each, delivered before measuring.
            first = alerts + 1
            batch = [{"id": f"c{n}", "score": 3, "customer": {"id": f"cus_c{n}"}} for n in range(requests)]
            async with session.post(f"{base}/webhooks/responses", json=batch,
                                    headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                assert r.status == 202, await r.text()
            target = alerts + requests
            await fake.wait_for(lambda: len([c for c in fake.ok_calls("chat.postMessage") if "blocks" in c])
                                >= target, timeout=300)

        opens = [command_body("open", fake.response_url(f"open{n}")) for n in range(requests)]
        claims = [claim_body(first + n, fake.response_url(f"claim{n}")) for n in range(requests)]
        await load(bare_url, opens[:100])  # warm both up
        await load(events, opens[:100])
        bare_open = await load(bare_url, opens)
        ours_open = await load(events, opens)
        await asyncio.sleep(2)  # let the follow-up work of the last requests finish
        bare_claim = await load(bare_url, claims)
        ours_claim = await load(events, claims)
        await fake.wait_for(lambda: sum(1 for k in fake.responses if k.startswith("claim")) >= requests,
                            timeout=120)
        won = sum(1 for k, v in fake.responses.items() if k.startswith("claim") and v[0]["text"].startswith("You"))

        print(f"npsbot Slack ack benchmark · {requests} requests per scenario · concurrency {CONCURRENCY} · "
              f"{os.cpu_count()} CPUs · SQLite")
        print(line("/nps open (ack)", ours_open, bare_open))
        print(line("Claim click (ack)", ours_claim, bare_claim))
        print(f"{'':<34} claims that won: {won}/{requests} (each click on its own follow-up)")
        print(line(f"webhook -> chat.postMessage (n={alerts})", webhook))
    finally:
        for proc in (ours, bare):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        await fake.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--alerts", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.alerts))
