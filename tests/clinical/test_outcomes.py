"""Course baseline, percent change, response and remission, bands and the PHQ-9 trend."""

import dataclasses
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.outcomes import (
    Outcome,
    OutcomeStatus,
    TrendPoint,
    baseline_score,
    course_baseline,
    course_outcome,
    percent_change,
    phq9_trend,
    response_met,
    severity_band,
)
from clinic_app.clinical.review import ReviewRules
from clinic_app.clinical.scores import ScoreError
from tests.clinical.builders import at

RULES = ReviewRules()
phq9 = st.integers(0, 27)


# --- course_baseline --------------------------------------------------------------------------


def test_the_baseline_score_says_when_it_was_given():
    scores = [(at(5), 12), (at(-3), 18), (at(-10), 20)]
    assert baseline_score(scores, at(0)) == (at(-3), 18)
    assert baseline_score(scores, at(-20)) == (at(-10), 20)  # none before: the earliest
    assert baseline_score(scores, None) == (at(5), 12)  # not dosed yet: the latest
    assert baseline_score([], at(0)) is None


@given(st.lists(st.tuples(st.integers(-30, 30), phq9), max_size=8), st.integers(-30, 30))
def test_the_baseline_is_the_baseline_scores_total(points, dose):
    scores = [(at(minute), total) for minute, total in points]
    found = baseline_score(scores, at(dose))
    assert course_baseline(scores, at(dose)) == (found[1] if found else None)


def test_no_scores_no_baseline():
    assert course_baseline([], at(0)) is None
    assert course_baseline([], None) is None


def test_baseline_is_last_score_before_first_dose():
    scores = [(at(-60 * 24 * 14), 22), (at(-60 * 24), 18), (at(60 * 24 * 3), 9)]
    assert course_baseline(scores, at(0)) == 18


def test_score_at_the_moment_of_first_dose_counts_as_before():
    scores = [(at(-60), 20), (at(0), 17), (at(0, seconds=1), 12)]
    assert course_baseline(scores, at(0)) == 17


def test_baseline_ignores_input_order():
    scores = [(at(60 * 24 * 3), 9), (at(-60 * 24), 18), (at(-60 * 24 * 14), 22)]
    assert course_baseline(scores, at(0)) == 18


def test_first_score_when_none_precede_the_dose():
    scores = [(at(60 * 24 * 7), 11), (at(60), 19), (at(60 * 24 * 3), 14)]
    assert course_baseline(scores, at(0)) == 19


def test_before_any_dose_the_latest_score_is_provisional_baseline():
    scores = [(at(-60 * 24 * 10), 21), (at(-60), 16)]
    assert course_baseline(scores, None) == 16


def test_same_moment_later_input_wins():
    assert course_baseline([(at(-5), 15), (at(-5), 13)], at(0)) == 13


@given(
    points=st.lists(st.tuples(st.integers(-10_000, 10_000), phq9), min_size=1, max_size=12),
    dose=st.none() | st.integers(-10_000, 10_000),
)
def test_baseline_is_one_of_the_scores_and_precedes_the_dose_when_possible(points, dose):
    scores = [(at(minute), total) for minute, total in points]
    first_dose = None if dose is None else at(dose)
    baseline = course_baseline(scores, first_dose)
    assert baseline in [total for _, total in points]
    before = sorted((m, i) for i, (m, _) in enumerate(points) if dose is None or m <= dose)
    if before:
        assert baseline == points[before[-1][1]][1]
    else:
        assert baseline == points[min((m, i) for i, (m, _) in enumerate(points))[1]][1]


# --- percent_change and response_met -------------------------------------------------------


@pytest.mark.parametrize(
    "baseline, latest, expected",
    [(20, 10, -50.0), (20, 11, -45.0), (20, 20, 0.0), (10, 15, 50.0), (4, 0, -100.0)],
)
def test_percent_change(baseline, latest, expected):
    assert percent_change(baseline, latest) == expected


@pytest.mark.parametrize("baseline, latest", [(None, 10), (10, None), (None, None), (0, 6)])
def test_percent_change_unknown(baseline, latest):
    assert percent_change(baseline, latest) is None


@pytest.mark.parametrize(
    "baseline, latest, met",
    [(20, 10, True), (20, 11, False), (27, 13, True), (27, 14, False), (0, 0, False)],
)
def test_response_met_boundaries(baseline, latest, met):
    assert response_met(baseline, latest, RULES) is met


def test_response_met_needs_both_scores():
    assert response_met(None, 3, RULES) is False
    assert response_met(20, None, RULES) is False


# --- course_outcome: boundaries ------------------------------------------------------------


def outcome(baseline, latest, complete=True, rules=RULES) -> Outcome:
    return course_outcome(baseline, latest, complete, rules)


def test_no_latest_is_no_data():
    assert outcome(20, None) == Outcome(20, None, None, OutcomeStatus.NO_DATA, False)
    assert outcome(None, None).status == "no_data"


def test_in_induction_shows_trend_without_verdict():
    result = outcome(20, 3, complete=False)
    assert result == Outcome(20, 3, -85.0, OutcomeStatus.IN_INDUCTION, True)
    assert outcome(20, 19, complete=False).status == "in_induction"


def test_exactly_fifty_percent_drop_is_response():
    assert outcome(20, 10) == Outcome(20, 10, -50.0, OutcomeStatus.RESPONDER, True)


def test_forty_nine_percent_drop_is_not():
    # 49/100 would need baseline 100; with PHQ-9 totals, 27 -> 14 is a 48.1 % drop
    result = outcome(27, 14)
    assert result.status == "non_responder"
    assert result.percent_change == pytest.approx(-48.148, abs=0.001)
    assert result.response_met is False


def test_forty_nine_percent_with_a_wider_scale():
    assert outcome(100, 51).status == "non_responder"
    assert outcome(100, 50).status == "responder"


def test_latest_four_is_remission_five_is_not():
    assert outcome(9, 4).status == "remitter"
    assert outcome(9, 5).status == "non_responder"
    assert outcome(12, 5).status == "responder"
    assert outcome(12, 4).status == "remitter"


def test_remitter_with_moderate_baseline_also_met_response():
    result = outcome(10, 4)
    assert result == Outcome(10, 4, -60.0, OutcomeStatus.REMITTER, True)


def test_mild_baseline_remission_still_counts_without_response():
    result = outcome(6, 4)
    assert result.status == "remitter"
    assert result.response_met is False


def test_baseline_zero():
    assert outcome(0, 0) == Outcome(0, 0, None, OutcomeStatus.REMITTER, False)
    assert outcome(0, 7) == Outcome(0, 7, None, OutcomeStatus.NON_RESPONDER, False)


def test_missing_baseline_judges_remission_only():
    assert outcome(None, 3).status == "remitter"
    assert outcome(None, 12) == Outcome(None, 12, None, OutcomeStatus.NO_DATA, False)


def test_worsening_is_non_responder_with_positive_change():
    result = outcome(12, 18)
    assert result.status == "non_responder"
    assert result.percent_change == 50.0


def test_rules_are_used():
    strict = ReviewRules(response_drop_percent=60, remission_below=3)
    assert outcome(20, 10, rules=strict).status == "non_responder"
    assert outcome(20, 8, rules=strict).status == "responder"
    assert outcome(20, 3, rules=strict).status == "responder"
    assert outcome(20, 2, rules=strict).status == "remitter"


@pytest.mark.parametrize("baseline, latest", [(-1, 5), (10, -1)])
def test_negative_scores_refused(baseline, latest):
    with pytest.raises(ValueError, match="cannot be negative"):
        outcome(baseline, latest)


def test_status_labels():
    assert [s.label for s in OutcomeStatus] == [
        "Not enough PHQ-9 data",
        "In induction",
        "Remission",
        "Response",
        "No response",
    ]


# --- course_outcome: properties ----------------------------------------------------------------

rules_strategy = st.builds(
    ReviewRules, response_drop_percent=st.integers(1, 100), remission_below=st.integers(0, 27)
)


@given(
    baseline=st.none() | phq9, latest=st.none() | phq9, complete=st.booleans(), rules=rules_strategy
)
def test_remission_implies_latest_below_line(baseline, latest, complete, rules):
    result = course_outcome(baseline, latest, complete, rules)
    if result.status == OutcomeStatus.REMITTER:
        assert latest is not None and latest < rules.remission_below
        assert complete


@given(
    baseline=st.none() | phq9, latest=st.none() | phq9, complete=st.booleans(), rules=rules_strategy
)
def test_responder_implies_drop_from_given_baseline(baseline, latest, complete, rules):
    result = course_outcome(baseline, latest, complete, rules)
    if result.status == OutcomeStatus.RESPONDER:
        assert baseline is not None and latest is not None and baseline > 0
        assert Fraction(baseline - latest, baseline) >= Fraction(rules.response_drop_percent, 100)
        assert latest >= rules.remission_below


@given(baseline=phq9, latest=phq9)
def test_complete_course_with_data_gets_a_verdict(baseline, latest):
    status = course_outcome(baseline, latest, True, RULES).status
    assert status in {"remitter", "responder", "non_responder"}
    if latest >= 5 and baseline > 0 and (baseline - latest) * 2 < baseline:
        assert status == "non_responder"


@given(baseline=st.none() | phq9, latest=st.none() | phq9, complete=st.booleans())
def test_percent_change_sign_matches_direction(baseline, latest, complete):
    change = course_outcome(baseline, latest, complete, RULES).percent_change
    if baseline is None or latest is None or baseline == 0:
        assert change is None
    elif latest < baseline:
        assert change < 0
    elif latest > baseline:
        assert change > 0
    else:
        assert change == 0


@given(baseline=st.none() | phq9, latest=st.none() | phq9)
def test_incomplete_induction_never_gives_a_verdict(baseline, latest):
    status = course_outcome(baseline, latest, False, RULES).status
    assert status == ("no_data" if latest is None else "in_induction")


# --- ReviewRules --------------------------------------------------------------------------------


def test_review_rule_defaults():
    assert dataclasses.astuple(ReviewRules()) == (50, 5, 30, 2)


def test_review_rule_overrides_convert_and_ignore_unknown_keys():
    rules = ReviewRules.with_overrides(
        {"response_drop_percent": "40", "remission_below": 4.0, "hold_systolic": 150}
    )
    assert rules == ReviewRules(response_drop_percent=40, remission_below=4)
    assert ReviewRules.with_overrides({}) == ReviewRules()


def test_review_rules_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ReviewRules().remission_below = 3  # type: ignore[misc]


# --- severity_band and phq9_trend ---------------------------------------------------------------


@pytest.mark.parametrize(
    "code, total, band",
    [
        ("phq9", 0, "minimal"),
        ("phq9", 4, "minimal"),
        ("phq9", 5, "mild"),
        ("phq9", 10, "moderate"),
        ("phq9", 19, "moderately severe"),
        ("phq9", 27, "severe"),
        ("gad7", 15, "severe"),
        ("cadss6", 12, ""),
    ],
)
def test_severity_band(code, total, band):
    assert severity_band(code, total) == band


@pytest.mark.parametrize(
    "code, total, message",
    [
        ("phq9", 28, "PHQ-9 totals run from 0 to 27."),
        ("phq9", -1, "PHQ-9 totals run from 0 to 27."),
        ("madrs", 10, "Unknown instrument 'madrs'."),
    ],
)
def test_severity_band_refuses(code, total, message):
    with pytest.raises(ScoreError) as error:
        severity_band(code, total)
    assert str(error.value) == message


def test_phq9_trend_in_time_order_with_change():
    points = [(at(60 * 24 * 7), 9), (at(-60), 20), (at(60 * 24 * 3), 14)]
    assert phq9_trend(points, baseline=20) == [
        TrendPoint(at(-60), 20, "severe", 0.0),
        TrendPoint(at(60 * 24 * 3), 14, "moderate", -30.0),
        TrendPoint(at(60 * 24 * 7), 9, "mild", -55.0),
    ]


def test_phq9_trend_without_baseline():
    assert phq9_trend([(at(0), 4)]) == [TrendPoint(at(0), 4, "minimal", None)]
    assert phq9_trend([]) == []
