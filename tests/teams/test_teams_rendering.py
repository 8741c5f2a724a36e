"""Teams thread lines and direct texts go through the safe-text step (bidi, zero-width, controls)."""

from .conftest import CHANNEL
from .test_teams_flow import alert_posted

SPOOF = "invoice\u202egnp.exe\u200b"


async def test_teams_thread_lines_go_through_the_safe_text_step(teams):
    await alert_posted(teams)
    await teams.post("message_channel_mention", COMMAND=f"note 1 {SPOOF}")
    await teams.drain()
    lines = [c.body["text"] for c in teams.connector.replies(CHANNEL) if c.body.get("text")]
    assert any("invoice\\u202egnp.exe\\u200b" in line for line in lines), lines
    assert not any("\u202e" in line for line in lines)
    await teams.notifier.post_text(CHANNEL, f"direct {SPOOF}")
    assert teams.connector.calls[-1].body["text"] == "direct invoice\\u202egnp.exe\\u200b"
