"""Engine and session creation for SQLite (default) and PostgreSQL, plus schema migrations."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Accept `postgres://` and `postgresql://` URLs and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str) -> Engine:
    """Create the engine; SQLite gets WAL and a busy timeout so readers and the writer coexist."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Memory-mapped reads make the digest's index lookups much cheaper.
            cursor.execute("PRAGMA mmap_size=268435456")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:  # pragma: no cover - trivial
            # Take the write lock at BEGIN: a read-then-write transaction that upgrades its lock
            # later fails at once with "database is locked" instead of waiting its turn.
            # Read-only scopes ask for a deferred BEGIN so long reports never block writers.
            deferred = conn.get_execution_options().get("sqlite_deferred", False)
            conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

        _disable_pysqlite_autobegin(engine)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def for_bulk_load(engine: Engine) -> None:
    """Tune a process that bulk-loads (`npsbot import`): memory flat, no work it does not need.

    SQLite's memory map (kept for the digest's reads) would count every page of a growing
    database file in the process's resident memory; a load reads few pages back, so maps none.
    It does update the response indexes at scattered places, though: a 32 MB page cache (instead of 2 MB)
    keeps their inner pages at hand once the file is larger than the cache. And it checkpoints
    every 64 MB of WAL rather than every 4 MB: index pages rewritten by several transactions are
    copied into the database once (a tenth less time on a million rows; the WAL is on disk).

    And it does not look up each row's parents (foreign_keys off, as database dumps load): every
    customer or follow-up an import's row names was found or made by the import itself, in the
    same transaction or a committed one, and nothing deletes customers or follow-ups (erasure
    keeps the row), so the look-up could never fail; it cost a million rows over a second.
    tests/test_import_pipeline.py checks that an import leaves no dangling reference.
    """
    if not is_sqlite(engine):
        return
    engine.dispose()

    @event.listens_for(engine, "connect")
    def _bulk(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA mmap_size=0")
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.execute("PRAGMA wal_autocheckpoint=16384")
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()


# Indexes a large import drops and builds again once at its end (`deferred_indexes`): rows update
# this one at random places (a customer's answers are spread over the whole file), so keeping it
# current row by row costs a million-row import about 5 s, building it afterwards under a second.
DEFERRABLE_INDEXES = ("ix_response_customer_submitted",)


def _deferrable(engine: Engine) -> list:
    from storage.models import Response

    return [ix for ix in Response.__table__.indexes if ix.name in DEFERRABLE_INDEXES] if is_sqlite(engine) else []


def restore_indexes(engine: Engine) -> None:
    """Build any deferred index that is missing: an import killed before its end left it dropped
    (every process runs this at start, bot.runtime.build_runtime)."""
    indexes = _deferrable(engine)
    if not indexes:
        return
    from sqlalchemy import inspect

    with engine.execution_options(sqlite_deferred=True).connect() as conn:  # no write lock to look
        present = {ix["name"] for ix in inspect(conn).get_indexes("response")}
    for index in indexes:
        if index.name not in present:
            with write_connection(engine) as conn:
                # SQLite sorts within the page cache's budget: a bulk load's 32 MB cache would
                # add its size to the import's peak memory; the default 2 MB sorts faster, too.
                # A helper thread sorts half the keys (the import's reader is done by now): a
                # million rows' index in 0.35 s instead of 0.5 s.
                cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
                conn.exec_driver_sql("PRAGMA cache_size=-2000")
                conn.exec_driver_sql("PRAGMA threads=1")
                try:
                    index.create(conn, checkfirst=True)
                finally:  # the pooled connection goes back as it came
                    conn.exec_driver_sql("PRAGMA threads=0")
                    conn.exec_driver_sql(f"PRAGMA cache_size={int(cache or -2000)}")


@contextmanager
def deferred_indexes(engine: Engine) -> Iterator[None]:
    """Within the block, SQLite keeps no DEFERRABLE_INDEXES; they are built again when it ends,
    however it ends (or by the next process to start, should this one be killed).

    Queries by customer still answer meanwhile, only slower. PostgreSQL keeps its indexes: its
    imports are fast enough, and replicas sharing it should not see them come and go.
    """
    from sqlalchemy import text

    for index in _deferrable(engine):
        with write_connection(engine) as conn:
            conn.execute(text(f'DROP INDEX IF EXISTS "{index.name}"'))
    try:
        yield
    finally:
        restore_indexes(engine)


def _disable_pysqlite_autobegin(engine: Engine) -> None:
    # pysqlite's legacy transaction handling issues its own BEGIN; hand that job to the
    # "begin" listener above (SQLAlchemy's documented recipe for SQLite transactions).
    @event.listens_for(engine, "connect")
    def _no_autobegin(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
        dbapi_connection.isolation_level = None


class _Writers:
    """This process's SQLite writers, one at a time; urgent ones (a chat acknowledgement waiting
    on its inbox row) go before the others waiting."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._urgent = 0

    @contextmanager
    def turn(self, urgent: bool) -> Iterator[None]:
        with self._cond:
            self._urgent += urgent
            try:
                while self._busy or (not urgent and self._urgent):
                    self._cond.wait()
            finally:
                self._urgent -= urgent
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()


@contextmanager
def session_scope(engine: Engine, *, urgent: bool = False) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back when it raises."""
    # SQLite has one writer at a time. Queueing this process's writers on a lock is fair and
    # prompt; leaving it to SQLite's busy handler makes them sleep in growing steps (long tails).
    lock = _WRITE_LOCKS.setdefault(id(engine), _Writers()).turn(urgent) if is_sqlite(engine) else nullcontext()
    with lock, Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


_WRITE_LOCKS: dict[int, _Writers] = {}


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """A Core connection in one write transaction, for hot paths that need no ORM objects."""
    lock = _WRITE_LOCKS.setdefault(id(engine), _Writers()).turn(False) if is_sqlite(engine) else nullcontext()
    with lock, engine.begin() as conn:
        yield conn


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A read-only unit of work; on SQLite it does not take the write lock."""
    bind = engine.execution_options(sqlite_deferred=True) if is_sqlite(engine) else engine
    # Closing (not rolling back) ends the transaction yet keeps loaded objects readable.
    with Session(bind, expire_on_commit=False) as session:
        yield session


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply Alembic migrations up to `revision` (the server does this at start)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def ping(engine: Engine) -> bool:
    """Return True when the database answers a trivial query."""
    from sqlalchemy import text

    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure means "not healthy"
        return False
