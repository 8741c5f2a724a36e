"""Storm control in Slack: a burst costs a channel NPSBOT_ALERT_BURST alerts and one summary message."""

import re

from sqlalchemy import select

from storage.db import read_scope
from tests.slack.conftest import Slack


def detractors(n: int, prefix: str = "r") -> list[dict]:
    return [{"id": f"{prefix}{i}", "score": i % 7, "comment": f"Problem number {i} *again* <!channel> & more words",
             "customer": {"id": f"cus_{prefix}{i}", "name": f"Customer {i}"}} for i in range(n)]


def top_level_posts(slack: Slack, channel: str) -> list[dict]:
    return [p for p in slack.fake.ok_calls("chat.postMessage") if p["channel"] == channel and "thread_ts" not in p]


def listed_numbers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"#(\d+) · score", text)}


async def test_a_burst_of_40_costs_a_slack_channel_eleven_messages_and_lists_every_follow_up(slack, clock):
    await slack.subscribe("C0CA5")
    await slack.ingest(*detractors(40))
    await slack.services.worker.drain(timeout=20)
    posts = top_level_posts(slack, "C0CA5")
    alerts = [p for p in posts if "rotating_light" not in p["blocks"][0]["text"]["text"]]
    [summary] = [p for p in posts if "rotating_light" in p["blocks"][0]["text"]["text"]]
    assert len(posts) == 11 and len(alerts) == 10
    lines = "\n".join(b["text"]["text"] for b in summary["blocks"][1:] if b["type"] == "section")
    assert listed_numbers(lines) == set(range(11, 41))
    # Customer words stay inert: plain_text, escaped, no mention.
    assert all(b["text"]["type"] == "plain_text" for b in summary["blocks"][1:] if b["type"] == "section")
    assert "<!channel>" not in str(summary) and "&lt;!channel&gt;" in lines
    assert "/nps show N" in str(summary["blocks"][-1])

    # Every listed follow-up is a full follow-up: claimed from chat, the summary updates in place.
    resp, key = await slack.command("claim 25", channel="C0CA5")
    assert resp.status == 200
    await slack.fake.wait_response(key)
    await slack.services.worker.drain(timeout=10)
    updates = [u for u in slack.fake.ok_calls("chat.update") if u["ts"] == summary_ts(slack)]
    assert updates and "#25 · score 3 · Customer 24" in str(updates[-1]["blocks"])
    assert "claimed by" in str(updates[-1]["blocks"])
    assert len(top_level_posts(slack, "C0CA5")) == 11  # the claim added no top-level message


def summary_ts(slack: Slack) -> str:
    from storage.models import AlertStorm

    with read_scope(slack.rt.engine) as s:
        return s.execute(select(AlertStorm.message_ref)).scalar_one()


async def test_after_the_minute_alerts_flow_again_and_reminders_are_never_folded(slack, clock):
    await slack.subscribe("C0CA5")
    await slack.ingest(*detractors(15))
    await slack.services.worker.drain(timeout=20)
    assert len(top_level_posts(slack, "C0CA5")) == 11
    clock.advance(seconds=61)
    await slack.ingest(*detractors(2, prefix="later"))
    await slack.services.worker.drain(timeout=20)
    posts = top_level_posts(slack, "C0CA5")
    assert len(posts) == 13 and all("rotating_light" not in p["blocks"][0]["text"]["text"] for p in posts[-2:])
    # Texts (reminders, escalations, digests) are other outbox kinds: the storm rule never takes them.
    from bot import outbox
    from storage.db import session_scope

    with session_scope(slack.rt.engine) as s:
        outbox.add(s, [outbox.row(platform="slack", channel_id="C0CA5", kind=outbox.TEXT, now=clock.now(),
                                  payload={"text": f"reminder {n}"}) for n in range(12)])
    await slack.services.worker.drain(timeout=20)
    texts = [p["text"] for p in slack.fake.ok_calls("chat.postMessage") if p["text"].startswith("reminder")]
    assert len(texts) == 12


async def test_an_escalation_is_posted_whole_even_into_a_channel_in_a_storm(slack, clock):
    from bot.escalation import escalate_due

    await slack.subscribe("C0CA5")
    await slack.subscribe("C0ESC")  # the leads' channel gets every alert too
    resp, key = await slack.command("escalate to <#C0ESC|cx-leads> after 24h", channel="C0CA5")
    assert resp.status == 200
    await slack.fake.wait_response(key)
    await slack.ingest(*detractors(1, prefix="old"))
    await slack.services.worker.drain(timeout=20)
    clock.advance(hours=25)
    await slack.ingest(*detractors(15))  # a storm in both channels, this minute
    await slack.services.worker.drain(timeout=20)
    assert len(top_level_posts(slack, "C0ESC")) == 1 + 11
    assert escalate_due(slack.rt) == 1
    await slack.services.worker.drain(timeout=20)
    escalated = [p for p in top_level_posts(slack, "C0ESC") if "escalated" in str(p["blocks"])]
    assert len(escalated) == 1 and "nps_claim" in str(escalated[0]["blocks"])
