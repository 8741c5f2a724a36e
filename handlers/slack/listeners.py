"""Bolt listeners: `/nps`, the alert buttons, the modals, reactions and App Home.

Each listener acknowledges first, then turns the payload into a `Command`, runs it through the
dispatcher in a worker thread and renders the reply. The alert itself is re-rendered by the
outbox worker (every change writes `alert.update` rows), never from here.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.actors import Actor, Place
from bot.command_inputs import InputError, form_command, verb_of_slack_action
from bot.commands import Command, Verb, parse_command, reaction_command
from bot.errors import CommandError
from bot.event_dedup import EventDedup
from bot.views import HelpView, Notice
from bot.wording import click_answer, refused
from handlers.slack import blocks, modals, theme_blocks
from handlers.slack.guarded import SORRY as _SORRY
from handlers.slack.guarded import Guarded
from handlers.slack.inbox import SlackInbox

log = logging.getLogger(__name__)

# A modal submission waits this long for the dispatcher so a refusal can be shown inside the
# modal; Slack gives us 3 s to answer a view_submission.
SUBMIT_WAIT = 2.0
# Threads doing post-ack work at once (see SlackDoor.work).
WORK_SLOTS = 1
# A gap this long between Slack requests ends a burst; replies wait at most BURST_WAIT for one.
BURST_GAP = 0.005
BURST_WAIT = 1.0
_PLAIN_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")


def api_error_code(exc: SlackApiError) -> str:
    """The `error` of a failed Web API call, whatever the body was (a proxy's HTML page, say)."""
    data = getattr(exc.response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    return str(code or f"HTTP {getattr(exc.response, 'status_code', '?')}")


class SlackDoor(Guarded):
    """The listeners, sharing the services and a small cache of display names."""

    def __init__(self, services, session: Callable[[], aiohttp.ClientSession | None] = lambda: None) -> None:
        self.services = services
        self.session = session
        self.rt = services.rt
        self.dispatcher = services.dispatcher
        self._names: dict[str, str] = {}
        self._slots = asyncio.Semaphore(WORK_SLOTS)
        self._last_request = 0.0
        self.first_delivery = EventDedup(self.rt, "slack").first_delivery

    # -- helpers ------------------------------------------------------------------------------
    async def work(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run slow work (database, rendering) in a thread, a few at a time.

        Acknowledgements run on the event loop; capping the threads that compete with it for
        the GIL keeps acks fast under a burst, while the replies queue here instead.
        """
        async with self._slots:
            await self._after_burst()
            return await asyncio.to_thread(fn, *args)

    def request_arrived(self) -> None:
        """Note that Slack sent a request (acks come first; see `_after_burst`)."""
        self._last_request = time.monotonic()

    async def _after_burst(self) -> None:
        # Acknowledgements outrank replies: while requests keep arriving back to back, replies
        # wait (at most BURST_WAIT seconds) so acks keep the CPU. A lone request waits for nothing.
        deadline = time.monotonic() + BURST_WAIT
        while time.monotonic() - self._last_request < BURST_GAP and time.monotonic() < deadline:
            await asyncio.sleep(BURST_GAP)

    async def run(self, command: Command, actor: Actor, place: Place) -> Any:
        return await self.work(self.dispatcher.handle, command, actor, place)

    def _reply(self, command: Command, actor: Actor, place: Place, slash: str) -> dict:
        return blocks.reply_message(self.dispatcher.handle(command, actor, place), slash)

    @staticmethod
    def actor_of(user: dict) -> Actor:
        """The acting user of an interactive payload (`user.id` plus the handle Slack sends)."""
        name = user.get("username") or user.get("name") or user.get("id") or "someone"
        return Actor("slack", user["id"], name)

    async def name_of(self, client: AsyncWebClient, user_id: str) -> str:
        """A user's display name for events, which carry only the id (users:read)."""
        if user_id in self._names:
            return self._names[user_id]
        name = user_id
        try:
            resp = await client.users_info(user=user_id)
            user = resp.get("user") or {}
            profile = user.get("profile") or {}
            name = profile.get("display_name") or user.get("real_name") or user.get("name") or user_id
            if len(self._names) > 10_000:
                self._names.clear()
            self._names[user_id] = name
        except SlackApiError as exc:
            log.warning("slack.users_info_failed", extra={"error": api_error_code(exc)})
        except Exception as exc:  # a name is nice to have; the id still works
            log.warning("slack.users_info_failed", extra={"error": type(exc).__name__})
        return name

    async def answer(self, body: dict, respond, message: dict) -> None:
        """Post an ephemeral reply to the request's response_url.

        Through the app's shared connection pool when there is one: Bolt's `respond` opens a new
        HTTP session per call, which under load costs more CPU than the rest of the reply.
        """
        url, session = body.get("response_url"), self.session()
        payload = {"response_type": "ephemeral", "replace_original": False, **message}
        if not url or session is None or session.closed:
            await respond(**payload)
            return
        async with session.post(url, json=payload) as resp:
            if resp.status >= 400:
                log.warning("slack.response_url_failed", extra={"status": resp.status})
            await resp.read()

    async def publish_home(self, client: AsyncWebClient, user_id: str, notice: Notice | None = None) -> None:
        actor = Actor("slack", user_id, user_id)
        view = await self.work(lambda: blocks.home_view(self.dispatcher.home(actor), notice))
        await client.views_publish(user_id=user_id, view=view)

    async def tell(self, client: AsyncWebClient, channel: str | None, user_id: str, notice: Notice) -> None:
        """An ephemeral line to one user in a channel (or their DM with the app)."""
        message = blocks.reply_message(notice)
        try:
            if channel:
                await client.chat_postEphemeral(channel=channel, user=user_id, **message)
            else:
                await client.chat_postMessage(channel=user_id, **message)
        except SlackApiError as exc:
            log.warning("slack.tell_failed", extra={"error": api_error_code(exc)})
        except Exception as exc:  # the reply is a courtesy; the action already happened
            log.warning("slack.tell_failed", extra={"error": type(exc).__name__})

    async def with_assignee_name(self, client: AsyncWebClient, command: Command) -> Command:
        """`assign 12 <@U123>` (newer clients drop the `|name`): look the name up for the alert."""
        match = _PLAIN_MENTION.fullmatch(command.assignee or "")
        if not match:
            return command
        name = await self.name_of(client, match.group(1))
        return Command(Verb.ASSIGN, number=command.number, assignee=f"<@{match.group(1)}|{name}>")

    async def with_duty_names(self, client: AsyncWebClient, command: Command) -> Command:
        """`duty <@U1> <@U2>` (newer clients drop the `|name`): the rotation shows names, not ids."""
        people = []
        for user_id, name in command.extra["people"]:
            if name == user_id and _PLAIN_MENTION.fullmatch(f"<@{user_id}>"):
                name = await self.name_of(client, user_id)
            people.append((user_id, name))
        return Command(Verb.DUTY_SET, extra={**command.extra, "people": people})

    # -- /nps ---------------------------------------------------------------------------------
    async def on_command(self, ack, body: dict, respond, client: AsyncWebClient) -> None:
        slash = body.get("command") or "/nps"
        try:
            command = parse_command(body.get("text") or "")
        except CommandError as exc:
            await ack(response_type="ephemeral", **blocks.reply_message(HelpView(error=exc.message), slash))
            return
        if command.verb == Verb.HELP:
            await ack(response_type="ephemeral", **blocks.reply_message(HelpView(), slash))
            return
        await ack()
        actor = Actor("slack", body["user_id"], body.get("user_name") or body["user_id"])
        place = Place("slack", body.get("channel_id") or body["user_id"])
        if command.verb == Verb.ASSIGN:
            command = await self.with_assignee_name(client, command)
        if command.verb == Verb.DUTY_SET:
            command = await self.with_duty_names(client, command)
        message = await self.work(self._reply, command, actor, place, slash)
        await self.answer(body, respond, message)

    # -- buttons ------------------------------------------------------------------------------
    @staticmethod
    def _origin(body: dict) -> tuple[str | None, bool]:
        """(channel id, from App Home?) of an interactive payload."""
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        return channel, container.get("type") == "view"

    async def on_button(self, ack, body: dict, action: dict, respond, client: AsyncWebClient) -> None:
        await ack()
        verb = verb_of_slack_action(action["action_id"])
        if verb is None:
            return  # registered for our action ids only (see `register`)
        try:
            number = int(action.get("value") or "")
        except ValueError:
            log.warning("slack.bad_button_value", extra={"action": action.get("action_id")})
            return
        channel, from_home = self._origin(body)
        user_id = body["user"]["id"]
        if verb in (Verb.NOTE, Verb.CLOSE, Verb.EMAIL):
            # trigger_id expires 3 s after the click: open the modal before any other work.
            if verb == Verb.NOTE:
                view = modals.note_modal(number, channel=channel, home=from_home)
            elif verb == Verb.EMAIL:
                view = modals.email_modal(number, channel=channel, home=from_home)
            else:
                causes, cause = await self.work(theme_blocks.cause_choices, self.rt, number)
                view = modals.close_modal(number, channel=channel, home=from_home, causes=causes, cause=cause)
            await client.views_open(trigger_id=body["trigger_id"], view=view)
            return
        actor = self.actor_of(body["user"])
        reply = await self.run(Command(verb, number=number), actor, Place("slack", channel or user_id))
        notice = reply if isinstance(reply, Notice) else Notice(click_answer(reply), ok=False)
        await self.answer_action(body, respond, client, notice)

    async def answer_action(self, body: dict, respond, client: AsyncWebClient, notice: Notice) -> None:
        """A button's or menu's answer: in App Home when clicked there, else to the clicking user."""
        channel, from_home = self._origin(body)
        user_id = body["user"]["id"]
        if from_home:
            await self.publish_home(client, user_id, notice)
        elif body.get("response_url"):
            await self.answer(body, respond, blocks.reply_message(notice))
        else:
            await self.tell(client, channel, user_id, notice)

    async def on_snooze(self, ack, body: dict, action: dict, respond, client: AsyncWebClient) -> None:
        """The alert's overflow menu: `N:3d` snoozes #N, `N:off` ends the snooze (bot/snooze.py)."""
        await ack()
        raw = str((action.get("selected_option") or {}).get("value") or "")
        number, _, duration = raw.partition(":")
        try:
            command = parse_command(f"snooze {number} {duration}")
        except CommandError:
            log.warning("slack.bad_snooze_value")
            return
        channel, _ = self._origin(body)
        user_id = body["user"]["id"]
        reply = await self.run(command, self.actor_of(body["user"]), Place("slack", channel or user_id))
        notice = reply if isinstance(reply, Notice) else Notice(click_answer(reply), ok=False)
        if body.get("response_url"):
            await self.answer(body, respond, blocks.reply_message(notice))
        else:
            await self.tell(client, channel, user_id, notice)

    # -- modals -------------------------------------------------------------------------------
    async def on_submit(self, ack, body: dict, view: dict, client: AsyncWebClient) -> None:
        meta = modals.parse_meta(view.get("private_metadata"))
        if not meta:
            await ack(response_action="errors", errors={"note": "This form has expired; open it again."})
            return
        values = (view.get("state") or {}).get("values") or {}
        note = ((values.get("note") or {}).get("text") or {}).get("value") or ""
        picked = ((values.get("outcome") or {}).get("value") or {}).get("selected_option") or {}
        verb = {blocks.EMAIL_CALLBACK: Verb.EMAIL, blocks.NOTE_CALLBACK: Verb.NOTE}.get(
            str(view.get("callback_id")), Verb.CLOSE)
        try:
            command = form_command(verb, meta["n"], text=note, outcome=picked.get("value") or "",
                                   cause=theme_blocks.cause_from(values).get("cause", ""))
        except InputError as exc:
            await ack(response_action="errors", errors={exc.field: exc.message})
            return
        error_block = "outcome" if verb == Verb.CLOSE else "note"
        user_id = body["user"]["id"]
        actor = self.actor_of(body["user"])
        channel = meta.get("c")
        task = asyncio.ensure_future(self.run(command, actor, Place("slack", channel or user_id)))
        done, _ = await asyncio.wait({task}, timeout=SUBMIT_WAIT)
        if done:
            try:
                reply = task.result()
            except Exception:
                # Inside the 3 s the ack itself must carry the answer; later failures reach on_error.
                log.exception("slack.listener_failed", extra={"kind": "view_submission"})
                await ack(response_action="errors", errors={error_block: _SORRY.text})
                return
            why = refused(reply)
            if why:
                await ack(response_action="errors", errors={error_block: why[:150]})
                return
            await ack()
        else:
            # Slow database: close the modal in time, report the result afterwards.
            await ack()
            why = refused(await task)
            if why:
                await self.tell(client, channel, user_id, Notice(why, ok=False))
        if meta.get("home"):
            await self.publish_home(client, user_id)

    # -- events -------------------------------------------------------------------------------
    async def on_reaction(self, body: dict, event: dict, client: AsyncWebClient, replay: bool = False) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message" or reaction_command(event.get("reaction") or "", 1) is None:
            return
        channel, ts, user_id = item.get("channel"), item.get("ts"), event.get("user")
        if not (channel and ts and user_id):
            return
        number = await asyncio.to_thread(self.dispatcher.followup_for_message, "slack", channel, ts)
        if number is None:
            return  # a reaction on some other message
        # The name first: once the event id is recorded, nothing may stand between it and the action.
        actor = Actor("slack", user_id, await self.name_of(client, user_id))
        if not replay and not await asyncio.to_thread(self.first_delivery, body.get("event_id")):
            log.info("slack.event_retry_ignored", extra={"followup": number})
            return
        command = reaction_command(event["reaction"], number)
        if command is None:
            return  # checked above; the same reaction gives the same verb
        reply = await self.run(command, actor, Place("slack", channel))
        why = refused(reply)
        if why:
            await self.tell(client, channel, user_id, Notice(why, ok=False))

    async def on_home_opened(self, body: dict, event: dict, client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        if not await asyncio.to_thread(self.first_delivery, body.get("event_id")):
            return
        await self.publish_home(client, event["user"])


def register(app: AsyncApp, services, session: Callable[[], aiohttp.ClientSession | None] = lambda: None
             ) -> SlackDoor:
    """Attach every listener to a Bolt app (HTTP and Socket Mode share them)."""
    door = SlackDoor(services, session)

    async def note_arrival(next):  # noqa: A002 - Bolt injects middleware arguments by name
        door.request_arrived()
        return await next()

    app.use(note_arrival)
    app.error(door.on_error)
    # Written down before the ack (handlers/slack/inbox.py), so a crash after it loses nothing.
    door.inbox = SlackInbox(door, app.client, poll_seconds=min(5.0, services.rt.settings.inbox_lease_seconds / 2))
    app.use(door.inbox.middleware)
    # Any slash command routed here is ours, so a workspace may rename /nps (e.g. /nps-staging).
    app.command(re.compile(r"^/"))(door.durable_command)
    app.action(re.compile(r"^nps_(claim|reopen|note|close|email)$"))(door.durable_button)
    app.action(blocks.SNOOZE_ACTION)(door.on_snooze)
    app.view_submission(re.compile(rf"^({blocks.NOTE_CALLBACK}|{blocks.CLOSE_CALLBACK}|{blocks.EMAIL_CALLBACK})$"))(
        door.durable_submit)
    app.event("reaction_added")(door.durable_reaction)
    app.event("app_home_opened")(door.on_home_opened)
    theme_blocks.register(app, door)
    return door
