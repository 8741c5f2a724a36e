"""An import's writer: prepared pieces of a long stream stored in few transactions.

`npsbot import` hands over a piece (bot.ingest.store.Prepared, a few thousand rows) at a time.
Each SQLite commit rewrites every index page its transaction touched, and a year's export touches
pages all over the customer index: one transaction per piece made a million-row import a third
slower. So on SQLite a transaction takes pieces until it holds `rows_per_transaction` rows. That
is safe without keeping the pieces for a retry: the transaction holds SQLite's write lock from its
first statement (BEGIN IMMEDIATE), so no other writer can race it, and should it fail all the
same, the import stops and running it again stores the rest (it is idempotent).

On PostgreSQL a commit costs a WAL flush, not rewritten pages, while a live webhook can race the
import for a customer or follow-up: each piece is its own transaction, retried like a webhook's.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from bot import theme_service
from bot.ingest.bulk import Raced
from bot.ingest.group import retried
from bot.ingest.store import CUSTOMER_CACHE_SIZE, Prepared, Stored, store
from bot.runtime import Runtime
from storage.db import is_sqlite, write_connection

if TYPE_CHECKING:
    from bot.theme_assign import Assigner


@dataclass
class PieceResult:
    """What one piece got: new answers stored, duplicates, follow-ups opened, history answers."""

    accepted: int
    duplicates: int
    opened: int
    history: int


class StreamWriter:
    """Stores prepared pieces; `commit()` (or leaving the `with` block) commits what is pending."""

    def __init__(self, rt: Runtime, *, rows_per_transaction: int) -> None:
        self.rt = rt
        self.rows_per_transaction = rows_per_transaction if is_sqlite(rt.engine) else 0
        # Customers stored so far (external id -> id, segment, arr): one a piece names as said
        # before costs no query at all. Cleared, not grown, past CUSTOMER_CACHE_SIZE.
        self.customers: dict = {}
        self._open: ExitStack | None = None
        self._conn: Connection | None = None
        self._themes: Callable[[], Assigner] | None = None
        self._rows = 0
        self._opened_any = False
        # Whether the next piece is stored without looking its answers up first (bot.ingest.store):
        # while pieces hold no duplicate, the look-up only costs (a tenth of a fresh import's
        # storing time); after one that did (a re-run import), every piece is looked up.
        self._unseen = True

    def add(self, piece: Prepared) -> PieceResult:
        if not piece.rows:
            return PieceResult(0, piece.duplicates, 0, 0)
        stored = self._in_transaction(piece) if self.rows_per_transaction else self._on_its_own(piece)
        self._opened_any |= bool(stored.opened or stored.joined)
        return PieceResult(len(stored.inserted), piece.duplicates + len(piece.rows) - len(stored.inserted),
                           len(stored.opened), len(stored.history))

    def _in_transaction(self, piece: Prepared) -> Stored:
        if self._conn is None:
            self._open = ExitStack()
            self._conn = self._open.enter_context(write_connection(self.rt.engine))
            # Themes and corrections cannot change while this transaction holds SQLite's write
            # lock: looked up once for its pieces (when one first needs them), not once per piece.
            self._themes = cache(partial(theme_service.assigner, self._conn, self.rt.settings))
        learned: dict = {}
        stored = None
        if self._unseen:
            # Within a savepoint: a piece that repeats stored answers is rolled back and stored again.
            try:
                with self._conn.begin_nested():
                    stored = store(self._conn, self.rt, piece, self.customers, learned, unseen=True,
                                   themes=self._themes)
            except Raced:
                learned = {}  # customers created by the rolled-back attempt have no rows any more
        if stored is None:
            stored = store(self._conn, self.rt, piece, self.customers, learned, themes=self._themes)
        self._unseen = len(stored.inserted) == len(piece.rows)
        # Remembered before the commit: a failed transaction ends the import, and the cache with it.
        self._remember(learned)
        self._rows += len(piece.rows)
        if self._rows >= self.rows_per_transaction:
            self.commit()
        return stored

    def _on_its_own(self, piece: Prepared) -> Stored:
        def attempt(conn: Connection, n: int) -> tuple[Stored, dict]:
            learned: dict = {}
            # A retry looks its answers up: the race may have been a duplicate.
            return store(conn, self.rt, piece, self.customers, learned, unseen=self._unseen and n == 0), learned

        stored, learned = retried(self.rt, attempt)
        self._unseen = len(stored.inserted) == len(piece.rows)
        # Only what was committed: a rolled-back customer id must never be reused.
        self._remember(learned)
        return stored

    def _remember(self, learned: dict) -> None:
        if len(self.customers) + len(learned) > CUSTOMER_CACHE_SIZE:
            self.customers.clear()
        self.customers.update(learned)

    def commit(self) -> None:
        opened, self._open, self._conn, self._rows = self._open, None, None, 0
        if opened is not None:
            opened.close()
        if self._opened_any:
            self._opened_any = False
            self.rt.wake()

    def __enter__(self) -> StreamWriter:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.commit()
        else:
            opened, self._open, self._conn = self._open, None, None
            if opened is not None:
                opened.__exit__(kind, exc, tb)  # rolls back
