"""Storing a batch in one transaction: customers (upserts), responses (new ones only), history
marked, and follow-ups for new live detractors (bot.ingest.followups: plan, then write)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from bot import livewindow, outbox, theme_service
from bot.ingest.bulk import Raced, bulk_insert
from bot.ingest.followups import open_followups
from bot.ingest.schema import ResponseIn
from bot.nps import classify
from bot.runtime import Runtime
from storage.db import session_scope
from storage.models import Category, Customer, Response

Key = tuple[str, str]  # (source, external id): a response's identity



@dataclass
class Stored:
    """What one transaction stored: the new responses' keys, and follow-ups by response key."""

    inserted: set[Key] = field(default_factory=set)
    opened: dict[Key, int] = field(default_factory=dict)
    joined: dict[Key, int] = field(default_factory=dict)
    history: set[Key] = field(default_factory=set)



@cache
def _statements(dialect: str) -> SimpleNamespace:
    """The ingest statements, built once per dialect: building them costs more than running them."""
    dialect_insert: Any  # PostgreSQL's or SQLite's INSERT … ON CONFLICT
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    customers, responses = Customer.__table__, Response.__table__
    upsert = dialect_insert(customers)
    ex, t = upsert.excluded, customers.c
    # A response that leaves a field out keeps what we knew of the customer.
    upsert = upsert.on_conflict_do_update(
        index_elements=["external_id"],
        set_={
            "name": func.coalesce(ex.name, t.name), "email": func.coalesce(ex.email, t.email),
            "segment": func.coalesce(ex.segment, t.segment), "arr": func.coalesce(ex.arr, t.arr),
            "owner": func.coalesce(ex.owner, t.owner), "updated_at": ex.updated_at,
        },
    )
    return SimpleNamespace(
        existing=select(responses.c.external_id).where(
            responses.c.source == bindparam("source"),
            responses.c.external_id.in_(bindparam("ids", expanding=True))),
        upsert_customers=upsert,
        find_customers=select(t.id, t.external_id, t.name, t.email, t.segment, t.arr, t.owner).where(
            t.external_id.in_(bindparam("ids", expanding=True))),
        insert_responses=dialect_insert(responses).on_conflict_do_nothing(
            index_elements=["source", "external_id"]
        ).returning(responses.c.id, responses.c.source, responses.c.external_id),
    )


CUSTOMER_FIELDS = ("name", "email", "segment", "arr", "owner")


def _padded(ids: list[str], step: int = 512) -> list[str]:
    """An IN list padded (with a repeat) to a multiple of `step` items.

    Every length is its own SQL text, and drivers keep prepared statements per text (sqlite3
    keeps 128; one with thousands of parameters holds about half a megabyte): a few lengths
    instead of thousands keep a long import's memory flat.
    """
    if not ids or len(ids) % step == 0:
        return ids
    return ids + [ids[0]] * (step - len(ids) % step)


# Customers a bulk import remembers between chunks (about 300 bytes each); past this the memory is
# simply cleared, so it stays small (under 10 MB) whatever the file.
CUSTOMER_CACHE_SIZE = 25_000


def _fingerprint(values: dict) -> int:
    """What an answer said about its customer, in a few bytes (equal numbers hash alike: 1 == 1.0)."""
    return hash(tuple(sorted(values.items())))


def _upsert_customers(conn: Connection, sql: SimpleNamespace, items: list[ResponseIn],
                      now: datetime, cache: dict | None = None, learned: dict | None = None) -> dict[str, tuple]:
    """Create unknown customers and update changed ones; return external id -> (id, segment, arr).

    Most answers come from customers we already know, unchanged: one SELECT is then all it costs,
    and nothing when `cache` (a bulk import's memory of customers it stored) already has them.
    """
    latest: dict[str, dict] = {}
    for item in items:
        c = item.customer
        if c is None or c.id is None:
            continue
        merged = latest.get(c.id)
        if merged is None:
            merged = latest[c.id] = {}
        for key, value in c.__dict__.items():
            if value is not None and key != "id":
                merged[key] = value
    if not latest:
        return {}
    out: dict[str, tuple] = {}
    if cache:
        for ext in list(latest):
            hit = cache.get(ext)
            # The same as an earlier chunk said, which is stored: nothing to read or write.
            if hit is not None and hit[3] == _fingerprint(latest[ext]):
                out[ext] = hit[:3]
                del latest[ext]
        if not latest:
            return out
    known = {row.external_id: row for row in conn.execute(sql.find_customers, {"ids": _padded(list(latest))})}
    new_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for ext, values in latest.items():
        row = known.get(ext)
        if row is None:
            new_rows.append({"external_id": ext, **{k: values.get(k) for k in CUSTOMER_FIELDS}, "updated_at": now})
        elif any(getattr(row, k) != v for k, v in values.items()):
            changed.append({"external_id": ext, **{k: values.get(k) for k in CUSTOMER_FIELDS}, "updated_at": now})
    if new_rows or changed:
        # The upsert keeps stored values for fields an answer leaves out, and absorbs a
        # concurrent request creating the same customer. Sorted, so concurrent transactions
        # lock customers in one order and cannot deadlock each other.
        conn.execute(sql.upsert_customers, sorted(new_rows + changed, key=lambda r: r["external_id"]))
        known.update({row.external_id: row for row in conn.execute(
            sql.find_customers, {"ids": _padded([r["external_id"] for r in new_rows + changed])})})
    for ext, row in known.items():
        out[ext] = (row.id, row.segment, row.arr)
        if learned is not None and ext in latest:
            learned[ext] = (*out[ext], _fingerprint(latest[ext]))
    return out


_CATEGORY = [classify(score).value for score in range(11)]


def store(session: Connection, rt: Runtime, batch: list[ResponseIn], customer_cache: dict | None = None,
            learned: dict | None = None) -> Stored:
    """Insert responses unique on (source, id) that are new; open or join follow-ups."""
    now = rt.clock.now()
    stored = Stored()
    sql = _statements(session.dialect.name)
    customers = _upsert_customers(session, sql, batch, now, customer_cache, learned)

    rows = []
    for item in batch:
        own = item.customer
        cust = customers.get(own.id) if own and own.id else None
        rows.append({
            "source": item.source, "external_id": item.id, "score": item.score,
            "category": _CATEGORY[item.score], "comment": item.comment or None,
            "submitted_at": item.submitted_at or now, "received_at": now,
            "customer_id": cust[0] if cust else None,
            "segment": own.segment if own and own.segment else (cust[1] if cust else None),
            "arr": own.arr if own and own.arr is not None else (cust[2] if cust else None),
            "tags": item.tags or None,
        })
    rows = _new_only(session, sql, rows)
    theme_service.assign_rows(session, rt.settings, rows)  # history too: themes count every answer
    # History (older than the live window on arrival) is stored and counted, nothing more.
    history_before = livewindow.cutoff(now, rt.settings.live_window_hours)
    live, plain = [], []
    for r in rows:
        key = (r["source"], r["external_id"])
        stored.inserted.add(key)
        if r["category"] != Category.DETRACTOR.value:
            plain.append(r)
        elif livewindow.is_history(r["submitted_at"], history_before):
            stored.history.add(key)
            plain.append(r)
        else:
            live.append(r)
    # Inserted in key order (one lock order, as for customers); follow-ups below still open
    # in the order the answers came.
    if plain:
        bulk_insert(session, sorted(plain, key=lambda r: (r["source"], r["external_id"])))
    detractors = []
    if live:
        # Only new live detractors need their ids back (few: the rest takes the fast path).
        ordered = sorted(live, key=lambda r: (r["source"], r["external_id"]))
        ids = {(s, e): rid for rid, s, e in session.execute(sql.insert_responses, ordered).all()}
        if len(ids) != len(live):
            raise Raced
        detractors = [(ids[(r["source"], r["external_id"])], r) for r in live]
    if detractors:
        open_followups(session, detractors, now, stored, settings=rt.settings)
    return stored


def _new_only(session: Connection, sql: SimpleNamespace, rows: list[dict]) -> list[dict]:
    """The rows whose (source, id) is not stored yet: one indexed look-up per source."""
    by_source: dict[str, list[str]] = {}
    for r in rows:
        by_source.setdefault(r["source"], []).append(r["external_id"])
    existing: set[Key] = set()
    for source, ids in by_source.items():
        existing.update((source, e) for e in session.execute(
            sql.existing, {"source": source, "ids": _padded(ids)}).scalars())
    return [r for r in rows if (r["source"], r["external_id"]) not in existing] if existing else rows




def add_late_comment(rt: Runtime, source: str, external_id: str, comment: str) -> bool:
    """Give a stored response the comment that arrived after it (some tools send it separately).

    Refreshes the follow-up's alert, with a thread line, when the response has one.
    """
    with session_scope(rt.engine) as session:
        row = session.execute(
            select(Response.id, Response.comment, Response.followup_id)
            .where(Response.source == source, Response.external_id == external_id)
        ).first()
        if row is None or (row.comment or "") == (comment or ""):
            return False
        session.execute(update(Response).where(Response.id == row.id).values(comment=comment))
        theme_service.assign_late_comment(session, rt.settings, row.id)
        if row.followup_id is not None:
            text = comment if len(comment) <= 200 else comment[:199] + "…"
            outbox.refresh_alert(session, row.followup_id, now=rt.clock.now(),
                                 thread_text=f"Comment added: “{text}”")
    rt.wake()
    return True

