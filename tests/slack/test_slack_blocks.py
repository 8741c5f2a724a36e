"""Block Kit renderer: golden files, escaping of customer text and Slack's size limits.

Regenerate the golden files with `NPSBOT_UPDATE_GOLDEN=1 pytest tests/slack/test_slack_blocks.py`.
"""

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.commands import Verb
from bot.nps import NpsSummary, compare
from bot.views import (
    AlertView,
    CustomerView,
    EventView,
    FollowUpDetail,
    FollowUpList,
    HelpView,
    HomeView,
    Notice,
    ResponseView,
    ScorePoint,
    ScoreView,
)
from handlers.slack import blocks, modals
from storage.models import Category, Outcome, Status
from tests.golden import GOLDEN as GOLDEN_ROOT
from tests.golden import as_json, assert_golden

GOLDEN = GOLDEN_ROOT / "slack"
INJECTION = "<!channel> <@U123> <https://evil.example|click> *bold*"
AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def alert(**changes) -> AlertView:
    base = AlertView(
        number=3, status=Status.OPEN, score=2, category=Category.DETRACTOR, comment=INJECTION,
        submitted_at=AT, source="typeform",
        customer=CustomerView("cus_42", "Acme & <Sons>", "o…@acme.example", "renewal", 48000.0,
                              "alice@acme.example"),
        segment="renewal", arr=48000.0,
        earlier_scores=(ScorePoint(datetime(2026, 8, 3, tzinfo=UTC), 8),
                        ScorePoint(datetime(2026, 5, 1, tzinfo=UTC), 6)),
        claimant_id=None, claimant_name=None, outcome=None, last_note=None, response_count=1,
        opened_at=AT, claimed_at=None, closed_at=None, overdue=False,
        actions=(Verb.CLAIM, Verb.NOTE, Verb.CLOSE),
    )
    return replace(base, **changes)


def score_view() -> ScoreView:
    cur, prev = NpsSummary(40, 30, 20), NpsSummary(30, 30, 30)
    return ScoreView(period_days=30, segment=None, current=cur, previous=prev, change=compare(cur, prev))


def check_golden(name: str, payload) -> None:
    assert_golden(GOLDEN / f"{name}.json", as_json(payload))


def text_objects(payload):
    if isinstance(payload, dict):
        if payload.get("type") in ("plain_text", "mrkdwn") and "text" in payload:
            yield payload
        for value in payload.values():
            yield from text_objects(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from text_objects(value)


CLAIMED = {"status": Status.CLAIMED, "claimant_id": "slack:U0MARIA", "claimant_name": "maria", "claimed_at": AT,
               "actions": (Verb.NOTE, Verb.CLOSE), "last_note": "Called, left a voicemail"}
CLOSED = {"status": Status.CLOSED, "claimant_id": "teams:29:abc", "claimant_name": "Jo <Teams>", "claimed_at": AT,
              "closed_at": AT, "outcome": Outcome.RECOVERED, "last_note": "Refund issued", "response_count": 2,
              "actions": (Verb.NOTE, Verb.REOPEN)}


@pytest.mark.parametrize(("name", "changes"), [
    ("alert_open", {}),
    ("alert_claimed", CLAIMED),
    ("alert_closed", CLOSED),
    ("alert_overdue_no_comment", {"overdue": True, "comment": None, "customer": None, "segment": None, "arr": None,
                                      "earlier_scores": ()}),
])
def test_alert_golden(name, changes):
    check_golden(name, blocks.alert_message(alert(**changes)))


def test_the_injection_comment_shows_literally_and_pings_nobody():
    message = blocks.alert_message(alert())
    raw = json.dumps(message)
    # Nothing Slack would parse as a mention or link survives anywhere in the payload.
    for token in ("<!channel>", "<@U123>", "<https://evil.example|click>", "<Sons>"):
        assert token not in raw
    [comment] = [b for b in message["blocks"] if b["type"] == "section" and "text" in b]
    assert comment["text"] == {
        "type": "plain_text", "emoji": False,
        "text": "“&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt; *bold*”"}
    # `*bold*` never reaches a mrkdwn object, and every mrkdwn object is verbatim (no auto-linking).
    for obj in text_objects(message):
        if obj["type"] == "mrkdwn":
            assert "bold" not in obj["text"] and obj["verbatim"] is True
            assert not re.search(r"<(?!@U0MARIA>)", obj["text"])
    assert "link_names" not in message and "parse" not in message


def test_claimant_is_a_mention_only_for_a_slack_user_id():
    assert "<@U0MARIA>" in blocks.state_mrkdwn(alert(**CLAIMED))
    closed_by_teams = alert(**dict(CLOSED, status=Status.CLAIMED))
    assert blocks.state_mrkdwn(closed_by_teams) == ":raising_hand: *Claimed* by Jo &lt;Teams&gt;"
    forged = alert(**dict(CLAIMED, claimant_id="slack:<!here>"))
    assert blocks.state_mrkdwn(forged) == ":raising_hand: *Claimed* by maria"


def test_replies_golden():
    check_golden("reply_help_error", blocks.reply_message(HelpView(error="I don't know the command `<b>`.")))
    check_golden("reply_notice_refused", blocks.reply_message(Notice("#3 is already claimed by maria.", ok=False)))
    items = (alert(), alert(number=4, **CLAIMED))
    check_golden("reply_list", blocks.reply_message(FollowUpList("Follow-ups not closed", items, 30, "Nothing.")))
    check_golden("reply_score", blocks.reply_message(score_view()))
    detail = FollowUpDetail(
        alert=alert(**CLAIMED),
        responses=(ResponseView(AT, 2, INJECTION, "typeform"),),
        history=(ScorePoint(datetime(2026, 5, 1, tzinfo=UTC), 6), ScorePoint(AT, 2)),
        events=(EventView(AT, "npsbot", "opened", "scored 2"), EventView(AT, "maria", "claimed", None)),
    )
    check_golden("reply_detail", blocks.reply_message(detail))


def test_home_and_modals_golden():
    home = HomeView(mine=(alert(number=4, **CLAIMED),), unclaimed=(alert(),), unclaimed_total=1, score=score_view())
    check_golden("home", blocks.home_view(home, Notice("You claimed #4.")))
    check_golden("modal_note", modals.note_modal(3, channel="C0CA5"))
    check_golden("modal_close", modals.close_modal(3, channel=None, home=True))
    assert modals.parse_meta(modals.close_modal(3, channel=None, home=True)["private_metadata"]) == {
        "n": 3, "c": None, "home": True}
    assert modals.parse_meta("garbage") == {} and modals.parse_meta('{"n": "3"}') == {}


def test_sizes_stay_within_slack_limits():
    long = alert(comment="x" * 20_000, last_note="n" * 5000,
                 customer=CustomerView("c", "N" * 500, None, "s" * 300, None, "o" * 400))
    message = blocks.alert_message(long)
    for obj in text_objects(message):
        assert len(obj["text"]) <= 3000
    assert len(message["blocks"][0]["text"]["text"]) <= 150
    assert all(len(f["text"]) <= 2000 for f in message["blocks"][1]["fields"])
    assert len(message["text"]) <= 4000

    many = tuple(alert(number=n) for n in range(1, 80))
    reply = blocks.reply_message(FollowUpList("Open", many, 300, "Nothing."))
    assert len(reply["blocks"]) <= 50
    home = blocks.home_view(HomeView(mine=many, unclaimed=many, unclaimed_total=300, score=score_view()))
    assert len(home["blocks"]) <= 100
    modal = modals.note_modal(123456789, channel="C1")
    assert len(modal["title"]["text"]) <= 24 and len(modal["private_metadata"]) <= 3000
