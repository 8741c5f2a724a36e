"""The Slack door's one error handler and its durable listeners (a mixin of `SlackDoor`).

`on_error` is registered with Bolt's `app.error` and also called by `_durably`, which wraps each
recorded request (handlers/slack/inbox.py): what a listener lets escape is logged and whoever asked
is told, and the recorded request is marked done whatever happened.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.views import Notice
from handlers.slack import blocks, modals
from handlers.slack.inbox import SlackInbox

log = logging.getLogger("handlers.slack.listeners")  # the listeners' log, as before the split

SORRY = Notice("Sorry, something went wrong on our side; it has been logged. Please try again.", ok=False)


class Guarded:
    """Needs from the door: `inbox`, `answer`, `answer_action`, `tell` and the `on_*` listeners."""

    inbox: SlackInbox  # set by `register`, which builds it around the door
    session: Any
    answer: Any
    answer_action: Any
    tell: Any
    on_command: Any
    on_button: Any
    on_submit: Any
    on_reaction: Any

    # -- errors ------------------------------------------------------------------------------
    async def on_error(self, error: Exception, body: dict, respond, client: AsyncWebClient, context) -> None:
        """The one error handler (`app.error`, and `_durably` for the recorded requests): what a
        listener lets escape is logged, and whoever asked hears so.

        A middleware failure (the inbox write, before any listener ran) and a failure in a listener
        that answers no one (App Home, the snooze menu) are only logged, as Bolt did.
        """
        kind = body.get("command") and "command" or body.get("type") or "unknown"
        log.error("slack.listener_failed", extra={"kind": kind}, exc_info=error)
        if not (context or {}).get("listening"):
            return
        try:
            await self._say_sorry(body, respond, client)
        except Exception as exc:  # the apology is a courtesy; the failure is logged above
            log.warning("slack.sorry_failed", extra={"error": type(exc).__name__})

    async def _say_sorry(self, body: dict, respond, client: AsyncWebClient) -> None:
        if body.get("command"):
            await self.answer(body, respond, blocks.reply_message(SORRY, body.get("command") or "/nps"))
        elif body.get("type") == "block_actions" and body.get("user"):
            await self.answer_action(body, respond, client, SORRY)
        elif body.get("type") == "view_submission" and body.get("user"):
            meta = modals.parse_meta((body.get("view") or {}).get("private_metadata")) or {}
            await self.tell(client, meta.get("c"), body["user"]["id"], SORRY)
        elif (body.get("event") or {}).get("type") == "reaction_added":
            event = body["event"]
            await self.tell(client, (event.get("item") or {}).get("channel"), event.get("user"), SORRY)

    # -- durability (handlers/slack/inbox.py): every recorded request is marked done at the end ---
    async def durable_command(self, ack, body: dict, respond, client: AsyncWebClient, context) -> None:
        await self._durably(self.on_command(ack, body, respond, client), body, respond, client, context)

    async def durable_button(self, ack, body: dict, action: dict, respond, client: AsyncWebClient, context) -> None:
        await self._durably(self.on_button(ack, body, action, respond, client), body, respond, client, context)

    async def durable_submit(self, ack, body: dict, view: dict, client: AsyncWebClient, context) -> None:
        await self._durably(self.on_submit(ack, body, view, client), body, None, client, context)

    async def durable_reaction(self, body: dict, event: dict, client: AsyncWebClient, context) -> None:
        listener = self.on_reaction(body, event, client, replay=bool((context or {}).get("replay")))
        await self._durably(listener, body, None, client, context)

    async def _durably(self, listener, body: dict, respond, client: AsyncWebClient, context) -> None:
        """Run a listener, hand what escapes to `on_error`, and mark the recorded request done.

        Errors go to `on_error` here rather than through Bolt: a listener that fails within Bolt's
        10 ms ack poll would otherwise turn its already-sent ack into a 404 (Bolt resets the
        response), and replays after a crash never pass through Bolt at all.
        """
        context["listening"] = True
        try:
            await listener
        except Exception as exc:
            await self.on_error(exc, body, respond, client, context)
        finally:
            await self.inbox.finish(context)

    async def replay(self, body: dict, context: dict, client: AsyncWebClient) -> None:
        """Apply a request acknowledged by a process that died, through the same listener."""
        async def ack(*_: Any, **__: Any) -> None:
            return None  # acknowledged long ago

        async def respond(**payload: Any) -> None:
            url, session = body.get("response_url"), self.session()
            if url and session is not None and not session.closed:
                async with session.post(url, json=payload) as resp:
                    await resp.read()

        if body.get("command"):
            await self.durable_command(ack, body, respond, client, context)
        elif body.get("type") == "block_actions":
            await self.durable_button(ack, body, body["actions"][0], respond, client, context)
        elif body.get("type") == "view_submission":
            await self.durable_submit(ack, body, body.get("view") or {}, client, context)
        elif body.get("type") == "event_callback":
            await self.durable_reaction(body, body.get("event") or {}, client, context)
        else:
            await self.inbox.finish(context)
