"""Microsoft Teams: `POST /api/messages` (Bot Framework) and the Notifier for proactive posts.

`mount()` builds botbuilder's CloudAdapter from MICROSOFT_APP_ID / _PASSWORD / _TENANT_ID /
_TYPE. With an app id, every request must carry a valid Bot Framework token (401 otherwise);
without one (NPSBOT_TEAMS_ENABLED=true) the adapter runs in the unauthenticated local mode the
Bot Framework Emulator uses. botbuilder is imported only under handlers/teams/.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from botbuilder.core import TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter

    from bot.app import Services
    from bot.config import Settings
    from bot.delivery import Notifier
    from handlers.teams.bot import NpsTeamsBot

log = logging.getLogger(__name__)


class _NoUnknownAttributeWarnings(logging.Filter):
    """msrest warns for every field Teams sends that the SDK's models predate (`teamsChannelId`,
    …): it ignores them by design, and a warning per activity would bury real ones."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "is not a known attribute of class" not in str(record.msg)


logging.getLogger("msrest.serialization").addFilter(_NoUnknownAttributeWarnings())


class BotConfig:
    """The attribute names ConfigurationBotFrameworkAuthentication reads (not env var names)."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.microsoft_app_id or ""
        password = settings.microsoft_app_password
        self.APP_PASSWORD = password.get_secret_value() if password else ""
        self.APP_TENANTID = settings.microsoft_app_tenant_id or ""
        # Without an app id there is nothing to authenticate: botbuilder's "MultiTenant" path is
        # the one that allows that (SingleTenant insists on an id, a password and a tenant).
        self.APP_TYPE = (settings.microsoft_app_type or "SingleTenant") if self.APP_ID else "MultiTenant"
        kind = self.APP_TYPE.lower()
        if self.APP_ID and kind == "singletenant" and not (self.APP_PASSWORD and self.APP_TENANTID):
            raise ValueError("A SingleTenant Teams bot needs MICROSOFT_APP_PASSWORD and MICROSOFT_APP_TENANT_ID "
                             "as well as MICROSOFT_APP_ID.")
        if self.APP_ID and kind == "userassignedmsi" and not self.APP_TENANTID:
            raise ValueError("A UserAssignedMSI Teams bot needs MICROSOFT_APP_TENANT_ID.")


def mount(app: web.Application, services: Services) -> Notifier:
    """Add `POST /api/messages` and return the Teams Notifier for the delivery worker."""
    from handlers.teams.bot import NpsTeamsBot
    from handlers.teams.conversations import ConversationStore
    from handlers.teams.notifier import TeamsNotifier

    settings = services.rt.settings
    config = BotConfig(settings)
    adapter = _adapter(config)
    store = ConversationStore(services.rt)
    bot = NpsTeamsBot(services.dispatcher, store)
    # No app id: nothing authenticates activities, so only this machine may send them (local_mode.py).
    local_guard = not config.APP_ID and not settings.teams_allow_remote
    app.router.add_post("/api/messages", _messages_handler(adapter, bot, local_guard=local_guard))
    _log_mode(config, local_guard=local_guard)
    notifier = TeamsNotifier(adapter, services.rt, store, config.APP_ID)
    _register_roster(app, services, notifier)
    return notifier


def _adapter(config: BotConfig) -> CloudAdapter:
    """botbuilder's CloudAdapter for `config`, with cached credentials and the turn-error reply."""
    from botbuilder.integration.aiohttp import (
        CloudAdapter,
        ConfigurationBotFrameworkAuthentication,
        ConfigurationServiceClientCredentialFactory,
    )

    from handlers.teams.credentials import CachedCredentialFactory

    credentials = CachedCredentialFactory(ConfigurationServiceClientCredentialFactory(config))
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(config, credentials_factory=credentials))
    adapter.on_turn_error = _on_turn_error
    return adapter


async def _on_turn_error(context: TurnContext, error: Exception) -> None:
    log.error("teams.turn_failed", exc_info=error, extra={"activity_type": context.activity.type})
    if context.activity.type == "message":
        try:
            await context.send_activity("Sorry, something went wrong on my side; please try again.")
        except Exception:  # the connector may be what failed
            log.warning("teams.error_reply_failed")


def _messages_handler(adapter: CloudAdapter, bot: NpsTeamsBot, *,
                      local_guard: bool) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """`POST /api/messages`: check the body is a JSON activity (and, with `local_guard`, that it
    comes from this machine), then hand it to the adapter."""
    from handlers.teams.local_mode import refusal

    async def messages(request: web.Request) -> web.StreamResponse:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected application/json"}, status=415)
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return web.json_response({"error": "body is not a JSON activity"}, status=400)
        if local_guard:
            why = refusal(request.remote, body)
            if why:
                return web.json_response({"error": why}, status=403)
        try:
            response = await adapter.process(request, bot)
        except (web.HTTPException, PermissionError):
            raise  # botbuilder's own answers, e.g. 401 for a missing or bad token
        except Exception:  # turn errors go to _on_turn_error; what escapes is a malformed activity
            log.warning("teams.malformed_activity", exc_info=True)
            return web.json_response({"error": "malformed activity"}, status=400)
        return response or web.Response(status=201)

    return messages


def _log_mode(config: BotConfig, *, local_guard: bool) -> None:
    if not config.APP_ID:
        log.warning("teams.unauthenticated_local_mode", extra={
            "loopback_only": local_guard,
            "hint": "set MICROSOFT_APP_ID (and its password) for any use beyond the Bot Framework Emulator"})
    mode = "authenticated" if config.APP_ID else "unauthenticated local mode (no MICROSOFT_APP_ID)"
    log.info("teams.mounted", extra={"mode": mode, "app_type": config.APP_TYPE})


def _register_roster(app: web.Application, services: Services, notifier) -> None:
    """Let the visibility rule ask Teams who is in a channel (on this server's event loop)."""
    import asyncio

    from handlers.teams.membership import members_lookup

    loop: dict = {}

    async def remember_loop(_: web.Application) -> None:
        loop["running"] = asyncio.get_running_loop()

    app.on_startup.append(remember_loop)
    services.dispatcher.visibility.register("teams", members_lookup(notifier, lambda: loop.get("running")))

