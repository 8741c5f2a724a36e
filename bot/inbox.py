"""The command inbox: an acknowledged chat request is written down before its acknowledgement.

A platform that got its acknowledgement never sends the request again, so the request must be
durable before the ack leaves: the door records it (`record`, keyed by the platform's request id,
so a redelivery is recorded once), acts on it in process and marks it `done`. A process that
dies in between leaves the row pending; the recovery loop of any live process takes rows whose
lease ran out, or whose owner on this host is no longer running, and applies them again.

Rows are leased to their process (`owner`); a process renews the leases of rows it is still
working on, so another replica never takes live work.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from bot.runtime import Runtime
from storage.db import read_scope, session_scope
from storage.models import Inbox, InboxStatus

log = logging.getLogger(__name__)

DONE_TTL = timedelta(days=2)  # done rows are kept this long: a redelivery within it is recognised
HOST = socket.gethostname()
OWNER = f"{HOST}:{os.getpid()}"


@dataclass(frozen=True)
class Pending:
    id: int
    request_key: str
    payload: dict


def record(rt: Runtime, platform: str, request_key: str, payload: dict) -> int | None:
    """Write a request down; None when it was already recorded (a redelivery)."""
    now = rt.clock.now()
    row = Inbox(request_key=request_key[:300], platform=platform, payload=payload, status=InboxStatus.PENDING,
                lease_owner=OWNER, lease_until=now + timedelta(seconds=rt.settings.inbox_lease_seconds),
                created_at=now)
    try:
        with session_scope(rt.engine) as s:
            s.add(row)
            s.flush()
            return row.id
    except IntegrityError:
        return None


def record_many(rt: Runtime, platform: str, requests: list[tuple[str, dict]]) -> dict[str, int]:
    """Write several requests in one transaction (one commit for a burst of acks).

    Returns request key -> row id for the rows written; a key already recorded is left out.
    """
    now = rt.clock.now()
    until = now + timedelta(seconds=rt.settings.inbox_lease_seconds)
    rows = [{"request_key": key[:300], "platform": platform, "payload": payload, "status": InboxStatus.PENDING,
             "attempts": 0, "lease_owner": OWNER, "lease_until": until, "created_at": now}
            for key, payload in requests]
    table = Inbox.__table__
    with session_scope(rt.engine, urgent=True) as s:  # an acknowledgement is waiting on it
        dialect_insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = dialect_insert(table).values(rows).on_conflict_do_nothing(index_elements=["request_key"]) \
            .returning(table.c.id, table.c.request_key)
        return {key: row_id for row_id, key in s.execute(statement).all()}


def done_many(rt: Runtime, row_ids: list[int]) -> None:
    if not row_ids:
        return
    with session_scope(rt.engine) as s:
        s.execute(update(Inbox).where(Inbox.id.in_(row_ids)).values(
            status=InboxStatus.DONE, done_at=rt.clock.now(), lease_owner=None, lease_until=None))


def done(rt: Runtime, row_id: int | None) -> None:
    if row_id is None:
        return
    with session_scope(rt.engine) as s:
        s.execute(update(Inbox).where(Inbox.id == row_id).values(
            status=InboxStatus.DONE, done_at=rt.clock.now(), lease_owner=None, lease_until=None))


def _owner_gone(owner: str | None) -> bool:
    """True when `owner` ran on this host and that process no longer exists."""
    host, _, pid = (owner or "").rpartition(":")
    if host != HOST or not pid.isdigit() or owner == OWNER:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def take_orphans(rt: Runtime, in_flight: set[int], limit: int = 50) -> list[Pending]:
    """Lease to this process the pending rows nobody is working on; renew the ones we are."""
    now = rt.clock.now()
    lease = timedelta(seconds=rt.settings.inbox_lease_seconds)
    with read_scope(rt.engine) as s:
        rows = s.execute(select(Inbox.id, Inbox.lease_owner, Inbox.lease_until)
                         .where(Inbox.status == InboxStatus.PENDING).order_by(Inbox.id).limit(limit)).all()
    taken: list[int] = []
    with session_scope(rt.engine) as s:
        for row_id, owner, until in rows:
            if row_id in in_flight:
                s.execute(update(Inbox).where(Inbox.id == row_id).values(lease_until=now + lease))
                continue
            expired = until is None or _aware(until) < now
            if not (expired or _owner_gone(owner)):
                continue
            # Conditional: of several processes looking at once, one takes it.
            won = s.execute(update(Inbox).where(Inbox.id == row_id, Inbox.status == InboxStatus.PENDING,
                                                Inbox.lease_owner.is_(owner) if owner is None
                                                else Inbox.lease_owner == owner)
                            .values(lease_owner=OWNER, lease_until=now + lease, attempts=Inbox.attempts + 1)
                            ).rowcount
            if won:
                taken.append(row_id)
    if not taken:
        return []
    with read_scope(rt.engine) as s:
        found = s.execute(select(Inbox.id, Inbox.request_key, Inbox.payload).where(Inbox.id.in_(taken))
                          .order_by(Inbox.id)).all()
    log.info("inbox.recovered", extra={"count": len(found)})
    return [Pending(i, k, p) for i, k, p in found]


def prune(rt: Runtime) -> None:
    with session_scope(rt.engine) as s:
        s.execute(delete(Inbox).where(Inbox.status == InboxStatus.DONE, Inbox.done_at < rt.clock.now() - DONE_TTL))


def _aware(value):
    from bot.clock import as_utc

    return as_utc(value)
