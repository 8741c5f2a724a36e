"""Pure renderers: golden Adaptive Cards for every alert state and reply, built from views."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.commands import Verb
from bot.nps import NpsSummary, compare
from bot.views import (
    AlertView,
    CustomerView,
    EventView,
    FollowUpDetail,
    FollowUpList,
    HelpView,
    Notice,
    ResponseView,
    ScorePoint,
    ScoreView,
)
from handlers.teams import cards
from storage.models import Category, Outcome, Status

from .conftest import INJECTION, golden

AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def view(**changes) -> AlertView:
    base = {
        "number": 7, "status": Status.OPEN, "score": 2, "category": Category.DETRACTOR,
        "comment": "Support never answered my ticket", "submitted_at": AT, "source": "typeform",
        "customer": CustomerView("cus_42", "Acme *Corp*", "o…@acme.example", "renewal", 48000.0, "[alice](http://x.example)"),
        "segment": "renewal", "arr": 48000.0,
        "earlier_scores": (ScorePoint(datetime(2026, 8, 1, tzinfo=UTC), 9),
                           ScorePoint(datetime(2026, 5, 2, tzinfo=UTC), 8)),
        "claimant_id": None, "claimant_name": None, "outcome": None, "last_note": None, "response_count": 1,
        "opened_at": AT, "claimed_at": None, "closed_at": None, "overdue": False,
        "actions": (Verb.CLAIM, Verb.NOTE, Verb.CLOSE),
    }
    base.update(changes)
    return AlertView(**base)


CLAIMED = {"status": Status.CLAIMED, "claimant_id": "teams:abc", "claimant_name": "Maria **Garcia**", "claimed_at": AT,
               "overdue": True, "last_note": "Left a voicemail <at>Sam</at>", "response_count": 2,
               "actions": (Verb.NOTE, Verb.CLOSE)}
CLOSED = {"status": Status.CLOSED, "claimant_id": "slack:U1", "claimant_name": "Priya", "outcome": Outcome.RECOVERED,
              "closed_at": AT, "last_note": "Renewed", "actions": (Verb.NOTE, Verb.REOPEN)}


def markdown_texts(card: dict) -> list[str]:
    out = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") in ("TextBlock",) or "title" in node and node.get("type") == "Fact":
                out.append(node.get("text", ""))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return out


def test_alert_open_golden():
    golden("alert_open", cards.alert_card(view()))


def test_alert_claimed_overdue_golden():
    card = cards.alert_card(view(**CLAIMED))
    golden("alert_claimed_overdue", card)
    assert [a["title"] for a in card["actions"]] == ["Add note", "Close", "Snooze"]
    assert card["body"][0]["style"] == "warning"


def test_alert_closed_golden():
    card = cards.alert_card(view(**CLOSED))
    golden("alert_closed_recovered", card)
    assert [a["title"] for a in card["actions"]] == ["Add note", "Reopen"]
    assert card["actions"][1]["data"] == {"npsbot": "reopen", "n": 7}


def test_people_and_customers_never_reach_markdown():
    card = cards.alert_card(view(comment=INJECTION, **CLAIMED))
    for text in markdown_texts(card):
        for forbidden in ("evil", "<at>", "Garcia", "Acme", "alice", "*"):
            assert forbidden not in text, (forbidden, text)


def test_control_characters_and_long_comments():
    card = cards.alert_card(view(comment="\x1b[31mred\x1b[0m " + "x" * 5000))
    comment = card["body"][3]["inlines"][0]["text"]
    assert comment.startswith("“\\x1b[31mred") and len(comment) == cards.MAX_TEXT and comment.endswith("…")


def test_no_customer_no_comment():
    card = cards.alert_card(view(customer=None, comment=None, segment=None, arr=None, earlier_scores=()))
    assert card["body"][1]["inlines"][0]["text"] == "Unknown customer"
    assert card["body"][3]["inlines"][0]["text"] == "(no comment)"


def test_list_detail_score_help_goldens():
    items = (view(), view(number=8, **CLAIMED))
    golden("list_unclaimed", cards.list_card(FollowUpList("Unclaimed follow-ups", items, 30, "none")))
    assert cards.list_card(FollowUpList("Yours", (), 0, "You have no follow-ups."))["body"][1]["inlines"][0][
        "text"] == "You have no follow-ups."
    detail = FollowUpDetail(
        alert=view(**CLAIMED),
        responses=(ResponseView(AT, 2, INJECTION, "typeform"), ResponseView(AT, 4, None, "api")),
        history=(ScorePoint(AT, 9), ScorePoint(AT, 2)),
        events=(EventView(AT, "npsbot", "opened", None), EventView(AT, "Maria", "note", "called [x](y)")),
    )
    golden("detail", cards.detail_card(detail))
    score = ScoreView(7, "renewal", NpsSummary(40, 10, 12), NpsSummary(30, 10, 20),
                      compare(NpsSummary(40, 10, 12), NpsSummary(30, 10, 20)))
    golden("score", cards.score_card(score))
    golden("help_with_error", cards.help_card(HelpView(error="I don't know the command `[x](y)`.")))


def test_reply_card_chooses_text_for_notices():
    assert cards.reply_card(Notice("You claimed #7.")) is None
    assert cards.reply_card(HelpView())["type"] == "AdaptiveCard"
