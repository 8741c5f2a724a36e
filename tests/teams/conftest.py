"""Teams test doors: a fake Bot Framework connector on 127.0.0.1 and the real npsbot app.

Activities are read from tests/fixtures/teams/*.json (documented Teams shapes) with their
`serviceUrl` pointed at the fake connector, and POSTed to `/api/messages` of bot.app.build_app
running with NPSBOT_TEAMS_ENABLED=true and no app id (the Emulator's unauthenticated mode).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from tests.golden import GOLDEN as GOLDEN_ROOT
from tests.golden import as_json, assert_golden

FIXTURES = Path(__file__).parent.parent / "fixtures" / "teams"
GOLDEN = GOLDEN_ROOT / "teams"
CHANNEL = "19:3b1f0a2c5d6e4f7a8b9c0d1e2f3a4b5c@thread.tacv2"
PERSONAL = "a:1Tq2pRqSamLeePersonalChatWithNpsbot"
MARIA_AAD = "6c2f1b3a-1d4e-4f5a-9b8c-7d6e5f4a3b2c"
SAM_AAD = "0b9a8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"
INJECTION = "[click](https://evil.example) **bold** <at>x</at>"


@dataclass
class Call:
    method: str
    conversation: str
    activity_id: str | None
    body: dict
    headers: dict


@dataclass
class FakeConnector:
    """Records what the bot sends; answers like the Bot Connector (`{"id": …}`)."""

    calls: list[Call] = field(default_factory=list)
    failures: list[tuple[int, dict]] = field(default_factory=list)
    roster: list[dict] = field(default_factory=list)  # GET …/members (owner mentions); [] = 404
    rosters: dict[str, list[dict]] = field(default_factory=dict)
    url: str = ""
    _n: int = 0

    def fail_next(self, status: int, headers: dict | None = None) -> None:
        self.failures.append((status, headers or {}))

    def _record(self, request: web.Request, body: dict) -> web.Response | None:
        self.calls.append(Call(request.method, request.match_info["conv"], request.match_info.get("aid"),
                               body, dict(request.headers)))
        if self.failures:
            status, headers = self.failures.pop(0)
            return web.json_response({"error": {"code": "Throttled", "message": "slow down"}},
                                     status=status, headers=headers)
        return None

    async def send(self, request: web.Request) -> web.Response:
        refused = self._record(request, await request.json())
        if refused:
            return refused
        self._n += 1
        return web.json_response({"id": f"17636400{self._n:05d}"}, status=201)

    async def update(self, request: web.Request) -> web.Response:
        refused = self._record(request, await request.json())
        return refused or web.json_response({"id": request.match_info["aid"]})

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(Call("POST", "", None, body, dict(request.headers)))
        return web.json_response({"id": "a:1NewPersonalChatCreatedByBot"}, status=201)

    async def member(self, request: web.Request) -> web.Response:
        self._record(request, {})
        return web.json_response(json.loads((FIXTURES / "team_member.json").read_text()))

    async def members(self, request: web.Request) -> web.Response:
        # Owner mentions (routing tests) set `roster` and count the lookups; the visibility rule's
        # lookups are not posts and are not recorded. `rosters` narrows one conversation.
        conv = request.match_info["conv"]
        if self.roster:
            self.calls.append(Call("GET", conv, None, {}, dict(request.headers)))
            return web.json_response(self.roster)
        members = self.rosters.get(conv, [json.loads((FIXTURES / "team_member.json").read_text())])
        return web.json_response(members)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations", self.create)
        app.router.add_post("/v3/conversations/{conv}/activities", self.send)
        app.router.add_post("/v3/conversations/{conv}/activities/{aid}", self.send)
        app.router.add_put("/v3/conversations/{conv}/activities/{aid}", self.update)
        app.router.add_get("/v3/conversations/{conv}/members/{mid}", self.member)
        app.router.add_get("/v3/conversations/{conv}/members", self.members)
        return app

    # -- views on what was recorded ----------------------------------------------------------
    def posts(self, conversation: str = CHANNEL) -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and c.conversation == conversation
                and c.activity_id is None]

    def replies(self, conversation_prefix: str = CHANNEL) -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and c.conversation.startswith(conversation_prefix)
                and c.activity_id is not None]

    def updates(self) -> list[Call]:
        return [c for c in self.calls if c.method == "PUT"]

    def clear(self) -> None:
        self.calls.clear()


def card_of(call: Call) -> dict:
    attachments = call.body.get("attachments") or []
    assert attachments, f"no card in {call.body}"
    assert attachments[0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    return attachments[0]["content"]


def load_activity(name: str, service_url: str, **subs) -> dict:
    """A fixture activity; `{{KEY}}` placeholders take strings (JSON-escaped) or, for DATA, JSON."""
    raw = (FIXTURES / f"{name}.json").read_text()
    for key, value in subs.items():
        if isinstance(value, (dict, list)):
            raw = raw.replace("{{" + key + "}}", json.dumps(value))
        else:
            raw = raw.replace("{{" + key + "}}", json.dumps(str(value))[1:-1])
    body = json.loads(raw)
    body["serviceUrl"] = service_url
    return body


def golden(name: str, value: dict) -> None:
    """Compare with tests/golden/teams/<name>.json (NPSBOT_UPDATE_GOLDEN=1 rewrites it)."""
    assert_golden(GOLDEN / f"{name}.json", as_json(value))


@pytest.fixture
def settings(make_settings):
    return make_settings(NPSBOT_TEAMS_ENABLED="true", NPSBOT_TEAMS_POST_INTERVAL="0")


@pytest.fixture
async def connector():
    fake = FakeConnector()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("/"))
    try:
        yield fake
    finally:
        await server.close()


@dataclass
class TeamsDoor:
    client: TestClient
    connector: FakeConnector
    services: object

    async def post(self, name: str, **subs) -> tuple[int, object]:
        body = load_activity(name, self.connector.url, **subs)
        response = await self.client.post("/api/messages", json=body)
        text = await response.text()
        return response.status, (json.loads(text) if text else None)

    async def drain(self) -> None:
        await self.services.worker.drain(timeout=10)

    @property
    def notifier(self):
        return self.services.worker.notifiers["teams"]


@pytest.fixture
async def teams(services, connector):
    client = TestClient(TestServer(build_app(services, run_workers=False), host="127.0.0.1"))
    await client.start_server()
    try:
        yield TeamsDoor(client, connector, services)
    finally:
        await client.close()
