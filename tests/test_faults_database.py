"""When the database fails, the webhook answers 503 (so the survey tool retries) and stores nothing."""

import sqlite3

from sqlalchemy import func, select

from bot.actors import Actor, Place
from bot.app import build_app, build_runtime, build_services
from bot.config import Settings
from storage.db import read_scope
from storage.models import Event, FollowUp, Outbox, Response
from tests.conftest import serve

AUTH = {"Authorization": "Bearer test-token"}
DETRACTOR = {"id": "r1", "score": 2, "comment": "nobody called", "customer": {"id": "c1"}}


async def test_an_unreachable_database_gives_503_with_retry_after_never_500(tmp_path):
    settings = Settings(DATABASE_URL="postgresql+psycopg://npsbot@127.0.0.1:1/nowhere",
                        NPSBOT_WEBHOOK_TOKEN="test-token")
    rt = build_runtime(settings, migrate=False)
    async with serve(build_app(build_services(rt), run_workers=False)) as client:
        resp = await client.post("/webhooks/responses", json=DETRACTOR, headers=AUTH)
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "30"
        assert "nothing was stored" in (await resp.json())["error"]
        health = await client.get("/healthz")
        assert health.status == 503
        metrics = await client.get("/metrics")
        assert metrics.status == 200


async def test_a_failure_mid_transaction_leaves_no_half_written_response(tmp_path, clock):
    db = tmp_path / "npsbot.db"
    rt = build_runtime(Settings(DATABASE_URL=f"sqlite:///{db}", NPSBOT_WEBHOOK_TOKEN="test-token"), clock=clock)
    services = build_services(rt)
    services.dispatcher.handle_text("subscribe alerts", Actor("shell", "maria", "maria"), Place("shell", "#cx"))
    # The last write of the ingest transaction (the outbox row) fails, as a full disk would.
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TRIGGER boom BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    async with serve(build_app(services, run_workers=False)) as client:
        resp = await client.post("/webhooks/responses", json=DETRACTOR, headers=AUTH)
        assert resp.status == 503
    with read_scope(rt.engine) as s:
        for model in (Response, FollowUp, Event, Outbox):
            assert s.execute(select(func.count()).select_from(model)).scalar_one() == 0, model.__name__
    # Once the disk has room again, the survey tool's retry is stored whole.
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER boom")
    async with serve(build_app(services, run_workers=False)) as client:
        resp = await client.post("/webhooks/responses", json=DETRACTOR, headers=AUTH)
        assert resp.status == 202
    with read_scope(rt.engine) as s:
        assert s.execute(select(func.count()).select_from(Outbox)).scalar_one() == 1
