"""The whole follow-up loop in a Teams channel, through /api/messages and a fake connector."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from bot.actors import Actor, Place
from bot.clock import as_utc
from storage.db import read_scope, session_scope
from storage.models import FollowUp, Outbox, OutboxStatus, PostedMessage, TeamsConversation

from .conftest import CHANNEL, INJECTION, MARIA_AAD, PERSONAL, SAM_AAD, card_of, golden

RESPONSE = {
    "id": "resp-1", "score": 3, "comment": INJECTION, "submitted_at": "2026-11-20T10:00:00Z",
    "source": "typeform",
    "customer": {"id": "cus_42", "name": "Acme Corp", "email": "ops@acme.example", "segment": "renewal",
                 "arr": 48000, "owner": "alice@acme.example"},
}


async def ingest(teams, payload=RESPONSE) -> None:
    response = await teams.client.post("/webhooks/responses", json=payload,
                                       headers={"Authorization": "Bearer test-token"})
    assert response.status == 202, await response.text()


def texts(node) -> list[str]:
    """Every `text` in a card, wherever it sits."""
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("text"), str):
            found.append(node["text"])
        for value in node.values():
            found += texts(value)
    elif isinstance(node, list):
        for value in node:
            found += texts(value)
    return found


def blocks_of(node, kind: str) -> list[dict]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == kind:
            found.append(node)
        for value in node.values():
            found += blocks_of(value, kind)
    elif isinstance(node, list):
        for value in node:
            found += blocks_of(value, kind)
    return found


async def alert_posted(teams) -> str:
    await teams.post("installation_update_team")
    await teams.post("message_channel_mention", COMMAND="subscribe alerts")
    await ingest(teams)
    teams.connector.clear()
    await teams.drain()
    posts = teams.connector.posts(CHANNEL)
    assert len(posts) == 1, [(c.method, c.conversation, c.activity_id) for c in teams.connector.calls]
    with read_scope(teams.services.rt.engine) as s:
        ref = s.execute(select(PostedMessage.message_ref).where(PostedMessage.platform == "teams")).scalar_one()
    teams.connector.clear()
    return ref


async def test_install_stores_the_conversation_and_says_hello(teams, rt):
    status, _ = await teams.post("installation_update_team")
    assert status in (200, 201)
    status, _ = await teams.post("conversation_update_bot_added")
    assert status in (200, 201)
    with read_scope(rt.engine) as s:
        stored = {r.conversation_id: r.reference for r in s.execute(select(TeamsConversation)).scalars()}
    assert set(stored) == {CHANNEL, "member:29:1mariaGarciaTeamsId", f"member:{MARIA_AAD}"}
    reference = stored[CHANNEL]
    assert reference["conversation"]["id"] == CHANNEL
    assert reference["serviceUrl"] == teams.connector.url
    assert reference["bot"]["id"].startswith("28:")
    assert "activityId" not in reference or not reference["activityId"]
    assert reference["conversation"]["tenantID"] == "72f988bf-86f1-41af-91ab-2d7cd011db47"
    welcome = teams.connector.calls
    assert len(welcome) == 1 and "subscribe alerts" in welcome[0].body["text"]


async def test_alert_is_delivered_to_the_stored_channel_as_a_card(teams, rt):
    await teams.post("installation_update_team")
    status, _ = await teams.post("message_channel_mention", COMMAND="subscribe alerts")
    assert status in (200, 201)
    reply = teams.connector.replies(CHANNEL)[-1]
    assert reply.activity_id == "1763640001234"  # answered in the thread of the command
    assert reply.body["text"].startswith("This channel now gets an alert")
    assert reply.body["textFormat"] == "plain"

    await ingest(teams)
    teams.connector.clear()
    await teams.drain()
    [post] = teams.connector.posts(CHANNEL)
    card = card_of(post)
    golden("alert_delivered", card)
    assert card["version"] == "1.5"
    assert post.body["summary"].startswith("#1 · 3/10 detractor · Acme Corp")
    with read_scope(rt.engine) as s:
        posted = s.execute(select(PostedMessage)).scalar_one()
    assert (posted.platform, posted.channel_id) == ("teams", CHANNEL)


async def test_injection_comment_stays_inside_a_text_run(teams):
    await teams.post("installation_update_team")
    await teams.post("message_channel_mention", COMMAND="subscribe alerts")
    await ingest(teams)
    teams.connector.clear()
    await teams.drain()
    card = card_of(teams.connector.posts(CHANNEL)[0])
    runs = [r["text"] for r in blocks_of(card, "TextRun")]
    assert f"“{INJECTION}”" in runs
    markdown = [b["text"] for b in blocks_of(card, "TextBlock")]
    assert not any("evil" in t or "<at>" in t or "**" in t for t in markdown)
    assert "entities" not in teams.connector.posts(CHANNEL)[0].body  # no mention entities, so no pings


async def test_claim_from_the_card_updates_it_in_place_for_everyone(teams, rt):
    alert_id = await alert_posted(teams)
    data = {"npsbot": "claim", "n": 1}
    status, body = await teams.post("invoke_adaptive_card_action", ALERT_ID=alert_id, TITLE="Claim",
                                    VERB="claim", DATA=data)
    assert status == 200
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    golden("alert_claimed_for_clicker", body["value"])
    assert "Maria Garcia" in [r["text"] for r in blocks_of(body["value"], "TextRun")]
    with read_scope(rt.engine) as s:
        fu = s.get(FollowUp, 1)
    assert (fu.status, fu.claimant_id) == ("claimed", f"teams:{MARIA_AAD}")

    await teams.drain()
    [update] = teams.connector.updates()
    assert (update.conversation, update.activity_id) == (CHANNEL, alert_id)
    assert card_of(update) == body["value"]
    [thread] = teams.connector.replies(CHANNEL)
    assert thread.activity_id == alert_id and thread.body["text"] == "Maria Garcia claimed #1."

    # A second click by someone else is refused with a message, and changes nothing.
    status, body = await teams.post("invoke_adaptive_card_action", ALERT_ID=alert_id, TITLE="Claim",
                                    VERB="claim", DATA=data)
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert body["value"] == "You already have #1."


async def test_note_and_close_with_action_submit(teams, rt):
    alert_id = await alert_posted(teams)
    status, _ = await teams.post("message_action_submit", ALERT_ID=alert_id,
                                 DATA={"npsbot": "note", "n": 1, "note_text": "Called them, **urgent**"})
    assert status in (200, 201)
    assert teams.connector.replies(CHANNEL) == []  # success shows on the card, not as a reply
    status, _ = await teams.post("message_action_submit", ALERT_ID=alert_id,
                                 DATA={"npsbot": "close", "n": 1, "close_outcome": "recovered",
                                       "close_note": "Renewed"})
    with read_scope(rt.engine) as s:
        fu = s.get(FollowUp, 1)
    assert (fu.status, fu.outcome, fu.last_note) == ("closed", "recovered", "Renewed")
    await teams.drain()
    updates = teams.connector.updates()
    assert updates and updates[-1].activity_id == alert_id
    golden("alert_closed", card_of(updates[-1]))
    lines = [c.body["text"] for c in teams.connector.replies(CHANNEL)]
    assert lines == ["Sam Lee added a note: Called them, **urgent**", "Sam Lee closed #1 as recovered: Renewed"]

    # An empty note from the card is refused with a sentence, not a stack trace.
    teams.connector.clear()
    await teams.post("message_action_submit", ALERT_ID=alert_id, DATA={"npsbot": "note", "n": 1, "note_text": " "})
    assert teams.connector.replies(CHANNEL)[0].body["text"] == "⚠ A note needs some text."


async def test_reactions_claim_and_close(teams, rt):
    alert_id = await alert_posted(teams)
    status, _ = await teams.post("message_reaction", ALERT_ID=alert_id, REACTION="like")
    assert status in (200, 201)
    with read_scope(rt.engine) as s:
        assert (s.get(FollowUp, 1).status, s.get(FollowUp, 1).claimant_id) == ("claimed", f"teams:{SAM_AAD}")
    await teams.post("message_reaction", ALERT_ID=alert_id, REACTION="heart")  # not mapped: nothing
    with read_scope(rt.engine) as s:
        assert s.get(FollowUp, 1).status == "claimed"
    await teams.post("message_reaction", ALERT_ID=alert_id, REACTION="2705_whiteheavycheckmark")
    with read_scope(rt.engine) as s:
        fu = s.get(FollowUp, 1)
    assert (fu.status, fu.outcome) == ("closed", "resolved")
    await teams.drain()
    closed = card_of(teams.connector.updates()[-1])
    assert "Closed as resolved" in [r["text"] for r in blocks_of(closed, "TextRun")]
    assert [a["title"] for a in closed["actions"]] == ["Add note", "Reopen", "Theme"]
    # A reaction on a message that is not an alert does nothing.
    await teams.post("message_reaction", ALERT_ID="999", REACTION="like")


async def test_a_claim_in_slack_updates_the_teams_card(teams, rt):
    alert_id = await alert_posted(teams)
    # The follow-up is also alerted in Slack channel C1, where Priya claims it.
    with session_scope(rt.engine) as s:
        s.add(PostedMessage(followup_id=1, platform="slack", channel_id="C1", message_ref="1.1",
                            posted_at=rt.clock.now()))
    reply = await __import__("asyncio").to_thread(
        teams.services.dispatcher.handle_text, "claim 1", Actor("slack", "U042", "Priya"), Place("slack", "C1"))
    assert reply.ok
    await teams.drain()
    [update] = teams.connector.updates()
    assert update.activity_id == alert_id
    assert "Priya" in [r["text"] for r in blocks_of(card_of(update), "TextRun")]


async def test_commands_in_a_personal_chat_answer_with_cards(teams):
    await alert_posted(teams)
    status, _ = await teams.post("message_personal", COMMAND="nps open")
    [answer] = teams.connector.replies(PERSONAL)
    golden("list_open", card_of(answer))
    teams.connector.clear()
    await teams.post("message_personal", COMMAND="show 1")
    detail = card_of(teams.connector.replies(PERSONAL)[0])
    assert [a["title"] for a in detail["actions"]] == ["Claim", "Add note", "Close", "Snooze", "Theme"]
    assert any(r["text"] == INJECTION for r in blocks_of(detail, "TextRun"))
    teams.connector.clear()
    await teams.post("message_personal", COMMAND="frobnicate")
    help_card = card_of(teams.connector.replies(PERSONAL)[0])
    assert "I don't know the command `frobnicate`." in blocks_of(help_card, "TextRun")[0]["text"]
    teams.connector.clear()
    await teams.post("message_personal", COMMAND="score 7d")
    assert blocks_of(card_of(teams.connector.replies(PERSONAL)[0]), "TextBlock")
    teams.connector.clear()
    await teams.post("message_personal", COMMAND="claim 1")
    assert teams.connector.replies(PERSONAL)[0].body["text"] == "You claimed #1."


async def test_assign_by_mention_uses_the_person_s_entra_id(teams, rt):
    await alert_posted(teams)
    status, _ = await teams.post("message_assign_mention")
    assert status in (200, 201)
    lookups = [c for c in teams.connector.calls if c.method == "GET"]
    assert lookups and lookups[0].activity_id is None
    with read_scope(rt.engine) as s:
        fu = s.get(FollowUp, 1)
    assert (fu.claimant_id, fu.claimant_name) == (f"teams:{SAM_AAD}", "Sam Lee")
    assert teams.connector.replies(CHANNEL)[-1].body["text"] == "#1 is now Sam Lee's."


async def test_direct_message_to_a_person_uses_their_personal_chat(teams):
    await teams.post("message_personal", COMMAND="help")
    teams.connector.clear()
    await teams.notifier.post_text(f"teams:{SAM_AAD}", "Reminder: #1 is waiting for you.")
    [dm] = teams.connector.posts(PERSONAL)
    assert dm.body["text"] == "Reminder: #1 is waiting for you."
    await teams.notifier.post_text(SAM_AAD, "again")
    assert len(teams.connector.posts(PERSONAL)) == 2


async def test_a_person_seen_only_in_a_channel_gets_a_new_1_1_chat(teams):
    await teams.post("message_channel_mention", COMMAND="help")
    teams.connector.clear()
    await teams.notifier.post_text(f"teams:{MARIA_AAD}", "#1 has waited 2 days for you.")
    create, send = teams.connector.calls
    assert create.conversation == "" and create.body["members"] == [{"id": "29:1mariaGarciaTeamsId"}]
    assert create.body["isGroup"] is False
    assert create.body["channelData"] == {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}}
    assert (send.conversation, send.body["text"]) == ("a:1NewPersonalChatCreatedByBot", "#1 has waited 2 days for you.")
    teams.connector.clear()
    await teams.notifier.post_text(MARIA_AAD, "again")  # the new chat was stored: no second create
    assert [c.conversation for c in teams.connector.calls] == ["a:1NewPersonalChatCreatedByBot"]


async def test_throttling_is_retried_after_retry_after_and_404_is_permanent(teams, rt):
    await teams.post("installation_update_team")
    await teams.post("message_channel_mention", COMMAND="subscribe alerts")
    await ingest(teams)
    teams.connector.fail_next(429, {"Retry-After": "7"})
    await teams.drain()
    with read_scope(rt.engine) as s:
        row = s.execute(select(Outbox).where(Outbox.kind == "alert.post")).scalar_one()
    assert row.status == OutboxStatus.PENDING and row.attempts == 0  # a rate limit is not a failed attempt
    assert as_utc(row.next_attempt_at) == rt.clock.now() + timedelta(seconds=7)

    rt.clock.advance(seconds=8)
    await teams.drain()
    with read_scope(rt.engine) as s:
        assert s.get(Outbox, row.id).status == OutboxStatus.SENT

    await ingest(teams, {**RESPONSE, "id": "resp-2", "customer": {"id": "cus_43", "name": "Globex"}})
    teams.connector.fail_next(404)
    await teams.drain()
    with read_scope(rt.engine) as s:
        dead = s.execute(select(Outbox).where(Outbox.followup_id == 2)).scalar_one()
    assert dead.status == OutboxStatus.DEAD and "404" in dead.last_error


async def test_unknown_channel_is_a_permanent_failure(teams):
    from bot.delivery import DeliveryError

    try:
        await teams.notifier.post_text("19:nowhere@thread.tacv2", "hello")
    except DeliveryError as exc:
        assert exc.permanent
    else:  # pragma: no cover
        raise AssertionError("expected a DeliveryError")


async def test_bad_requests(teams):
    response = await teams.client.post("/api/messages", data="hello", headers={"Content-Type": "text/plain"})
    assert response.status == 415
    response = await teams.client.post("/api/messages", data="{nope",
                                       headers={"Content-Type": "application/json"})
    assert response.status == 400
    response = await teams.client.post("/api/messages", data=json.dumps({"text": "no type"}),
                                       headers={"Content-Type": "application/json"})
    assert response.status == 400
    response = await teams.client.post("/api/messages", data="[1, 2]", headers={"Content-Type": "application/json"})
    assert response.status == 400


async def test_a_bug_answers_with_an_apology_not_a_stack_trace(teams, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(teams.services.dispatcher, "handle_text", broken)
    status, _ = await teams.post("message_personal", COMMAND="open")
    assert status in (200, 201)
    [reply] = teams.connector.replies(PERSONAL)
    assert reply.body["text"] == "Sorry, something went wrong on my side; please try again."


async def test_digest_now_posts_a_card_with_the_trend_chart(teams):
    await teams.post("installation_update_team")
    await teams.post("message_channel_mention", COMMAND="subscribe alerts")
    await ingest(teams)
    await teams.drain()
    teams.connector.clear()
    await teams.post("message_channel_mention", COMMAND="digest now")
    assert teams.connector.replies(CHANNEL)[0].body["text"].startswith("Building the digest")
    await teams.drain()
    [post] = teams.connector.posts(CHANNEL)
    card = card_of(post)
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    images = blocks_of(card, "Image")
    assert images and images[0]["url"].startswith("data:image/png;base64,")
    assert len(json.dumps(post.body)) - sum(len(i["url"]) for i in images) < 80_000  # Teams' size limit


async def test_execute_note_close_and_reopen(teams, rt):
    alert_id = await alert_posted(teams)

    async def execute(verb, title, **inputs):
        status, body = await teams.post("invoke_adaptive_card_action", ALERT_ID=alert_id, TITLE=title,
                                        VERB=verb, DATA={"npsbot": verb, "n": 1, **inputs})
        assert status == 200
        return body

    refused = await execute("note", "Save note", note_text="   ")
    assert refused == {"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                       "value": "A note needs some text."}
    noted = await execute("note", "Save note", note_text="Spoke to the CFO")
    assert "Spoke to the CFO" in [r["text"] for r in blocks_of(noted["value"], "TextRun")]
    closed = await execute("close", "Close #1", close_outcome="churned", close_note="")
    assert [a["title"] for a in closed["value"]["actions"]] == ["Add note", "Reopen", "Theme"]
    reopened = await execute("reopen", "Reopen")
    assert [a["title"] for a in reopened["value"]["actions"]] == ["Claim", "Add note", "Close", "Snooze", "Theme"]
    with read_scope(rt.engine) as s:
        assert s.get(FollowUp, 1).status == "open"
    await teams.drain()
    assert card_of(teams.connector.updates()[-1]) == reopened["value"]
    assert [c.body["text"] for c in teams.connector.replies(CHANNEL)] == [
        "Maria Garcia added a note: Spoke to the CFO", "Maria Garcia closed #1 as churned.",
        "Maria Garcia reopened #1."]
