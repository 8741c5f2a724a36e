"""The Email customer card input in Teams, through /api/messages and the real SMTP server."""

from __future__ import annotations

import pytest

from tests.mail.helpers import post_mail, reply_to
from tests.teams.conftest import CHANNEL, card_of, connector, teams  # noqa: F401 - fixtures
from tests.teams.test_teams_flow import alert_posted, blocks_of


@pytest.fixture
def settings(mail_settings):
    return mail_settings(NPSBOT_TEAMS_ENABLED="true", NPSBOT_TEAMS_POST_INTERVAL="0")


async def test_email_customer_from_the_card_and_the_reply_comes_back(teams, smtp):  # noqa: F811
    alert_id = await alert_posted(teams)
    status, body = await teams.post("invoke_adaptive_card_action", ALERT_ID=alert_id, TITLE="Send e-mail",
                                    VERB="email", DATA={"npsbot": "email", "n": 1, "email_text": "Sorry! <at>x</at>"})
    assert status == 200 and body["statusCode"] == 200
    card = body["value"]
    assert any(b.get("title") == "Email customer" for b in blocks_of(card, "Action.ShowCard"))
    inputs = [i for i in blocks_of(card, "Input.Text") if i["id"] == "email_text"]
    assert inputs and inputs[0]["value"].startswith("Thank you for your feedback")
    await teams.drain()
    [sent] = smtp.messages
    assert "Sorry! <at>x</at>" in sent.get_body(("plain",)).get_content()
    teams.connector.clear()
    await post_mail(teams.client, reply_to(sent, "<at>Everyone</at> **thanks**"))
    await teams.drain()
    [reply] = teams.connector.replies(CHANNEL)
    assert reply.body["text"].startswith("✉ Reply from Acme Corp: <at>Everyone</at> **thanks**")
    assert reply.body["textFormat"] == "plain" and "entities" not in reply.body
    update = teams.connector.updates()[-1]
    assert any("✉ contacted" in (b.get("text") or "") for b in blocks_of(card_of(update), "TextBlock"))


async def test_an_empty_email_from_the_card_is_refused(teams, smtp):  # noqa: F811
    alert_id = await alert_posted(teams)
    status, body = await teams.post("invoke_adaptive_card_action", ALERT_ID=alert_id, TITLE="Send e-mail",
                                    VERB="email", DATA={"npsbot": "email", "n": 1, "email_text": "  "})
    assert "The e-mail needs some text." in str(body)
    assert smtp.messages == []
