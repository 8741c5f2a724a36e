"""Ingest benchmark (not a test): webhook throughput and latency against raw SQLite inserts.

Starts `npsbot serve` on a fresh SQLite file, then measures through real HTTP:
  * single-item POST /webhooks/responses at concurrency 16: responses/s, p50/p99 latency;
  * 1,000-item batches: responses/s;
and, in the same run, raw `sqlite3.executemany` of the same rows into a table of the same shape
(the baseline). Each figure is the median of --rounds rounds.

    python bench/ingest.py [--rounds 5] [--singles 2000] [--batches 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

TOKEN = "bench-token"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A typical NPS mix (about +30): half promoters, 30% passives, 20% detractors.
SCORES = (10, 9, 10, 9, 9, 8, 7, 8, 3, 6)


def item(n: int, prefix: str) -> dict:
    return {
        "id": f"{prefix}-{n}", "score": SCORES[n % 10],
        "comment": "Support never answered my ticket" if n % 3 else None,
        "submitted_at": "2026-11-20T10:00:00Z", "source": "bench",
        "customer": {"id": f"cus_{n % 5000}", "name": f"Customer {n % 5000}", "segment": "renewal",
                     "arr": 48000, "owner": "alice@example.com"},
        "tags": {"region": "EMEA"},
    }


def start_server(db: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "NPSBOT_WEBHOOK_TOKEN": TOKEN, "PORT": str(port)}
    for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "MICROSOFT_APP_ID", "NPSBOT_TEAMS_ENABLED"):
        env.pop(key, None)
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("npsbot serve did not start")


async def singles(url: str, count: int, prefix: str, concurrency: int = 16) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = list(range(count))
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        async def worker() -> None:
            while queue:
                n = queue.pop()
                body = json.dumps(item(n, prefix))
                t0 = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    assert resp.status == 202, resp.status
                latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return count / elapsed, latencies


async def batches(url: str, count: int, prefix: str) -> float:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    bodies = [json.dumps([item(b * 1000 + n, prefix) for n in range(1000)]) for b in range(count)]
    async with aiohttp.ClientSession() as session:
        t0 = time.perf_counter()
        for body in bodies:
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                assert resp.status == 202, resp.status
        elapsed = time.perf_counter() - t0
    return count * 1000 / elapsed


def raw_sqlite(count: int, directory: Path, prefix: str) -> float:
    """Baseline: executemany of the same rows into a table shaped like `response`, WAL, one commit."""
    db = sqlite3.connect(directory / f"raw-{prefix}.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS response (id INTEGER PRIMARY KEY, source TEXT, external_id TEXT, "
               "score INTEGER, category TEXT, comment TEXT, submitted_at TEXT, received_at TEXT, "
               "customer_id INTEGER, segment TEXT, arr REAL, tags TEXT, followup_id INTEGER, "
               "UNIQUE (source, external_id))")
    rows = []
    for n in range(count):
        it = item(n, prefix)
        rows.append((it["source"], it["id"], it["score"], "detractor", it["comment"], it["submitted_at"],
                     "2026-11-20 10:00:00", n % 5000, "renewal", 48000.0, json.dumps(it["tags"]), None))
    t0 = time.perf_counter()
    for start in range(0, count, 1000):
        with db:
            db.executemany("INSERT INTO response (source, external_id, score, category, comment, submitted_at, "
                           "received_at, customer_id, segment, arr, tags, followup_id) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows[start:start + 1000])
    elapsed = time.perf_counter() - t0
    db.close()
    return count / elapsed


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--singles", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        port = free_port()
        server = start_server(directory / "bench.db", port)
        url = f"http://127.0.0.1:{port}/webhooks/responses"
        single_rates, p50s, p99s, batch_rates, raw_rates = [], [], [], [], []
        try:
            asyncio.run(singles(url, 200, "warmup"))
            for r in range(args.rounds):
                rate, lat = asyncio.run(singles(url, args.singles, f"s{r}"))
                single_rates.append(rate)
                p50s.append(pct(lat, 0.50) * 1000)
                p99s.append(pct(lat, 0.99) * 1000)
                batch_rates.append(asyncio.run(batches(url, args.batches, f"b{r}")))
                raw_rates.append(raw_sqlite(args.batches * 1000, directory, f"r{r}"))
        finally:
            server.terminate()
            server.wait(timeout=10)
    med = statistics.median
    print(f"ingest benchmark, SQLite, {args.rounds} rounds (medians), {os.cpu_count()} cores")
    print(f"  single POST, concurrency 16 : {med(single_rates):8.0f} responses/s   "
          f"p50 {med(p50s):6.1f} ms   p99 {med(p99s):6.1f} ms")
    print(f"  1,000-item batches          : {med(batch_rates):8.0f} responses/s")
    print(f"  raw sqlite3 executemany     : {med(raw_rates):8.0f} rows/s (baseline)")
    ratios = [b / r for b, r in zip(batch_rates, raw_rates, strict=True)]
    print(f"  batch / raw                 : {med(ratios) * 100:8.1f} %   (aim >= 25 %)")


if __name__ == "__main__":
    main()
