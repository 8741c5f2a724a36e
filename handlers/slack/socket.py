"""`npsbot socket`: the same Slack listeners over Socket Mode, for workspaces without a public URL.

Needs SLACK_APP_TOKEN (an `xapp-` token with `connections:write`) and SLACK_BOT_TOKEN; no signing
secret, since Socket Mode payloads arrive over an authenticated WebSocket. apps.connections.open,
like every Web API call, goes to SLACK_API_URL. The delivery worker and scheduler run beside it
(`run_workers=True`, or the CLI); the Slack Notifier is registered on the worker if none is there.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.background import Background
from bot.runtime import Services
from handlers.slack import build_bolt_app
from handlers.slack.notifier import SlackNotifier

log = logging.getLogger(__name__)


async def run_socket(services: Services, *, stop: asyncio.Event | None = None, run_workers: bool = False) -> None:
    """Connect to Slack over Socket Mode and serve until cancelled (or until `stop` is set).

    With `run_workers`, the delivery worker and the scheduler run in this event loop too (what
    `npsbot socket` needs when nothing else delivers the outbox).
    """
    settings = services.rt.settings
    if not settings.slack_app_token or not settings.slack_bot_token:
        raise RuntimeError("Socket Mode needs SLACK_APP_TOKEN (xapp-…) and SLACK_BOT_TOKEN (xoxb-…).")
    bolt = build_bolt_app(services, socket_mode=True)
    # One connection pool for the Web API and response_url replies, as in HTTP mode.
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    bolt.client.session = session
    services.worker.notifiers.setdefault("slack", SlackNotifier(bolt.client, settings.slack_post_interval))
    handler = AsyncSocketModeHandler(bolt, app_token=settings.slack_app_token.get_secret_value(),
                                     web_client=bolt.client)
    # Acknowledged commands left by a process that died are applied here too (handlers/slack/inbox.py).
    background = Background(services, deliver=run_workers, schedule=run_workers,
                            tasks={"slack-inbox": bolt.npsbot_door.inbox.run()})
    try:
        await background.start()
        await handler.connect_async()
        log.info("slack.socket_mode_connected")
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        await background.stop()
        await handler.close_async()
        bolt.client.session = None
        await session.close()
        log.info("slack.socket_mode_closed")
