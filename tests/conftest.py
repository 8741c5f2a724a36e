"""Shared fixtures: isolated settings, a real database (SQLite, or PostgreSQL when asked), a
fixed clock, the services and an HTTP client for the real aiohttp application.

The database under test is SQLite unless NPSBOT_TEST_DB=postgres; tests that take `any_db` run
on both, and say plainly when PostgreSQL at 127.0.0.1:5432 cannot be reached.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.app import build_app, build_runtime, build_services
from bot.clock import FixedClock
from bot.config import Settings
from storage.db import make_engine, upgrade

PG_ADMIN_URL = os.environ.get("NPSBOT_TEST_PG_ADMIN", "postgresql+psycopg://127.0.0.1:5432/test")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_ISOLATED_PREFIXES = ("SLACK_", "MICROSOFT_", "MicrosoftApp", "NPSBOT_", "DATABASE_URL", "PORT")


def pytest_report_header(config) -> str:
    which = os.environ.get("NPSBOT_TEST_DB", "sqlite")
    return f"npsbot: default test database = {which}; PostgreSQL: {_pg_status() or 'reachable'}"


_pg_checked: list[str | None] = []


def _pg_status() -> str | None:
    """None when PostgreSQL answers, else why not (cached)."""
    if not _pg_checked:
        try:
            engine = make_engine(PG_ADMIN_URL)
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            _pg_checked.append(None)
        except Exception as exc:
            where = make_url(PG_ADMIN_URL)
            _pg_checked.append(f"PostgreSQL at {where.host}:{where.port or 5432}/{where.database} is not "
                               f"reachable ({type(exc).__name__}; set NPSBOT_TEST_PG_ADMIN to another address)")
    return _pg_checked[0]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """A developer's real tokens and .env must never reach a test."""
    for key in list(os.environ):
        # Switches of the test suite itself (NPSBOT_TEST_DB, *_GOLDEN) are not configuration.
        if key.startswith(_ISOLATED_PREFIXES) and not key.startswith("NPSBOT_TEST") and "GOLDEN" not in key:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def pg_database_url():
    """A fresh PostgreSQL database for this test session, migrated once."""
    reason = _pg_status()
    if reason:
        pytest.skip(f"skipping PostgreSQL tests: {reason}")
    name = f"npsbot_test_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename != 'alembic_version'"))]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


def _sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'npsbot-test.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request, tmp_path) -> str:
    """Run the test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return _sqlite_url(tmp_path)
    url = request.getfixturevalue("pg_database_url")
    _truncate(url)
    return url


@pytest.fixture
def db_url(request, tmp_path) -> str:
    """The suite's database: SQLite, or PostgreSQL with NPSBOT_TEST_DB=postgres."""
    if os.environ.get("NPSBOT_TEST_DB") == "postgres":
        url = request.getfixturevalue("pg_database_url")
        _truncate(url)
        return url
    return _sqlite_url(tmp_path)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def make_settings(db_url):
    def make(**overrides) -> Settings:
        values = {"DATABASE_URL": db_url, "NPSBOT_WEBHOOK_TOKEN": "test-token"}
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings()


@pytest.fixture
def rt(settings, clock):
    runtime = build_runtime(settings, clock=clock)
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def services(rt):
    return build_services(rt)


@asynccontextmanager
async def serve(app) -> AsyncIterator[TestClient]:
    """Run an aiohttp application on 127.0.0.1 and give a client for it."""
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def http(services):
    """A client for the real `npsbot serve` app (no platforms configured, workers not started)."""
    async with serve(build_app(services, run_workers=False)) as client:
        yield client
