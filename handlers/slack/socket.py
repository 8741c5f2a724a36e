"""`npsbot socket`: the same Slack listeners over Socket Mode, for workspaces without a public URL.

Needs SLACK_APP_TOKEN (an `xapp-` token with `connections:write`) and SLACK_BOT_TOKEN; no signing
secret, since Socket Mode payloads arrive over an authenticated WebSocket. apps.connections.open,
like every Web API call, goes to SLACK_API_URL. The delivery worker and scheduler run beside it
(the CLI starts them); this module registers the Slack Notifier on the worker if none is there.
"""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from handlers.slack import build_bolt_app
from handlers.slack.notifier import SlackNotifier

log = logging.getLogger(__name__)


async def run_socket(services, *, stop: asyncio.Event | None = None) -> None:
    """Connect to Slack over Socket Mode and serve until cancelled (or until `stop` is set)."""
    settings = services.rt.settings
    if not settings.slack_app_token or not settings.slack_bot_token:
        raise RuntimeError("Socket Mode needs SLACK_APP_TOKEN (xapp-…) and SLACK_BOT_TOKEN (xoxb-…).")
    bolt = build_bolt_app(services, socket_mode=True)
    services.worker.notifiers.setdefault("slack", SlackNotifier(bolt.client, settings.slack_post_interval))
    handler = AsyncSocketModeHandler(bolt, app_token=settings.slack_app_token.get_secret_value(),
                                     web_client=bolt.client)
    await handler.connect_async()
    log.info("slack.socket_mode_connected")
    try:
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        await handler.close_async()
        log.info("slack.socket_mode_closed")
