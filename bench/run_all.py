"""Every benchmark in one command (not a test), ending with one Markdown table.

Runs bench/ingest.py (SQLite and PostgreSQL), bench/slack_ack.py, bench/digest.py and
bench/themes.py (when ../shared/data/themes is there) one after the other, shows their output as it
comes, then prints the headline figures with the baseline each was measured against in the same run.
Every figure is a median of repeated runs.

    python bench/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(script: str, *args: str) -> str:
    print(f"\n$ python bench/{script} {' '.join(args)}", flush=True)
    proc = subprocess.Popen([sys.executable, str(HERE / script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=HERE.parent)
    lines = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    if proc.wait() != 0:
        raise SystemExit(f"bench/{script} failed")
    return "".join(lines)


def num(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    return match.group(1) if match else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and rows (a smoke run)")
    args = parser.parse_args()
    quick = args.quick
    ingest = run("ingest.py", "--db", "both", *(["--rounds", "2", "--singles", "500", "--batches", "3"]
                                                 if quick else ["--rounds", "5"]))
    slack = run("slack_ack.py", *(["--requests", "300", "--rounds", "2", "--alerts", "30"] if quick else []))
    digest = run("digest.py", *(["--responses", "100000", "--followups", "10000", "--runs", "3"] if quick else []))
    themes = run("themes.py") if (HERE.parent.parent / "shared" / "data" / "themes").is_dir() else ""

    rows = []
    for kind in ("sqlite", "postgres"):
        p50 = num(rf"\[{kind}\] single POST.*?p50\s+([\d.]+) ms", ingest)
        p99 = num(rf"\[{kind}\] single POST.*?p99\s+([\d.]+) ms", ingest)
        rate = num(rf"\[{kind}\] 1,000-item batches\s*:\s*(\d+)", ingest)
        raw = num(rf"\[{kind}\] raw \w+ executemany\s*:\s*(\d+)", ingest)
        ratio = num(rf"\[{kind}\] batch / raw\s*:\s*([\d.]+) %", ingest)
        rss = num(rf"\[{kind}\] server peak RSS\s*:\s*(\d+)", ingest)
        rows.append((f"webhook, single POST at concurrency 16 ({kind})", f"p50 {p50} ms, p99 {p99} ms",
                     "—", "p99 < 20 ms"))
        rows.append((f"webhook, 1,000-item batches ({kind})", f"{rate} responses/s",
                     f"raw executemany {raw} rows/s → {ratio} %", "≥ 25 % of raw"))
        rows.append((f"server peak RSS during ingest ({kind})", f"{rss} MB", "—", "—"))
    for name, label in (("/nps open", r"/nps open \(ack\)"), ("Claim click", r"Claim click \(ack\)")):
        ours = re.search(label + r"\s+p50\s+([\d.]+) ms\s+p99\s+([\d.]+) ms\s+\| bare bolt p50\s+([\d.]+) ms"
                         r"\s+p99\s+([\d.]+) ms", slack)
        medians = re.findall(label + r"[^\n]*\n[^\n]*\(median ([\d.]+)\)\n[^\n]*\(median ([\d.]+)\)", slack)
        if ours:
            ratio = f"ratio p50 {medians[0][0]}, p99 {medians[0][1]}" if medians else ""
            rows.append((f"Slack ack, {name}, concurrency 20", f"p50 {ours[1]} ms, p99 {ours[2]} ms",
                         f"bare bolt p50 {ours[3]} ms, p99 {ours[4]} ms; {ratio}", "ratio ≤ 1.5, p99 < 100 ms"))
    post = re.search(r"webhook -> chat.postMessage \(n=(\d+)\)\s+p50\s+([\d.]+) ms\s+p99\s+([\d.]+) ms", slack)
    if post:
        rows.append((f"detractor webhook → chat.postMessage (n={post[1]})", f"p50 {post[2]} ms, p99 {post[3]} ms",
                     "—", "p99 < 1 s"))
    responses = num(r"([\d,]+) responses", digest)
    for line in digest.splitlines():
        match = re.match(r"(sqlite|postgres)\s+(\d+)ms\s+(\d+)ms\s+(\d+)ms\s+(\d+)ms\s+([\d.]+)x", line)
        if match:
            rows.append((f"digest build, {responses} responses ({match[1]})",
                         f"{match[2]} ms ({match[3]} ms with chart)",
                         f"hand-written SQL {match[5]} ms → {match[6]}×", "< 1 s, ≤ 3×"))

    mean = re.search(r"\| mean \| \| ([\d.]+%) \| ([\d.]+) \| ([\d.]+%) \| ([\d.]+) \|", themes)
    if mean:
        rows.append(("theme accuracy / macro-F1, dev sets (mean)", f"{mean[3]} / {mean[4]}",
                     f"keyword matcher {mean[1]} / {mean[2]}", "≥ 75 % and +20 points / ≥ 0.70"))
        per = re.findall(r"\| dev_\w+ \|[^\n]*\| ([\d.]+) \|\n", themes)
        rows.append(("theme assignment, one comment (median)", f"{max(per, default='?')} ms", "—", "≤ 5 ms"))
    print(f"\n## Benchmarks ({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
          f"{', quick run' if quick else ''})\n")
    print("| what | npsbot | baseline in the same run | aim |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
