"""The live window: old detractor answers are history on every door — counted, never alerted."""

import csv
import hashlib
import hmac
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.actors import Actor, Place
from bot.config import Settings
from storage.db import read_scope
from storage.models import Event, FollowUp, Outbox, Response
from tests.conftest import NOW

AUTH = {"Authorization": "Bearer test-token"}
MARIA = Actor("shell", "maria", "maria")
CX = Place("shell", "#cx")
FIXTURES = Path(__file__).parent / "fixtures" / "connectors"


def count(rt, model, *where) -> int:
    with read_scope(rt.engine) as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def cli(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'nps.db'}", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=120)


def shell(tmp_path, *lines: str) -> str:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'nps.db'}", "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "shell", "--as", "maria"], input="\n".join(lines) + "\n",
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_csv_of_history_opens_only_the_recent_follow_ups_and_every_answer_counts(tmp_path):
    shell(tmp_path, "subscribe alerts")
    now = datetime.now(UTC)
    path = tmp_path / "export.csv"
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "score", "comment", "submitted_at", "customer_id"])
        for n in range(200):  # a year-old export's detractors, 10 to 80 days old
            at = now - timedelta(days=10 + n % 70, hours=n % 24)
            out.writerow([f"old-{n}", n % 7, f"old complaint {n}", at.isoformat(), f"cus_{n}"])
        for n in range(3):
            out.writerow([f"new-{n}", 2, f"fresh complaint {n}", (now - timedelta(hours=2)).isoformat(), f"cus_new{n}"])
    result = cli(tmp_path, "import", str(path))
    assert result.returncode == 0, result.stderr
    table = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in result.stdout.splitlines()
             if line.count("│") == 3}
    assert table == {"accepted": "203", "duplicates": "0", "rejected": "0", "follow-ups opened": "3",
                     "history (no follow-up)": "200"}
    out = shell(tmp_path, "score 90d", "unclaimed")
    assert out.count("new detractor in #cx") == 3
    assert "203 responses" in out and "0 promoters · 0 passives · 203 detractors" in out
    assert all(f"fresh complaint {n}" in out for n in range(3)) and "old complaint" not in out
    again = cli(tmp_path, "import", str(path))  # re-running stores, opens and counts nothing new
    assert "│ duplicates             │ 203" in again.stdout and "│ history (no follow-up) │ 0" in again.stdout


async def test_a_webhook_answer_ten_days_old_is_stored_and_alerted_nowhere(http, services, rt):
    services.dispatcher.handle_text("subscribe alerts", MARIA, CX)
    old = {"id": "r-old", "score": 1, "comment": "from the backlog", "customer": {"id": "cus_1"},
           "submitted_at": (NOW - timedelta(days=10)).isoformat()}
    resp = await http.post("/webhooks/responses", json=old, headers=AUTH)
    assert (resp.status, await resp.json()) == (202, {"accepted": 1, "duplicates": 0})
    assert count(rt, Response) == 1
    assert (count(rt, FollowUp), count(rt, Outbox)) == (0, 0)
    fresh = {**old, "id": "r-new", "submitted_at": (NOW - timedelta(hours=71)).isoformat()}
    await http.post("/webhooks/responses", json=fresh, headers=AUTH)
    assert (count(rt, FollowUp), count(rt, Outbox, Outbox.kind == "alert.post")) == (1, 1)


async def test_history_never_joins_an_open_follow_up_or_its_thread(http, services, rt):
    services.dispatcher.handle_text("subscribe alerts", MARIA, CX)
    live = {"id": "r1", "score": 2, "customer": {"id": "cus_1"}, "submitted_at": NOW.isoformat()}
    await http.post("/webhooks/responses", json=live, headers=AUTH)
    before = (count(rt, Event), count(rt, Outbox))
    backlog = [{"id": f"b{n}", "score": 3, "customer": {"id": "cus_1"},
                "submitted_at": (NOW - timedelta(days=30 + n)).isoformat()} for n in range(5)]
    resp = await http.post("/webhooks/responses", json=backlog, headers=AUTH)
    assert await resp.json() == {"accepted": 5, "duplicates": 0}
    assert (count(rt, Event), count(rt, Outbox)) == before
    assert count(rt, Response, Response.followup_id.is_(None)) == 5


async def test_a_survey_tool_replaying_its_backlog_opens_nothing(http, services, rt, monkeypatch):
    # Delighted's sample answer is from November 2024: on first connection it is backlog.
    monkeypatch.setenv("NPSBOT_DELIGHTED_SECRET", "dl-api-key")
    rt.settings = Settings(DATABASE_URL=rt.settings.database_url, NPSBOT_WEBHOOK_TOKEN="test-token")  # re-read
    services.dispatcher.handle_text("subscribe alerts", MARIA, CX)
    body = (FIXTURES / "delighted_survey_response_updated.json").read_bytes()
    sig = "sha256=" + hmac.new(b"dl-api-key", body, hashlib.sha256).hexdigest()
    resp = await http.post("/webhooks/delighted", data=body, headers={"X-Delighted-Webhook-Signature": sig})
    assert resp.status == 202
    assert (count(rt, Response), count(rt, FollowUp), count(rt, Outbox)) == (1, 0, 0)


def test_a_file_that_is_not_utf8_is_refused_by_name(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,score,comment\nr1,9,très bien\n".encode("latin-1"))
    result = cli(tmp_path, "import", str(path))
    assert result.returncode == 2
    assert "is not UTF-8 text; export the CSV as UTF-8" in result.stderr


def test_what_was_read_before_bytes_that_are_not_utf8_stays_stored(tmp_path):
    path = tmp_path / "broken.csv"
    good = "".join(f"r{n},9,fine,2026-01-05T10:00:00Z\n" for n in range(30_000))
    path.write_bytes(b"id,score,comment,submitted_at\n" + good.encode() + "r-x,9,très bien\n".encode("latin-1"))
    result = cli(tmp_path, "import", str(path))
    assert result.returncode == 2 and "is not UTF-8 text" in result.stderr
    # Stored in transactions of 20,000 rows: the one open when reading failed is committed too.
    with sqlite3.connect(tmp_path / "nps.db") as db:
        assert db.execute("select count(*) from response").fetchone()[0] > 20_000
