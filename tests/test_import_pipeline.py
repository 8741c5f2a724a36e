"""The two-process import (bot/importpipe.py) stores, refuses and counts exactly like the one-process one."""

import io
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select

from bot.csvimport import import_records, read_records
from storage.db import read_scope
from storage.models import Customer, FollowUp, Response
from tests.conftest import NOW


def export(rows: int, now: datetime = NOW) -> str:
    out = io.StringIO()
    out.write("id,score,comment,submitted_at,customer_id,segment,arr,region\n")
    for n in range(rows):
        age = timedelta(hours=1) if n % 1000 == 0 else timedelta(days=5 + n % 200)
        score = "eleven" if n % 997 == 5 else n % 11
        customer = f"live_{n}" if n % 1000 == 0 else f"cus_{n % 300}"
        out.write(f"r{n},{score},\"said, \"\"{n}\"\"\",{(now - age).isoformat()},{customer},smb,\"$1,200\",EMEA\n")
    return out.getvalue()


def test_the_reader_process_hands_over_every_row_and_every_refusal(rt):
    text = export(12_000)
    _, records = read_records(io.StringIO(text))
    seen: list[tuple[int, int | None]] = []
    summary = import_records(rt, records, parallel=True, progress=lambda n, position=None: seen.append((n, position)),
                             position=lambda: 42)
    bad = [n for n in range(12_000) if n % 997 == 5]
    assert [r.line for r in summary.rejected] == [n + 2 for n in bad]
    assert summary.rejected[0].reason == "score must be a whole number from 0 to 10"
    assert summary.accepted == 12_000 - len(bad)
    detractors = [n for n in range(12_000) if n not in bad and n % 11 <= 6]
    live = [n for n in detractors if n % 1000 == 0]
    assert summary.history == len(detractors) - len(live)
    assert summary.followups_opened == len(live)
    assert sum(n for n, _ in seen) == 12_000 and {p for _, p in seen} == {42}
    with read_scope(rt.engine) as s:
        assert s.execute(select(func.count()).select_from(Response)).scalar_one() == summary.accepted
        assert s.execute(select(func.count()).select_from(FollowUp)).scalar_one() == len(live)
        row = s.execute(select(Response).where(Response.external_id == "r7")).scalar_one()
    assert (row.comment, row.arr, row.tags) == ('said, "7"', 1200.0, {"region": "EMEA"})
    _, records = read_records(io.StringIO(text))
    again = import_records(rt, records)  # the one-process import: everything is a duplicate
    assert (again.accepted, again.duplicates, len(again.rejected)) == (0, summary.accepted, len(bad))


def test_rerunning_an_interrupted_import_stores_the_rest_and_counts_the_stored_as_duplicates(rt, monkeypatch):
    import bot.csvimport

    # Small chunks and transactions: the stored part ends in the middle of a piece, and pieces of
    # the re-run mix stored and new answers (the first is tried without look-ups, then again with).
    monkeypatch.setattr(bot.csvimport, "CHUNK", 700)
    monkeypatch.setattr(bot.csvimport, "TRANSACTION_ROWS", 1500)
    text = export(6_000)
    lines = text.splitlines(keepends=True)
    first = "".join(lines[:2_501])  # the header and the first 2,500 rows
    bad = [n for n in range(6_000) if n % 997 == 5]
    for parallel in (False, True):
        _, records = read_records(io.StringIO(first))
        partial = import_records(rt, records, parallel=parallel)
        _, records = read_records(io.StringIO(text))
        rest = import_records(rt, records, parallel=parallel)
        stored_first = 2_500 - len([n for n in bad if n < 2_500])
        if not parallel:
            assert (partial.accepted, partial.duplicates) == (stored_first, 0)
            assert (rest.accepted, rest.duplicates) == (6_000 - len(bad) - stored_first, stored_first)
        else:  # the same files again: everything is stored already
            assert (partial.accepted, rest.accepted, rest.duplicates) == (0, 0, 6_000 - len(bad))
    with read_scope(rt.engine) as s:
        assert s.execute(select(func.count()).select_from(Response)).scalar_one() == 6_000 - len(bad)
        live = [n for n in range(0, 6_000, 1000) if n % 11 <= 6]
        assert s.execute(select(func.count()).select_from(FollowUp)).scalar_one() == len(live)


def test_an_answer_repeated_further_down_the_file_is_stored_once(rt, monkeypatch):
    import bot.csvimport

    monkeypatch.setattr(bot.csvimport, "CHUNK", 100)
    monkeypatch.setattr(bot.csvimport, "TRANSACTION_ROWS", 250)
    text = export(1_000)
    repeated = "".join(text.splitlines(keepends=True)[1:51])  # r0..r49 again, after row 999
    _, records = read_records(io.StringIO(text + repeated))
    summary = import_records(rt, records, parallel=True)
    bad = [n for n in range(1_000) if n % 997 == 5]
    assert (summary.accepted, summary.duplicates) == (1_000 - len(bad), 50 - len([n for n in bad if n < 50]))
    with read_scope(rt.engine) as s:
        assert s.execute(select(func.count()).select_from(Response)).scalar_one() == 1_000 - len(bad)


CUSTOMER_INDEX = "ix_response_customer_submitted"


def response_indexes(rt) -> set[str]:
    with rt.engine.execution_options(sqlite_deferred=True).connect() as conn:  # beside the import's writer
        return {ix["name"] for ix in inspect(conn).get_indexes("response")}


def index_noter(rt, seen: list[bool]):
    return lambda n, position=None: seen.append(CUSTOMER_INDEX in response_indexes(rt))


def import_records_noting(rt, text: str, seen: list[bool]):
    """Import `text` as `npsbot import` does a file (its size known, what was read told), noting
    at every chunk whether the customer index exists."""
    stream = io.StringIO(text)
    _, records = read_records(stream)
    return import_records(rt, records, progress=index_noter(rt, seen), position=stream.tell, size=len(text))


def test_a_large_import_into_a_smaller_table_builds_the_customer_index_once_at_its_end(rt, monkeypatch):
    import bot.csvimport

    monkeypatch.setattr(bot.csvimport, "CHUNK", 500)
    monkeypatch.setattr(bot.csvimport, "DEFER_INDEXES_MIN_ROWS", 3_000)
    first: list[bool] = []
    summary = import_records_noting(rt, export(6_000), first)
    assert summary.accepted == 6_000 - len([n for n in range(6_000) if n % 997 == 5])
    sqlite = rt.engine.dialect.name == "sqlite"
    # SQLite updates that index at random places row by row; PostgreSQL keeps its indexes.
    assert first and set(first) == ({False} if sqlite else {True})
    assert CUSTOMER_INDEX in response_indexes(rt)
    # 4,000 more rows into a table of 6,000: cheaper to keep the index current.
    more = "".join(f"m{n},9,,2026-01-05T10:00:00Z,cus_{n % 50},smb,100,EMEA\n" for n in range(4_000))
    second: list[bool] = []
    import_records_noting(rt, "id,score,comment,submitted_at,customer_id,segment,arr,region\n" + more, second)
    assert second and set(second) == {True}
    with read_scope(rt.engine) as s:  # the rebuilt index answers queries by customer
        by_customer = s.execute(select(func.count()).select_from(Response).where(
            Response.customer_id.is_not(None))).scalar_one()
    assert by_customer == summary.accepted + 4_000


def test_an_import_whose_reading_fails_still_builds_the_index_it_dropped(rt, monkeypatch):
    import bot.csvimport

    monkeypatch.setattr(bot.csvimport, "CHUNK", 500)
    monkeypatch.setattr(bot.csvimport, "DEFER_INDEXES_MIN_ROWS", 1_000)
    data = export(3_000).encode() + "r-x,9,très bien\n".encode("latin-1")
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="")
    _, records = read_records(stream)
    seen: list[bool] = []
    with pytest.raises(UnicodeDecodeError):
        import_records(rt, records, progress=index_noter(rt, seen), position=lambda: stream.buffer.tell(),
                       size=len(data))
    assert seen and (False in seen) == (rt.engine.dialect.name == "sqlite")
    assert CUSTOMER_INDEX in response_indexes(rt)


def test_the_next_process_builds_an_index_a_killed_import_left_dropped(tmp_path):
    small = tmp_path / "small.csv"
    small.write_text("id,score,customer_id\nr1,9,cus_1\n")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'nps.db'}"}
    run = [sys.executable, "-m", "bot.cli", "import", str(small)]
    assert subprocess.run(run, env=env, capture_output=True, timeout=120).returncode == 0
    with sqlite3.connect(tmp_path / "nps.db") as db:  # what an import killed mid-way leaves
        db.execute(f"DROP INDEX {CUSTOMER_INDEX}")
    assert subprocess.run(run, env=env, capture_output=True, timeout=120).returncode == 0
    with sqlite3.connect(tmp_path / "nps.db") as db:
        names = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert CUSTOMER_INDEX in names


def customer_rows(segments: list[str | None]) -> str:
    """One answer a row from customer cus_1, saying the segment given (None: the cell left blank)."""
    lines = ["id,score,submitted_at,customer_id,customer_name,segment,arr"]
    for n, segment in enumerate(segments):
        lines.append(f"r{n},9,{(NOW - timedelta(days=30)).isoformat()},cus_1,Acme,{segment or ''},1200")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("cache", ["kept", "cleared every piece"])
def test_a_customer_said_again_is_stored_once_and_a_change_further_down_the_file_is_kept(rt, monkeypatch, cache):
    import bot.csvimport
    import bot.ingest.stream

    # The reader names a customer it described before without its values; the writer then finds
    # it in its memory or, once that is cleared, in the database.
    monkeypatch.setattr(bot.csvimport, "CHUNK", 100)
    monkeypatch.setattr(bot.csvimport, "TRANSACTION_ROWS", 250)
    if cache != "kept":
        monkeypatch.setattr(bot.ingest.stream, "CUSTOMER_CACHE_SIZE", 0)
    segments = ["smb"] * 300 + ["enterprise"] * 300 + [None] * 300
    _, records = read_records(io.StringIO(customer_rows(segments)))
    summary = import_records(rt, records, parallel=True)
    assert summary.accepted == 900
    with read_scope(rt.engine) as s:
        customers = s.execute(select(Customer)).scalars().all()
        by_segment = dict(s.execute(select(Response.segment, func.count()).group_by(Response.segment)).all())
    assert [(c.external_id, c.name, c.segment, c.arr) for c in customers] == [("cus_1", "Acme", "enterprise", 1200.0)]
    # Each answer keeps the segment it was given; a blank one takes the customer's.
    assert by_segment == {"smb": 300, "enterprise": 600}


def test_an_import_leaves_no_reference_to_a_missing_customer_or_follow_up(tmp_path):
    # `npsbot import` does not have SQLite look up each row's parents (storage.db.for_bulk_load):
    # what it stores must hold without that check.
    data = tmp_path / "export.csv"
    data.write_text(export(6_000, now=datetime.now(UTC)))  # the command runs on the real clock
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'nps.db'}"}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "import", str(data)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert "follow-ups opened" in done.stdout
    with sqlite3.connect(tmp_path / "nps.db") as db:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        counts = db.execute("SELECT count(*), count(customer_id), count(followup_id) FROM response").fetchone()
        opened = db.execute("SELECT count(*) FROM followup").fetchone()[0]
    assert counts[0] == counts[1] > 5_000 and counts[2] == opened > 0
