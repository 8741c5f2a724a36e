"""Slack acknowledgement benchmark (not a test): how fast `npsbot serve` answers Slack.

Starts, as separate processes, `npsbot serve` (fresh SQLite, Slack mounted, Web API pointed at a
fake Slack running in this process) and a bare Bolt AsyncApp on aiohttp that only acks (the
baseline: same signature verification, same local authorize); npsbot's ephemeral replies go to a
response_url sink in the baseline's process, so they never compete with the measuring client.
Then, through signed HTTP:
  * `/nps open` at concurrency 20 over --requests requests: p50/p99 ack latency, npsbot vs bare;
  * Claim button clicks (block_actions) at concurrency 20 over --requests requests, each on its
    own follow-up, so every click does real work after its ack: p50/p99, npsbot vs bare;
  * detractor webhook (POST /webhooks/responses) to the alert's chat.postMessage arriving at the
    fake Slack, one at a time, --alerts samples, with no per-channel pacing: p50/p99.

Scenarios run in --rounds rounds, bare and npsbot alternating, so a busy machine hurts both
alike; percentiles pool every round, and the ratios are the median of the per-round ratios.

    python bench/slack_ack.py [--requests 1000] [--rounds 3] [--alerts 100]
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
import urllib.error
import urllib.request
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

# npsbot's replies to response_url land here, outside the process that measures latency.
replies = {"ok": 0, "won": 0}

async def sink(request):
    body = await request.json()
    replies["ok"] += 1
    replies["won"] += body.get("text", "").startswith("You claimed")
    return web.Response(text="ok")

async def count(request):
    return web.json_response(replies)

app = web.Application()
app.router.add_post("/slack/events", events)
app.router.add_post("/sink/{key}", sink)
app.router.add_get("/sink", count)
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
        # An HTTP answer, not just a connection: `npsbot serve` binds its port before the app starts.
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except urllib.error.HTTPError:
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
    form.update(text=text, response_url=response_url, user_id=user, user_name="bench", channel_id="C0BENCH",
                trigger_id=f"{time.perf_counter_ns()}.{os.urandom(6).hex()}")  # Slack's are unique too
    return urlencode(form)


def claim_body(number: int, response_url: str) -> str:
    payload = json.loads((FIXTURES / "block_actions.json").read_text())
    payload["user"].update(id=f"U{number:06d}", username=f"user{number}", name=f"user{number}")
    payload["actions"][0].update(action_id="nps_claim", value=str(number))
    payload["channel"]["id"] = payload["container"]["channel_id"] = "C0BENCH"
    payload["response_url"] = response_url
    payload["trigger_id"] = f"{time.perf_counter_ns()}.{os.urandom(6).hex()}"
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


async def replies(sink: str) -> dict:
    async with aiohttp.ClientSession() as session, session.get(sink) as resp:
        return await resp.json()


async def settle(sink: str, count: int) -> None:
    """Wait until the replies of the requests sent so far have arrived (the server is idle again)."""
    deadline = time.monotonic() + 300
    while (await replies(sink))["ok"] < count:
        if time.monotonic() > deadline:
            raise SystemExit("npsbot did not answer every request")
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def line(name: str, ours: list[float], bare: list[float] | None = None) -> str:
    text = f"{name:<34} p50 {pct(ours, 50):7.1f} ms   p99 {pct(ours, 99):7.1f} ms"
    if bare:
        text += (f"   | bare bolt p50 {pct(bare, 50):6.1f} ms  p99 {pct(bare, 99):6.1f} ms"
                 f"   | ratio p50 {pct(ours, 50) / pct(bare, 50):4.2f}  p99 {pct(ours, 99) / pct(bare, 99):4.2f}")
    return text


async def main(requests: int, alerts: int, rounds: int) -> None:
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
            total = requests * rounds
            items = [{"id": f"c{n}", "score": 3, "customer": {"id": f"cus_c{n}"}} for n in range(total)]
            for i in range(0, total, 1000):  # a batch holds at most 1,000
                async with session.post(f"{base}/webhooks/responses", json=items[i:i + 1000],
                                        headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                    assert r.status == 202, await r.text()
            target = alerts + total
            await fake.wait_for(lambda: len([c for c in fake.ok_calls("chat.postMessage") if "blocks" in c])
                                >= target, timeout=300)

        sink = f"http://127.0.0.1:{bare_port}/sink"
        def opens(count: int = requests) -> list[str]:
            # Fresh bodies each time: every Slack request carries its own trigger_id.
            return [command_body("open", f"{sink}/open{n}") for n in range(count)]

        await load(bare_url, opens(100))  # warm both up
        await load(events, opens(100))
        await asyncio.sleep(1)
        runs: dict[str, list[list[float]]] = {"bare_open": [], "ours_open": [], "bare_claim": [], "ours_claim": []}
        for r in range(rounds):
            claims = [claim_body(first + r * requests + n, f"{sink}/claim{r * requests + n}")
                      for n in range(requests)]
            runs["bare_open"].append(await load(bare_url, opens()))
            runs["ours_open"].append(await load(events, opens()))
            await settle(sink, (2 * r + 1) * requests + 100)
            runs["bare_claim"].append(await load(bare_url, claims))
            runs["ours_claim"].append(await load(events, claims))
            await settle(sink, (2 * r + 2) * requests + 100)
        won = (await replies(sink))["won"]
        pooled = {k: [x for run in v for x in run] for k, v in runs.items()}

        print(f"npsbot Slack ack benchmark · {requests} requests x {rounds} rounds per scenario · "
              f"concurrency {CONCURRENCY} · {os.cpu_count()} CPUs · SQLite")
        for name, key in (("/nps open (ack)", "open"), ("Claim click (ack)", "claim")):
            print(line(name, pooled[f"ours_{key}"], pooled[f"bare_{key}"]))
            for q in (50, 99):
                ratios = [pct(o, q) / pct(b, q) for o, b in zip(runs[f"ours_{key}"], runs[f"bare_{key}"], strict=True)]
                print(f"{'':<34} p{q} ratio per round: {', '.join(f'{x:.2f}' for x in ratios)}"
                      f" (median {statistics.median(ratios):.2f})")
        print(f"{'':<34} claims that won: {won}/{requests * rounds} (each click on its own follow-up)")
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
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.alerts, args.rounds))
