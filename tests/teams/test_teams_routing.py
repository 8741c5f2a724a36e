"""Routing, ownership and escalation through the Teams door: commands sent to the bot, the Snooze
card action, owner mentions from the channel roster."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import read_scope
from storage.models import FollowUp, Outbox, Subscription

from .conftest import CHANNEL, PERSONAL, SAM_AAD, card_of, load_activity
from .test_teams_flow import RESPONSE, alert_posted, blocks_of, ingest, texts

LEADS = "19:7e7e7e7e7e7e4e7e8e7e7e7e7e7e7e7e@thread.tacv2"


async def command(teams, text: str) -> str:
    """Send `@npsbot text` in the channel; the bot's answer (a line in the command's thread)."""
    teams.connector.clear()
    status, _ = await teams.post("message_channel_mention", COMMAND=text)
    assert status in (200, 201)
    [reply] = teams.connector.replies(CHANNEL)
    return reply.body.get("text") or str(card_of(reply))


async def send(teams, body: dict) -> None:
    response = await teams.client.post("/api/messages", json=body)
    assert response.status in (200, 201), await response.text()


def with_mention(teams, text: str, mentioned: dict) -> dict:
    """A channel message mentioning the bot and someone (or some channel) else."""
    body = load_activity("message_assign_mention", teams.connector.url)
    tag = f"<at>{mentioned['name']}</at>"
    body["text"] = f"<at>npsbot</at> {text.replace('@', tag, 1)}"
    body["entities"][1] = {"mentioned": mentioned, "text": tag, "type": "mention"}
    return body


async def test_filter_commands_and_their_errors(teams):
    await teams.post("installation_update_team")
    assert (await command(teams, "subscribe alerts segment=renewal min_arr=40000 tag.plan=pro")) == (
        "This channel now gets an alert for every response scoring 6 or less from segment renewal, "
        "from customers with ARR of at least 40,000, tagged plan=pro.")
    assert (await command(teams, "subscribe")).startswith("This channel gets an alert for every response scoring 6")
    assert "`3x` is not a duration; use 30m, 24h or 3d" in await command(teams, "snooze 1 3x")
    assert "`#general` is not a channel I can post in" in await command(teams, "escalate to #general after 24h")


async def test_duty_with_a_teams_mention_assigns_new_follow_ups_to_that_person(teams, rt):
    await teams.post("installation_update_team")
    await command(teams, "subscribe alerts")
    teams.connector.clear()
    await send(teams, with_mention(teams, "duty @", {"id": "29:1samLeeTeamsId", "name": "Sam Lee"}))
    [reply] = teams.connector.replies(CHANNEL)
    assert "On duty now: Sam Lee" in reply.body["text"]
    await ingest(teams)
    with read_scope(rt.engine) as s:
        fu = s.get(FollowUp, 1)
        dm = s.execute(select(Outbox).where(Outbox.kind == "text")).scalar_one()
    assert (fu.status, fu.claimant_id) == ("claimed", f"teams:{SAM_AAD}")  # what `mine` lists for Sam
    assert (dm.platform, dm.channel_id) == ("teams", SAM_AAD)
    assert (await command(teams, "duty")).startswith("On duty now: Sam Lee; next: Sam Lee from Monday")

    # Sam's personal view: `mine` in the 1:1 chat lists what the rotation gave him.
    await teams.drain()
    teams.connector.clear()
    await teams.post("message_personal", COMMAND="mine")
    [mine] = teams.connector.replies(PERSONAL)
    assert any(t.startswith("#1") for t in texts(card_of(mine)))
    assert "rotation is off" in await command(teams, "duty off")
    assert "no duty rotation" in await command(teams, "duty")


async def test_escalation_to_a_teams_channel_the_bot_is_in(teams, rt):
    await teams.post("installation_update_team")
    await command(teams, "subscribe alerts")
    leads = {"id": LEADS, "name": "CX leads"}
    teams.connector.clear()
    await send(teams, with_mention(teams, "escalate to @ after 30m", leads))
    [refused] = teams.connector.replies(CHANNEL)
    assert "`CX leads` is not a channel I can post in" in refused.body["text"]

    install = load_activity("installation_update_team", teams.connector.url)
    install["conversation"]["id"] = LEADS
    await send(teams, install)
    teams.connector.clear()
    await send(teams, with_mention(teams, "escalate to @ after 30m", leads))
    [ok] = teams.connector.replies(CHANNEL)
    assert ok.body["text"].startswith("Follow-ups alerted here and still unclaimed 30 minutes after")
    with read_scope(rt.engine) as s:
        assert s.execute(select(Subscription.escalate_to)).scalar_one() == LEADS

    await ingest(teams)
    await teams.drain()
    teams.connector.clear()
    rt.clock.advance(minutes=31)
    from bot.escalation import escalate_due

    assert escalate_due(rt) == 1 and escalate_due(rt) == 0
    await teams.drain()
    [post] = teams.connector.posts(LEADS)
    card = card_of(post)
    assert " · ESCALATED" in [r["text"] for r in blocks_of(card, "TextRun")]
    assert [a["title"] for a in card["actions"]] == ["Claim", "Add note", "Close", "Snooze", "Theme"]
    assert await command(teams, "escalate off") == "Escalation from this channel is off."


async def test_snooze_from_the_card(teams, rt):
    alert_id = await alert_posted(teams)
    status, body = await teams.post("invoke_adaptive_card_action", ALERT_ID=alert_id, TITLE="Snooze #1",
                                    VERB="snooze", DATA={"npsbot": "snooze", "n": 1, "snooze_for": "7d"})
    assert status == 200
    runs = [r["text"] for r in blocks_of(body["value"], "TextRun")]
    assert " · snoozed until 2026-11-27 12:00 UTC" in runs
    with read_scope(rt.engine) as s:
        assert s.get(FollowUp, 1).snoozed_until is not None
    assert await command(teams, "snooze 1 off") == "#1 is no longer snoozed."
    assert (await command(teams, "snooze 1 24h")).startswith("#1 is snoozed until 2026-11-21 12:00 UTC")


async def test_the_owner_is_mentioned_when_they_are_on_the_channels_roster(teams):
    teams.connector.roster = [
        {"id": "29:1aliceTeamsId", "name": "Alice Smith", "aadObjectId": "a11ce",
         "email": "Alice@acme.example", "userPrincipalName": "alice@acme.example"},
    ]
    await alert_posted(teams)
    await ingest(teams, {**RESPONSE, "id": "resp-2", "customer": {"id": "cus_43", "owner": "alice@acme.example"}})
    await teams.drain()
    [post] = teams.connector.posts(CHANNEL)
    card = card_of(post)
    assert card["msteams"]["entities"] == [{"type": "mention", "text": "<at>Alice Smith</at>",
                                            "mentioned": {"id": "29:1aliceTeamsId", "name": "Alice Smith"}}]
    assert "Owner: <at>Alice Smith</at>" in [b["text"] for b in blocks_of(card, "TextBlock")]
    # One roster fetch serves every alert of the channel.
    assert len([c for c in teams.connector.calls if c.method == "GET" and c.conversation == CHANNEL]) <= 1
