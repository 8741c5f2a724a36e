"""Benchmark: build the weekly digest over 1,000,000 responses and 100,000 follow-ups.

Runs on SQLite (a file in a temporary directory) and on PostgreSQL (a database it creates and
drops on 127.0.0.1:5432; admin URL from NPSBOT_BENCH_PG, default
postgresql+psycopg://127.0.0.1:5432/test). For each it times, over several runs (median):

- `build_digest(..., with_chart=False)`: every number of the digest (all its SQL);
- the same with the chart drawn (matplotlib), for reference;
- one hand-written SQL aggregate over the same rows: the 12-week count of responses by week and
  category that the trend, this week and the week before come from.

and prints the ratio digest / hand-written. Data: one year of responses (about 19,000 a week),
200,000 customers in 6 segments, about a quarter detractors with comments, 100,000 follow-ups
(most closed, recent ones open or claimed). Loaded with executemany (SQLite) and COPY (PostgreSQL).

    python bench/digest.py [--responses 1000000] [--followups 100000] [--runs 7] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from bot.clock import FixedClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.digest import TREND_WEEKS, build_digest, week_edges  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from storage.db import make_engine, upgrade  # noqa: E402

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SPAN_DAYS = 364
SEGMENTS = ["enterprise", "mid-market", "smb", "startup", "public-sector", "partner"]
PHRASES = [
    "Way too expensive for what we get", "Support never answered my ticket", "The website is confusing",
    "App crashes every day", "Sales rep was pushy", "Onboarding took forever", "Delivery was late again",
    "Missing basic features", "The price went up", "Slow and buggy", "Nobody called me back",
    "Billing errors on every invoice", "Setup was painful", "Not what we were promised", "meh",
    "Too many emails from sales", "Interface is clunky", "Lost data after the update",
]
FMT = "%Y-%m-%d %H:%M:%S.%f"


def _ts(value: datetime, pg: bool) -> str:
    return value.strftime(FMT) + ("+00" if pg else "")


def generate(n_responses: int, n_followups: int, seed: int = 7):
    """Rows for customer, response and followup tables (tuples in column order)."""
    rnd = random.Random(seed)
    n_customers = max(1000, n_responses // 5)
    customers = [(i, f"cust-{i}", f"Customer {i}", SEGMENTS[i % len(SEGMENTS)],
                  float(rnd.choice([5_000, 12_000, 30_000, 80_000, 250_000]))) for i in range(1, n_customers + 1)]
    start = END - timedelta(days=SPAN_DAYS)
    span = SPAN_DAYS * 86400
    scores = list(range(11))
    weights = [3, 2, 3, 4, 5, 7, 8, 14, 16, 18, 20]
    responses = []
    detractor_ids = []
    # Responses arrive over time, so ids grow with submitted_at (as they do with webhooks).
    offsets = sorted(rnd.random() * span for _ in range(n_responses))
    for i in range(1, n_responses + 1):
        cust = rnd.randint(1, n_customers)
        score = rnd.choices(scores, weights)[0]
        category = "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"
        at = start + timedelta(seconds=offsets[i - 1])
        comment = None
        if category == "detractor":
            detractor_ids.append(i)
            if rnd.random() < 0.7:
                comment = rnd.choice(PHRASES)
        elif rnd.random() < 0.2:
            comment = "Works well for us"
        c = customers[cust - 1]
        responses.append([i, "bench", f"r{i}", score, category, comment, at, at, cust, c[3], c[4], None])
    rnd.shuffle(detractor_ids)
    followups = []
    active_customers: set[int] = set()
    for j, rid in enumerate(sorted(detractor_ids[:n_followups]), start=1):
        r = responses[rid - 1]
        r[11] = j
        opened = r[6] + timedelta(minutes=5)
        recent = END - opened < timedelta(days=14)
        roll = rnd.random()
        status = ("open" if roll < 0.4 else "claimed" if roll < 0.7 else "closed") if recent else \
            ("open" if roll < 0.03 else "claimed" if roll < 0.08 else "closed")
        if status != "closed":
            if r[8] in active_customers:
                status = "closed"  # one follow-up that is not closed per customer
            else:
                active_customers.add(r[8])
        claimed = closed = None
        if status != "open":
            claimed = opened + timedelta(hours=rnd.expovariate(1 / 10))
        if status == "closed":
            closed = claimed + timedelta(days=rnd.expovariate(1 / 3))
            if closed > END:
                closed = END - timedelta(minutes=1)
                claimed = min(claimed, closed)
        followups.append((j, r[8], rid, rid, status, "slack:U1" if claimed else None, "bench" if claimed else None,
                          "resolved" if closed else None, opened, claimed, closed, opened))
    return customers, responses, followups


RESPONSE_COLS = ("id, source, external_id, score, category, comment, submitted_at, received_at, customer_id, "
                 "segment, arr, followup_id")
FOLLOWUP_COLS = ("id, customer_id, response_id, latest_response_id, status, claimant_id, claimant_name, outcome, "
                 "opened_at, claimed_at, closed_at, updated_at")
CUSTOMER_COLS = "id, external_id, name, segment, arr, updated_at"


def _row(values, pg: bool):
    return tuple(_ts(v, pg) if isinstance(v, datetime) else v for v in values)


def load_sqlite(path: str, data) -> None:
    import sqlite3

    customers, responses, followups = data
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    now = _ts(END, False)
    with conn:
        conn.executemany(f"INSERT INTO customer ({CUSTOMER_COLS}) VALUES (?,?,?,?,?,?)",
                         [(*c, now) for c in customers])
        conn.executemany(f"INSERT INTO followup ({FOLLOWUP_COLS}) VALUES ({','.join('?' * 12)})",
                         (_row(f, False) for f in followups))
        conn.executemany(f"INSERT INTO response ({RESPONSE_COLS}) VALUES ({','.join('?' * 12)})",
                         (_row(r, False) for r in responses))
    conn.execute("ANALYZE")
    conn.close()


def load_postgres(url: str, data) -> None:
    import psycopg

    customers, responses, followups = data
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    now = _ts(END, True)
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY customer ({CUSTOMER_COLS}) FROM STDIN") as copy:
                for c in customers:
                    copy.write_row((*c, now))
            with cur.copy(f"COPY followup ({FOLLOWUP_COLS}) FROM STDIN") as copy:
                for f in followups:
                    copy.write_row(_row(f, True))
            with cur.copy(f"COPY response ({RESPONSE_COLS}) FROM STDIN") as copy:
                for r in responses:
                    copy.write_row(_row(r, True))
            for table in ("customer", "followup", "response"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def handwritten(engine, pg: bool) -> int:
    """The 12-week count by week and category, written by hand: the yardstick."""
    edges = week_edges(END, ZoneInfo("UTC"), TREND_WEEKS)
    if pg:
        bucket = "floor(extract(epoch from (:end - submitted_at)) / 604800)"
    else:
        bucket = "CAST((julianday(:end) - julianday(submitted_at)) / 7 AS INTEGER)"
    sql = text(f"SELECT {bucket} AS week, category, count(*) FROM response "
               "WHERE submitted_at >= :start AND submitted_at < :end GROUP BY 1, 2")
    params = {"start": edges[0], "end": edges[-1]}
    if not pg:
        params = {k: _ts(v, False) for k, v in params.items()}
    with engine.connect() as conn:
        if pg:
            conn.execute(text("SET LOCAL jit = off"))  # as the digest does: compiling costs more than it saves
        rows = conn.execute(sql, params).all()
    return sum(r[2] for r in rows)


def timed(fn, runs: int) -> tuple[float, object]:
    fn()  # warm caches and imports
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def bench(name: str, url: str, data, runs: int, load) -> dict:
    upgrade(url)
    t = time.perf_counter()
    load(data)
    load_s = time.perf_counter() - t
    engine = make_engine(url)
    rt = Runtime(engine=engine, settings=Settings(DATABASE_URL=url), clock=FixedClock(END))
    pg = engine.dialect.name == "postgresql"
    digest_s, view = timed(lambda: build_digest(rt, period_end=END, with_chart=False), runs)
    chart_s, _ = timed(lambda: build_digest(rt, period_end=END, with_chart=True), max(3, runs // 2))
    seg_s, _ = timed(lambda: build_digest(rt, period_end=END, segment="smb", with_chart=False), runs)
    hand_s, trend_rows = timed(lambda: handwritten(engine, pg), runs)
    expected = sum(p.summary.n for p in view.trend)
    assert trend_rows == expected, (trend_rows, expected)
    engine.dispose()
    return {"db": name, "load_s": load_s, "digest_s": digest_s, "digest_chart_s": chart_s,
            "segment_digest_s": seg_s, "handwritten_s": hand_s, "ratio": digest_s / hand_s,
            "week_n": view.current.n, "trend_n": expected, "overdue": view.loop.overdue_total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--followups", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()

    t = time.perf_counter()
    data = generate(args.responses, args.followups)
    print(f"generated {len(data[1]):,} responses, {len(data[2]):,} follow-ups, {len(data[0]):,} customers "
          f"in {time.perf_counter() - t:.1f}s", flush=True)
    results = []
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bench.db")
            url = f"sqlite:///{path}"
            results.append(bench("sqlite", url, data, args.runs, lambda d: load_sqlite(path, d)))
            print(results[-1], flush=True)
    if args.only in (None, "postgres"):
        admin_url = os.environ.get("NPSBOT_BENCH_PG", "postgresql+psycopg://127.0.0.1:5432/test")
        name = f"npsbot_bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.rsplit("/", 1)[0] + f"/{name}"
        try:
            results.append(bench("postgres", url, data, args.runs, lambda d: load_postgres(url, d)))
            print(results[-1], flush=True)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print()
    print(f"{'database':<10} {'digest':>9} {'+chart':>9} {'segment':>9} {'hand SQL':>9} {'ratio':>6}  "
          f"(medians of {args.runs} runs; {args.responses:,} responses, {args.followups:,} follow-ups)")
    for r in results:
        print(f"{r['db']:<10} {r['digest_s'] * 1000:>7.0f}ms {r['digest_chart_s'] * 1000:>7.0f}ms "
              f"{r['segment_digest_s'] * 1000:>7.0f}ms {r['handwritten_s'] * 1000:>7.0f}ms {r['ratio']:>5.2f}x")


if __name__ == "__main__":
    main()
