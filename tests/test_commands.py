"""The chat command grammar of interface.md, parsed into one Command model."""

import pytest

from bot.commands import Command, Verb, parse_command, parse_mention, reaction_command
from bot.errors import CommandError
from storage.models import Outcome


@pytest.mark.parametrize(("text", "expected"), [
    ("", Command(Verb.HELP)),
    ("help", Command(Verb.HELP)),
    ("/nps score", Command(Verb.SCORE)),
    ("score 7d segment=renewal", Command(Verb.SCORE, period_days=7, segment="renewal")),
    ("score 90d", Command(Verb.SCORE, period_days=90)),
    ("open", Command(Verb.OPEN)),
    ("UNCLAIMED", Command(Verb.UNCLAIMED)),
    ("mine", Command(Verb.MINE)),
    ("show #12", Command(Verb.SHOW, number=12)),
    ("claim 3", Command(Verb.CLAIM, number=3)),
    ("assign 3 <@U123|maria>", Command(Verb.ASSIGN, number=3, assignee="<@U123|maria>")),
    ("note 3 called, will follow up Friday", Command(Verb.NOTE, number=3, text="called, will follow up Friday")),
    ("close 3", Command(Verb.CLOSE, number=3, outcome=Outcome.RESOLVED)),
    ("close 3 churned moved to a competitor", Command(Verb.CLOSE, number=3, outcome=Outcome.CHURNED,
                                                     text="moved to a competitor")),
    ("close 3 no-action", Command(Verb.CLOSE, number=3, outcome=Outcome.NO_ACTION)),
    ("close 3 they are happy now", Command(Verb.CLOSE, number=3, outcome=Outcome.RESOLVED,
                                           text="they are happy now")),
    ("reopen 3", Command(Verb.REOPEN, number=3)),
    ("subscribe alerts", Command(Verb.SUBSCRIBE)),
    ("subscribe alerts segment=renewal max_score=4", Command(Verb.SUBSCRIBE, segment="renewal", max_score=4)),
    ("unsubscribe alerts", Command(Verb.UNSUBSCRIBE)),
    ("digest now", Command(Verb.DIGEST_NOW)),
    ("digest schedule mon 09:00", Command(Verb.DIGEST_SCHEDULE, weekday="mon", time="09:00")),
    ("digest schedule Friday 7:30 Europe/Berlin",
     Command(Verb.DIGEST_SCHEDULE, weekday="fri", time="07:30", timezone="Europe/Berlin")),
    ("digest off", Command(Verb.DIGEST_OFF)),
])
def test_every_command_of_the_interface_parses(text, expected):
    assert parse_command(text) == expected


@pytest.mark.parametrize(("text", "mistake"), [
    ("frobnicate", "I don't know the command `frobnicate`"),
    ("claim", "`claim` needs a follow-up number"),
    ("claim abc", "`abc` is not a follow-up number"),
    ("claim 0", "`0` is not a follow-up number"),
    ("note 3", "`note` needs some text"),
    ("assign 3", "`assign` needs a number and a person"),
    ("subscribe digests", "Did you mean `subscribe alerts`?"),
    ("subscribe alerts max_score=12", "`max_score=12` must be a whole number from 0 to 10"),
    ("subscribe alerts colour=red", "`subscribe alerts` does not understand `colour=red`"),
    ("score 14d", "`score` does not understand `14d`"),
    ("digest schedule funday 09:00", "`funday` is not a weekday"),
    ("digest schedule mon 25:00", "`25:00` is not a time of day"),
    ("digest schedule mon 09:00 Mars/Olympus", "`Mars/Olympus` is not a time zone I know"),
    ("digest later", "`digest` takes `now`"),
    ("open everything", "`open` takes no arguments"),
])
def test_a_mistake_is_named(text, mistake):
    with pytest.raises(CommandError) as exc:
        parse_command(text)
    assert mistake in exc.value.message


def test_mentions_from_slack_and_plain_names():
    assert parse_mention("<@U123|maria>") == ("U123", "maria")
    assert parse_mention("<@U123>") == ("U123", "U123")
    assert parse_mention("@li") == ("li", "li")


def test_reactions_map_to_claim_and_close_as_resolved():
    assert reaction_command("eyes", 4) == Command(Verb.CLAIM, number=4)
    assert reaction_command(":white_check_mark:", 4) == Command(Verb.CLOSE, number=4, outcome=Outcome.RESOLVED)
    assert reaction_command("tada", 4) is None
