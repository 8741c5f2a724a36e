"""The Teams bot: activities in, Commands to the dispatcher, cards and text out.

- message: a chat command (mention text removed, optional leading `nps`), or the data of an
  `Action.Submit` from one of our cards;
- invoke `adaptiveCard/action`: an `Action.Execute` from a card; the answer is the refreshed
  card for the person who clicked (the outbox updates the card for everyone else);
- messageReaction: reactions on an alert claim or close it (REACTIONS below);
- conversationUpdate / installationUpdate: the conversation reference is stored for proactive
  posts, as it is for every activity.

Handlers stay thin: parse -> Command -> dispatcher (in a worker thread) -> render.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeResponse,
    Attachment,
    ChannelAccount,
    MessageReaction,
)
from msrest.serialization import Model

from bot.actors import Actor, Place
from bot.command_inputs import form_command, verb_of
from bot.commands import Command, Verb, parse_command, reaction_command
from bot.dispatch import Dispatcher
from bot.errors import CommandError
from bot.views import AlertView, HelpView, Notice
from bot.wording import click_answer
from handlers.teams import cards, theme_cards
from handlers.teams.conversations import ConversationStore, base_conversation_id, member_key, user_key
from handlers.teams.members import MemberNames

log = logging.getLogger(__name__)

PLATFORM = "teams"

# Teams reaction types -> the reaction names bot.commands maps to verbs (eyes claims,
# white_check_mark closes as resolved). Classic Teams reactions are like/heart/laugh/surprised/
# sad/angry; the newer emoji picker sends ids like "1f440_eyes" or "2705_whiteheavycheckmark",
# matched here by their Unicode code point. heart, laugh, surprised, sad and angry do nothing:
# people use them to react to what a customer wrote, not to take the follow-up.
REACTIONS: dict[str, str] = {
    "like": "eyes",
    "1f440": "eyes",  # 👀
    "1f44d": "eyes",  # 👍
    "2705": "white_check_mark",  # ✅
    "2714": "white_check_mark",  # ✔️
    "2611": "white_check_mark",  # ☑️
}
_AT_TAG = re.compile(r"<at[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_LEADING_NPS = re.compile(r"^/?nps\b[\s:,]*", re.IGNORECASE)
WELCOME = ("Hi, I'm npsbot. I post NPS detractor alerts here and you follow them up from the card. "
           "Mention me with `subscribe alerts` to get alerts in this channel, `digest schedule mon 09:00` "
           "for a weekly digest, or `help` for every command.")


class _MessageInvokeResponse(Model):
    """An `adaptiveCard/action` answer that shows a message instead of a new card."""

    _attribute_map = {
        "status_code": {"key": "statusCode", "type": "int"},
        "type": {"key": "type", "type": "str"},
        "value": {"key": "value", "type": "str"},
    }

    def __init__(self, *, value: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.status_code = 200
        self.type = "application/vnd.microsoft.activity.message"
        self.value = value


class _ErrorInvokeResponse(Model):
    """An `adaptiveCard/action` refused as a whole: Universal Actions' error shape, status inside
    and outside alike (not a 400 carrying `statusCode: 200`)."""

    _attribute_map = {
        "status_code": {"key": "statusCode", "type": "int"},
        "type": {"key": "type", "type": "str"},
        "value": {"key": "value", "type": "{str}"},
    }

    def __init__(self, *, status: int, code: str, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.status_code = status
        self.type = "application/vnd.microsoft.error"
        self.value = {"code": code, "message": message}


def actor_of(account: ChannelAccount | None) -> Actor:
    """The person acting: their Entra object id when Teams sends it (stable across chats)."""
    if account is None:
        return Actor(PLATFORM, "unknown", "someone")
    user_id = account.aad_object_id or account.id or "unknown"
    return Actor(PLATFORM, user_id, account.name or user_id)


def tenant_of(activity: Activity) -> str | None:
    """The Entra tenant; botbuilder's model reads `tenantID`, Teams sends `tenantId`."""
    conversation = activity.conversation
    tenant = conversation.tenant_id or (conversation.additional_properties or {}).get("tenantId")
    if not tenant and isinstance(activity.channel_data, dict):
        tenant = (activity.channel_data.get("tenant") or {}).get("id")
    return tenant


def place_of(activity: Activity) -> Place:
    return Place(PLATFORM, base_conversation_id(activity.conversation.id))


def mentions_of_others(activity: Activity) -> list[str]:
    """Ids of the people (not this bot) mentioned in a message."""
    bot_id = activity.recipient.id if activity.recipient else None
    ids = []
    for entity in activity.entities or []:
        if (entity.type or "").lower() == "mention":
            mentioned = (entity.additional_properties or {}).get("mentioned") or {}
            if mentioned.get("id") and mentioned.get("id") != bot_id:
                ids.append(mentioned["id"])
    return ids


def command_text(activity: Activity, resolved: dict[str, str] | None = None) -> str:
    """The command typed: the bot's own mention removed, other mentions made `<@id|name>`.

    `resolved` maps a mentioned Teams user id to their Entra object id, the id people act under.
    """
    resolved = resolved or {}
    text = activity.text or ""
    bot_id = activity.recipient.id if activity.recipient else None
    for entity in activity.entities or []:
        if (entity.type or "").lower() != "mention":
            continue
        props = entity.additional_properties or {}
        mentioned = props.get("mentioned") or {}
        tag = props.get("text") or ""
        if not tag:
            continue
        if mentioned.get("id") == bot_id:
            text = text.replace(tag, " ")
        else:
            name = re.sub(r"[\"'<>|]", "", mentioned.get("name") or "")
            user_id = resolved.get(mentioned.get("id", ""), mentioned.get("id", ""))
            text = text.replace(tag, f"\"<@{user_id}|{name}>\"")
    # A mention tag with no entity (some clients) is still not part of the command.
    text = _AT_TAG.sub(" ", text).replace("&nbsp;", " ").replace("\xa0", " ").strip()
    return _LEADING_NPS.sub("", text).strip()


def card_command(data: dict) -> Command | None:
    """The Command a card button stands for: `{"npsbot": "claim", "n": 12, ...inputs}`."""
    if str(data.get("npsbot", "")) == theme_cards.ADD_VERB:
        return theme_cards.add_command(data)
    verb = verb_of(str(data.get("npsbot", "")))
    raw = data.get("n")
    if verb is None or raw is None or not str(raw).isdigit():
        return None
    number = int(str(raw))
    if verb in (Verb.NOTE, Verb.EMAIL, Verb.CLOSE):
        text = data.get(cards.CLOSE_NOTE_INPUT if verb == Verb.CLOSE else
                        cards.EMAIL_INPUT if verb == Verb.EMAIL else cards.NOTE_INPUT)
        return form_command(verb, number, text=str(text or ""), outcome=str(data.get(cards.OUTCOME_INPUT) or ""),
                            cause=str(data.get(theme_cards.CAUSE_INPUT) or ""))
    if verb == Verb.THEME:
        return theme_cards.theme_command(number, data)
    if verb == Verb.SNOOZE:
        return parse_command(f"snooze {number} {data.get(cards.SNOOZE_INPUT) or '3d'}")
    return Command(verb, number=number)


def reaction_name(reaction_type: str) -> str | None:
    value = (reaction_type or "").strip().lower()
    return REACTIONS.get(value) or REACTIONS.get(value.split("_", 1)[0])


def reply_activity(reply) -> Activity:
    """A command's answer as a Teams message: a card, or plain text for a short notice."""
    content = cards.reply_card(reply)
    if content is None:
        text = reply.text if isinstance(reply, Notice) else str(reply)
        return Activity(type=ActivityTypes.message, text=("" if getattr(reply, "ok", True) else "⚠ ") + text,
                        text_format="plain")
    return Activity(type=ActivityTypes.message,
                    attachments=[Attachment(content_type=cards.CARD_CONTENT_TYPE, content=content)])


class NpsTeamsBot(TeamsActivityHandler):
    """Routes Teams activities to the one dispatcher."""

    def __init__(self, dispatcher: Dispatcher, store: ConversationStore) -> None:
        self.dispatcher = dispatcher
        self.store = store
        self.names = MemberNames()

    async def on_turn(self, turn_context: TurnContext) -> None:
        await self.names.fill(turn_context)
        await self._remember(turn_context.activity)
        await super().on_turn(turn_context)

    async def _remember(self, activity: Activity) -> None:
        """Store where this conversation is, for proactive posts after a restart."""
        if not activity.conversation or not activity.conversation.id or not activity.service_url:
            return
        reference = TurnContext.get_conversation_reference(activity)
        reference.activity_id = None
        reference.conversation.id = base_conversation_id(activity.conversation.id)
        reference.conversation.tenant_id = tenant_of(activity)
        keys = [reference.conversation.id]
        person = activity.from_property
        if person and person.id:
            ids = [person.id] + ([person.aad_object_id] if person.aad_object_id else [])
            personal = (activity.conversation.conversation_type or "") == "personal"
            keys += [user_key(i) if personal else member_key(i) for i in ids]
        try:
            await asyncio.to_thread(self.store.save, keys, reference.serialize())
        except Exception:  # a failed save must not lose the user's command
            log.exception("teams.reference_not_saved")

    async def _run(self, command: Command | None, text: str | None, activity: Activity):
        actor, place = actor_of(activity.from_property), place_of(activity)
        if command is not None:
            return await asyncio.to_thread(self.dispatcher.handle, command, actor, place)
        return await asyncio.to_thread(self.dispatcher.handle_text, text or "", actor, place)

    # -- messages: commands and Action.Submit -------------------------------------------------
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if isinstance(activity.value, dict) and "npsbot" in activity.value:
            await self._submit(turn_context, activity.value)
            return
        resolved = {}
        # Only `assign` needs a person's id; other commands make no connector call for mentions.
        wants_person = any(word in (activity.text or "").lower() for word in ("assign", "duty"))
        for user_id in mentions_of_others(activity) if wants_person else []:
            resolved[user_id] = await self._entra_id(turn_context, user_id)
        text = command_text(activity, resolved)
        reply = await self._run(None, text, activity)
        await turn_context.send_activity(reply_activity(reply))

    @staticmethod
    async def _entra_id(turn_context: TurnContext, user_id: str) -> str:
        """A mentioned person's Entra object id, so `assign` gives them what `mine` lists."""
        try:
            member = await TeamsInfo.get_member(turn_context, user_id)
        except Exception:  # fall back to the Teams id rather than refuse the command
            log.warning("teams.member_lookup_failed")
            return user_id
        return getattr(member, "aad_object_id", None) or user_id

    async def _submit(self, turn_context: TurnContext, data: dict) -> None:
        try:
            command = card_command(data)
        except CommandError as exc:
            await turn_context.send_activity(reply_activity(Notice(exc.message, ok=False)))
            return
        if command is None:
            await turn_context.send_activity(reply_activity(HelpView(error="That button is not one of mine.")))
            return
        reply = await self._run(command, None, turn_context.activity)
        # A successful change shows on the card itself (the outbox updates it) and in its thread.
        if not (isinstance(reply, Notice) and reply.ok and reply.alert is not None):
            await turn_context.send_activity(reply_activity(reply))

    # -- Action.Execute -----------------------------------------------------------------------
    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        if turn_context.activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn_context)
        value = turn_context.activity.value if isinstance(turn_context.activity.value, dict) else {}
        action = value.get("action") or {}
        if action.get("type") != "Action.Execute":
            message = (f"The action {str(action.get('type'))[:40]!r} is not supported: npsbot's buttons are "
                       "Action.Execute.")
            return InvokeResponse(status=400, body=_ErrorInvokeResponse(status=400, code="NotSupported",
                                                                        message=message))
        data = dict(action.get("data") or {})
        data.setdefault("npsbot", action.get("verb"))
        try:
            command = card_command(data)
        except CommandError as exc:
            return InvokeResponse(status=200, body=_MessageInvokeResponse(value=exc.message))
        if command is None:
            return InvokeResponse(status=200, body=_MessageInvokeResponse(value="That button is not one of mine."))
        reply = await self._run(command, None, turn_context.activity)
        content = _card_for_clicker(reply)
        if content is None:
            return InvokeResponse(status=200, body=_MessageInvokeResponse(value=click_answer(reply)))
        return InvokeResponse(status=200, body=AdaptiveCardInvokeResponse(
            status_code=200, type=cards.CARD_CONTENT_TYPE, value=content))

    # -- reactions ----------------------------------------------------------------------------
    async def on_reactions_added(self, message_reactions: list[MessageReaction],
                                 turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not activity.reply_to_id:
            return
        number = await asyncio.to_thread(self.dispatcher.followup_for_message, PLATFORM,
                                         base_conversation_id(activity.conversation.id), activity.reply_to_id)
        if number is None:
            return
        for reaction in message_reactions:
            name = reaction_name(reaction.type)
            command = reaction_command(name, number) if name else None
            if command is None:
                continue
            reply = await self._run(command, None, activity)
            # A refused reaction (already claimed, already closed) stays quiet: no channel noise.
            log.info("teams.reaction", extra={"followup": number, "verb": command.verb.value,
                                              "ok": getattr(reply, "ok", True)})

    # -- installation -------------------------------------------------------------------------
    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        # The reference is already stored (on_turn). Members are not looked up: that would call
        # the connector for every person added to a team.
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        if any(m.id == bot_id for m in activity.members_added or []):
            await turn_context.send_activity(Activity(type=ActivityTypes.message, text=WELCOME))

    async def on_installation_update(self, turn_context: TurnContext) -> None:
        log.info("teams.installation", extra={"action": turn_context.activity.action})


def _card_for_clicker(reply) -> dict | None:
    """What replaces the card for the person who clicked: the follow-up's fresh alert card.

    None when the click changed nothing (refused): the card stays and Teams shows the reason.
    """
    if isinstance(reply, Notice) and reply.ok and isinstance(reply.alert, AlertView):
        return cards.alert_card(reply.alert)
    return None

