"""A failed name lookup never loses the action: `users.info` answering a non-JSON error page (a
proxy's 502) used to raise after the event id was recorded, so the reaction never acted."""

from storage.db import read_scope
from storage.models import FollowUp
from tests.slack.test_slack_events import claims, reaction


async def test_a_reaction_claims_even_when_users_info_answers_garbage(slack):
    ts = await slack.alert()
    slack.fake.fail_next(1, methods=("users.info",), status=502, raw_body="<html>Bad gateway</html>")
    resp = await slack.event(reaction(ts, user="U0RIA", event_id="Ev0GARBAGE"))
    assert resp.status == 200
    await slack.fake.wait_for(lambda: claims(slack.rt) == 1)
    with read_scope(slack.rt.engine) as s:
        fu = s.get(FollowUp, 1)
    assert (fu.status, fu.claimant_id, fu.claimant_name) == ("claimed", "slack:U0RIA", "U0RIA")


async def test_a_refusal_that_cannot_be_delivered_is_only_logged(slack):
    ts = await slack.alert()
    await slack.command("claim 1", channel="C0CA5", user_id="U0BOB")
    await slack.fake.wait_for(lambda: claims(slack.rt) == 1)
    slack.fake.fail_next(1, methods=("chat.postEphemeral",), status=502, raw_body="<html>oops</html>")
    resp = await slack.event(reaction(ts, user="U0RIA", event_id="Ev0SECOND"))
    assert resp.status == 200
    await slack.fake.wait_for(lambda: slack.fake.all_calls("chat.postEphemeral"))
    assert claims(slack.rt) == 1
