"""Unauthenticated malformed requests at every door get a 4xx, never a 500 or a traceback at ERROR:
JSON nested 10,000 deep, a `Content-Encoding: gzip` body that is not gzip, `Authorization: Bearer \\xff`,
a non-numeric `X-Slack-Request-Timestamp`, a non-ASCII `X-Slack-Signature`, an event without a
timestamp. `/webhooks/<tool>` in token mode refuses before it reads the body."""

import json
import logging

import pytest
from hypothesis import given, settings

from bot.app import build_app, build_runtime, build_services
from tests.conftest import serve
from tests.slack.conftest import SECRET, signed_headers
from tests.strategies import content_encodings, door_settings, header_values, nested, nesting

JSON = {"Content-Type": "application/json", "Connection": "close"}
AUTH = {**JSON, "Authorization": "Bearer test-token"}
DOORS = [("/webhooks/responses", AUTH), ("/webhooks/responses", JSON), ("/webhooks/typeform?token=test-token", JSON),
         ("/webhooks/delighted", JSON), ("/api/messages", JSON), ("/slack/events", JSON)]


@pytest.fixture
async def door(make_settings, clock, tmp_path):
    settings = make_settings(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
                             SLACK_API_URL="http://127.0.0.1:9/", NPSBOT_TEAMS_ENABLED="true")
    rt = build_runtime(settings, clock=clock)
    async with serve(build_app(build_services(rt), run_workers=False)) as http:
        yield http
    rt.engine.dispose()


def no_error_logs(caplog) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not bad, [(r.name, r.getMessage()) for r in bad]


@pytest.mark.parametrize(("path", "headers"), DOORS)
async def test_json_nested_10000_deep_is_a_4xx_at_every_door(door, caplog, path, headers):
    for kind in ("list", "object"):
        body = nested(10_000, kind)
        if path == "/slack/events":
            headers = {**signed_headers(body.decode(), content_type="application/json"), "Connection": "close"}
        resp = await door.post(path, data=body, headers=headers)
        assert 400 <= resp.status < 500, (path, resp.status, await resp.text())
    no_error_logs(caplog)


@pytest.mark.parametrize(("path", "headers"), DOORS)
async def test_a_gzip_body_that_is_not_gzip_is_a_4xx_at_every_door(door, caplog, path, headers):
    resp = await door.post(path, data=b'{"id": "x", "score": 1}', headers={**headers, "Content-Encoding": "gzip"})
    assert 400 <= resp.status < 500
    no_error_logs(caplog)


async def test_tool_webhooks_in_token_mode_refuse_before_reading_the_body(door):
    resp = await door.post("/webhooks/delighted?token=wrong", data=b"not gzip at all",
                           headers={**JSON, "Content-Encoding": "gzip"})
    assert resp.status == 401 and "token" in (await resp.json())["error"]


@pytest.mark.parametrize("path", ["/webhooks/responses", "/api/messages"])
async def test_a_non_ascii_bearer_token_is_a_4xx(door, caplog, path):
    resp = await door.post(path, data=b"{}", headers={**JSON, "Authorization": "Bearer \xff"})
    assert 400 <= resp.status < 500
    no_error_logs(caplog)


@pytest.mark.parametrize(("timestamp", "signature"), [("abc", "v0=00"), ("1700000000", "v0=\xe9\xe9"),
                                                      ("", ""), ("١٢٣", "v0=00"), ("1" * 40, "v0=00")])
async def test_odd_slack_signature_headers_are_401(door, caplog, timestamp, signature):
    resp = await door.post("/slack/events", data=b"{}", headers={
        **JSON, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature})
    assert resp.status == 401
    no_error_logs(caplog)


async def test_a_signed_event_without_a_timestamp_is_answered(door, caplog):
    for event in ({"type": "reaction_added", "user": "U1", "reaction": "eyes", "item": {"type": "message",
                                                                                      "channel": "C1"}},
                  {"type": "app_home_opened"}, {"type": "message"}):
        body = json.dumps({"type": "event_callback", "event_id": "Ev1", "event": event})
        resp = await door.post("/slack/events", data=body.encode(),
                               headers={**signed_headers(body, content_type="application/json"), "Connection": "close"})
        assert resp.status < 500
    no_error_logs(caplog)


@settings(door_settings, max_examples=20)
@given(headers=header_values, which=header_values, encoding=content_encodings, depth=nesting)
async def test_any_headers_encoding_and_nesting_get_a_4xx_or_success(door, caplog, headers, which, encoding, depth):
    body = nested(*depth)
    for path, base in DOORS:
        sent = {**base, "Content-Encoding": encoding, "Authorization": headers,
                "X-Slack-Request-Timestamp": which, "X-Slack-Signature": headers}
        resp = await door.post(path, data=body, headers=sent)
        assert resp.status < 500, (path, sent, resp.status)
    no_error_logs(caplog)
