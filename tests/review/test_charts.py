"""Chart geometry and the course-status helpers, without a database."""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.review import ReviewRules
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.scores import GAD7, PHQ9
from clinic_app.clinical.series import SchedulingRules
from clinic_app.review import charts
from clinic_app.review.course_status import course_status
from clinic_app.review.timeline_build import phase_spans

ZONE = ZoneInfo("America/Los_Angeles")
T0 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


def _day(n: int) -> datetime:
    return T0 + timedelta(days=n)


@given(st.floats(min_value=0.001, max_value=1e6), st.integers(min_value=2, max_value=10))
def test_nice_step_is_round_and_gives_about_the_target(span, target):
    step = charts.nice_step(span, target)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 2.5, 5, 10)
    assert span / step <= target + 1e-9


@given(st.lists(st.floats(min_value=0, max_value=300), max_size=8))
def test_spread_labels_keeps_labels_apart_and_in_order(ys):
    placed = charts.spread_labels(ys, 12, 0, 1000)
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    for a, b in zip(order, order[1:], strict=False):
        assert placed[b] - placed[a] >= 12 - 0.2


def test_phq9_chart_scales_scores_and_draws_baseline_response_and_remission():
    rules = ReviewRules()
    points = [(_day(0), 20), (_day(14), 12), (_day(28), 4)]
    span = charts.CourseSpan("Esketamine", _day(-1), _day(30), 20)
    chart = charts.score_chart("phq", PHQ9, points, [span], rules, ZONE)
    [series] = chart.series
    ys = [p.y for p in series.points]
    assert ys[0] < ys[1] < ys[2]  # lower scores sit lower on the chart
    zero = charts.Scale(0, 27, chart.bottom, chart.top)
    assert ys[2] == zero(4)
    labels = {line.label: line for line in chart.lines}
    assert set(labels) == {"baseline 20", "response ≤ 10", "remission < 5"}
    assert labels["response ≤ 10"].y1 == zero(10)
    assert labels["remission < 5"].x1 == chart.left and labels["remission < 5"].x2 == chart.right
    xs = [p.x for p in series.points]
    assert chart.left < xs[0] < xs[1] < xs[2] < chart.right
    assert "3 PHQ-9 scores from 2 Mar 2026 (20) to 30 Mar 2026 (4)." in chart.desc
    assert "response at or below 10 (50 % drop)" in chart.desc
    assert chart.x_ticks and all(chart.left <= t.pos <= chart.right for t in chart.x_ticks)


def test_response_line_follows_the_setting():
    rules = ReviewRules(response_drop_percent=60, remission_below=6)
    chart = charts.score_chart(
        "phq",
        PHQ9,
        [(_day(0), 20)],
        [charts.CourseSpan("c", _day(0), _day(1), 20)],
        rules,
        ZONE,
    )
    assert {line.label for line in chart.lines} == {"baseline 20", "response ≤ 8", "remission < 6"}


def test_gad7_chart_has_the_evaluation_line_and_empty_charts_say_so():
    chart = charts.score_chart("gad", GAD7, [(_day(0), 12)], [], ReviewRules(), ZONE)
    assert [line.label for line in chart.lines] == ["moderate ≥ 10"]
    empty = charts.score_chart("gad", GAD7, [], [], ReviewRules(), ZONE)
    assert empty.empty and empty.desc == "No GAD-7 scores recorded yet."


def test_session_bp_chart_minutes_from_the_dose_and_threshold_lines():
    dose = T0
    readings = [
        (dose - timedelta(minutes=5), 128, 80),
        (dose + timedelta(minutes=40), 172, 98),
        (dose + timedelta(minutes=120), 130, 82),
    ]
    chart = charts.session_bp_chart(
        "bp", readings, dose, None, (128, 80), (140, 90), ClinicalRules(), ZONE
    )
    systolic, diastolic = chart.series
    dose_line = next(line for line in chart.lines if line.vertical)
    assert dose_line.label == "dose"
    assert systolic.points[0].x < dose_line.x1 < systolic.points[1].x
    assert all(s.y < d.y for s, d in zip(systolic.points, diastolic.points, strict=True))
    labels = [line.label for line in chart.lines if not line.vertical]
    assert labels[:4] == ["hold S > 140", "hold D > 90", "rise S +40 (168)", "notify S ≥ 160"]
    assert "urgent S ≥ 180" in labels
    label_ys = sorted(line.label_y for line in chart.lines if not line.vertical)
    assert all(b - a >= 12 - 0.2 for a, b in zip(label_ys, label_ys[1:], strict=False))
    assert "Highest 172/98 at +40 min. Pre-dose 128/80." in chart.desc
    assert systolic.points[1].label.endswith("(+40 min): 172/98")


def test_iv_session_chart_marks_the_infusion_end():
    chart = charts.session_bp_chart(
        "bp",
        [(T0 + timedelta(minutes=15), 130, 80)],
        T0,
        T0 + timedelta(minutes=40),
        (120, 78),
        (140, 90),
        ClinicalRules(),
        ZONE,
    )
    assert [line.label for line in chart.lines if line.vertical] == ["dose", "infusion end"]


def test_peak_systolic_chart():
    peaks = [charts.SessionPeak(_day(n), 130 + 5 * n, 120) for n in range(8)]
    chart = charts.peak_systolic_chart("pk", "Esk", peaks, 140, ClinicalRules(), ZONE)
    peak, pre = chart.series
    assert len(peak.points) == len(pre.points) == 8
    assert peak.points[0].y > peak.points[-1].y
    assert {line.label for line in chart.lines} >= {"hold > 140", "notify ≥ 160"}
    assert "Highest peak 165 on 9 Mar 2026; 2 at or above the notify line 160." in chart.desc


def test_course_bands_chart_one_row_per_course():
    rows = [
        charts.CourseRow(
            "Esketamine",
            (
                charts.PhaseSpan("induction", _day(0), _day(28)),
                charts.PhaseSpan("maintenance", _day(28), _day(60)),
            ),
            (_day(1), _day(4)),
        ),
        charts.CourseRow("IV", (charts.PhaseSpan("induction", _day(50), _day(60)),), ()),
    ]
    chart = charts.course_bands_chart("bands", rows, ZONE)
    assert [b.css for b in chart.bands] == ["b-induction", "b-maintenance", "b-induction"]
    assert chart.bands[0].x + chart.bands[0].width == pytest.approx(chart.bands[1].x, abs=0.2)
    assert [r.label for r in chart.row_labels] == ["Esketamine", "IV"]
    assert "Esketamine: induction from 2 Mar 2026 to 30 Mar 2026" in chart.desc
    assert chart.height > charts.course_bands_chart("one", rows[:1], ZONE).height


def test_date_ticks_switch_to_months_for_long_spans():
    scale = charts.Scale(_day(0).timestamp(), _day(400).timestamp(), 0, 600)
    ticks = charts.date_ticks(_day(0), _day(400), scale, ZONE)
    assert 3 <= len(ticks) <= 8
    assert all(t.label[-4:].isdigit() for t in ticks)
    short = charts.Scale(_day(0).timestamp(), _day(10).timestamp(), 0, 600)
    days = charts.date_ticks(_day(0), _day(10), short, ZONE)
    assert [t.pos for t in days] == sorted(t.pos for t in days)
    assert len(days) <= 8


# --- course status and phases ----------------------------------------------------------------


@dataclass
class FakeCourse:
    id: int = 1
    modality: str = "esketamine_nasal"
    phase: str = "induction"
    started_on: date = date(2026, 3, 1)
    ended_on: date | None = None


@dataclass
class FakeDecision:
    kind: str
    decided_at: datetime


def test_induction_complete_after_the_protocol_count_or_leaving_induction():
    rules, sched = ReviewRules(), SchedulingRules()
    scores = [(_day(0), 20), (_day(20), 9)]
    status = course_status(FakeCourse(), scores, _day(0), 7, rules, sched)
    assert status.outcome.status == "in_induction"
    assert course_status(FakeCourse(), scores, _day(0), 8, rules, sched).outcome.status == (
        "responder"
    )
    iv = FakeCourse(modality="iv_ketamine")
    assert course_status(iv, scores, _day(0), 6, rules, sched).outcome.status == "responder"
    stopped = FakeCourse(phase="stopped")
    flat = [(_day(0), 20), (_day(20), 15)]
    assert course_status(stopped, flat, _day(0), 3, rules, sched).outcome.status == (
        "non_responder"
    )
    assert course_status(
        stopped, [(_day(0), 20), (_day(9), 3)], _day(0), 3, rules, sched
    ).change == ("-85 %")


def test_phase_spans_follow_the_decision_or_the_induction_count():
    course = FakeCourse(phase="maintenance")
    starts = [_day(3 * n) for n in range(10)]
    decided = phase_spans(
        course, [FakeDecision("to_maintenance", _day(25))], starts, 8, _day(40), ZONE
    )
    assert [(p.phase, p.end) for p in decided][0] == ("induction", _day(25))
    assert decided[1].start == _day(25)
    guessed = phase_spans(course, [], starts, 8, _day(40), ZONE)
    assert guessed[1].start == starts[8]
    induction = phase_spans(FakeCourse(), [], starts[:3], 8, _day(40), ZONE)
    assert [p.phase for p in induction] == ["induction"]
    assert induction[0].end == _day(40)
