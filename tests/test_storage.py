"""Storage on SQLite and PostgreSQL: migrations match the models; concurrent ingest stays idempotent."""

from concurrent.futures import ThreadPoolExecutor

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlmodel import SQLModel

from bot.app import build_runtime
from bot.config import Settings
from bot.ingest import ingest, validate_body
from storage.db import make_engine, read_scope, upgrade
from storage.models import FollowUp, Response


def test_migrations_create_exactly_the_models_schema(any_db):
    upgrade(any_db)
    engine = make_engine(any_db)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    engine.dispose()


def test_simultaneous_deliveries_of_one_response_store_it_once(any_db, clock):
    rt = build_runtime(Settings(DATABASE_URL=any_db), clock=clock)
    items, _ = validate_body({"id": "r1", "score": 2, "customer": {"id": "c1"}})
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: ingest(rt, items), range(8)))
    assert sum(r.accepted for r in results) == 1 and sum(r.duplicates for r in results) == 7
    with read_scope(rt.engine) as s:
        assert s.execute(select(func.count()).select_from(Response)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(FollowUp)).scalar_one() == 1
    rt.engine.dispose()


def test_simultaneous_detractors_of_one_customer_share_one_follow_up(any_db, clock):
    rt = build_runtime(Settings(DATABASE_URL=any_db), clock=clock)

    def answer(i):
        items, _ = validate_body({"id": f"r{i}", "score": i % 7, "customer": {"id": "c1"}})
        return ingest(rt, items)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(answer, range(16)))
    with read_scope(rt.engine) as s:
        assert s.execute(select(func.count()).select_from(Response)).scalar_one() == 16
        assert s.execute(select(func.count()).select_from(FollowUp)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(Response).where(
            Response.followup_id.is_not(None))).scalar_one() == 16
    rt.engine.dispose()


def test_concurrent_batches_touching_the_same_customers_in_opposite_orders_never_fail(any_db, clock):
    rt = build_runtime(Settings(DATABASE_URL=any_db), clock=clock)

    def batch(n):
        ids = list(range(40))
        if n % 2:
            ids.reverse()
        items, _ = validate_body([{"id": f"b{n}-{i}", "score": 9, "customer": {"id": f"c{i}", "name": f"N{n}"}}
                                  for i in ids])
        return ingest(rt, items)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(batch, range(24)))
    assert sum(r.accepted for r in results) == 24 * 40
    rt.engine.dispose()
