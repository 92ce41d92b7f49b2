"""The timeline builder and the session summary, without a database: plain rows in, lines,
course views and chart series out."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.codes import Modality
from clinic_app.clinical.review import Flag, ReviewRules, SessionReviewFacts, Severity
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.series import SchedulingRules
from clinic_app.clinical.vitals import Vitals
from clinic_app.review.facts import review_facts
from clinic_app.review.summary import BP, COLUMNS, SessionSummary, from_columns, summarize
from clinic_app.review.timeline_build import (
    History,
    Rules,
    ScaleEntry,
    SessionRow,
    build_timeline,
    newest_page,
    session_lines,
)

ZONE = ZoneInfo("America/Los_Angeles")
T0 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
RULES = Rules(ClinicalRules(), ReviewRules(), SchedulingRules(), ZONE, T0 + timedelta(days=60))


@dataclass
class FakeCourse:
    id: int
    modality: str = "esketamine_nasal"
    phase: str = "induction"
    started_on: date = date(2026, 3, 1)
    ended_on: date | None = None
    decisions: list = field(default_factory=list)

    @property
    def modality_label(self) -> str:
        return Modality(self.modality).label


def _summary(peak: int | None, pre: int | None = 120, flags=()) -> SessionSummary:
    return SessionSummary(
        pre=BP(pre, 80) if pre is not None else None,
        peak=BP(peak, 90) if peak is not None else None,
        lowest_spo2=96,
        lowest_moaas=None,
        max_cadss=None,
        flags=tuple(flags),
    )


def _row(session_id: int, course_id: int, day: int, dosed: bool = True) -> SessionRow:
    start = T0 + timedelta(days=day)
    return SessionRow(
        session_id,
        course_id,
        start,
        start + timedelta(minutes=15) if dosed else None,
        start + timedelta(minutes=140) if dosed else None,
    )


def _history(rows, summaries, shown=(), scales=()) -> History:
    courses = sorted({r.course_id for r in rows}) or [1]
    return History(
        patient=None,
        age=40,
        courses=[FakeCourse(c, started_on=date(2026, 3, c)) for c in courses],
        sessions=rows,
        summaries=summaries,
        scales=list(scales),
        alerts=[],
        treatments={i: f"session {i}" for i in shown},
        events={},
    )


def test_sessions_are_numbered_within_their_course():
    rows = [_row(1, 1, 0), _row(2, 2, 1), _row(3, 1, 3), _row(4, 1, 6)]
    lines = session_lines(rows, {r.id: _summary(150) for r in rows})
    assert [(line.session_id, line.number) for line in lines] == [(1, 1), (2, 1), (3, 2), (4, 3)]


@given(st.integers(0, 130), st.integers(-3, 9), st.integers(1, 50))
def test_the_newest_page_holds_the_newest_sessions(count, page, per_page):
    ids = list(range(1, count + 1))
    paging, shown = newest_page(ids, page, per_page)
    assert 1 <= paging.page <= paging.pages
    assert len(shown) <= per_page
    assert shown == sorted(shown, reverse=True)
    if count:
        everything = [
            i for n in range(1, paging.pages + 1) for i in newest_page(ids, n, per_page)[1]
        ]
        assert everything == ids[::-1]


def test_the_builder_charts_the_whole_history_and_lists_the_shown_page():
    rows = [_row(n, 1, 3 * n) for n in range(1, 7)] + [_row(7, 2, 20, dosed=False)]
    flag = Flag("bp_notify", Severity.WARNING, "BP reached 166/96.")
    summaries = {n: _summary(130 + n, flags=[flag] if n == 6 else []) for n in range(1, 7)}
    summaries[7] = _summary(None, pre=None)
    scales = [
        ScaleEntry(1, "phq9", T0 + timedelta(days=3), 20, "severe", [2] * 9 + [0]),
        ScaleEntry(None, "gad7", T0 + timedelta(days=4), 9, "mild", [1] * 7),
        ScaleEntry(6, "phq9", T0 + timedelta(days=18), 8, "mild", [1] * 8 + [0]),
    ]
    timeline = build_timeline(_history(rows, summaries, shown=(7, 6), scales=scales), *_page(7))
    assert [line.session_id for line in timeline.sessions] == [7, 6]
    assert timeline.sessions[1].treatment == "session 6"
    assert timeline.sessions[1].flags == (flag,)
    assert timeline.sessions[1].rise == (16, 10)
    esketamine, second = timeline.courses
    assert [line.peak_systolic for line in esketamine.sessions] == [131, 132, 133, 134, 135, 136]
    assert "Highest peak 136" in esketamine.peak_chart.desc
    assert second.peak_chart.empty  # its one session was not dosed
    assert (esketamine.status.baseline, esketamine.status.latest) == (20, 8)
    assert [a.total for a in timeline.phq9] == [20, 8] and [a.total for a in timeline.gad7] == [9]
    assert "2 PHQ-9 scores" in timeline.phq9_chart.desc
    assert len(timeline.bands_chart.bands) == 2


def _page(total: int):
    paging, _ = newest_page(list(range(total)), 1, 50)
    return paging, RULES


def test_an_empty_history_builds_empty_charts():
    timeline = build_timeline(_history([], {}), *_page(0))
    assert timeline.sessions == [] and timeline.session_total == 0
    assert timeline.phq9_chart.empty and timeline.gad7_chart.empty


# --- the session summary ---------------------------------------------------------------------


def _facts(readings, dose_at=T0, **extra) -> SessionReviewFacts:
    return review_facts("esketamine_nasal", 40, dose_at, None, None, readings, [], [], [], **extra)


def _reading(minutes: int, systolic: int, diastolic: int = 80, spo2: int = 97) -> Vitals:
    return Vitals(systolic, diastolic, 70, spo2, 14, T0 + timedelta(minutes=minutes))


def test_summary_peaks_lows_and_flags():
    readings = [_reading(-5, 124), _reading(40, 166, 96, 93), _reading(90, 166, 92, 98)]
    summary = summarize(
        _facts(readings),
        readings,
        [("moaas", 3), ("moaas", 5), ("cadss6", 4)],
        ClinicalRules(),
        ReviewRules(),
    )
    assert (summary.pre, summary.peak) == ((124, 80), (166, 96))  # ties: the higher diastolic
    assert (summary.lowest_spo2, summary.lowest_moaas, summary.max_cadss) == (93, 3, 4)
    assert [f.code for f in summary.flags] == ["bp_notify"]
    assert (summary.flag_rank, summary.same_day) == (Severity.WARNING.rank, False)
    assert from_columns([summary.columns()[k] for k in COLUMNS]) == summary


def test_a_session_being_charted_has_peaks_but_no_flags():
    readings = [_reading(-5, 124), _reading(40, 190, 112)]
    summary = summarize(
        _facts(readings), readings, [], ClinicalRules(), ReviewRules(), flagged=False
    )
    assert summary.peak == (190, 112) and summary.flags == ()
    assert summary.flag_rank == len(Severity)


def test_an_undosed_session_has_neither_pre_dose_reading_nor_peak():
    readings = [_reading(-5, 150)]
    summary = summarize(
        _facts(readings, dose_at=None, not_dosed_reason="bp_hold"),
        readings,
        [],
        ClinicalRules(),
        ReviewRules(),
    )
    assert (summary.pre, summary.peak, summary.lowest_spo2) == (None, None, 97)
    assert [f.code for f in summary.flags] == ["not_dosed"]


@given(st.lists(st.sampled_from(["phq9_item9", "serious_ae", "bp_urgent", "override", "late"])))
def test_same_day_and_rank_follow_the_flags(codes):
    severity = {"override": Severity.WARNING, "late": Severity.INFO}
    flags = [Flag(c, severity.get(c, Severity.URGENT), c) for c in codes]
    summary = _summary(150, flags=flags)
    assert summary.same_day == any(c in ("phq9_item9", "serious_ae") for c in codes)
    assert summary.flag_rank == min((f.severity.rank for f in flags), default=3)


def test_each_sessions_peak_is_dated_on_its_sites_clock():
    """05:30 UTC on 3 March is the evening of 2 March in Los Angeles (the clinic's zone) but
    already 3 March in New York."""
    late = datetime(2026, 3, 3, 5, 30, tzinfo=UTC)
    rows = [
        SessionRow(1, 1, late, late + timedelta(minutes=15), None, zone="America/New_York"),
        SessionRow(2, 1, late + timedelta(days=3), None, None, zone=ZONE.key),
    ]
    summaries = {1: _summary(150), 2: _summary(None, pre=None)}
    timeline = build_timeline(_history(rows, summaries), *_page(2))
    [view] = timeline.courses
    first = view.sessions[0]
    assert first.local_started.date() == date(2026, 3, 3)
    assert view.sessions[1].local_started.date() == date(2026, 3, 5)
    chart = view.peak_chart
    assert "from 3 Mar 2026 to 3 Mar 2026" in chart.desc
    assert [p.label for s in chart.series for p in s.points] == [
        "3 Mar 2026: peak 150",
        "3 Mar 2026: pre-dose 120",
    ]
    # Without a zone, the page's clock shows it as it is.
    bare = session_lines([SessionRow(3, 1, late, None, None)], {3: _summary(None)})
    assert bare[0].local_started is late
