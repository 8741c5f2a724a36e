"""Response intake: validation of the generic JSON, and idempotent storage with follow-ups.

One call stores a whole batch in one transaction: responses (unique on source + id), customers,
follow-ups for new detractors (joining a customer's open follow-up when there is one), audit
events and the outbox rows that will post the alerts. Either all of it is written or none.

Detractor answers older than the live window on arrival are history (bot/livewindow.py): stored
and counted, nothing more. Webhooks and `npsbot import` share this one store step; its bulk
(every row but new live detractors) goes to the driver directly: executemany on SQLite, COPY on
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import math
import operator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from types import SimpleNamespace
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
)
from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from bot import livewindow, outbox, rotation, theme_service
from bot.limits import MAX_ARR
from bot.nps import classify
from bot.routing import theme_of
from bot.runtime import Runtime
from storage.db import session_scope, write_connection
from storage.models import Category, Customer, Event, FollowUp, Response, Status, Subscription

MAX_BATCH = 1000
MAX_COMMENT = 10_000


def _id_text(value: Any) -> Any:
    # Survey tools often number their responses; an integer id is the same id as its text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


# PostgreSQL cannot store NUL in text: refused here with a clear 422, not a failed write. A
# pattern is checked by pydantic's core, at no Python cost per field (imports run it millions of times).
NO_NUL = r"^[^\x00]*$"
IdText = Annotated[str, BeforeValidator(_id_text), Field(min_length=1, max_length=200, pattern=NO_NUL)]
NulFree = Annotated[str, Field(pattern=NO_NUL)]


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: IdText | None = None
    name: str | None = Field(None, max_length=300, pattern=NO_NUL)
    email: str | None = Field(None, max_length=320, pattern=NO_NUL)
    segment: str | None = Field(None, max_length=100, pattern=NO_NUL)
    # Strict: a number, never a string or a boolean ("must be a number").
    arr: float | None = Field(None, ge=0, le=MAX_ARR, allow_inf_nan=False, strict=True)
    owner: str | None = Field(None, max_length=320, pattern=NO_NUL)


class ResponseIn(BaseModel):
    """One survey response in the generic format of interface.md."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: IdText
    score: StrictInt
    comment: str | None = Field(None, max_length=MAX_COMMENT, pattern=NO_NUL)
    submitted_at: datetime | None = None
    customer: CustomerIn | None = None
    tags: dict[NulFree, NulFree | int | float | bool | None] | None = None
    source: str = Field("api", min_length=1, max_length=100, pattern=NO_NUL)

    @field_validator("score")
    @classmethod
    def _score_range(cls, value: int) -> int:
        if not 0 <= value <= 10:
            raise ValueError("must be a whole number from 0 to 10")
        return value

    @field_validator("submitted_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range") from None
        if value > datetime.now(UTC) + timedelta(days=1):
            raise ValueError("is in the future")
        return value

    @field_validator("tags")
    @classmethod
    def _finite_tags(cls, value: dict | None) -> dict | None:
        for key, tag in (value or {}).items():
            if isinstance(tag, float) and not math.isfinite(tag):
                raise ValueError(f"tag {key!r} must be a finite number")
        return value


@dataclass(frozen=True)
class FieldError:
    """One reason an item was refused, shaped like interface.md's `errors` entries."""

    field: str
    message: str
    index: int | None = None

    def as_json(self) -> dict:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.index is not None:
            out = {"index": self.index, **out}
        return out


_MESSAGES = {
    "missing": "is required",
    "int_type": "must be a whole number from 0 to 10",
    "int_parsing": "must be a whole number from 0 to 10",
    "string_type": "must be a string",
    "string_too_short": "must not be empty",
    "datetime_parsing": "must be an ISO 8601 date-time such as 2026-11-20T10:00:00Z",
    "datetime_type": "must be an ISO 8601 date-time such as 2026-11-20T10:00:00Z",
    "datetime_from_date_parsing": "must be an ISO 8601 date-time such as 2026-11-20T10:00:00Z",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "string_pattern_mismatch": "must not contain NUL characters",
    "float_type": "must be a number",
}


def _error_message(err: dict) -> str:
    kind = err["type"]
    if kind == "value_error":
        return str(err["ctx"]["error"])
    if kind == "string_too_long":
        return f"must be at most {err['ctx']['max_length']} characters"
    if kind == "less_than_equal":
        return f"must be at most {err['ctx']['le']:,.0f}"
    if kind in ("greater_than_equal", "finite_number"):
        return "must be a non-negative number" if kind == "greater_than_equal" else "must be finite"
    return _MESSAGES.get(kind, err["msg"])


def _field_name(loc: tuple) -> str:
    parts = [str(p) for p in loc if not str(p).startswith(("function-", "json-or-python"))]
    # Union members add their type name to the location; the user only wants the field path.
    parts = [p for p in parts if p not in ("str", "int", "float", "bool", "none", "constrained-str")]
    if "[key]" in parts:  # a bad key is named by its dict (the key itself may be unprintable)
        parts = parts[:parts.index("[key]") - 1]
    return ".".join(parts) or "body"


def validate_item(raw: Any, index: int | None = None) -> tuple[ResponseIn | None, list[FieldError]]:
    """Validate one item of a request body; return the model or the errors naming each field."""
    if not isinstance(raw, dict):
        return None, [FieldError("body" if index is None else "item", "must be a JSON object", index)]
    try:
        return ResponseIn.model_validate(raw), []
    except ValidationError as exc:
        errors, seen = [], set()
        for err in exc.errors():
            name = _field_name(err["loc"])
            if name in seen:
                continue
            seen.add(name)
            errors.append(FieldError(name, _error_message(err), index))
        return None, errors


def validate_body(body: Any) -> tuple[list[ResponseIn], list[FieldError]]:
    """Validate a webhook body: one object, or an array of up to 1,000 objects."""
    if isinstance(body, dict):
        item, errors = validate_item(body)
        return ([item] if item else []), errors
    if not isinstance(body, list):
        return [], [FieldError("body", "must be a response object or an array of them")]
    if not body:
        return [], [FieldError("body", "must not be an empty array")]
    if len(body) > MAX_BATCH:
        return [], [FieldError("body", f"has {len(body)} items; a batch holds at most {MAX_BATCH}")]
    items, errors = [], []
    for index, raw in enumerate(body):
        item, item_errors = validate_item(raw, index)
        errors.extend(item_errors)
        if item:
            items.append(item)
    return items, errors


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    opened: list[int] = field(default_factory=list)
    joined: list[int] = field(default_factory=list)
    # New detractor answers that were history on arrival (bot/livewindow.py): no follow-up.
    history: int = 0


Key = tuple[str, str]  # (source, external id): a response's identity


@dataclass
class _Stored:
    """What one transaction stored: the new responses' keys, and follow-ups by response key."""

    inserted: set[Key] = field(default_factory=set)
    opened: dict[Key, int] = field(default_factory=dict)
    joined: dict[Key, int] = field(default_factory=dict)
    history: set[Key] = field(default_factory=set)


class _Raced(Exception):
    """Another transaction stored one of our responses between our look-up and our insert."""


def ingest(rt: Runtime, items: list[ResponseIn], *, customer_cache: dict | None = None) -> IngestResult:
    """Store validated responses; duplicates (same source and id) are counted, not stored again.

    `customer_cache` (a bulk import passes one) remembers customers stored by earlier calls, so
    an unchanged customer costs no query at all.
    """
    return ingest_groups(rt, [items], customer_cache=customer_cache)[0]


def ingest_groups(rt: Runtime, groups: list[list[ResponseIn]], *,
                  customer_cache: dict | None = None) -> list[IngestResult]:
    """Store several requests' responses in one transaction, and say what each request got.

    Across the groups the first occurrence of a (source, id) is the one stored; every later one
    counts as a duplicate of the group it came in.
    """
    unique: dict[tuple[str, str], ResponseIn] = {}
    for items in groups:
        for item in items:
            unique.setdefault((item.source, item.id), item)
    for attempt in range(5):
        learned: dict = {}
        try:
            with write_connection(rt.engine) as conn:
                stored = _ingest(conn, rt, list(unique.values()), customer_cache, learned)
            break
        except (IntegrityError, OperationalError, _Raced) as exc:
            # A concurrent request stored the same response, customer or follow-up first, or
            # PostgreSQL chose this transaction as a deadlock victim: run again; this time ours
            # are duplicates or join the other's follow-up.
            if attempt == 4 or not _retryable(exc):
                raise
    if customer_cache is not None:
        # Only what was committed: a rolled-back customer id must never be reused.
        if len(customer_cache) + len(learned) > CUSTOMER_CACHE_SIZE:
            customer_cache.clear()
        customer_cache.update(learned)
    if stored.opened or stored.joined:
        rt.wake()
    results, counted = [], set()
    for items in groups:
        result = IngestResult()
        for item in items:
            key = (item.source, item.id)
            if key not in stored.inserted or key in counted:
                result.duplicates += 1
                continue
            counted.add(key)
            result.accepted += 1
            if key in stored.history:
                result.history += 1
            elif key in stored.opened:
                result.opened.append(stored.opened[key])
            elif key in stored.joined and stored.joined[key] not in result.joined:
                result.joined.append(stored.joined[key])
        results.append(result)
    return results


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError | _Raced):
        return True
    # 40P01 deadlock detected, 40001 serialization failure: the transaction can simply rerun.
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in ("40P01", "40001")


class GroupCommit:
    """Group commit for concurrent webhook requests.

    Requests that arrive while a transaction is running wait for the next one and share it, so
    sixteen single-response POSTs cost about one small batch instead of sixteen transactions
    queued on SQLite's single writer. A failed shared transaction is retried request by
    request, so one request can never fail another.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._queue: list[tuple[list[ResponseIn], asyncio.Future]] = []
        self._running = False

    async def submit(self, items: list[ResponseIn]) -> IngestResult:
        future = asyncio.get_running_loop().create_future()
        self._queue.append((items, future))
        if not self._running:
            self._running = True
            try:
                await self._drain()
            finally:
                self._running = False
        return await future

    async def _drain(self) -> None:
        while self._queue:
            group, size = [], 0
            while self._queue and (not group or size + len(self._queue[0][0]) <= MAX_BATCH):
                items, future = self._queue.pop(0)
                group.append((items, future))
                size += len(items)
            try:
                results = await asyncio.to_thread(ingest_groups, self.rt, [items for items, _ in group])
            except Exception as exc:  # noqa: BLE001 - handed to each request below
                if len(group) == 1:
                    group[0][1].set_exception(exc)
                    continue
                for items, future in group:
                    try:
                        future.set_result(await asyncio.to_thread(ingest, self.rt, items))
                    except Exception as own:  # noqa: BLE001 - this request's own failure
                        future.set_exception(own)
                continue
            for (_, future), result in zip(group, results, strict=True):
                future.set_result(result)


def group_commit(rt: Runtime) -> GroupCommit:
    """The runtime's group-commit queue (made on first use)."""
    if rt.group_commit is None:
        rt.group_commit = GroupCommit(rt)
    return rt.group_commit


@cache
def _statements(dialect: str) -> SimpleNamespace:
    """The ingest statements, built once per dialect: building them costs more than running them."""
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
    new_rows, changed = [], []
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


def _ingest(session: Connection, rt: Runtime, batch: list[ResponseIn], customer_cache: dict | None = None,
            learned: dict | None = None) -> _Stored:
    """Insert responses unique on (source, id) that are new; open or join follow-ups."""
    now = rt.clock.now()
    stored = _Stored()
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
        _bulk_insert(session, sorted(plain, key=lambda r: (r["source"], r["external_id"])))
    detractors = []
    if live:
        # Only new live detractors need their ids back (few: the rest takes the fast path).
        ordered = sorted(live, key=lambda r: (r["source"], r["external_id"]))
        ids = {(s, e): rid for rid, s, e in session.execute(sql.insert_responses, ordered).all()}
        if len(ids) != len(live):
            raise _Raced
        detractors = [(ids[(r["source"], r["external_id"])], r) for r in live]
    if detractors:
        _open_followups(session, detractors, now, stored, settings=rt.settings)
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


_RESPONSE_COLUMNS = ("source", "external_id", "score", "category", "comment", "submitted_at", "received_at",
                     "customer_id", "segment", "arr", "tags", "theme", "theme_source")


@cache
def _bulk_statement(dialect) -> tuple[str, list[str], list]:
    """The plain INSERT of response rows in the driver's own SQL, and each column's value converter.

    Response rows are the bulk of an import: sent to the driver's executemany (pipelined by
    psycopg) with SQLAlchemy's own type conversions, but without its per-row parameter
    processing, which costs more than the insert itself.
    """
    table = Response.__table__
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = dialect_insert(table).values({c: bindparam(c) for c in _RESPONSE_COLUMNS}).on_conflict_do_nothing(
        index_elements=["source", "external_id"])
    compiled = statement.compile(dialect=dialect)
    order = list(compiled.positiontup) if dialect.positional else list(_RESPONSE_COLUMNS)
    converters = [(i, _fast(table.c[c].type.dialect_impl(dialect).bind_processor(dialect)))
                  for i, c in enumerate(order)]
    return str(compiled), order, [(i, conv) for i, conv in converters if conv is not None]


def _fast(conv):
    """SQLite's date-time converter formats in Python; isoformat does the same in C when it agrees."""
    if conv is None:
        return None
    sample = datetime(2026, 11, 20, 9, 5, 7, 123, tzinfo=UTC)
    try:
        same = conv(sample) == sample.isoformat(" ", "microseconds")[:26] and conv(sample.replace(microsecond=0)) \
            == sample.replace(microsecond=0).isoformat(" ", "microseconds")[:26]
    except (TypeError, ValueError, AttributeError):
        return conv
    if not same:
        return conv

    def to_text(value):
        return value.isoformat(" ", "microseconds")[:26] if value is not None else None

    return to_text


def _bulk_insert(session: Connection, rows: list[dict]) -> None:
    if session.dialect.name == "postgresql":
        _copy_insert(session, rows)
        return
    sql, order, converters = _bulk_statement(session.dialect)
    values = operator.itemgetter(*order)
    # The same value converts to the same parameter: received_at is one instant per batch, and
    # tags repeat across an export (region, plan): convert each distinct one once.
    memo: dict = {}
    params = []
    for r in rows:
        row = list(values(r))
        for i, conv in converters:
            value = row[i]
            # Types in the key: 1, 1.0 and True are equal in Python but not in JSON.
            key = (i, tuple((k, type(v), v) for k, v in value.items()) if isinstance(value, dict) else value)
            try:
                row[i] = memo[key]
            except KeyError:
                row[i] = memo[key] = conv(value)
            except TypeError:  # a tag value that cannot be a key (never from CSV)
                row[i] = conv(value)
        params.append(tuple(row) if session.dialect.positional else dict(zip(order, row, strict=True)))
    result = session.exec_driver_sql(sql, params)
    if result.rowcount not in (-1, len(rows)):
        raise _Raced


def _open_followups(session: Connection, detractors: list[tuple[int, dict]], now: datetime,
                    stored: _Stored, *, settings) -> None:
    """Open a follow-up per new detractor, or add the answer to the customer's open one.

    Set-based (a handful of statements per batch, whatever its size): a batch of a thousand
    answers must cost about what inserting them costs.
    """
    detractors.sort(key=lambda d: d[1]["submitted_at"])
    customer_ids = {r["customer_id"] for _, r in detractors if r["customer_id"] is not None}
    active: dict[int, int] = {}
    if customer_ids:
        # FOR UPDATE (PostgreSQL): a close committed meanwhile by another replica waits for us,
        # rather than leaving this answer attached to a follow-up nobody owns any more.
        active = dict(session.execute(
            select(FollowUp.customer_id, FollowUp.id).where(
                FollowUp.customer_id.in_(customer_ids), FollowUp.status != Status.CLOSED
            ).order_by(FollowUp.id).with_for_update()
        ).all())
    # Decide in memory which answer opens a follow-up and which joins one.
    opening: dict[int, dict] = {}  # first response id -> follow-up row
    opened_by_customer: dict[int, int] = {}  # customer id -> first response id, for this batch
    joins: list[tuple[int, int | None, int, dict]] = []  # (response id, existing fid, opener rid, row)
    for response_id, r in detractors:
        cid = r["customer_id"]
        if cid is not None and cid in active:
            joins.append((response_id, active[cid], 0, r))
        elif cid is not None and cid in opened_by_customer:
            opener = opened_by_customer[cid]
            opening[opener]["latest_response_id"] = response_id
            joins.append((response_id, None, opener, r))
        else:
            opening[response_id] = {"customer_id": cid, "response_id": response_id,
                                    "latest_response_id": response_id, "status": Status.OPEN.value,
                                    "opened_at": now, "updated_at": now, "_row": r}
            if cid is not None:
                opened_by_customer[cid] = response_id

    table = FollowUp.__table__
    fid_of: dict[int, int] = {}
    if opening:
        rows = [{k: v for k, v in o.items() if k != "_row"} for o in opening.values()]
        returned = session.execute(insert(table).returning(table.c.id, table.c.response_id), rows).all()
        fid_of = {rid: fid for fid, rid in returned}
    subs = session.execute(select(*Subscription.__table__.c).where(Subscription.alerts)).all()
    system = {"at": now, "actor_id": "system:npsbot", "actor_name": "npsbot"}
    links, events, posts = [], [], []
    matched: dict[int, list] = {}
    themed = any(sub.theme for sub in subs)  # classify comments only when a filter asks for a theme
    for rid, o in opening.items():
        fid = fid_of[rid]
        stored.opened[(o["_row"]["source"], o["_row"]["external_id"])] = fid
        links.append({"rid": rid, "fid": fid})
        events.append({**system, "followup_id": fid, "action": "opened", "text": _response_line(o["_row"])})
        r = o["_row"]
        matched[fid] = outbox.matching_subscriptions(subs, score=r["score"], segment=r["segment"], arr=r["arr"],
                                                     tags=r["tags"],
                                                     theme=theme_of(r["comment"], settings) if themed else None)
        for sub in matched[fid]:
            posts.append(outbox.row(platform=sub.platform, channel_id=sub.channel_id, kind=outbox.ALERT_POST,
                                    now=now, followup_id=fid))
    latest: dict[int, tuple[int, dict]] = {}
    joined_rows: dict[int, list[dict]] = {}  # follow-up -> every answer that joined it in this batch
    for rid, existing, opener, r in joins:
        fid = existing if existing is not None else fid_of[opener]
        links.append({"rid": rid, "fid": fid})
        events.append({**system, "followup_id": fid, "action": "response", "text": _response_line(r)})
        joined_rows.setdefault(fid, []).append(r)
        if existing is not None:
            latest[fid] = (rid, r)
            stored.joined[(r["source"], r["external_id"])] = fid
    session.execute(
        update(Response.__table__).where(Response.__table__.c.id == bindparam("rid"))
        .values(followup_id=bindparam("fid")),
        links,
    )
    if latest:
        session.execute(
            update(table).where(table.c.id == bindparam("fid"))
            .values(latest_response_id=bindparam("rid"), updated_at=now),
            [{"fid": fid, "rid": rid} for fid, (rid, _) in latest.items()],
        )
        outbox.refresh_alerts(session, {fid: _joined_line(joined_rows[fid]) for fid in latest}, now=now)
    session.execute(insert(Event), events)
    outbox.add(session, posts)
    outbox.add(session, rotation.assign_new(session, matched, settings=settings, now=now))
    # Answers joining a follow-up opened in this same batch: its alert is not posted yet, so the
    # line goes to the thread of each alert just queued (delivered once the alert is up).
    fresh = {fid: rows_ for fid, rows_ in joined_rows.items() if fid not in latest}
    outbox.add(session, [
        outbox.row(platform=p["platform"], channel_id=p["channel_id"], kind=outbox.THREAD_NOTE, now=now,
                   followup_id=p["followup_id"], payload={"text": _joined_line(fresh[p["followup_id"]])})
        for p in posts if p["followup_id"] in fresh
    ])


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


def _joined_line(rows: list[dict]) -> str:
    """One thread line for every answer that joined a follow-up at once (collapsed when several)."""
    if len(rows) == 1:
        return f"New answer from this customer: {_response_line(rows[0])}"
    return f"{len(rows)} new answers from this customer: " + " · ".join(_response_line(r) for r in rows)


def _response_line(r: dict) -> str:
    comment = r["comment"]
    if comment and len(comment) > 200:
        comment = comment[:199] + "…"
    return f"scored {r['score']}" + (f": “{comment}”" if comment else "")


_COLUMNS_SQL = ", ".join(_RESPONSE_COLUMNS)


def _copy_insert(session: Connection, rows: list[dict]) -> None:
    """PostgreSQL: COPY the rows into a session-local staging table, then one INSERT … SELECT.

    COPY streams the rows in one round trip without per-row statements (several times faster
    than pipelined executemany in bench/import.py); ON CONFLICT keeps the insert idempotent.
    """
    from psycopg.types.json import Json

    raw = session.connection.dbapi_connection
    with raw.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS response_load ON COMMIT DELETE ROWS AS "
                    f"SELECT {_COLUMNS_SQL} FROM response WITH NO DATA")
        with cur.copy(f"COPY response_load ({_COLUMNS_SQL}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([Json(r[c]) if c == "tags" and r[c] is not None else r[c] for c in _RESPONSE_COLUMNS])
        cur.execute(f"INSERT INTO response ({_COLUMNS_SQL}) SELECT {_COLUMNS_SQL} FROM response_load "
                    f"ORDER BY source, external_id ON CONFLICT (source, external_id) DO NOTHING")
        inserted = cur.rowcount
        cur.execute("TRUNCATE response_load")
    if inserted != len(rows):
        raise _Raced
