"""Over-long staff text through the Slack door is refused at the command layer, naming the field,
and changes nothing (on PostgreSQL it used to hit a varchar column: "Sorry, something went wrong")."""

from sqlalchemy import select

from storage.db import read_scope
from storage.models import FollowUp, Subscription


async def reply_to(slack, text: str, **kw) -> dict:
    _, key = await slack.command(text, **kw)
    [reply] = await slack.fake.wait_response(key)
    return reply


async def test_an_assign_mention_of_300_characters_is_refused_by_name(slack):
    await slack.alert()
    reply = await reply_to(slack, f"assign 1 <@U0BOB|{'m' * 300}>", channel="C0CA5")
    assert "person's name given to `assign`" in reply["text"] and "256" in reply["text"]
    assert "Sorry" not in reply["text"]
    with read_scope(slack.rt.engine) as s:
        assert s.get(FollowUp, 1).claimant_id is None


async def test_a_name_of_250_characters_fits(slack):
    await slack.alert()
    name = "n" * 250
    reply = await reply_to(slack, f"assign 1 <@U0BOB|{name}>", channel="C0CA5")
    assert reply["text"] == f"#1 is now {name}'s."
    with read_scope(slack.rt.engine) as s:
        assert s.get(FollowUp, 1).claimant_name == name


async def test_a_segment_of_150_characters_is_refused_by_name(slack):
    reply = await reply_to(slack, f"subscribe alerts segment={'s' * 150}", channel="C0CA5")
    assert reply["text"].endswith("The segment is 150 characters long; the most I take is 100.")
    with read_scope(slack.rt.engine) as s:
        assert s.execute(select(Subscription)).first() is None
    score = await reply_to(slack, f"score segment={'s' * 150}")
    assert "segment" in score["text"] and "100" in score["text"]
