"""The Teams Notifier: proactive posts, in-place card updates, thread replies and digests.

Every call continues a stored conversation (`adapter.continue_conversation` with the reference
saved by the bot) and talks to the Bot Connector through that turn's ConnectorClient:
`POST …/v3/conversations/{id}/activities` (new post), `POST …/activities/{messageId}` (reply in
a channel thread) and `PUT …/activities/{messageId}` (update the card for everyone).

Pacing: Teams allows a bot 7 messages per second, 8 per 2 s, 60 per 30 s and 1,800 per hour in
one conversation (platform-rules B7); a sliding window per conversation waits up to a second
and otherwise hands the row back to the outbox with the wait as its Retry-After.
HTTP 429/412/500/502/503/504 are retried (Retry-After honoured); 400/403/404/413 are permanent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from cachetools import TTLCache
from msrest.exceptions import HttpOperationError

from bot.delivery import DeliveryError
from bot.owners import OwnerDirectory
from bot.retry_after import parse_retry_after
from bot.runtime import Runtime
from bot.textview import safe
from bot.views import AlertView
from handlers.teams.cards import CARD_CONTENT_TYPE, alert_card, alert_summary
from handlers.teams.conversations import ConversationStore, base_conversation_id, user_key

log = logging.getLogger(__name__)

# (messages, seconds) per bot per conversation, from Teams' rate-limit table.
TEAMS_LIMITS: tuple[tuple[int, float], ...] = ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))
MAX_INLINE_WAIT = 1.0
ROSTER_TTL = 3600.0  # a channel's members, for owner mentions (bot/owners.py caches the answers)
RETRIABLE = {412, 429, 500, 502, 503, 504}
PERMANENT = {400, 403, 404, 405, 413}


class Pacer:
    """Sliding windows of recent sends per conversation."""

    def __init__(self, limits: tuple[tuple[int, float], ...] = TEAMS_LIMITS) -> None:
        self.limits = limits
        self._sent: dict[str, deque[float]] = {}

    def wait_for(self, key: str, now: float) -> float:
        sent = self._sent.get(key)
        if not sent:
            return 0.0
        horizon = max(window for _, window in self.limits)
        while sent and now - sent[0] > horizon:
            sent.popleft()
        wait = 0.0
        for count, window in self.limits:
            if len(sent) >= count:
                wait = max(wait, sent[-count] + window - now)
        return wait

    def record(self, key: str, now: float) -> None:
        self._sent.setdefault(key, deque()).append(now)

    async def acquire(self, key: str) -> None:
        wait = self.wait_for(key, time.monotonic())
        if wait > MAX_INLINE_WAIT:
            raise DeliveryError(f"pacing: Teams conversation busy for {wait:.1f}s", retry_after=wait,
                                status="paced")
        if wait > 0:
            await asyncio.sleep(wait)
        self.record(key, time.monotonic())


def _retry_after(headers: Any) -> float | None:
    # None (absent, an HTTP date or garbage): the worker's exponential backoff applies.
    return parse_retry_after(headers.get("Retry-After") if headers is not None else None)


def delivery_error(exc: HttpOperationError) -> DeliveryError:
    """Map a Bot Connector HTTP error to what the outbox worker should do."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    headers = getattr(response, "headers", None)
    if status in PERMANENT:
        return DeliveryError(f"Teams refused the message (HTTP {status})", permanent=True, status=status)
    retry_after = _retry_after(headers) if status in RETRIABLE else None
    return DeliveryError(f"Teams answered HTTP {status}", retry_after=retry_after, status=status)


def card_attachment(content: dict) -> Attachment:
    return Attachment(content_type=CARD_CONTENT_TYPE, content=content)


class TeamsNotifier:
    """What the delivery worker posts through for `platform == "teams"`."""

    platform = "teams"

    def __init__(self, adapter: CloudAdapter, rt: Runtime, store: ConversationStore, app_id: str) -> None:
        self.adapter = adapter
        self.rt = rt
        self.store = store
        self.app_id = app_id
        self.post_interval = rt.settings.teams_post_interval
        self.pacer = Pacer()
        self.owners = OwnerDirectory(self._lookup_owner, rt.clock)
        self._rosters: TTLCache = TTLCache(maxsize=1_000, ttl=ROSTER_TTL, timer=lambda: rt.clock.now().timestamp())

    async def _lookup_owner(self, channel_id: str, email: str) -> tuple[str, str] | None:
        """The member of this conversation whose e-mail (or UPN) is the owner's (the team roster)."""
        roster = self._rosters.get(channel_id)
        if roster is None:
            members = await self._call(channel_id, lambda c, conv, ref: c.conversations.get_conversation_members(conv))
            roster = {}
            for m in members or []:
                extra = m.additional_properties or {}
                for address in (extra.get("email"), extra.get("userPrincipalName")):
                    if address and m.id:
                        roster[str(address).lower()] = (m.id, m.name or str(address))
            self._rosters[channel_id] = roster
        return roster.get(email)

    # -- the Notifier protocol ------------------------------------------------------------------
    async def post_alert(self, channel_id: str, alert: AlertView) -> str:
        alert = await self.owners.with_owner(channel_id, alert)
        activity = Activity(type=ActivityTypes.message, summary=alert_summary(alert),
                            attachments=[card_attachment(alert_card(alert))])
        response = await self._call(channel_id, lambda c, conv, ref: c.conversations.send_to_conversation(
            conv, self._address(activity, ref)))
        if not response or not response.id:
            raise DeliveryError("Teams returned no message id for the alert")
        return response.id

    async def update_alert(self, channel_id: str, message_ref: str, alert: AlertView) -> None:
        alert = await self.owners.with_owner(channel_id, alert)
        activity = Activity(type=ActivityTypes.message, id=message_ref, summary=alert_summary(alert),
                            attachments=[card_attachment(alert_card(alert))])
        await self._call(channel_id, lambda c, conv, ref: c.conversations.update_activity(
            conv, message_ref, self._address(activity, ref)))

    async def post_summary(self, channel_id: str, summary: Any) -> str:
        """An alert-storm summary card (bot/storms.py); returns its activity id for updates."""
        from handlers.teams.storm_card import summary_card, summary_preview

        activity = Activity(type=ActivityTypes.message, summary=summary_preview(summary),
                            attachments=[card_attachment(summary_card(summary))])
        response = await self._call(channel_id, lambda c, conv, ref: c.conversations.send_to_conversation(
            conv, self._address(activity, ref)))
        if not response or not response.id:
            raise DeliveryError("Teams returned no message id for the storm summary")
        return response.id

    async def update_summary(self, channel_id: str, message_ref: str, summary: Any) -> None:
        from handlers.teams.storm_card import summary_card, summary_preview

        activity = Activity(type=ActivityTypes.message, id=message_ref, summary=summary_preview(summary),
                            attachments=[card_attachment(summary_card(summary))])
        await self._call(channel_id, lambda c, conv, ref: c.conversations.update_activity(
            conv, message_ref, self._address(activity, ref)))

    async def post_thread(self, channel_id: str, message_ref: str, text: str) -> None:
        activity = Activity(type=ActivityTypes.message, text=safe(text), text_format="plain")

        def send(client, conv: str, ref: ConversationReference):
            if (ref.conversation.conversation_type or "") == "channel":
                # In a channel, a reply to the alert's message id lands in the alert's thread.
                return client.conversations.reply_to_activity(conv, message_ref,
                                                              self._address(activity, ref, message_ref))
            return client.conversations.send_to_conversation(conv, self._address(activity, ref))

        await self._call(channel_id, send)

    async def post_text(self, channel_id: str, text: str) -> None:
        """Post to a conversation, or to a person (Entra object id or Teams id, `teams:` allowed).

        A person with no 1:1 chat stored yet, but seen in a team or group chat, gets one created
        (POST /v3/conversations); Teams allows that when the app is available to them.
        """
        activity = Activity(type=ActivityTypes.message, text=safe(text), text_format="plain")
        if await asyncio.to_thread(self.store.find, channel_id) is None:
            member = await asyncio.to_thread(self.store.find_member, channel_id)
            if member is not None:
                await self._direct(channel_id, member, activity)
                return
        await self._call(channel_id, lambda c, conv, ref: c.conversations.send_to_conversation(
            conv, self._address(activity, ref)))

    async def _direct(self, user_id: str, member_reference: dict, activity: Activity) -> None:
        async def start_chat_and_send(client, _conv: str, ref: ConversationReference):
            tenant = ref.conversation.tenant_id
            created = await client.conversations.create_conversation(ConversationParameters(
                is_group=False, bot=ref.bot, members=[ChannelAccount(id=ref.user.id)], tenant_id=tenant,
                channel_data={"tenant": {"id": tenant}} if tenant else None))
            personal = ConversationReference(
                channel_id=ref.channel_id, service_url=ref.service_url, bot=ref.bot, user=ref.user,
                conversation=ConversationAccount(id=created.id, conversation_type="personal", tenant_id=tenant))
            keys = [user_key(i) for i in (ref.user.id, ref.user.aad_object_id, user_id.removeprefix("teams:")) if i]
            await asyncio.to_thread(self.store.save, keys, personal.serialize())
            return await client.conversations.send_to_conversation(created.id, self._address(activity, personal))

        await self._call(user_id, start_chat_and_send, stored=member_reference)

    async def post_digest(self, channel_id: str, digest: Any) -> None:
        from handlers.teams.digest_card import digest_card

        content = digest_card(digest)
        if isinstance(content, dict) and "contentType" in content:
            attachment = Attachment(content_type=content["contentType"], content=content.get("content"))
        else:
            attachment = card_attachment(content)
        activity = Activity(type=ActivityTypes.message, summary="NPS digest", attachments=[attachment])
        await self._call(channel_id, lambda c, conv, ref: c.conversations.send_to_conversation(
            conv, self._address(activity, ref)))

    # -- plumbing -------------------------------------------------------------------------------
    @staticmethod
    def _address(activity: Activity, ref: ConversationReference, reply_to: str | None = None) -> Activity:
        """Address an outgoing activity from the bot to the stored conversation."""
        activity.channel_id = ref.channel_id
        activity.service_url = ref.service_url
        activity.conversation = ref.conversation
        activity.from_property = ref.bot
        activity.reply_to_id = reply_to
        return activity

    async def _call(self, channel_id: str, operation, *, stored: dict | None = None):
        stored = stored or await asyncio.to_thread(self.store.find, channel_id)
        if stored is None:
            raise DeliveryError(
                f"no stored Teams conversation for {channel_id!r}: the bot must be installed there and have "
                "received a message (or, for a person, a 1:1 chat with the bot) first",
                permanent=True, status="no_conversation")
        reference = ConversationReference().deserialize(stored)
        reference.activity_id = None
        conversation_id = reference.conversation.id
        await self.pacer.acquire(base_conversation_id(conversation_id))
        outcome: dict[str, Any] = {}

        async def callback(turn_context: TurnContext) -> None:
            # Errors are carried out of the turn: the adapter's on_turn_error would swallow them.
            try:
                client = turn_context.turn_state[self.adapter.BOT_CONNECTOR_CLIENT_KEY]
                outcome["value"] = await operation(client, conversation_id, reference)
            except Exception as exc:  # re-raised below, outside the turn
                outcome["error"] = exc

        await self.adapter.continue_conversation(reference, callback, self.app_id or None)
        error = outcome.get("error")
        if isinstance(error, HttpOperationError):
            mapped = delivery_error(error)
            log.warning("teams.send_failed", extra={"status": mapped.status, "permanent": mapped.permanent})
            raise mapped from None
        if error is not None:
            raise error
        return outcome.get("value")
