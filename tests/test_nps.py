"""NPS maths: classification, the worked example, margins, change and property invariants."""

import math

from hypothesis import given
from hypothesis import strategies as st

from bot.nps import MIN_RESPONSES, NpsSummary, classify, compare, format_nps
from storage.models import Category

scores = st.lists(st.integers(min_value=0, max_value=10), max_size=400)


def test_scores_are_classified_0_to_6_7_to_8_9_to_10():
    assert [classify(s) for s in range(11)] == (
        [Category.DETRACTOR] * 7 + [Category.PASSIVE] * 2 + [Category.PROMOTER] * 2
    )


def test_the_worked_example_of_the_nps_guides_gives_50():
    summary = NpsSummary(promoters=60, passives=30, detractors=10)
    assert summary.nps == 50
    # 1.96 * sqrt((0.6 + 0.1 - 0.25) / 100) * 100
    assert math.isclose(summary.margin, 1.96 * math.sqrt(0.45 / 100) * 100)
    assert not summary.insufficient


def test_under_30_responses_is_flagged_but_still_computed():
    summary = NpsSummary(promoters=10, passives=5, detractors=14)
    assert summary.n == 29 and summary.insufficient and summary.nps is not None
    assert not NpsSummary(promoters=30).insufficient


def test_no_responses_has_no_score():
    assert NpsSummary().nps is None and NpsSummary().margin is None
    assert format_nps(None) == "—"


def test_a_big_shift_on_big_samples_is_significant_and_a_small_one_is_not():
    before = NpsSummary(promoters=200, passives=200, detractors=200)
    after = NpsSummary(promoters=400, passives=150, detractors=50)
    assert compare(after, before).significant
    slightly = NpsSummary(promoters=210, passives=195, detractors=195)
    assert not compare(slightly, before).significant


def test_no_verdict_when_either_side_is_insufficient():
    assert not compare(NpsSummary(promoters=20), NpsSummary(detractors=200)).significant


@given(scores)
def test_nps_is_between_minus_100_and_100(values):
    summary = NpsSummary.of_scores(values)
    if values:
        assert -100 <= summary.nps <= 100
        # Under 30 responses there is no margin to state (one detractor is not "-100 ±0").
        assert summary.margin is None if len(values) < 30 else summary.margin >= 0
    assert summary.n == len(values)


@given(scores, scores)
def test_counts_add_up_across_periods(a, b):
    assert NpsSummary.of_scores(a) + NpsSummary.of_scores(b) == NpsSummary.of_scores(a + b)


@given(scores)
def test_all_promoters_or_all_detractors_have_no_spread(values):
    if values:
        assert NpsSummary.of_scores([10] * len(values)).variance == 0
        assert NpsSummary.of_scores([0] * len(values)).nps == -100


@given(st.lists(st.integers(0, 10), min_size=1, max_size=100), st.integers(min_value=0, max_value=10))
def test_adding_a_promoter_never_lowers_the_score(values, _):
    assert NpsSummary.of_scores(values + [10]).nps >= NpsSummary.of_scores(values).nps - 1e-9


def test_format_is_signed_and_whole():
    assert [format_nps(v) for v in (12.4, -5.6, 0.2)] == ["+12", "-6", "0"]


def test_min_responses_is_30():
    assert MIN_RESPONSES == 30


def test_one_or_two_answers_have_no_margin_and_are_counted_in_the_singular():
    from bot.textview import score_text
    from bot.views import ScoreView

    one = NpsSummary.of_scores([3])
    assert one.margin is None and one.insufficient
    assert NpsSummary.of_scores([3, 4]).margin is None
    view = ScoreView(period_days=30, segment=None, current=one, previous=NpsSummary(),
                     change=compare(one, NpsSummary()))
    text = score_text(view)
    assert "±" not in text
    assert "-100 (insufficient data: 1 response, 30 needed)" in text
    assert "1 response · 0 promoters · 0 passives · 1 detractor" in text
