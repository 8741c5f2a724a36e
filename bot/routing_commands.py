"""The dispatcher's branch for the routing commands: `subscribe` (show), `duty`, `escalate`, `snooze`."""

from __future__ import annotations

from bot import escalation, rotation, routing, snooze
from bot.actors import Actor, Place
from bot.commands import Command, Verb, given
from bot.runtime import Runtime
from bot.views import Notice


def run(rt: Runtime, c: Command, actor: Actor, place: Place) -> Notice:
    extra = c.extra or {}
    match c.verb:
        case Verb.SUBSCRIBE_SHOW:
            return Notice(routing.describe(rt, place))
        case Verb.DUTY:
            return Notice(rotation.show_duty(rt, place))
        case Verb.DUTY_SET:
            return Notice(rotation.set_duty(rt, place, actor, extra["people"]))
        case Verb.DUTY_OFF:
            return Notice(rotation.duty_off(rt, place, actor))
        case Verb.ESCALATE:
            return Notice(escalation.set_rule(rt, place, actor, channel=extra["channel"],
                                              name=extra["channel_name"], minutes=extra["minutes"]))
        case Verb.ESCALATE_OFF:
            return Notice(escalation.rule_off(rt, place, actor))
        case Verb.SNOOZE:
            sentence, view = snooze.snooze(rt, given(c.number), extra["minutes"], actor)
            return Notice(sentence, alert=view)
    raise ValueError(f"not a routing command: {c.verb}")  # pragma: no cover
