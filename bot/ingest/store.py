"""Storing a batch in one transaction: customers (upserts), responses (new ones only), history
marked, and follow-ups for new live detractors (bot.ingest.followups: plan, then write).

Two halves: `prepare` turns validated answers into response rows without touching the database
(an import runs it in its reader process), `store` writes them."""

from __future__ import annotations

import operator
import sys
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, select, update

from bot import livewindow, outbox, theme_service
from bot.ingest.bulk import Raced, bulk_insert, columns
from bot.ingest.followups import open_followups
from bot.ingest.schema import CUSTOMER_FIELDS, CsvRowIn, ResponseIn
from bot.nps import classify
from bot.runtime import Runtime
from storage.db import session_scope
from storage.models import Category, Customer, Response

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.theme_assign import Assigner

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
    if dialect == "postgresql":
        from sqlalchemy import String, any_
        from sqlalchemy.dialects.postgresql import ARRAY

        # One array parameter: PostgreSQL probes the unique index once per element. A long IN
        # list of parameters gets a generic plan that scans the table, comparing each row with
        # every element (seconds per chunk once an import has stored a few hundred thousand).
        def among(column, name: str = "ids"):
            return column == any_(bindparam(name, type_=ARRAY(String)))
    else:
        def among(column, name: str = "ids"):
            return column.in_(bindparam(name, expanding=True))
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
        # The look-ups' id list as the statement takes it: one array is one statement text whatever
        # its length, so only SQLite's IN lists are padded.
        ids=list if dialect == "postgresql" else _padded,
        existing=select(responses.c.external_id).where(
            responses.c.source == bindparam("source"),
            among(responses.c.external_id)),
        upsert_customers=upsert,
        find_customers=select(t.id, t.external_id, t.name, t.email, t.segment, t.arr, t.owner).where(
            among(t.external_id)),
        insert_responses=dialect_insert(responses).on_conflict_do_nothing(
            index_elements=["source", "external_id"]
        ).returning(responses.c.id, responses.c.source, responses.c.external_id),
    )


_SEGMENT, _ARR = CUSTOMER_FIELDS.index("segment"), CUSTOMER_FIELDS.index("arr")


def _padded(ids: list[str], step: int = 512) -> list[str]:
    """An IN list padded (with a repeat) to a multiple of `step` items (SQLite's look-ups).

    Every length is its own SQL text, and drivers keep prepared statements per text (sqlite3
    keeps 128; one with thousands of parameters holds about half a megabyte): a few lengths
    instead of thousands keep a long import's memory flat.
    """
    if not ids or len(ids) % step == 0:
        return ids
    return ids + [ids[0]] * (step - len(ids) % step)


# Customers an import remembers between chunks, on each side of its pipe (their ids in
# bot/ingest/stream.py, what was said of them in SaidBefore; up to a few hundred bytes each); past
# this the memory is simply cleared, so it stays small (15 MB) whatever the file. A year's export
# names tens of thousands of customers (50,000 in issue 13's): a cache smaller than that is cleared
# every few chunks and then costs a look-up per customer per chunk (a third of the storing time);
# one much larger would be most of the import's memory budget (250 MB) on a file with more customers.
CUSTOMER_CACHE_SIZE = 60_000


class SaidBefore:
    """What a stream of batches (an import) has said about each customer so far, as a hash.

    A customer that a batch describes exactly as an earlier one did is then named without its
    values (None in Prepared.customers): an export repeats its customers on every row, and their
    values were a third of what an import's reader process pickled for the other one.
    """

    def __init__(self, size: int = CUSTOMER_CACHE_SIZE) -> None:
        self.size = size
        self._hashes: dict[str, int] = {}

    def repeated(self, ext: str, values: tuple) -> bool:
        """Whether `values` is what was said of `ext` last; remembers them if not."""
        said = hash(values)  # equal numbers hash alike (1 == 1.0), as they compare
        if self._hashes.get(ext) == said:
            return True
        if len(self._hashes) >= self.size:
            self._hashes.clear()
        self._hashes[ext] = said
        return False


@dataclass
class Prepared:
    """A batch turned into response rows, before anything is read from the database: the part of
    storing that needs no connection (an import makes it in its reader process, bot/importpipe.py).

    `rows` are unique on (source, id), first occurrence kept (`duplicates` counts the others); each
    names its customer by external id (`customer`), and all have the same keys. `customers` holds,
    per external id, what the batch said about that customer (later answers win), or None when an
    earlier batch of the same import said exactly that (SaidBefore).
    """

    rows: list[dict]
    customers: dict[str, dict | None]
    duplicates: int = 0

    def __reduce__(self):
        # Pickled column by column (an import hands a million rows from one process to the other):
        # a list per column pickles and unpickles several times faster than a dict per row.
        names = tuple(self.rows[0]) if self.rows else ()
        return _unpickled, (names, columns(self.rows, names), self.customers, self.duplicates)


def _unpickled(names: tuple[str, ...], values: list[list], customers: dict, duplicates: int) -> Prepared:
    return Prepared([dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)], customers, duplicates)


def prepare(batch: list[ResponseIn] | list[CsvRowIn], said: SaidBefore | None = None) -> Prepared:
    """Response rows and customer values of validated answers (pure: no clock, no database).

    `said`: what earlier batches of the same stream said about their customers (an import)."""
    rows: list[dict] = []
    seen: set[Key] = set()
    latest: dict[str, tuple] = {}
    for item in batch:
        key = (item.source, item.id)
        if key in seen:
            continue
        seen.add(key)
        ext, values = item.customer_said()
        segment = arr = None
        if values is not None:
            segment, arr = values[_SEGMENT], values[_ARR]
            if ext is not None:
                before = latest.setdefault(ext, values)
                if before is not values and before != values:
                    # A field left out keeps what an earlier answer said.
                    latest[ext] = tuple(b if v is None else v for v, b in zip(values, before, strict=True))
        rows.append({
            "source": item.source, "external_id": item.id, "score": item.score,
            "category": _CATEGORY[item.score], "comment": item.comment or None,
            "submitted_at": item.submitted_at, "customer": ext, "segment": segment, "arr": arr,
            "tags": item.tags or None,
        })
    customers: dict[str, dict | None] = {}
    for ext, values in latest.items():
        repeated = said is not None and said.repeated(ext, values)
        customers[ext] = None if repeated else {k: v for k, v in zip(CUSTOMER_FIELDS, values, strict=True)
                                                if v is not None}
    return Prepared(rows, customers, len(batch) - len(rows))


def _upsert_customers(conn: Connection, sql: SimpleNamespace, latest: dict[str, dict | None],
                      now: datetime, cache: dict | None = None, learned: dict | None = None) -> dict[str, tuple]:
    """Create unknown customers and update changed ones; return external id -> (id, segment, arr).

    Most answers come from customers we already know, unchanged: one SELECT is then all it costs,
    and nothing when an import said them before (None) and `cache` (its memory of the customers
    it stored) has them.
    """
    if not latest:
        return {}
    out: dict[str, tuple] = {}
    todo = latest
    if cache:
        # Said before (None), and stored by this import since: nothing to read or write.
        out = {ext: hit for ext, values in latest.items() if values is None and (hit := cache.get(ext)) is not None}
        if out:
            todo = {ext: values for ext, values in latest.items() if ext not in out}
        if not todo:
            return out
    known = {row.external_id: row for row in conn.execute(sql.find_customers, {"ids": sql.ids(list(todo))})}
    new_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for ext, values in todo.items():
        row = known.get(ext)
        if values is None:  # said before, and stored then: unless forgotten since, nothing to write
            if row is None:
                new_rows.append({"external_id": ext, **dict.fromkeys(CUSTOMER_FIELDS), "updated_at": now})
        elif row is None:
            new_rows.append({"external_id": ext, **{k: values.get(k) for k in CUSTOMER_FIELDS}, "updated_at": now})
        elif any(getattr(row, k) != v for k, v in values.items()):
            changed.append({"external_id": ext, **{k: values.get(k) for k in CUSTOMER_FIELDS}, "updated_at": now})
    if new_rows or changed:
        # The upsert keeps stored values for fields an answer leaves out, and absorbs a
        # concurrent request creating the same customer. Sorted, so concurrent transactions
        # lock customers in one order and cannot deadlock each other.
        conn.execute(sql.upsert_customers, sorted(new_rows + changed, key=lambda r: r["external_id"]))
        known.update({row.external_id: row for row in conn.execute(
            sql.find_customers, {"ids": sql.ids([r["external_id"] for r in new_rows + changed])})})
    for ext, row in known.items():
        # Segments repeat across customers: interned, the cache holds each name once.
        out[ext] = (row.id, sys.intern(row.segment) if row.segment else row.segment, row.arr)
        if learned is not None and ext in todo:
            learned[ext] = out[ext]
    return out


_CATEGORY = [classify(score).value for score in range(11)]
_key = operator.itemgetter("source", "external_id")  # a response row's Key, taken in C


def store(session: Connection, rt: Runtime, batch: list[ResponseIn] | Prepared, customer_cache: dict | None = None,
          learned: dict | None = None, *, unseen: bool = False, themes: Callable[[], Assigner] | None = None) -> Stored:
    """Insert responses unique on (source, id) that are new; open or join follow-ups.

    `themes`: gives the theme assigner for the new answers' comments (default: the one in force now).

    `unseen`: the caller expects none of the responses to be stored already (an import whose
    previous piece had no duplicate), so they are not looked up first; should one be, the insert
    stores fewer rows than it was given and raises Raced, and the caller stores the piece again
    without `unseen`.
    """
    prepared = batch if isinstance(batch, Prepared) else prepare(batch)
    now = rt.clock.now()
    stored = Stored()
    sql = _statements(session.dialect.name)
    customers = _upsert_customers(session, sql, prepared.customers, now, customer_cache, learned)

    # The rows are completed in place (a retried transaction completes them again alike).
    rows = prepared.rows
    for r in rows:
        cust = customers.get(r["customer"])  # (None when the answer names no customer)
        if r["submitted_at"] is None:
            r["submitted_at"] = now
        r["received_at"] = now
        if cust is not None:
            r["customer_id"] = cust[0]
            if not r["segment"]:
                r["segment"] = cust[1]
            if r["arr"] is None:
                r["arr"] = cust[2]
        else:
            r["customer_id"] = None
            r["segment"] = r["segment"] or None
    if not unseen:
        rows = _new_only(session, sql, rows)
    theme_service.assign_rows(session, rt.settings, rows, themes)  # history too: themes count every answer
    # History (older than the live window on arrival) is stored and counted, nothing more.
    history_before = livewindow.cutoff(now, rt.settings.live_window_hours)
    stored.inserted.update(map(_key, rows))
    live, plain = [], []
    detractor = Category.DETRACTOR.value
    for r in rows:
        if r["category"] != detractor:
            plain.append(r)
        elif livewindow.is_history(r["submitted_at"], history_before):
            stored.history.add(_key(r))
            plain.append(r)
        else:
            live.append(r)
    # Inserted in key order (one lock order, as for customers); follow-ups below still open
    # in the order the answers came.
    if plain:
        bulk_insert(session, sorted(plain, key=_key))
    detractors = []
    if live:
        # Only new live detractors need their ids back (few: the rest takes the fast path).
        ordered = [{k: v for k, v in r.items() if k != "customer"} for r in sorted(live, key=_key)]
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
            sql.existing, {"source": source, "ids": sql.ids(ids)}).scalars())
    return [r for r in rows if _key(r) not in existing] if existing else rows




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

