"""Running the store step: one transaction per call with retries on races, and group commit for
concurrent webhook requests (`GroupCommit`), with what each request got (`IngestResult`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.ingest.bulk import Raced
from bot.ingest.schema import MAX_BATCH, ResponseIn
from bot.ingest.store import store
from bot.runtime import Runtime
from storage.db import write_connection


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    opened: list[int] = field(default_factory=list)
    joined: list[int] = field(default_factory=list)
    # New detractor answers that were history on arrival (bot/livewindow.py): no follow-up.
    history: int = 0



def ingest(rt: Runtime, items: list[ResponseIn]) -> IngestResult:
    """Store validated responses; duplicates (same source and id) are counted, not stored again."""
    return ingest_groups(rt, [items])[0]


def ingest_groups(rt: Runtime, groups: list[list[ResponseIn]]) -> list[IngestResult]:
    """Store several requests' responses in one transaction, and say what each request got.

    Across the groups the first occurrence of a (source, id) is the one stored; every later one
    counts as a duplicate of the group it came in.
    """
    unique: dict[tuple[str, str], ResponseIn] = {}
    for items in groups:
        for item in items:
            unique.setdefault((item.source, item.id), item)
    stored = retried(rt, lambda conn, attempt: store(conn, rt, list(unique.values())))
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


T = TypeVar("T")


def retried(rt: Runtime, work: Callable[[Connection, int], T]) -> T:
    """`work(connection, attempt)` in a write transaction, run again (up to five times in all) when
    it lost a race: a concurrent request stored the same response, customer or follow-up first, or
    PostgreSQL chose this transaction as a deadlock victim. The next attempt finds the other's rows:
    ours are duplicates or join the other's follow-up."""
    for attempt in range(5):
        try:
            with write_connection(rt.engine) as conn:
                return work(conn, attempt)
        except (IntegrityError, OperationalError, Raced) as exc:
            if attempt == 4 or not retryable(exc):
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError | Raced):
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
            group: list[tuple[list[ResponseIn], asyncio.Future]] = []
            size = 0
            while self._queue and (not group or size + len(self._queue[0][0]) <= MAX_BATCH):
                items, future = self._queue.pop(0)
                group.append((items, future))
                size += len(items)
            try:
                results = await asyncio.to_thread(ingest_groups, self.rt, [items for items, _ in group])
            except Exception as exc:  # handed to each request below
                if len(group) == 1:
                    group[0][1].set_exception(exc)
                    continue
                for items, future in group:
                    try:
                        future.set_result(await asyncio.to_thread(ingest, self.rt, items))
                    except Exception as own:  # this request's own failure
                        future.set_exception(own)
                continue
            for (_, future), result in zip(group, results, strict=True):
                future.set_result(result)


def group_commit(rt: Runtime) -> GroupCommit:
    """The runtime's group-commit queue (made on first use)."""
    if rt.group_commit is None:
        rt.group_commit = GroupCommit(rt)
    return rt.group_commit

