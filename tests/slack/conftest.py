"""Slack test harness: the real `npsbot serve` app with Slack mounted, a fake Slack Web API, and
helpers that sign requests the way Slack does (v0 HMAC over the timestamp and raw body)."""

from __future__ import annotations

import copy
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.app import build_app, build_runtime, build_services
from tests.conftest import serve
from tests.slack.slack_fake import FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "slack"


def fixture_json(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def new_trigger_id() -> str:
    """Slack gives every slash command, click and submission its own trigger_id."""
    return f"{uuid.uuid4().int % 10**11}.{uuid.uuid4().int % 10**10}.{uuid.uuid4().hex[:32]}"


def signed_headers(body: str, *, content_type: str, secret: str = SECRET, timestamp: int | None = None,
                   extra: dict | None = None) -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    sig = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}
    headers.update(extra or {})
    return headers


@dataclass
class Slack:
    """One running app plus the fake Slack it talks to."""

    rt: object
    services: object
    http: object
    fake: FakeSlack

    async def post(self, body: str, content_type: str, **kw):
        return await self.http.post("/slack/events", data=body.encode(),
                                    headers=signed_headers(body, content_type=content_type, **kw))

    async def command(self, text: str, *, user_id: str = "U2147483697", user_name: str = "steve",
                      channel: str = "C2147483705", **kw):
        """POST `/nps <text>`; returns (HTTP response, response_url key)."""
        form = dict(parse_qsl((FIXTURES / "slash_command.txt").read_text()))
        key = uuid.uuid4().hex
        form.update(text=text, user_id=user_id, user_name=user_name, channel_id=channel,
                    response_url=self.fake.response_url(key), trigger_id=new_trigger_id())
        resp = await self.post(urlencode(form), "application/x-www-form-urlencoded", **kw)
        return resp, key

    async def interactive(self, payload: dict, **kw):
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded", **kw)

    def action_payload(self, action_id: str, number: int, *, user_id: str = "U0CA5", user_name: str = "amy",
                       channel: str = "C0CA5", message_ts: str = "1548261231.000200",
                       home: bool = False) -> tuple[dict, str]:
        payload = copy.deepcopy(fixture_json("block_actions_home.json" if home else "block_actions.json"))
        key = uuid.uuid4().hex
        payload["user"].update(id=user_id, username=user_name, name=user_name)
        payload["actions"][0].update(action_id=action_id, value=str(number))
        payload["trigger_id"] = new_trigger_id()
        if not home:
            payload["channel"]["id"] = channel
            payload["container"].update(channel_id=channel, message_ts=message_ts)
            payload["response_url"] = self.fake.response_url(key)
        return payload, key

    async def click(self, action_id: str, number: int, **kw):
        """Press a button on an alert; returns (HTTP response, response_url key)."""
        payload, key = self.action_payload(action_id, number, **kw)
        return await self.interactive(payload), key

    def submission(self, callback_id: str, number: int, *, note: str | None, outcome: str | None = None,
                   user_id: str = "U0CA5", user_name: str = "amy", channel: str = "C0CA5",
                   home: bool = False) -> dict:
        payload = copy.deepcopy(fixture_json("view_submission.json"))
        payload["user"].update(id=user_id, username=user_name, name=user_name)
        payload["trigger_id"] = new_trigger_id()
        view = payload["view"]
        view["callback_id"] = callback_id
        view["private_metadata"] = json.dumps({"n": number, "c": channel, "home": home})
        values: dict = {"note": {"text": {"type": "plain_text_input", "value": note}}}
        if outcome is not None:
            values["outcome"] = {"value": {"type": "static_select", "selected_option": {
                "text": {"type": "plain_text", "text": outcome}, "value": outcome}}}
        view["state"]["values"] = values
        return payload

    async def event(self, payload: dict, *, retry_num: int | None = None, **kw):
        extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} if retry_num else None
        return await self.post(json.dumps(payload), "application/json", extra=extra, **kw)

    async def ingest(self, *items: dict):
        resp = await self.http.post("/webhooks/responses", json=list(items),
                                    headers={"Authorization": "Bearer test-token"})
        assert resp.status == 202, await resp.text()
        return await resp.json()

    async def subscribe(self, channel: str = "C0CA5", options: str = "") -> None:
        resp, key = await self.command(f"subscribe alerts {options}".strip(), channel=channel)
        assert resp.status == 200
        [reply] = await self.fake.wait_response(key)
        assert "now gets an alert" in reply["text"], reply

    async def alert(self, channel: str = "C0CA5", **item) -> str:
        """Subscribe, ingest one detractor and deliver its alert; returns the alert's ts."""
        await self.subscribe(channel)
        body = {"id": "resp-1", "score": 2, "comment": "Support never answered my ticket",
                "customer": {"id": "cus_42", "name": "Acme Corp", "segment": "renewal", "arr": 48000,
                             "owner": "alice@acme.example"}}
        body.update(item)
        await self.ingest(body)
        await self.services.worker.drain(timeout=10)
        posts = [p for p in self.fake.ok_calls("chat.postMessage") if p["channel"] == channel and "blocks" in p]
        assert posts, self.fake.calls
        return self.posted_ts()

    def posted_ts(self) -> str:
        """The message ts of the newest alert npsbot recorded as posted."""
        from sqlalchemy import select

        from storage.db import read_scope
        from storage.models import PostedMessage

        with read_scope(self.rt.engine) as s:
            return s.execute(select(PostedMessage.message_ref).order_by(PostedMessage.id.desc())).scalars().first()


@pytest.fixture
async def fake_slack():
    fake = await FakeSlack().start()
    yield fake
    await fake.stop()


@pytest.fixture
def slack_env(fake_slack) -> dict:
    return {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake_slack.api_url, "NPSBOT_SLACK_POST_INTERVAL": "0"}


@pytest.fixture
async def slack(make_settings, slack_env, clock, fake_slack):
    rt = build_runtime(make_settings(**slack_env), clock=clock)
    services = build_services(rt)
    async with serve(build_app(services, run_workers=False)) as http:
        yield Slack(rt, services, http, fake_slack)
    rt.engine.dispose()
