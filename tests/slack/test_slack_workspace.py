"""One workspace: signed requests from another team (Slack Connect, org-wide installs) are refused
with an ephemeral line and change nothing; the team comes from auth.test or SLACK_TEAM_ID."""

from urllib.parse import parse_qsl, urlencode

from bot.app import build_app, build_runtime, build_services
from storage.db import read_scope
from storage.models import FollowUp
from tests.conftest import serve
from tests.slack.conftest import FIXTURES, Slack


async def evil_command(slack: Slack, text: str, *, team: str = "T0EVIL", enterprise: str | None = None):
    form = dict(parse_qsl((FIXTURES / "slash_command.txt").read_text()))
    form.update(text=text, team_id=team, channel_id="C0CA5", user_id="U0CA5",
                response_url=slack.fake.response_url("evil"))
    form.pop("enterprise_id", None)
    if enterprise:
        form["enterprise_id"] = enterprise
    return await slack.post(urlencode(form), "application/x-www-form-urlencoded")


def status(slack: Slack) -> tuple[str, str | None]:
    with read_scope(slack.rt.engine) as s:
        fu = s.get(FollowUp, 1)
        return fu.status, fu.claimant_id


async def test_a_command_from_another_team_is_refused_and_changes_nothing(slack):
    await slack.alert()
    for text in ("claim 1", "close 1", "show 1", "subscribe alerts"):
        resp = await evil_command(slack, text)
        body = await resp.json()
        assert resp.status == 200 and body["response_type"] == "ephemeral"
        assert "only works for members of the workspace it is installed in" in body["text"]
    assert status(slack) == ("open", None)
    assert [c.method for c in slack.fake.calls if c.method == "auth.test"] == ["auth.test"]  # asked once


async def test_a_button_from_a_user_of_another_team_in_a_shared_channel_is_refused(slack):
    ts = await slack.alert()
    payload, _ = slack.action_payload("nps_claim", 1, message_ts=ts)
    payload["user"]["team_id"] = "T0EVIL"  # the channel is ours, the person is not
    resp = await slack.interactive(payload)
    assert resp.status == 200
    refusals = lambda: [r for rs in slack.fake.responses.values() for r in rs  # noqa: E731
                        if "another organisation" in r.get("text", "")]
    assert len(await slack.fake.wait_for(refusals)) == 1
    assert status(slack) == ("open", None)


async def test_our_team_still_works(slack):
    await slack.alert()
    resp, key = await slack.command("claim 1", channel="C0CA5")
    [reply] = await slack.fake.wait_response(key)
    assert reply["text"] == "You claimed #1."


async def test_slack_team_id_binds_without_auth_test_and_an_enterprise_admits_its_teams(
        make_settings, slack_env, clock, fake_slack):
    rt = build_runtime(make_settings(**slack_env, SLACK_TEAM_ID="T0CAG", SLACK_ENTERPRISE_ID="E0ORG"), clock=clock)
    services = build_services(rt)
    async with serve(build_app(services, run_workers=False)) as http:
        slack = Slack(rt, services, http, fake_slack)
        await slack.alert()
        sibling = await evil_command(slack, "open", team="T0SIBLING", enterprise="E0ORG")
        assert "only works" not in await sibling.text()
        other = await evil_command(slack, "open", team="T0SIBLING", enterprise="E0OTHER")
        assert "only works for members" in (await other.json())["text"]
        assert not fake_slack.all_calls("auth.test")
    rt.engine.dispose()
