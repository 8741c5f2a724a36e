"""Rendering leftovers from the adversarial pass, through each door:

* bidi overrides and zero-width characters are shown as their code (Slack, Teams, shell);
* a claimant's name is inert in Slack: plain_text in the "Claimed by" line, look-alikes in the
  notification fallback, so `*Mallory*` never renders bold;
* Teams thread lines and direct texts go through the same safe-text step;
* clipping never cuts an escaped entity (`&gt…`).
"""

import json
import re

from tests.slack.conftest import Slack

SPOOF = "invoice\u202egnp.exe\u200b"


async def test_slack_alert_shows_bidi_and_zero_width_as_codes(slack: Slack):
    await slack.alert(comment=f"see {SPOOF}")
    [post] = [p for p in slack.fake.ok_calls("chat.postMessage") if "blocks" in p]
    text = json.dumps(post, ensure_ascii=False)
    assert "\u202e" not in text and "\u200b" not in text
    assert "invoice\\\\u202egnp.exe\\\\u200b" in text


async def test_slack_claimed_by_name_is_plain_text_and_the_fallback_cannot_format(slack: Slack):
    await slack.alert()
    _, key = await slack.command("assign 1 @*Mallory*_~`", channel="C0CA5")
    await slack.fake.wait_response(key)
    await slack.services.worker.drain(timeout=10)
    [update] = slack.fake.ok_calls("chat.update")
    context = next(b for b in update["blocks"] if b["type"] == "context")
    assert {"type": "plain_text", "text": "*Mallory*_~`", "emoji": False} in context["elements"]
    assert not any("Mallory" in e["text"] for e in context["elements"] if e["type"] == "mrkdwn")
    assert "∗Mallory∗ˍ∼ˋ" in update["text"] and "*Mallory*" not in update["text"]


async def test_slack_clipping_never_cuts_an_entity(slack: Slack):
    await slack.alert(comment=">" * 5000)
    [post] = [p for p in slack.fake.ok_calls("chat.postMessage") if "blocks" in p]
    comment = post["blocks"][2]["text"]["text"]
    assert comment.endswith("…") and len(comment) <= 3000
    assert re.fullmatch(r"“(&gt;)+…", comment), comment[-20:]
