"""Import benchmark (not a test): `npsbot import` of a generated generic CSV, and storm control.

Writes a year of history (N rows, N/20 customers, a typical NPS mix, comments on a third of the
rows, the last few days live), then, per round, on a fresh database:
  * the baseline: `sqlite3 DB ".import --csv FILE responses"` of the same file (a bare load with no
    validation, no indexes, no follow-ups), or Python's sqlite3 executemany of the raw rows when the
    sqlite3 command-line shell is missing (the output says which);
  * `npsbot import FILE` as a subprocess on SQLite (and PostgreSQL with --db postgres|both): wall
    time and the process's peak RSS (wait4's ru_maxrss);
and the storm figure: 200 live detractors in 10 s for one Slack channel, top-level messages posted
in the first minute, with storm control and without it (the baseline: NPSBOT_ALERT_BURST very high).
Figures are medians of --rounds rounds.

    python bench/import.py [--rows 1000000] [--rounds 3] [--db sqlite|postgres|both] [--no-storm]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("NPSBOT_BENCH_PG", "postgresql://127.0.0.1:5432/test")
HEADER = ["id", "score", "comment", "submitted_at", "customer_id", "customer_name", "customer_email",
          "segment", "arr", "owner", "channel"]
COMMENTS = ("Support never answered my ticket", "Too expensive for what we use",
            "Great onboarding, the team was quick", "The new reports are confusing",
            "Works well, could be faster", "Billing errors two months in a row, please fix")
SCORES = (10, 9, 10, 9, 9, 8, 7, 8, 3, 6)


def write_csv(path: Path, rows: int, *, now: datetime, seed: int = 7) -> None:
    """A year of answers, oldest first; the last 0.1% arrive inside the live window."""
    rng = random.Random(seed)
    customers = max(rows // 20, 1)
    year = timedelta(days=365).total_seconds()
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for n in range(rows):
            live = n >= rows - max(rows // 1000, 1)
            age = rng.uniform(0, 48 * 3600) if live else year * (1 - n / rows) + 4 * 86400
            c = rng.randrange(customers)
            out.writerow([
                f"r{n}", SCORES[rng.randrange(10)], rng.choice(COMMENTS) if n % 3 == 0 else "",
                (now - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ"), f"cus_{c}", f"Customer {c}",
                f"buyer{c}@example.com", ("smb", "mid-market", "enterprise")[c % 3], 12000 + (c % 50) * 1000,
                "alice@example.com", ("email", "in-app", "web")[n % 3],
            ])


def run_import(path: Path, url: str) -> tuple[float, float, str]:
    """`npsbot import` as a child process: (seconds, peak RSS in MB, its table)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "NPSBOT_"))}
    env["DATABASE_URL"] = url
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "import", str(path)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"npsbot import failed:\n{out}")
    return elapsed, usage.ru_maxrss / 1024, out


def bare_load(path: Path, directory: Path) -> tuple[float, str]:
    """The baseline: a bare load of the same file into SQLite."""
    db = directory / f"bare-{uuid.uuid4().hex[:6]}.db"
    if shutil.which("sqlite3"):
        started = time.perf_counter()
        subprocess.run(["sqlite3", str(db), f".import --csv {path} responses"], check=True)
        return time.perf_counter() - started, "sqlite3 .import"
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        columns = next(reader)
        conn.execute(f"CREATE TABLE responses ({', '.join(columns)})")
        conn.executemany(f"INSERT INTO responses VALUES ({', '.join('?' * len(columns))})", reader)
    conn.commit()
    conn.close()
    return time.perf_counter() - started, "python sqlite3 executemany"


def pg_database() -> str:
    import psycopg

    name = f"npsbot_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def pg_drop(url: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def storm(burst: int, count: int = 200) -> str:
    """Top-level messages in the first minute (and in all) after `count` live detractors in 10 s."""
    env = {**os.environ, "NPSBOT_ALERT_BURST": str(burst)}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "storm_sim.py"), str(count)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    numbers = [int(w.strip(",")) for w in proc.stdout.split() if w.strip(",").isdigit()]
    return f"{numbers[1]} ({numbers[0]} in all)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--no-storm", action="store_true")
    args = parser.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="npsbot-import-bench-") as tmp:
        directory = Path(tmp)
        path = directory / f"responses-{args.rows}.csv"
        started = time.perf_counter()
        write_csv(path, args.rows, now=now)
        print(f"wrote {path.name}: {args.rows:,} rows, {path.stat().st_size / 1e6:,.0f} MB "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
        figures: dict[str, list[float]] = {}
        baseline_kind = ""
        for r in range(args.rounds):
            bare, baseline_kind = bare_load(path, directory)
            figures.setdefault("bare", []).append(bare)
            if args.db in ("sqlite", "both"):
                seconds, rss, out = run_import(path, f"sqlite:///{directory / f'npsbot-{r}.db'}")
                figures.setdefault("sqlite_s", []).append(seconds)
                figures.setdefault("sqlite_rss", []).append(rss)
                print(f"round {r + 1}: {baseline_kind} {bare:.1f} s · npsbot import (SQLite) {seconds:.1f} s, "
                      f"peak RSS {rss:.0f} MB", flush=True)
                if r == 0:
                    print(out, flush=True)
            if args.db in ("postgres", "both"):
                url = pg_database()
                try:
                    seconds, rss, _ = run_import(path, url)
                finally:
                    pg_drop(url)
                figures.setdefault("pg_s", []).append(seconds)
                figures.setdefault("pg_rss", []).append(rss)
                print(f"round {r + 1}: npsbot import (PostgreSQL) {seconds:.1f} s, peak RSS {rss:.0f} MB", flush=True)
        med = {k: statistics.median(v) for k, v in figures.items()}
        rows = args.rows
        print(f"\n## import of {rows:,} generic CSV rows (medians of {args.rounds}; baseline: {baseline_kind})\n")
        print("| figure | npsbot | baseline (same run) | ratio |")
        print("|---|---|---|---|")
        if "sqlite_s" in med:
            rate = rows / med["sqlite_s"]
            print(f"| `npsbot import`, SQLite, wall time | {med['sqlite_s']:.1f} s ({rate:,.0f} rows/s) "
                  f"| {baseline_kind}: {med['bare']:.1f} s | {100 * med['bare'] / med['sqlite_s']:.1f} % |")
            print(f"| peak RSS, SQLite | {med['sqlite_rss']:.0f} MB | — | — |")
        if "pg_s" in med:
            rate = rows / med["pg_s"]
            print(f"| `npsbot import`, PostgreSQL, wall time | {med['pg_s']:.1f} s ({rate:,.0f} rows/s) "
                  f"| {baseline_kind}: {med['bare']:.1f} s | {100 * med['bare'] / med['pg_s']:.1f} % |")
            print(f"| peak RSS, PostgreSQL | {med['pg_rss']:.0f} MB | — | — |")
        if not args.no_storm:
            print(f"| 200 detractors in 10 s, one channel: top-level messages in the first minute | {storm(10)} "
                  f"with NPSBOT_ALERT_BURST=10 | {storm(1_000_000)} without the storm rule (Slack pacing) | — |")


if __name__ == "__main__":
    main()
