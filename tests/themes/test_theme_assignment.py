"""Theme assignment: offline, deterministic, by meaning, with keyword overrides and corrections."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.theme_assign import Assigner
from bot.theme_catalog import BUILT_IN, file_themes, parse_yaml
from bot.theme_model import load_model
from bot.themes import ThemesError

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT.parent / "shared" / "data" / "themes"


def test_the_model_loads_from_package_files_with_the_network_blocked():
    # A fresh interpreter, so nothing is cached: offline hub mode and every socket refused.
    probe = textwrap.dedent("""
        import os, socket
        os.environ["HF_HUB_OFFLINE"] = "1"
        def refuse(*a, **k):
            raise OSError("network blocked by the test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from bot.theme_model import load_model
        vec = load_model().embed(["The app crashes every time I log in"])
        print(vec.shape, round(float((vec ** 2).sum()), 3))
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(1, 256) 1.0"
    assert "urllib" not in out.stderr and "huggingface" not in out.stderr.lower()


def test_assignment_is_deterministic_for_a_model_and_theme_file():
    texts = ["Constant bugs in the mobile app, it crashes on login", "Sync errors every week, data goes missing",
             "Way too expensive for what we get", "Sales rep was pushy"]
    first = Assigner(load_model(), BUILT_IN, min_score=0.08).assign_many(texts)
    again = [Assigner(load_model(), BUILT_IN, min_score=0.08).assign(t) for t in texts]
    assert first == again
    assert [a.theme for a in first] == ["Bugs & reliability", "Bugs & reliability", "Price & billing", "Pushy sales"]


def test_the_issues_misfiled_examples_land_by_meaning_with_one_theme_each():
    assigner = Assigner(load_model(), BUILT_IN, min_score=0.08)
    # Keyword matching put the first under Website/UX ("login") and the second under Product ("missing").
    assert assigner.assign("Constant bugs in the mobile app, it crashes on login").theme == "Bugs & reliability"
    assert assigner.assign("Sync errors every week, data goes missing").theme == "Bugs & reliability"
    assert assigner.assign("meh").theme is None  # nothing fits: below the threshold
    assert assigner.assign("").theme is None


def test_a_keyword_in_the_theme_file_wins_and_examples_move_a_theme(tmp_path):
    themes = parse_yaml(textwrap.dedent("""
        themes:
          - name: Billing
            description: Invoices and charges are wrong.
            keywords: [login]
          - name: Reliability
            description: The product crashes or loses data.
    """))
    assigner = Assigner(load_model(), themes)
    hit = assigner.assign("It crashes on LOGIN")
    assert (hit.theme, hit.source) == ("Billing", "keyword")
    learned = Assigner(load_model(), themes, {"Billing": ["the quarterly statement had the wrong totals"] * 3})
    assert learned.scores(["statement totals wrong"])[0][0] > assigner.scores(["statement totals wrong"])[0][0]


def test_function_words_do_not_move_a_comment_but_negations_do():
    model = load_model()
    plain, padded, negated = model.embed(["battery died", "the battery was died and it", "battery never died"])
    assert float(plain @ padded) == pytest.approx(1.0, abs=1e-6)
    assert float(plain @ negated) < 0.99
    # A comment of nothing but function words keeps them all rather than becoming empty.
    assert float((model.embed(["the and of"])[0] ** 2).sum()) == pytest.approx(1.0, abs=1e-5)


def test_a_theme_reaches_words_its_description_does_not_use():
    themes = parse_yaml(textwrap.dedent("""
        themes:
          - name: Battery & charging
            description: Battery life is short or the charger fails.
          - name: Screen
            description: The display is dim or flickers.
    """))
    model = load_model()
    expanded, bare = Assigner(model, themes), Assigner(model, themes, neighbours=0)
    # The centre borrows the vocabulary nearest to it; the same inputs always borrow the same words.
    assert (expanded.centres != bare.centres).any()
    assert (Assigner(model, themes).centres == expanded.centres).all()
    # "power adapter" is not in the description, yet the borrowed vocabulary brings the comment closer.
    near, far = expanded.assign("the power adapter got hot"), bare.assign("the power adapter got hot")
    assert near.theme == far.theme == "Battery & charging"
    assert near.score > far.score


def test_a_bad_theme_file_is_refused_naming_the_field(tmp_path):
    with pytest.raises(ThemesError, match=r"`themes.0.description`"):
        parse_yaml("themes:\n  - name: Support\n")
    with pytest.raises(ThemesError, match="listed twice"):
        parse_yaml("themes:\n  - {name: A, description: x}\n  - {name: a, description: y}\n")
    broken = tmp_path / "themes.yaml"
    broken.write_text("themes: [")
    assert file_themes(str(broken)) == BUILT_IN  # logged, and the built-in list used


@pytest.mark.skipif(not DEV.is_dir(), reason="../shared/data/themes not present")
def test_the_dev_sets_beat_the_keyword_baseline_by_twenty_points():
    sys.path.insert(0, str(ROOT))
    import json

    from bench.themes import keyword_matcher, scores
    for name in ("restaurants", "laptops"):
        themes = parse_yaml((DEV / f"themes_{name}.yaml").read_text(encoding="utf-8"))
        rows = [json.loads(line) for line in (DEV / f"dev_{name}.jsonl").read_text(encoding="utf-8").splitlines()]
        gold, names = [r["theme"] for r in rows], [t.name for t in themes]
        kw = keyword_matcher(themes)
        k_acc, _ = scores(gold, [kw(r["text"]) for r in rows], names)
        m_acc, _ = scores(gold, [a.theme for a in Assigner(load_model(), themes, min_score=0.08)
                                 .assign_many([r["text"] for r in rows])], names)
        assert m_acc >= k_acc + 0.20, (name, k_acc, m_acc)


