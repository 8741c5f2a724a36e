"""The detractor-comment taxonomy: seeded themes, word-start matching, the user's file, SQL = Python."""

from __future__ import annotations

import json

import pytest

from bot.app import build_runtime
from bot.digest import build_digest
from bot.ingest import ResponseIn, ingest
from bot.themes import classify_text, default_themes, load_themes, parse_themes
from tests.digest.helpers import END, at

COMMENTS = [
    "PRICE went up again!!!",
    "Set-up took weeks and the integration failed",
    "We had to debug everything ourselves",          # "debug" is not "bug"
    "Crashes.\nSupport was rude",
    "your sales rep keeps calling (pushy)",
    "Great people, but the UI is clunky",
    "100% unhappy_with it",                          # LIKE wildcards in text are just text
    "nothing specific",
]


def test_seeded_taxonomy_has_the_common_reasons():
    names = [t.name for t in default_themes()]
    assert names == ["Pushy sales", "Website / UX", "Support", "Implementation / logistics",
                     "Product under-delivers", "Price", "Bugs"]


def test_keywords_match_at_the_start_of_a_word():
    themes = default_themes()
    assert classify_text(COMMENTS[0], themes) == ["Price"]
    assert classify_text(COMMENTS[1], themes) == ["Implementation / logistics"]
    assert classify_text(COMMENTS[2], themes) == []
    assert classify_text(COMMENTS[3], themes) == ["Support", "Bugs"]
    assert classify_text(COMMENTS[4], themes) == ["Pushy sales"]
    assert classify_text(COMMENTS[5], themes) == ["Website / UX"]


def test_a_users_file_changes_adds_and_removes_themes(tmp_path):
    toml = tmp_path / "themes.toml"
    toml.write_text('[themes]\n"Price" = ["invoice"]\n"Onboarding" = ["onboarding", "Training"]\n"Bugs" = []\n')
    themes = load_themes(str(toml))
    names = [t.name for t in themes]
    assert "Bugs" not in names and names[-1] == "Onboarding"
    assert {t.name: t.keywords for t in themes}["Price"] == ("invoice",)
    assert classify_text("Training was poor", themes) == ["Implementation / logistics", "Onboarding"]
    js = tmp_path / "themes.json"
    js.write_text(json.dumps({"replace": True, "themes": {"Speed": ["slow", "lag"]}}))
    assert [(t.name, t.keywords) for t in load_themes(str(js))] == [("Speed", ("slow", "lag"))]


def test_a_broken_file_falls_back_to_the_seeds(tmp_path):
    bad = tmp_path / "themes.json"
    bad.write_text("{not json")
    assert load_themes(str(bad)) == default_themes()
    assert load_themes(str(tmp_path / "missing.toml")) == default_themes()
    with pytest.raises(ValueError):
        parse_themes({"themes": {"Price": "expensive"}})


def test_digest_counts_the_stored_themes_one_per_comment_and_a_keyword_file_still_wins(
        any_db, make_settings, clock, tmp_path):
    # The first round's JSON keyword file is still read: its keywords override the model.
    themes_file = tmp_path / "t.json"
    themes_file.write_text(json.dumps({"replace": True, "themes": {"Odd": ["100%", "unhappy_with"],
                                                                  "Price": ["price"]}}))
    rt = build_runtime(make_settings(DATABASE_URL=any_db, NPSBOT_THEMES_FILE=str(themes_file)), clock=clock)
    ingest(rt, [ResponseIn(id=f"r{i}", score=3, comment=c, submitted_at=at(18), customer={"id": f"c{i}"})
                for i, c in enumerate(COMMENTS)])
    d = build_digest(rt, period_end=END, with_chart=False)
    counts = {t.name: t.count for t in d.themes}
    assert counts["Odd"] == 1 and counts["Price"] >= 1
    assert sum(counts.values()) + d.uncategorised == d.detractor_comments == len(COMMENTS)
    rt.engine.dispose()
