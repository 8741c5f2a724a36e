"""Adversarial input at every door of the core: commands, CSV rows and logs never break or leak."""

import csv
import io
import json
import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.actors import Actor, Place
from bot.csvimport import import_records, read_records
from bot.logs import JsonFormatter, redact
from bot.textview import reply_text
from bot.views import FollowUpDetail, FollowUpList, HelpView, Notice, ScoreView
from storage.db import read_scope
from storage.models import Response

WORDS = st.sampled_from(["claim", "close", "note", "assign", "show", "score", "digest", "schedule", "subscribe",
                         "alerts", "reopen", "open", "mine", "now", "off", "7d", "segment=", "max_score=", "1",
                         "#2", "@maria", "<@U1|x>", "mon", "25:00", "Europe/Berlin", "resolved", "'", '"', "\\"])
command_text = st.one_of(st.text(max_size=60), st.lists(WORDS, max_size=6).map(" ".join))
hyp = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@hyp
@given(text=command_text)
def test_any_command_text_gets_a_reply_never_an_exception(services, text):
    reply = services.dispatcher.handle_text(text, Actor("shell", "maria", "maria"), Place("shell", "#cx"))
    assert isinstance(reply, Notice | HelpView | FollowUpList | FollowUpDetail | ScoreView)
    assert reply_text(reply)
    if isinstance(reply, HelpView) and reply.error:
        assert len(reply.error) < 500


cell = st.one_of(st.text(max_size=12), st.integers(-5, 15).map(str), st.just(""), st.just("2026-11-20T10:00:00Z"))
header = st.lists(st.sampled_from(["id", "score", "comment", "submitted_at", "source", "customer_id", "segment",
                                   "arr", "owner", "region", "score"]), min_size=1, max_size=8)


@hyp
@given(columns=header, rows=st.lists(st.lists(cell, min_size=0, max_size=9), max_size=8))
def test_any_csv_rows_are_stored_or_rejected_with_a_line_number(rt, columns, rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    _, records = read_records(out.getvalue())
    records = list(records)
    with read_scope(rt.engine) as s:
        before = s.execute(select(func.count()).select_from(Response)).scalar_one()
    summary = import_records(rt, records)
    with read_scope(rt.engine) as s:
        after = s.execute(select(func.count()).select_from(Response)).scalar_one()
    assert summary.accepted + summary.duplicates + len(summary.rejected) == len(records)
    assert after - before == summary.accepted
    lines = {r.line for r in records}
    assert all(r.line in lines and r.reason for r in summary.rejected)


def test_tokens_and_emails_never_reach_a_log_line():
    record = logging.makeLogRecord({"msg": "posting with xoxb-1234-abcd for ops@acme.example",
                                    "extra_field": "Bearer s3cr3t-token", "levelname": "INFO", "name": "t"})
    line = JsonFormatter().format(record)
    data = json.loads(line)
    assert "xoxb-1234" not in line and "ops@acme.example" not in line and "s3cr3t" not in line
    assert data["event"] == "posting with <redacted> for <email>"
    assert redact("eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl") == "<redacted>"


async def test_a_webhook_request_logs_neither_its_token_nor_customer_emails(http, caplog):
    caplog.set_level(logging.DEBUG)
    body = {"id": "r1", "score": 2, "customer": {"id": "c1", "email": "ceo@acme.example"}}
    await http.post("/webhooks/responses", json=body, headers={"Authorization": "Bearer test-token"})
    formatter = JsonFormatter()
    logged = "\n".join(formatter.format(r) for r in caplog.records)
    assert "test-token" not in logged and "ceo@acme.example" not in logged
