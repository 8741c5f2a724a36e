"""A fake Slack Web API on 127.0.0.1 (random port) that records every call.

Answers the methods npsbot uses in Slack's documented shapes, receives `response_url` posts and
files_upload_v2 uploads, serves a Socket Mode WebSocket, and can be told to fail the next N calls
of some methods with 429 + Retry-After, a 5xx, or an `ok: false` error code.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web


@dataclass
class Call:
    method: str
    params: dict
    ok: bool
    status: int
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    methods: frozenset[str] | None
    remaining: int
    status: int
    body: dict | str
    headers: dict


# The user ids the Slack tests act as: members of every channel unless `members` says otherwise.
EVERYONE = ("U0CA5", "U0HOME", "U0MARIA", "U0RIA", "U0OTHER", "U0LATE", "U0BOB", "U0ADMIN", "U2147483697",
            "U123ABC456", "U123", "U999", "U777", "U042", "UA8RXUSPL", "U222222222")


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.responses: dict[str, list[dict]] = {}
        self.uploads: list[bytes] = []
        self.users: dict[str, dict] = {}
        # conversations.members: channels not listed here have every user the tests act as.
        self.members: dict[str, list[str]] = {}
        self.team_id, self.enterprise_id = "T0CAG", None
        self.failures: list[_Failure] = []
        self.ws_messages: list[dict] = []
        self.ws: web.WebSocketResponse | None = None
        self.ws_connected = asyncio.Event()
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._response_url)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/ws", self._websocket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, key: str) -> str:
        return f"{self.url}/response/{key}"

    # -- control --------------------------------------------------------------------------------
    def fail_next(self, count: int, *, methods: tuple[str, ...] | None = ("chat.postMessage",),
                  status: int = 429, retry_after: int | str | None = None, error: str | None = None,
                  raw_body: str | None = None) -> None:
        """The next `count` calls of `methods` answer `status` (429 with Retry-After, 5xx, or 200
        with `{"ok": false, "error": error}`)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        body = raw_body if raw_body is not None else {
            "ok": False, "error": error or ("ratelimited" if status == 429 else "internal_error")}
        self.failures.append(_Failure(frozenset(methods) if methods else None, count, status, body, headers))

    def ok_calls(self, method: str) -> list[dict]:
        return [c.params for c in self.calls if c.method == method and c.ok]

    def all_calls(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, predicate, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.01)
        methods = Counter(c.method for c in self.calls)
        raise AssertionError(f"timed out after {timeout}s waiting for the fake Slack API; calls: "
                             f"{dict(methods)}, response_url posts: {sum(map(len, self.responses.values()))}")

    async def wait_response(self, key: str, count: int = 1, timeout: float = 5.0) -> list[dict]:
        return await self.wait_for(lambda: len(self.responses.get(key, [])) >= count and self.responses[key],
                                   timeout)

    # -- handlers -------------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> dict:
        params = dict(request.query)
        if request.method == "POST":
            raw = await request.read()
            if request.content_type == "application/json":
                params.update(json.loads(raw or b"{}"))
            elif raw:
                params.update(dict(parse_qsl(raw.decode())))
        for key in ("blocks", "view"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        params["_token"] = request.headers.get("Authorization", "")
        return params

    def _failure_for(self, method: str) -> _Failure | None:
        for failure in self.failures:
            if failure.remaining > 0 and (failure.methods is None or method in failure.methods):
                failure.remaining -= 1
                return failure
        return None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        failure = self._failure_for(method)
        if failure is not None:
            self.calls.append(Call(method, params, False, failure.status))
            if isinstance(failure.body, str):  # e.g. a proxy's HTML error page
                return web.Response(text=failure.body, status=failure.status, headers=failure.headers,
                                    content_type="text/html")
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        body = self._answer(method, params)
        self.calls.append(Call(method, params, body.get("ok", False), 200))
        return web.json_response(body)

    def _answer(self, method: str, p: dict) -> dict:
        if method == "chat.postMessage":
            ts = f"1763640000.{next(self._ts):06d}"
            return {"ok": True, "channel": p.get("channel"), "ts": ts,
                    "message": {"type": "message", "text": p.get("text"), "ts": ts, "bot_id": "B0BOT"}}
        if method == "chat.update":
            return {"ok": True, "channel": p.get("channel"), "ts": p.get("ts"), "text": p.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1763640000.{next(self._ts):06d}"}
        if method in ("views.open", "views.publish", "views.update"):
            view = dict(p.get("view") or {})
            view.update({"id": "V0FAKE", "hash": "1.abc"})
            return {"ok": True, "view": view}
        if method == "users.info":
            uid = p.get("user", "")
            user = self.users.get(uid, {"id": uid, "name": uid.lower(), "real_name": uid,
                                        "profile": {"display_name": f"name-{uid}"}})
            return {"ok": True, "user": user}
        if method == "users.lookupByEmail":
            # Slack answers users_not_found for an e-mail no one in the workspace has.
            email = str(p.get("email", "")).lower()
            for user in self.users.values():
                if str((user.get("profile") or {}).get("email", "")).lower() == email:
                    return {"ok": True, "user": user}
            return {"ok": False, "error": "users_not_found"}
        if method == "auth.test":
            return {"ok": True, "team_id": self.team_id, "enterprise_id": self.enterprise_id,
                    "user_id": "U0BOT", "bot_id": "B0BOT"}
        if method == "conversations.members":
            members = self.members.get(p.get("channel", ""), EVERYONE)
            return {"ok": True, "members": list(members), "response_metadata": {"next_cursor": ""}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts):06d}"
            return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = p.get("files")
            files = json.loads(files) if isinstance(files, str) else files
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files or []]}
        if method == "files.info":
            return {"ok": True, "file": {"id": p.get("file")}}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.url.replace("http://", "ws://") + "/ws"}
        return {"ok": False, "error": "unknown_method"}

    async def _response_url(self, request: web.Request) -> web.Response:
        self.responses.setdefault(request.match_info["key"], []).append(await request.json())
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads.append(await request.read())
        return web.Response(text="OK - uploaded", content_type="text/plain")

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws = ws
        await ws.send_json({"type": "hello", "num_connections": 1,
                            "connection_info": {"app_id": "A0001"}})
        self.ws_connected.set()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self.ws_messages.append(json.loads(msg.data))
        return ws
