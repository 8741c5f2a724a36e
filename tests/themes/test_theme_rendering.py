"""Customer text in theme examples, proposals and causes stays inert in every digest rendering."""

from __future__ import annotations

import json
from dataclasses import replace

from bot.theme_digest import CauseLine, ThemeProposal
from handlers.slack.digest_blocks import digest_blocks
from handlers.teams.digest_card import digest_card
from tests.digest.test_digest_render import HOSTILE, _objects, week_view


def test_channel_mentions_in_theme_examples_and_proposals_stay_inert_everywhere():
    view = week_view()
    view = replace(view, theme_proposals=(ThemeProposal(HOSTILE[:40], "Comments about channel.", 3, HOSTILE),),
                   causes=(CauseLine(HOSTILE[:30], 2),))
    text = view.as_text()
    assert HOSTILE in text  # the terminal shows it literally; nothing there parses it
    blocks = digest_blocks(view)
    # Everything Slack displays (the button's value is data it hands back, never shown).
    strings = json.dumps([{k: v for k, v in o.items() if k != "value" and isinstance(v, str)}
                          for o in _objects(blocks)])
    assert "<!channel>" not in strings and "&lt;!channel&gt;" in strings
    mrkdwn = [b["text"] for b in _objects(blocks) if b.get("type") == "mrkdwn"]
    assert not any("channel" in t for t in mrkdwn)
    card = digest_card(view)
    textblocks = [o["text"] for o in _objects(card) if o.get("type") == "TextBlock"]
    assert not any("channel>" in t for t in textblocks)  # only TextRuns (no Markdown) carry it
    button = next(o for o in _objects(blocks) if o.get("action_id") == "nps_theme_add")
    assert json.loads(button["value"])["name"] == HOSTILE[:40]
    assert "<" not in button["text"]["text"]
