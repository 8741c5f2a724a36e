"""Slack: the Bolt app at `POST /slack/events` and the Notifier the outbox worker posts through.

Everything that imports slack_bolt or slack_sdk lives in this package. The Bolt app verifies
every HTTP request's v0 signature and refuses timestamps more than five minutes old (Bolt's
RequestVerification middleware answers 401). It never calls auth.test: the single workspace's bot
token comes from SLACK_BOT_TOKEN through a local `authorize`, so no Web API call sits between a
request and its acknowledgement.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.signature import SignatureVerifier

from bot.background import Background
from bot.delivery import Notifier
from handlers.slack.listeners import SlackDoor, register
from handlers.slack.membership import members_lookup
from handlers.slack.notifier import SlackNotifier, make_client
from handlers.slack.workspace import WorkspaceBinding

__all__ = ["build_bolt_app", "mount", "SlackNotifier"]


log = logging.getLogger(__name__)
WORKSPACE_TASK = web.AppKey("npsbot_slack_workspace_task", asyncio.Task)


def _authorize(token: str):
    async def authorize(enterprise_id=None, team_id=None, user_id=None, **_: object) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=token)

    return authorize


class _NoTokenFromEnvironmentWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and, as we hand it a client,
    warns on every start that the token "will be unused": true and intended, so not shown."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


_BOLT_LOG = logging.getLogger("slack_bolt.AsyncApp")
_BOLT_LOG.addFilter(_NoTokenFromEnvironmentWarning())


class NpsbotBolt(AsyncApp):
    """Bolt's app, with the two parts of npsbot the web server and Socket Mode reach through it."""

    npsbot_workspace: WorkspaceBinding
    npsbot_door: SlackDoor


def build_bolt_app(services, *, socket_mode: bool = False) -> NpsbotBolt:
    """A Bolt AsyncApp with npsbot's listeners; its client talks to SLACK_API_URL."""
    settings = services.rt.settings
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    # The client gets its token after construction: Bolt warns when a token and an
    # `authorize` are both given, though the notifier needs the token on the shared client.
    client = make_client(None, settings.slack_api_url)
    app = NpsbotBolt(
        client=client,
        authorize=_authorize(token),
        signing_secret=secret,
        # Socket Mode payloads arrive over an authenticated WebSocket and carry no signature.
        request_verification_enabled=not socket_mode,
        name="npsbot",
        logger=_BOLT_LOG,
    )
    client.token = token
    binding = WorkspaceBinding(client, settings.slack_team_id, settings.slack_enterprise_id)
    app.use(binding.middleware)  # first: a foreign workspace's request goes no further
    app.npsbot_workspace = binding
    app.npsbot_door = register(app, services, session=lambda: client.session)
    return app


def signature_headers_well_formed(headers) -> bool:
    """A numeric timestamp and an ASCII `v0=` signature (Slack never sends anything else)."""
    ts, sig = headers.get("X-Slack-Request-Timestamp", ""), headers.get("X-Slack-Signature", "")
    return ts.isascii() and ts.isdigit() and len(ts) <= 12 and sig.isascii() and sig.startswith("v0=")


def _malformed_event(body: object) -> bool:
    """A body whose `event` is missing from an event callback or not an object (Slack sends neither)."""
    if not isinstance(body, dict):
        return True  # Slack sends objects only
    if "event" in body or body.get("type") == "event_callback":
        return not isinstance(body.get("event"), dict)
    return False


def mount(app: web.Application, services) -> Notifier:
    """Add `POST /slack/events` to the server and return the Slack Notifier."""
    settings = services.rt.settings
    bolt = build_bolt_app(services)
    notifier = SlackNotifier(bolt.client, post_interval=settings.slack_post_interval,
                             clock=services.rt.clock)

    verifier = SignatureVerifier(settings.slack_signing_secret.get_secret_value())
    services.dispatcher.visibility.register(
        "slack", members_lookup(settings.slack_bot_token.get_secret_value(), settings.slack_api_url))

    async def slack_events(request: web.Request) -> web.Response:
        if not signature_headers_well_formed(request.headers):
            # Bolt's verification would raise on them (a 500); they cannot be a valid signature.
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            bolt_request = await to_bolt_request(request)
            malformed, raw = _malformed_event(bolt_request.body), bolt_request.raw_body
        except (AttributeError, TypeError, ValueError):
            # Bolt reads a few fields as it builds the request; a JSON list or scalar has none.
            malformed, raw = True, await request.text()
        if malformed:
            # Bolt's middleware would fail on it with a 500, which asks Slack to retry in vain.
            signed = verifier.is_valid(raw, request.headers.get("X-Slack-Request-Timestamp", ""),
                                       request.headers.get("X-Slack-Signature", ""))
            return web.json_response({"error": "malformed event" if signed else "invalid request"},
                                     status=400 if signed else 401)
        try:
            bolt_response = await bolt.async_dispatch(bolt_request)
        except Exception:  # listener errors are Bolt's; what escapes is a malformed payload
            log.warning("slack.malformed_request", exc_info=True)
            return web.json_response({"error": "malformed request"}, status=400)
        return await to_aiohttp_response(bolt_response)

    async def shared_session(_: web.Application):
        # One connection pool for every Web API call (Bolt's per-request clients copy it).
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        bolt.client.session = session
        yield
        bolt.client.session = None
        await session.close()

    async def learn_workspace(app_: web.Application) -> None:
        # auth.test before the first request rather than during it, without holding up the start.
        app_[WORKSPACE_TASK] = asyncio.create_task(bolt.npsbot_workspace.workspace())

    async def finish_acknowledged(_: web.Application):
        # Requests acknowledged by a process that died are applied again (handlers/slack/inbox.py).
        background = Background(services, deliver=False, schedule=False,
                                tasks={"slack-inbox": bolt.npsbot_door.inbox.run()})
        await background.start()
        yield
        await background.stop()

    app.router.add_post("/slack/events", slack_events)
    app.cleanup_ctx.append(shared_session)
    app.on_startup.append(learn_workspace)
    app.cleanup_ctx.append(finish_acknowledged)
    return notifier
