"""A hostile `Retry-After` from the Slack Web API (`inf`, `nan`, `1e12`, `-5`, junk) neither raises
nor skips the backoff: it is clamped to 1 s–15 min, and garbage counts as absent (wait 1 s)."""

import pytest
from sqlalchemy import select

from bot.clock import as_utc
from storage.db import read_scope
from storage.models import Outbox


@pytest.mark.parametrize(("header", "waits"), [
    ("inf", 1.0), ("nan", 1.0), ("1e12", 900.0), ("-5", 1.0), ("0", 1.0), ("soon", 1.0), ("7", 7.0),
])
async def test_a_hostile_retry_after_is_clamped_and_the_alert_still_arrives(slack, clock, header, waits):
    await slack.subscribe("C0CA5")
    slack.fake.fail_next(1, status=429, retry_after=header)
    await slack.ingest({"id": "r1", "score": 1, "customer": {"id": "c1"}})
    await slack.services.worker.drain(timeout=10)
    with read_scope(slack.rt.engine) as s:
        row = s.execute(select(Outbox).where(Outbox.kind == "alert.post")).scalar_one()
    assert row.status == "pending" and row.attempts == 0
    assert (as_utc(row.next_attempt_at) - clock.now()).total_seconds() == waits
    clock.advance(seconds=waits)
    await slack.services.worker.drain(timeout=10)
    assert [p["channel"] for p in slack.fake.ok_calls("chat.postMessage") if "blocks" in p] == ["C0CA5"]
