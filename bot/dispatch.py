"""Command -> service -> view: the one place every front door's request is acted on.

Domain errors become a `Notice(ok=False)` with their sentence; a command that cannot be parsed
becomes the help with the mistake named. Anything else is a bug and propagates to the door's
error handler, which logs it and answers generically.
"""

from __future__ import annotations

import logging

from bot import channels, followups, queries, routing, routing_commands, theme_views
from bot.actors import Actor, Place
from bot.commands import Command, Verb, given, parse_command, parse_mention
from bot.errors import CommandError, NotFound, NpsError
from bot.limits import check_command, fit_actor
from bot.runtime import Runtime
from bot.views import HelpView, HomeView, Notice, Reply
from bot.visibility import Visibility
from storage.db import read_scope

log = logging.getLogger(__name__)


class Dispatcher:
    """Runs commands for any platform; synchronous (async doors call it in a worker thread)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.visibility = Visibility(rt)

    def handle_text(self, text: str, actor: Actor, place: Place) -> Reply:
        try:
            command = parse_command(text)
        except CommandError as exc:
            return HelpView(error=exc.message)
        return self.handle(command, actor, place)

    def handle(self, command: Command, actor: Actor, place: Place) -> Reply:
        actor = fit_actor(actor)
        try:
            check_command(command)
            # Every verb that names a follow-up is checked here, before it runs (bot/visibility.py).
            if command.number is not None:
                self.visibility.require(actor, place, command.number)
            reply = self._run(command, actor, place)
        except CommandError as exc:
            return HelpView(error=exc.message)
        except NpsError as exc:
            log.info("command.refused", extra={"verb": command.verb.value, "followup": command.number,
                                               "reason": type(exc).__name__})
            return Notice(exc.message, ok=False)
        log.info("command.done", extra={"verb": command.verb.value, "followup": command.number,
                                        "platform": actor.platform})
        return reply

    def _run(self, c: Command, actor: Actor, place: Place) -> Reply:
        rt, now = self.rt, self.rt.clock.now()
        match c.verb:
            case Verb.HELP:
                return HelpView()
            case Verb.SCORE:
                with read_scope(rt.engine) as s:
                    return queries.score_view(s, period_days=c.period_days, segment=c.segment, now=now)
            case Verb.OPEN | Verb.UNCLAIMED | Verb.MINE:
                with read_scope(rt.engine) as s:
                    return queries.followup_list(s, c.verb, actor_key=actor.key, settings=rt.settings, now=now,
                                                 where=self.visibility.scope(actor, place).clause())
            case Verb.SHOW:
                with read_scope(rt.engine) as s:
                    detail = queries.followup_detail(s, given(c.number), settings=rt.settings, now=now)
                if detail is None:
                    raise NotFound(f"There is no follow-up #{c.number}.")
                return detail
            case Verb.CLAIM:
                view = followups.claim(rt, given(c.number), actor)
                return Notice(f"You claimed #{c.number}.", alert=view)
            case Verb.ASSIGN:
                user_id, name = parse_mention(c.assignee or "")
                assignee = Actor(actor.platform, user_id, name)
                view = followups.assign(rt, given(c.number), assignee, actor)
                return Notice(f"#{c.number} is now {name}'s.", alert=view)
            case Verb.NOTE:
                view = followups.note(rt, given(c.number), c.text or "", actor)
                return Notice(f"Note added to #{c.number}.", alert=view)
            case Verb.CLOSE:
                outcome = given(c.outcome)
                view = followups.close(rt, given(c.number), outcome, c.text, actor, cause=c.extra.get("cause"))
                return Notice(f"#{c.number} closed as {outcome.value}"
                              + (f" (cause: {view.cause})." if view.cause else "."), alert=view)
            case Verb.REOPEN:
                view = followups.reopen(rt, given(c.number), actor)
                return Notice(f"#{c.number} is open again.", alert=view)
            case Verb.EMAIL:
                from bot.mail.outgoing import email_customer

                view = email_customer(rt, given(c.number), c.text or "", actor)
                return Notice(f"E-mail to the customer of #{c.number} queued.", alert=view)
            case Verb.SUBSCRIBE:
                return Notice(routing.subscribe(rt, place, actor, c))
            case Verb.SUBSCRIBE_SHOW | Verb.DUTY | Verb.DUTY_SET | Verb.DUTY_OFF | Verb.ESCALATE \
                    | Verb.ESCALATE_OFF | Verb.SNOOZE:
                return routing_commands.run(rt, c, actor, place)
            case Verb.UNSUBSCRIBE:
                return Notice(channels.unsubscribe(rt, place, actor))
            case Verb.DIGEST_SCHEDULE:
                return Notice(channels.schedule_digest(rt, place, actor, weekday=given(c.weekday), time=given(c.time),
                                                       timezone=c.timezone))
            case Verb.DIGEST_OFF:
                return Notice(channels.digest_off(rt, place, actor))
            case Verb.DIGEST_NOW:
                return Notice(channels.request_digest(rt, place, actor))
            case Verb.THEME | Verb.THEMES | Verb.THEMES_ADD:
                return theme_views.run(rt, c, actor)
        raise CommandError(f"I don't know the command `{c.verb}`.")  # pragma: no cover

    def home(self, actor: Actor) -> HomeView:
        """What App Home shows: my follow-ups, the unclaimed queue and 30-day NPS."""
        rt, now = self.rt, self.rt.clock.now()
        # App Home is a 1:1 surface: the follow-ups of the channels this person is in.
        seen = self.visibility.scope(actor, Place(actor.platform, actor.user_id)).clause()
        with read_scope(rt.engine) as s:
            mine = queries.followup_list(s, Verb.MINE, actor_key=actor.key, settings=rt.settings, now=now, where=seen)
            queue = queries.followup_list(s, Verb.UNCLAIMED, actor_key=actor.key, settings=rt.settings, now=now,
                                          where=seen)
            score = queries.score_view(s, period_days=30, segment=None, now=now)
        return HomeView(mine=mine.items, unclaimed=queue.items, unclaimed_total=queue.total, score=score,
                        mine_total=mine.total)

    def followup_for_message(self, platform: str, channel_id: str, message_ref: str) -> int | None:
        with read_scope(self.rt.engine) as s:
            return queries.followup_for_message(s, platform, channel_id, message_ref)
