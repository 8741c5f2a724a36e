"""`npsbot import` streams: its peak memory does not grow with the file (200,000 rows vs 20,000)."""

import csv
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path


def write_export(path: Path, rows: int) -> None:
    now = datetime.now(UTC)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "score", "comment", "submitted_at", "customer_id", "segment", "arr"])
        for n in range(rows):
            at = (now - timedelta(days=5 + n % 300, minutes=n % 1440)).strftime("%Y-%m-%dT%H:%M:%SZ")
            out.writerow([f"r{n}", n % 11, "Support never answered" if n % 3 == 0 else "", at, f"cus_{n % 5000}",
                          "smb", 12000])


def import_peak_rss_mb(tmp_path: Path, path: Path) -> float:
    """Run `npsbot import` as a child process; its own peak RSS from wait4, in MB."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / (path.stem + '.db')}"}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "import", str(path)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    assert "history (no follow-up)" in out
    return usage.ru_maxrss / 1024


def test_peak_memory_is_flat_in_the_size_of_the_file(tmp_path):
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    write_export(small, 20_000)
    write_export(large, 200_000)
    small_mb = import_peak_rss_mb(tmp_path, small)
    large_mb = import_peak_rss_mb(tmp_path, large)
    # Ten times the rows: the same memory, give or take allocator noise (a whole-file reader
    # would need hundreds of MB more).
    assert large_mb < small_mb * 1.15 + 10, (small_mb, large_mb)
