"""The follow-up lifecycle through the dispatcher: every transition, its refusals and its trail."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.actors import Actor, Place
from bot.ingest import ingest, validate_body
from bot.views import FollowUpDetail, FollowUpList, HelpView, Notice
from storage.db import read_scope
from storage.models import Event

MARIA = Actor("shell", "maria", "maria")
LI = Actor("shell", "li", "li")
CX = Place("shell", "#cx")


@pytest.fixture
def d(services, rt):
    items, _ = validate_body([
        {"id": "r1", "score": 3, "comment": "Slow support", "customer": {"id": "c1", "name": "Acme"}},
        {"id": "r2", "score": 5, "customer": {"id": "c2", "name": "Globex"}},
    ])
    ingest(rt, items)
    return services.dispatcher


def say(d, text, actor=MARIA):
    return d.handle_text(text, actor, CX)


def test_claim_then_close_then_reopen_returns_to_the_claimant(d):
    assert say(d, "claim 1").alert.status == "claimed"
    closed = say(d, "close 1 unreachable no answer after three calls").alert
    assert (closed.status, closed.outcome, closed.last_note) == ("closed", "unreachable", "no answer after three calls")
    reopened = say(d, "reopen 1", LI).alert
    assert (reopened.status, reopened.claimant_name, reopened.outcome) == ("claimed", "maria", None)


def test_reopening_an_unclaimed_close_puts_it_back_in_the_queue(d):
    say(d, "close 2 no-action")
    assert say(d, "reopen 2").alert.status == "open"


@pytest.mark.parametrize(("setup", "text", "refusal"), [
    ([], "claim 99", "There is no follow-up #99."),
    (["claim 1"], "claim 1", "You already have #1."),
    (["close 1"], "claim 1", "#1 is closed (resolved); `reopen 1` to work on it again."),
    (["close 1"], "close 1", "#1 is already closed (resolved)."),
    ([], "reopen 1", "#1 is not closed."),
    (["close 1"], "assign 1 @li", "#1 is closed; `reopen 1` before assigning it."),
])
def test_refusals_say_why_and_change_nothing(d, rt, setup, text, refusal):
    for line in setup:
        say(d, line)
    with read_scope(rt.engine) as s:
        before = len(s.execute(select(Event)).all())
    reply = say(d, text)
    assert isinstance(reply, Notice) and not reply.ok and reply.text == refusal
    with read_scope(rt.engine) as s:
        assert len(s.execute(select(Event)).all()) == before


def test_assign_gives_it_to_someone_else(d):
    say(d, "claim 1")
    reply = say(d, "assign 1 @li")
    assert reply.text == "#1 is now li's." and reply.alert.claimant_id == "shell:li"
    mine = say(d, "mine", LI)
    assert isinstance(mine, FollowUpList) and [a.number for a in mine.items] == [1]


def test_notes_work_in_any_state_and_are_limited_in_length(d):
    say(d, "close 1")
    assert say(d, "note 1 customer wrote back to thank us").ok
    reply = say(d, "note 1 " + "x" * 3001)
    assert not reply.ok and "limited to 3,000 characters" in reply.text


def test_every_change_is_in_the_audit_trail_with_who_and_when(d, clock):
    say(d, "claim 1")
    clock.advance(hours=2)
    say(d, "note 1 left a voicemail", LI)
    clock.advance(hours=1)
    say(d, "close 1 resolved")
    detail = say(d, "show 1")
    assert isinstance(detail, FollowUpDetail)
    trail = [(e.actor_name, e.action, e.text) for e in detail.events]
    assert trail == [("npsbot", "opened", "scored 3: “Slow support”"), ("maria", "claimed", None),
                     ("li", "note", "left a voicemail"), ("maria", "closed", "resolved")]
    assert detail.events[2].at - detail.events[1].at == timedelta(hours=2)


def test_lists_show_open_unclaimed_and_mine(d):
    say(d, "claim 2", LI)
    assert [a.number for a in say(d, "open").items] == [1, 2]
    assert [a.number for a in say(d, "unclaimed").items] == [1]
    assert say(d, "mine").items == ()


def test_an_overdue_follow_up_is_flagged(d, clock):
    clock.advance(hours=25)
    assert say(d, "unclaimed").items[0].overdue


def test_settings_changes_are_limited_to_admins_when_admins_are_set(make_settings, clock):
    from bot.app import build_runtime, build_services

    rt = build_runtime(make_settings(NPSBOT_ADMINS="boss, slack:U999"), clock=clock)
    d = build_services(rt).dispatcher
    refused = d.handle_text("subscribe alerts", MARIA, CX)
    assert not refused.ok and "NPSBOT_ADMINS" in refused.text
    assert d.handle_text("digest schedule mon 09:00", Actor("shell", "boss", "Boss"), CX).ok
    assert d.handle_text("subscribe alerts", Actor("slack", "U999", "Ann"), Place("slack", "C1")).ok
    # Anyone may still work on follow-ups.
    assert isinstance(d.handle_text("open", MARIA, CX), FollowUpList)


def test_the_digest_schedule_uses_the_default_time_zone(d):
    assert say(d, "digest schedule fri 16:30").text == "This channel gets the NPS digest every Friday at 16:30 (UTC)."
    assert say(d, "digest off").ok
    assert not say(d, "digest off").ok


def test_unknown_command_shows_help_naming_the_mistake(d):
    reply = say(d, "pagerduty 1")
    assert isinstance(reply, HelpView) and reply.error == "I don't know the command `pagerduty`."


def test_customer_emails_are_masked_in_channel_views_unless_allowed(make_settings, clock):
    from bot.app import build_runtime, build_services
    from bot.textview import alert_text

    for show, expected in (("false", "o…@acme.example"), ("true", "ops@acme.example")):
        rt = build_runtime(make_settings(NPSBOT_SHOW_EMAILS=show), clock=clock)
        items, _ = validate_body({"id": f"r-{show}", "score": 2, "customer": {"id": "c9", "email": "ops@acme.example"}})
        ingest(rt, items)
        alert = build_services(rt).dispatcher.handle_text("show 1", MARIA, CX).alert
        assert alert.customer.email == expected
        assert expected in alert_text(alert)
        rt.engine.dispose()
