"""What broke in a real tenant, through /api/messages: names for reactions, card size, Universal
Actions' fallback and errors, and the SDK's warnings about fields Teams adds."""

from __future__ import annotations

import json
import logging

from bot.actors import Actor, Place
from handlers.teams import card_size
from storage.db import read_scope
from storage.models import FollowUp

from .conftest import CHANNEL, PERSONAL, SAM_AAD, card_of, load_activity
from .test_teams_flow import alert_posted, blocks_of, texts


def actions_of(node) -> list[dict]:
    found = []
    if isinstance(node, dict):
        if str(node.get("type", "")).startswith("Action."):
            found.append(node)
        for value in node.values():
            found += actions_of(value)
    elif isinstance(node, list):
        for value in node:
            found += actions_of(value)
    return found


# -- 4. a reaction without from.name -----------------------------------------------------------

async def test_a_reaction_without_a_name_is_credited_to_the_member_s_roster_name(teams, rt):
    alert_id = await alert_posted(teams)
    fixture = load_activity("message_reaction", teams.connector.url, ALERT_ID=alert_id, REACTION="like")
    assert "name" not in fixture["from"]  # as Microsoft's own samples send it
    status, _ = await teams.post("message_reaction", ALERT_ID=alert_id, REACTION="like")
    assert status in (200, 201)
    with read_scope(rt.engine) as s:
        fu = s.get(FollowUp, 1)
    assert (fu.claimant_id, fu.claimant_name) == (f"teams:{SAM_AAD}", "Sam Lee")
    await teams.drain()
    card = card_of(teams.connector.updates()[-1])
    runs = [r["text"] for r in blocks_of(card, "TextRun")]
    assert "Sam Lee" in runs and not any(SAM_AAD in r for r in runs)
    assert [c.body["text"] for c in teams.connector.replies(CHANNEL)] == ["Sam Lee claimed #1."]
    # The roster is asked once per person, not once per reaction.
    lookups = [c for c in teams.connector.calls if c.method == "GET"]
    await teams.post("message_reaction", ALERT_ID=alert_id, REACTION="2705_whiteheavycheckmark")
    assert [c for c in teams.connector.calls if c.method == "GET"] == lookups


# -- 5. no card over 28 KB ------------------------------------------------------------------------

async def test_show_of_a_long_follow_up_stays_under_28_kb_and_says_what_it_left_out(teams, rt):
    await alert_posted(teams)
    actor, place = Actor("teams", SAM_AAD, "Sam Lee"), Place("teams", CHANNEL)
    for i in range(30):
        teams.services.dispatcher.handle_text(f"note 1 call {i}: " + "x" * 2_990, actor, place)
    teams.connector.clear()
    status, _ = await teams.post("message_personal", COMMAND="show 1")
    assert status in (200, 201)
    [reply] = teams.connector.replies(PERSONAL)
    assert card_size.size(reply.body) < 28_000
    card = card_of(reply)
    shown = texts(card)
    assert any(t.startswith("… ") and "earlier trail entries" in t for t in shown)
    assert any("call 29: " in t for t in shown)  # the newest note is there
    assert "Close" in [a["title"] for a in card["actions"]]


async def test_every_card_kind_is_capped_even_when_its_text_is_huge(teams):
    big = {"type": "AdaptiveCard", "version": "1.5",
           "body": [{"type": "TextBlock", "text": "y" * 60_000}] * 3}
    fitted = card_size.fit(big)
    assert card_size.size(fitted) <= card_size.LIMIT
    assert "shortened to fit" in json.dumps(fitted)


# -- 6 and 7. Universal Actions: fallback, no ignored style, a proper error -----------------------

async def test_every_execute_action_falls_back_to_a_submit_and_no_style_is_positive(teams):
    alert_id = await alert_posted(teams)
    await teams.post("message_personal", COMMAND="show 1")
    cards = [card_of(c) for c in teams.connector.replies(PERSONAL)]
    status, body = await teams.post("invoke_adaptive_card_action", ALERT_ID=alert_id, TITLE="Claim",
                                    VERB="claim", DATA={"npsbot": "claim", "n": 1})
    cards.append(body["value"])
    executes = [a for c in cards for a in actions_of(c) if a["type"] == "Action.Execute"]
    assert executes
    for action in executes:
        assert action["fallback"] == {"type": "Action.Submit", "title": action["title"], "data": action["data"]}
        assert "style" not in action


async def test_the_fallback_submit_does_what_the_button_does(teams, rt):
    alert_id = await alert_posted(teams)
    await teams.post("message_action_submit", ALERT_ID=alert_id, DATA={"npsbot": "claim", "n": 1})
    with read_scope(rt.engine) as s:
        assert s.get(FollowUp, 1).status == "claimed"


async def test_an_invoke_that_is_not_action_execute_gets_a_proper_error(teams, rt):
    alert_id = await alert_posted(teams)
    body = load_activity("invoke_adaptive_card_action", teams.connector.url, ALERT_ID=alert_id, TITLE="Claim",
                         VERB="claim", DATA={"npsbot": "claim", "n": 1})
    body["value"]["action"]["type"] = "Action.Submit"
    response = await teams.client.post("/api/messages", json=body)
    answer = await response.json()
    assert response.status == 400
    assert answer["statusCode"] == 400 and answer["type"] == "application/vnd.microsoft.error"
    assert answer["value"]["code"] == "NotSupported" and "Action.Submit" in answer["value"]["message"]
    with read_scope(rt.engine) as s:
        assert s.get(FollowUp, 1).status == "open"


# -- 13. no SDK warnings for fields Teams adds ----------------------------------------------------

async def test_fields_newer_than_the_sdk_produce_no_warnings(teams, caplog):
    alert_id = await alert_posted(teams)
    # Teams sends channelData fields the SDK's models predate; reading the roster parses them.
    body = load_activity("message_reaction", teams.connector.url, ALERT_ID=alert_id, REACTION="like")
    body["channelData"].update(teamsChannelId=CHANNEL, teamsTeamId=CHANNEL)
    with caplog.at_level(logging.WARNING):
        response = await teams.client.post("/api/messages", json=body)
    assert response.status in (200, 201)
    assert [c for c in teams.connector.calls if c.method == "GET"], "the roster was not read"
    assert not [r for r in caplog.records if "is not a known attribute" in r.getMessage()]
