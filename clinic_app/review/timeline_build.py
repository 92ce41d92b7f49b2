"""The patient timeline built from plain rows: session lines, course views and chart series.
Pure: review/timeline.py loads the rows, this module works out what the page shows."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from clinic_app.clinical.codes import CoursePhase, DecisionKind
from clinic_app.clinical.review import Flag, ReviewRules
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.scores import GAD7, PHQ9
from clinic_app.clinical.series import SchedulingRules
from clinic_app.clinical.vitals import hold_line
from clinic_app.models import CourseDecision, TreatmentCourse
from clinic_app.review import charts
from clinic_app.review.course_status import (
    CourseStatus,
    course_scores,
    course_status,
    induction_count,
    local_end,
    local_start,
)
from clinic_app.review.summary import BP, SessionSummary


@dataclass(frozen=True)
class SessionRow:
    """One session of the history as loaded: plain columns."""

    id: int
    course_id: int
    started_at: datetime
    dose_started_at: datetime | None
    discharged_at: datetime | None
    zone: str | None = None  # its site's zone (the clinic's without a site); None: the page's


@dataclass(frozen=True)
class ScaleEntry:
    """One administered scale as the timeline shows it."""

    session_id: int | None
    instrument: str
    administered_at: datetime
    total: int
    band: str
    items: list[int]
    site: str | None = None  # the code of the site it was given at, when known
    zone: str | None = None  # that site's zone (the clinic's without a site); None: the page's

    @property
    def local_at(self) -> datetime | None:
        """When it was given, on its site's clock, shown split as `on_site_clock`'s answer is
        (None without a zone: the page's clock shows it)."""
        return self.administered_at.astimezone(ZoneInfo(self.zone)) if self.zone else None


def scales_span_zones(entries: Sequence[ScaleEntry]) -> bool:
    """True when these scales were given in more than one time zone."""
    return len({entry.zone for entry in entries if entry.zone}) > 1


@dataclass
class SessionLine:
    """One session of the timeline with what the rules made of its readings and scales."""

    session_id: int
    course_id: int
    started_at: datetime
    dose_started_at: datetime | None
    discharged_at: datetime | None
    number: int  # within its course
    summary: SessionSummary
    zone: str | None = None  # its site's zone; None: the page's
    # For the shown page of the session table only: the session and its adverse events.
    treatment: Any = None
    events: list[Any] = field(default_factory=list)

    @property
    def local_started(self) -> datetime:
        """When it started, on its site's clock (as `on_site_clock` answers: shown split, with
        the date and time filters); without a zone, as is, for the page's clock."""
        return self.started_at.astimezone(ZoneInfo(self.zone)) if self.zone else self.started_at

    @property
    def pre(self) -> BP | None:
        return self.summary.pre

    @property
    def peak(self) -> BP | None:
        return self.summary.peak

    @property
    def pre_systolic(self) -> int | None:
        return self.summary.pre.systolic if self.summary.pre else None

    @property
    def peak_systolic(self) -> int | None:
        return self.summary.peak.systolic if self.summary.peak else None

    @property
    def rise(self) -> tuple[int, int] | None:
        return self.summary.rise

    @property
    def lowest_spo2(self) -> int | None:
        return self.summary.lowest_spo2

    @property
    def lowest_moaas(self) -> int | None:
        return self.summary.lowest_moaas

    @property
    def max_cadss(self) -> int | None:
        return self.summary.max_cadss

    @property
    def flags(self) -> tuple[Flag, ...]:
        return self.summary.flags

    @property
    def duration_minutes(self) -> int | None:
        """Minutes from the dose to discharge."""
        if self.dose_started_at is None or self.discharged_at is None:
            return None
        return int((self.discharged_at - self.dose_started_at).total_seconds() // 60)


@dataclass
class CourseView:
    course: TreatmentCourse
    status: CourseStatus
    sessions: list[SessionLine]
    phases: list[charts.PhaseSpan]
    peak_chart: charts.Chart
    decisions: list[CourseDecision] = field(default_factory=list)
    # The PHQ-9s the status takes as baseline and latest, with their sites and zones.
    baseline_scale: ScaleEntry | None = None
    latest_scale: ScaleEntry | None = None


@dataclass(frozen=True)
class Paging:
    page: int
    pages: int
    per_page: int


@dataclass
class Timeline:
    patient: Any
    age: int
    courses: list[CourseView]
    sessions: list[SessionLine]  # the page shown, newest first
    session_total: int
    page: int
    pages: int
    per_page: int
    phq9: list[ScaleEntry]
    gad7: list[ScaleEntry]
    alerts: list[Any]
    bands_chart: charts.Chart
    phq9_chart: charts.Chart
    gad7_chart: charts.Chart

    @property
    def scales_span_zones(self) -> bool:
        """True when the scale tables hold times of more than one zone (each row then names
        its site)."""
        return scales_span_zones([*self.phq9, *self.gad7])


@dataclass(frozen=True)
class Rules:
    clinical: ClinicalRules
    review: ReviewRules
    scheduling: SchedulingRules
    zone: ZoneInfo
    now: datetime


def newest_page(session_ids: Sequence[int], page: int, per_page: int) -> tuple[Paging, list[int]]:
    """The page (clamped to those there are) of sessions, newest first, given oldest first."""
    pages = max(1, -(-len(session_ids) // per_page))
    page = min(max(page, 1), pages)
    newest_first = list(session_ids[::-1])
    return Paging(page, pages, per_page), newest_first[(page - 1) * per_page : page * per_page]


def session_lines(
    rows: Sequence[SessionRow], summaries: dict[int, SessionSummary]
) -> list[SessionLine]:
    """Every session oldest first, numbered within its course."""
    numbers: dict[int, int] = defaultdict(int)
    lines = []
    for row in rows:
        numbers[row.course_id] += 1
        lines.append(
            SessionLine(
                session_id=row.id,
                course_id=row.course_id,
                started_at=row.started_at,
                dose_started_at=row.dose_started_at,
                discharged_at=row.discharged_at,
                number=numbers[row.course_id],
                summary=summaries[row.id],
                zone=row.zone,
            )
        )
    return lines


def phase_spans(
    course: TreatmentCourse,
    decisions: Sequence[CourseDecision],
    session_starts: Sequence[datetime],
    count: int,
    now: datetime,
    zone: ZoneInfo,
) -> list[charts.PhaseSpan]:
    """Induction, then maintenance from the move-to-maintenance decision. A course put into
    maintenance without a recorded decision switches at its first dose after the induction
    count (or its last session when it has fewer)."""
    starts = sorted(session_starts)
    begin = min([local_start(course.started_on, zone), *starts[:1]])
    end = local_end(course.ended_on, zone) if course.ended_on else max(now, *starts[-1:], begin)
    switch = next((d.decided_at for d in decisions if d.kind == DecisionKind.TO_MAINTENANCE), None)
    if switch is None and course.phase == CoursePhase.MAINTENANCE:
        switch = starts[count] if len(starts) > count else (starts[-1] if starts else begin)
    if switch is None:
        return [charts.PhaseSpan(CoursePhase.INDUCTION.value, begin, end)]
    switch = min(max(switch, begin), end)
    return [
        charts.PhaseSpan(CoursePhase.INDUCTION.value, begin, switch),
        charts.PhaseSpan(CoursePhase.MAINTENANCE.value, switch, end),
    ]


def course_label(course: TreatmentCourse) -> str:
    return f"{course.modality_label} from {course.started_on:%d %b %Y}"


def course_view(
    course: TreatmentCourse,
    lines: Sequence[SessionLine],
    phq_rows: Sequence[tuple[int | None, datetime, int]],
    hold_systolic: int,
    rules: Rules,
) -> CourseView:
    """A course's status, phases and peak systolic chart from its session lines and the
    patient's PHQ-9 rows (session's course id or None, when, total)."""
    dosed = [line.dose_started_at for line in lines if line.dose_started_at is not None]
    status = course_status(
        course,
        course_scores(course, phq_rows, rules.zone),
        min(dosed, default=None),
        len(dosed),
        rules.review,
        rules.scheduling,
    )
    peaks = [
        charts.SessionPeak(
            line.dose_started_at,
            line.peak_systolic,
            line.pre_systolic,
            ZoneInfo(line.zone) if line.zone else None,
        )
        for line in lines
        if line.peak_systolic is not None and line.dose_started_at is not None
    ]
    phases = phase_spans(
        course,
        course.decisions,
        [line.started_at for line in lines],
        induction_count(course.modality, rules.scheduling),
        rules.now,
        rules.zone,
    )
    return CourseView(
        course=course,
        status=status,
        sessions=list(lines),
        phases=phases,
        peak_chart=charts.peak_systolic_chart(
            f"peak-chart-{course.id}",
            course_label(course),
            peaks,
            hold_systolic,
            rules.clinical,
            _one_zone(peaks, rules.zone),
        ),
        decisions=list(course.decisions),
    )


def _one_zone(peaks: Sequence[charts.SessionPeak], default: ZoneInfo) -> ZoneInfo:
    """The zone a chart's date axis is on: its sessions' when they share one, else `default`
    (each point is labelled on its own session's clock either way)."""
    zones = {peak.zone.key for peak in peaks if peak.zone is not None}
    return ZoneInfo(zones.pop()) if len(zones) == 1 else default


@dataclass(frozen=True)
class History:
    """What the loader read: the patient's courses, sessions (oldest first) with their
    summaries, PHQ-9 and GAD-7 scales (oldest first) and alerts; the sessions of the shown page
    with their adverse events."""

    patient: Any
    age: int
    courses: Sequence[TreatmentCourse]
    sessions: Sequence[SessionRow]
    summaries: dict[int, SessionSummary]
    scales: Sequence[ScaleEntry]
    alerts: Sequence[Any]
    treatments: dict[int, Any]
    events: dict[int, list[Any]]


def _score_charts(
    views: Sequence[CourseView],
    phq9: Sequence[ScaleEntry],
    gad7: Sequence[ScaleEntry],
    rules: Rules,
    baselines: dict[int, int | None] | None = None,
) -> tuple[charts.Chart, charts.Chart, charts.Chart]:
    """The course bands and the PHQ-9 and GAD-7 charts, on one time axis. Each course's
    baseline line is its status's, or the one `baselines` gives for it (a summary over a range
    draws the whole course's)."""
    moments = [p.start for cv in views for p in cv.phases] + [
        p.end for cv in views for p in cv.phases
    ]
    moments += [a.administered_at for a in [*phq9, *gad7]]
    domain = charts.time_domain(moments) if moments else None
    spans = [
        charts.CourseSpan(
            course_label(cv.course),
            cv.phases[0].start,
            cv.phases[-1].end,
            (baselines or {}).get(cv.course.id, cv.status.baseline),
        )
        for cv in views
    ]
    rows = [
        charts.CourseRow(
            f"{course_label(cv.course)} · {cv.course.phase}",
            tuple(cv.phases),
            tuple(line.started_at for line in cv.sessions),
        )
        for cv in views
    ]
    return (
        charts.course_bands_chart("course-chart", rows, rules.zone, domain),
        charts.score_chart(
            "phq9-chart",
            PHQ9,
            [(a.administered_at, a.total) for a in phq9],
            spans,
            rules.review,
            rules.zone,
            domain,
        ),
        charts.score_chart(
            "gad7-chart",
            GAD7,
            [(a.administered_at, a.total) for a in gad7],
            [],
            rules.review,
            rules.zone,
            domain,
        ),
    )


def build_timeline(
    history: History,
    paging: Paging,
    rules: Rules,
    baselines: dict[int, int | None] | None = None,
) -> Timeline:
    """Everything the timeline page shows. Courses, charts and scale tables cover the whole
    history; the session table shows the page of sessions `history.treatments` holds.
    `baselines` (course id -> PHQ-9) sets the baseline lines the PHQ-9 chart draws."""
    lines = session_lines(history.sessions, history.summaries)
    for line in lines:
        if line.session_id in history.treatments:
            line.treatment = history.treatments[line.session_id]
            line.events = history.events.get(line.session_id, [])
    course_of = {row.id: row.course_id for row in history.sessions}
    phq9 = [a for a in history.scales if a.instrument == PHQ9.code]
    gad7 = [a for a in history.scales if a.instrument == GAD7.code]
    phq_rows = [
        (course_of.get(a.session_id) if a.session_id else None, a.administered_at, a.total)
        for a in phq9
    ]
    hold_systolic = hold_line(history.age, rules.clinical)[0]
    views = [
        course_view(
            course,
            [line for line in lines if line.course_id == course.id],
            phq_rows,
            hold_systolic,
            rules,
        )
        for course in sorted(history.courses, key=lambda c: (c.started_on, c.id))
    ]
    given_at: dict[datetime | None, ScaleEntry] = {a.administered_at: a for a in phq9}
    for view in views:
        view.baseline_scale = given_at.get(view.status.baseline_at)
        view.latest_scale = given_at.get(view.status.latest_at)
    bands, phq9_chart, gad7_chart = _score_charts(views, phq9, gad7, rules, baselines)
    return Timeline(
        patient=history.patient,
        age=history.age,
        courses=views,
        sessions=[line for line in reversed(lines) if line.treatment is not None],
        session_total=len(lines),
        page=paging.page,
        pages=paging.pages,
        per_page=paging.per_page,
        phq9=phq9,
        gad7=gad7,
        alerts=list(history.alerts),
        bands_chart=bands,
        phq9_chart=phq9_chart,
        gad7_chart=gad7_chart,
    )
