"""Ingest benchmark (not a test): webhook throughput and latency against raw SQLite inserts.

Starts `npsbot serve` on a fresh SQLite file (and/or PostgreSQL database), then measures through
real HTTP:
  * single-item POST /webhooks/responses at concurrency 16: responses/s, p50/p99 latency;
  * 1,000-item batches: responses/s;
and, in the same run, raw `executemany` of the same rows into a table of the same shape (sqlite3
or psycopg: the baseline), and the server's peak RSS. Each figure is the median of --rounds rounds.

    python bench/ingest.py [--rounds 5] [--singles 2000] [--batches 10] [--db sqlite|postgres|both]
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
import urllib.error
import urllib.request
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


def start_server(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "NPSBOT_WEBHOOK_TOKEN": TOKEN, "PORT": str(port)}
    for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "MICROSOFT_APP_ID", "NPSBOT_TEAMS_ENABLED"):
        env.pop(key, None)
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # An HTTP answer, not just a connection: `npsbot serve` binds its port before the app starts.
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except urllib.error.HTTPError:
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("npsbot serve did not start")


def peak_rss_mb(pid: int) -> float:
    """The process's high-water mark of resident memory (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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


RAW_COLUMNS = ("source, external_id, score, category, comment, submitted_at, received_at, customer_id, segment, "
               "arr, tags, followup_id")


def raw_rows(count: int, prefix: str) -> list[tuple]:
    rows = []
    for n in range(count):
        it = item(n, prefix)
        rows.append((it["source"], it["id"], it["score"], "detractor", it["comment"], it["submitted_at"],
                     "2026-11-20 10:00:00", n % 5000, "renewal", 48000.0, json.dumps(it["tags"]), None))
    return rows


def raw_sqlite(count: int, directory: Path, prefix: str) -> float:
    """Baseline: executemany of the same rows into a table shaped like `response`, WAL, 1,000 a commit."""
    db = sqlite3.connect(directory / f"raw-{prefix}.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS response (id INTEGER PRIMARY KEY, source TEXT, external_id TEXT, "
               "score INTEGER, category TEXT, comment TEXT, submitted_at TEXT, received_at TEXT, "
               "customer_id INTEGER, segment TEXT, arr REAL, tags TEXT, followup_id INTEGER, "
               "UNIQUE (source, external_id))")
    rows = raw_rows(count, prefix)
    t0 = time.perf_counter()
    for start in range(0, count, 1000):
        with db:
            db.executemany(f"INSERT INTO response ({RAW_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                           rows[start:start + 1000])
    elapsed = time.perf_counter() - t0
    db.close()
    return count / elapsed


def raw_postgres(count: int, url: str, prefix: str) -> float:
    """Baseline: psycopg executemany of the same rows into a table shaped like `response`."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS raw_response (id BIGSERIAL PRIMARY KEY, source TEXT, "
                     "external_id TEXT, score INT, category TEXT, comment TEXT, submitted_at TIMESTAMPTZ, "
                     "received_at TIMESTAMPTZ, customer_id INT, segment TEXT, arr FLOAT, tags JSON, "
                     "followup_id INT, UNIQUE (source, external_id))")
        conn.commit()
        rows = raw_rows(count, prefix)
        t0 = time.perf_counter()
        for start in range(0, count, 1000):
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO raw_response ({RAW_COLUMNS}) VALUES "
                                "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", rows[start:start + 1000])
            conn.commit()
        return count / (time.perf_counter() - t0)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


PG_ADMIN = "postgresql://127.0.0.1:5432/test"


def measure(kind: str, rounds: int, n_singles: int, n_batches: int, directory: Path) -> dict:
    """Run the webhook and raw-insert measurements on one database kind; return medians."""
    pg_name = None
    if kind == "sqlite":
        url = f"sqlite:///{directory / 'bench.db'}"
    else:
        import psycopg

        pg_name = f"npsbot_bench_{os.getpid()}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}"')
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        url = f"postgresql+psycopg://127.0.0.1:5432/{pg_name}"
    port = free_port()
    server = start_server(url, port)
    endpoint = f"http://127.0.0.1:{port}/webhooks/responses"
    single_rates, p50s, p99s, batch_rates, raw_rates = [], [], [], [], []
    try:
        asyncio.run(singles(endpoint, 200, "warmup"))
        for r in range(rounds):
            rate, lat = asyncio.run(singles(endpoint, n_singles, f"s{r}"))
            single_rates.append(rate)
            p50s.append(pct(lat, 0.50) * 1000)
            p99s.append(pct(lat, 0.99) * 1000)
            batch_rates.append(asyncio.run(batches(endpoint, n_batches, f"b{r}")))
            if kind == "sqlite":
                raw_rates.append(raw_sqlite(n_batches * 1000, directory, f"r{r}"))
            else:
                raw_rates.append(raw_postgres(n_batches * 1000, url, f"r{r}"))
        rss = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if pg_name:
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    med = statistics.median
    return {
        "kind": kind, "single_rate": med(single_rates), "p50_ms": med(p50s), "p99_ms": med(p99s),
        "batch_rate": med(batch_rates), "raw_rate": med(raw_rates),
        "ratio": med(b / r for b, r in zip(batch_rates, raw_rates, strict=True)), "server_peak_rss_mb": rss,
    }


def report(result: dict) -> None:
    raw = "sqlite3" if result["kind"] == "sqlite" else "psycopg"
    print(f"  [{result['kind']}] single POST, concurrency 16 : {result['single_rate']:8.0f} responses/s   "
          f"p50 {result['p50_ms']:6.1f} ms   p99 {result['p99_ms']:6.1f} ms   (aim p99 < 20 ms)")
    print(f"  [{result['kind']}] 1,000-item batches          : {result['batch_rate']:8.0f} responses/s")
    print(f"  [{result['kind']}] raw {raw} executemany      : {result['raw_rate']:8.0f} rows/s (baseline)")
    print(f"  [{result['kind']}] batch / raw                 : {result['ratio'] * 100:8.1f} %   (aim >= 25 %)")
    print(f"  [{result['kind']}] server peak RSS             : {result['server_peak_rss_mb']:8.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--singles", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    args = parser.parse_args()
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    print(f"ingest benchmark: {args.rounds} rounds (medians), {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            report(measure(kind, args.rounds, args.singles, args.batches, Path(tmp)))


if __name__ == "__main__":
    main()
