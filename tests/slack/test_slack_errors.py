"""One error handler (`SlackDoor.on_error`, registered with `app.error`): whatever a listener lets
escape is logged and the person who asked is told, on every kind of request."""

import logging

SORRY = "Sorry, something went wrong on our side; it has been logged. Please try again."


def break_the_dispatcher(slack, monkeypatch):
    def fail(*_, **__):
        raise RuntimeError("the service broke")
    monkeypatch.setattr(slack.services.dispatcher, "handle", fail)


async def test_a_failing_slash_command_is_answered_with_an_apology_and_logged(slack, monkeypatch, caplog):
    break_the_dispatcher(slack, monkeypatch)
    with caplog.at_level(logging.ERROR):
        resp, key = await slack.command("open")
        assert resp.status == 200
        [reply] = await slack.fake.wait_response(key)
    assert SORRY in reply["text"]
    assert any(r.msg == "slack.listener_failed" and r.kind == "command" for r in caplog.records)


async def test_a_failing_button_is_answered_with_an_apology(slack, monkeypatch):
    ts = await slack.alert()
    break_the_dispatcher(slack, monkeypatch)
    resp, key = await slack.click("nps_claim", 1, user_id="U0MARIA", user_name="maria", message_ts=ts)
    assert resp.status == 200
    [reply] = await slack.fake.wait_response(key)
    assert reply["text"] == f"⚠ {SORRY}"


async def test_a_failing_reaction_is_logged_and_the_reacting_user_told(slack, monkeypatch, caplog):
    from tests.slack.test_slack_events import reaction
    ts = await slack.alert()
    break_the_dispatcher(slack, monkeypatch)
    with caplog.at_level(logging.ERROR):
        resp = await slack.event(reaction(ts))
        assert resp.status == 200
        await slack.fake.wait_for(lambda: slack.fake.ok_calls("chat.postEphemeral"))
    assert SORRY in str(slack.fake.ok_calls("chat.postEphemeral")[-1])
    assert any(r.msg == "slack.listener_failed" and r.kind == "event_callback" for r in caplog.records)
