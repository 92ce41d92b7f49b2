"""What the review pages show, loaded in a fixed number of statements whatever the history.

Both long lists page. The co-signature queue works out the flags of every waiting session from
plain columns (its order needs them) and loads objects only for the page it shows. The timeline
reads the whole history as columns, with each session's pre-dose and peak systolic computed by
SQL for the charts; readings, flags and objects are loaded only for the page of the session
table. Peaks, lows and flags are worked out in Python by the pure rules.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from clinic_app.clinical.codes import (
    ADVERSE_EVENT_KINDS,
    AlertKind,
    CoursePhase,
    DecisionKind,
    Modality,
    SessionStatus,
)
from clinic_app.clinical.dosing import Pause, paused_minutes
from clinic_app.clinical.outcomes import Outcome, course_baseline, course_outcome
from clinic_app.clinical.review import (
    Flag,
    ReviewRules,
    SessionReviewFacts,
    queue_key,
    session_flags,
)
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.scores import CADSS6, GAD7, MOAAS, PHQ9
from clinic_app.clinical.series import SchedulingRules
from clinic_app.clinical.vitals import Vitals, age_on, hold_line
from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import (
    Addendum,
    AdverseEvent,
    Appointment,
    Assessment,
    ClinicalAlert,
    CourseDecision,
    InfusionPause,
    Override,
    Patient,
    TreatmentCourse,
    TreatmentSession,
    User,
    VitalsReading,
)
from clinic_app.review import charts
from clinic_app.settings import clinic_timezone, clinic_today

# A PHQ-9 given outside a session counts for a course from this many days before its start: the
# ORKA-1 baseline is a PHQ-9 within a month before induction (domain.md §4).
BASELINE_LOOKBACK_DAYS = 30

ALERT_LABELS = {
    AlertKind.PHQ9_ITEM9: "PHQ-9 item 9 above 0",
    AlertKind.SERIOUS_AE: "Serious adverse event",
    AlertKind.MISSED_INDUCTION: "Missed induction visits",
    AlertKind.BP_URGENT: "Urgent blood pressure",
    AlertKind.BP_NOTIFY: "Blood pressure: notify prescriber",
    AlertKind.SPO2_LOW: "Low SpO₂",
    AlertKind.PREDOSE_HOLD: "Pre-dose BP hold: override or not",
}


def alert_label(kind: str) -> str:
    try:
        return ALERT_LABELS[AlertKind(kind)]
    except ValueError:
        return kind.replace("_", " ")


def alert_detail(alert: ClinicalAlert) -> str:
    """The alert's coded detail as a sentence."""
    detail = alert.detail or {}
    if alert.kind == AlertKind.PHQ9_ITEM9:
        text = f"Item 9 (thoughts of self-harm) answered {detail.get('item9', '?')}"
        if "total" in detail:
            text += f"; PHQ-9 total {detail['total']}"
        return text + ". Same-day follow-up needed."
    if alert.kind == AlertKind.SERIOUS_AE:
        kind = ADVERSE_EVENT_KINDS.get(detail.get("kind", ""), detail.get("kind", "event"))
        severity = detail.get("severity")
        return f"{kind}{f' ({severity})' if severity else ''}, recorded as serious."
    if alert.kind == AlertKind.MISSED_INDUCTION:
        missed = detail.get("missed") or detail.get("count")
        return f"{missed or 'Several'} induction visits missed in a row: contact the patient today."
    if alert.kind in (AlertKind.BP_URGENT, AlertKind.BP_NOTIFY, AlertKind.PREDOSE_HOLD):
        text = f"BP {detail.get('systolic', '?')}/{detail.get('diastolic', '?')}"
        if "hold_systolic" in detail:
            text += f" before the dose, over the hold line {detail['hold_systolic']}/"
            text += f"{detail['hold_diastolic']}: dosing waits for your override"
        return text + "."
    if alert.kind == AlertKind.SPO2_LOW:
        return f"SpO₂ {detail.get('spo2', '?')} %."
    return ""


def alert_reading_time(alert: ClinicalAlert) -> datetime | None:
    """When the reading behind a chair alert was taken (None for other alerts)."""
    taken = (alert.detail or {}).get("taken_at")
    return datetime.fromisoformat(taken) if taken else None


# --- course status (baseline, latest, response) ----------------------------------------------


@dataclass(frozen=True)
class CourseStatus:
    outcome: Outcome
    latest_at: datetime | None
    induction_complete: bool
    dosed_sessions: int
    induction_count: int
    scores: tuple[tuple[datetime, int], ...]

    @property
    def baseline(self) -> int | None:
        return self.outcome.baseline

    @property
    def latest(self) -> int | None:
        return self.outcome.latest

    @property
    def change(self) -> str:
        change = self.outcome.percent_change
        return "—" if change is None else f"{change:+.0f} %"


def induction_count(modality: str, rules: SchedulingRules) -> int:
    if modality == Modality.ESKETAMINE_NASAL:
        return rules.esketamine_induction_count
    return rules.iv_induction_count


def _local_start(day: date, zone: ZoneInfo | None = None) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone or clinic_timezone())


def _local_end(day: date, zone: ZoneInfo | None = None) -> datetime:
    return datetime.combine(day, time.max, tzinfo=zone or clinic_timezone())


def course_scores(
    course: TreatmentCourse, rows: Iterable[tuple[int | None, datetime, int]]
) -> list[tuple[datetime, int]]:
    """A course's PHQ-9 totals from (session's course id or None, when, total) rows: those of its
    own sessions, and those given outside a session from a month before its start to its end."""
    start = _local_start(course.started_on) - timedelta(days=BASELINE_LOOKBACK_DAYS)
    end = _local_end(course.ended_on) if course.ended_on else None
    found = []
    for course_id, at, total in rows:
        if course_id == course.id or (
            course_id is None and at >= start and (end is None or at <= end)
        ):
            found.append((at, total))
    return sorted(found)


def course_status(
    course: TreatmentCourse,
    scores: Sequence[tuple[datetime, int]],
    first_dose_at: datetime | None,
    dosed: int,
    review_rules: ReviewRules,
    scheduling_rules: SchedulingRules,
) -> CourseStatus:
    """Baseline, latest, change and verdict. Induction counts as complete once the course left
    induction or had the protocol's number of doses (8 esketamine, 6 IV by default)."""
    count = induction_count(course.modality, scheduling_rules)
    complete = course.phase != CoursePhase.INDUCTION or dosed >= count
    ordered = sorted(scores)
    baseline = course_baseline(ordered, first_dose_at)
    latest = ordered[-1] if ordered else None
    outcome = course_outcome(baseline, latest[1] if latest else None, complete, review_rules)
    return CourseStatus(
        outcome, latest[0] if latest else None, complete, dosed, count, tuple(ordered)
    )


def course_statuses(
    courses: Sequence[TreatmentCourse],
    review_rules: ReviewRules,
    scheduling_rules: SchedulingRules,
) -> dict[int, CourseStatus]:
    """Status of several courses in two statements."""
    if not courses:
        return {}
    patient_ids = sorted({c.patient_id for c in courses})
    course_ids = sorted({c.id for c in courses})
    rows_by_patient: dict[int, list[tuple[int | None, datetime, int]]] = defaultdict(list)
    for patient_id, course_id, at, total in db.session.execute(
        select(
            Assessment.patient_id,
            TreatmentSession.course_id,
            Assessment.administered_at,
            Assessment.total,
        )
        .outerjoin(TreatmentSession, Assessment.session_id == TreatmentSession.id)
        .where(Assessment.patient_id.in_(patient_ids), Assessment.instrument == PHQ9.code)
    ):
        rows_by_patient[patient_id].append((course_id, at, total))
    doses = {
        course_id: (first, count)
        for course_id, first, count in db.session.execute(
            select(
                TreatmentSession.course_id,
                func.min(TreatmentSession.dose_started_at),
                func.count(),
            )
            .where(
                TreatmentSession.course_id.in_(course_ids),
                TreatmentSession.dose_started_at.is_not(None),
            )
            .group_by(TreatmentSession.course_id)
        )
    }
    result = {}
    for course in courses:
        first, count = doses.get(course.id, (None, 0))
        scores = course_scores(course, rows_by_patient[course.patient_id])
        result[course.id] = course_status(
            course, scores, first, count, review_rules, scheduling_rules
        )
    return result


# --- session facts ---------------------------------------------------------------------------


def review_facts(
    modality: str,
    age: int,
    dose_started_at: datetime | None,
    infusion_ended_at: datetime | None,
    discharged_at: datetime | None,
    readings: Sequence[Vitals],
    adverse_events: Sequence[tuple[str, bool]],
    overrides: Sequence[str],
    phq9_items: Sequence[Sequence[int]],
    *,
    escort: tuple[str, str, str, str] = ("", "", "", ""),
    planned_minutes: int | None = None,
    pauses: Sequence[Pause] = (),
    not_dosed_reason: str = "",
    not_dosed_note: str = "",
) -> SessionReviewFacts:
    """Facts for the review rules: the pre-dose reading is the last one at or before the dose.
    Of several PHQ-9s in one session, the one with the highest item 9 answer speaks. `escort`
    is (kind, name, relationship, phone); `pauses` are the IV pump's (paused at, resumed at)
    pairs."""
    ordered = sorted(readings, key=lambda r: r.taken_at)
    if dose_started_at is None:
        before, after = ordered, []
    else:
        before = [r for r in ordered if r.taken_at <= dose_started_at]
        after = [r for r in ordered if r.taken_at > dose_started_at]
    items = max(phq9_items, key=lambda i: i[8] if len(i) == 9 else -1, default=None)
    return SessionReviewFacts(
        modality=Modality(modality),
        age_years=age,
        dose_started_at=dose_started_at,
        infusion_ended_at=infusion_ended_at,
        discharged_at=discharged_at,
        baseline=before[-1] if before else None,
        readings_after_dose=after,
        adverse_events=list(adverse_events),
        overrides=list(overrides),
        phq9_items=list(items) if items is not None else None,
        other_escort=escort[1:] if escort[0] == "other_adult" else None,
        planned_minutes=planned_minutes,
        paused_minutes=(
            paused_minutes(dose_started_at, infusion_ended_at, pauses)
            if dose_started_at is not None and infusion_ended_at is not None
            else 0.0
        ),
        not_dosed_reason=not_dosed_reason or "",
        not_dosed_note=not_dosed_note or "",
    )


def loaded_session_facts(treatment: TreatmentSession, age: int) -> SessionReviewFacts:
    """Facts of a session whose vitals, adverse events, overrides, assessments and infusion
    pauses are loaded."""
    return review_facts(
        treatment.modality,
        age,
        treatment.dose_started_at,
        treatment.infusion_ended_at,
        treatment.discharged_at,
        [r.as_vitals() for r in treatment.vitals],
        [(e.kind, e.serious) for e in treatment.adverse_events],
        [o.rule for o in treatment.overrides],
        [a.items for a in treatment.assessments if a.instrument == PHQ9.code],
        **_loaded_extras(treatment),
    )


def _loaded_extras(treatment: TreatmentSession) -> dict[str, Any]:
    """review_facts' keyword facts from a session whose pauses are loaded."""
    return {
        "escort": (
            treatment.escort_kind,
            treatment.discharged_with,
            treatment.escort_relationship,
            treatment.escort_phone,
        ),
        "planned_minutes": treatment.planned_minutes,
        "pauses": [(p.paused_at, p.resumed_at) for p in treatment.infusion_pauses],
        "not_dosed_reason": treatment.not_dosed_reason,
        "not_dosed_note": treatment.not_dosed_note,
    }


def session_date(treatment: TreatmentSession) -> date:
    return treatment.started_at.astimezone(clinic_timezone()).date()


# --- the co-signature queue ------------------------------------------------------------------


@dataclass
class QueueRow:
    treatment: TreatmentSession
    flags: list[Flag]
    pinned: bool
    open_alerts: int
    status: CourseStatus


def open_alerts() -> list[ClinicalAlert]:
    """Unacknowledged alerts, oldest first, with the chair of the session they came from."""
    return list(
        db.session.scalars(
            select(ClinicalAlert)
            .where(ClinicalAlert.acknowledged_at.is_(None))
            .options(
                joinedload(ClinicalAlert.patient),
                joinedload(ClinicalAlert.treatment_session)
                .joinedload(TreatmentSession.appointment)
                .joinedload(Appointment.chair),
            )
            .order_by(ClinicalAlert.raised_at, ClinicalAlert.id)
        )
    )


def open_alert_count() -> int:
    """How many alerts wait for the psychiatrist (the navigation badge)."""
    return db.session.scalar(
        select(func.count())
        .select_from(ClinicalAlert)
        .where(ClinicalAlert.acknowledged_at.is_(None))
    )


QUEUE_PAGE_SIZE = 50
TIMELINE_PAGE_SIZE = 50


@dataclass
class QueuePage:
    """One page of the co-signature queue, and how many sessions wait in all."""

    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    per_page: int


def _awaiting_ids() -> Any:
    return select(TreatmentSession.id).where(TreatmentSession.status == SessionStatus.SIGNED)


def readings_by_session(session_ids: Any) -> dict[int, list[Vitals]]:
    """The readings of the sessions `session_ids` names (ids or a subquery) as plain Vitals,
    grouped by session, in one statement."""
    readings: dict[int, list[Vitals]] = defaultdict(list)
    for session_id, *values in db.session.execute(
        select(
            VitalsReading.session_id,
            VitalsReading.systolic,
            VitalsReading.diastolic,
            VitalsReading.heart_rate,
            VitalsReading.spo2,
            VitalsReading.resp_rate,
            VitalsReading.taken_at,
        ).where(VitalsReading.session_id.in_(session_ids))
    ):
        readings[session_id].append(Vitals(*values))
    return readings


def _grouped(query: Any) -> dict[int, list[tuple]]:
    """Rows of (session id, *values) grouped by session id."""
    grouped: dict[int, list[tuple]] = defaultdict(list)
    for session_id, *values in db.session.execute(query):
        grouped[session_id].append(tuple(values))
    return grouped


def awaiting_facts() -> list[tuple[int, datetime, SessionReviewFacts, list[bool]]]:
    """(session id, signed at, review facts, open flags of its alerts) of every session that
    awaits co-signature. Plain columns in seven statements: no ORM objects for sessions that are
    not shown."""
    awaiting = _awaiting_ids()
    readings = readings_by_session(awaiting)
    events = _grouped(
        select(AdverseEvent.session_id, AdverseEvent.kind, AdverseEvent.serious)
        .where(AdverseEvent.session_id.in_(awaiting))
        .order_by(AdverseEvent.id)
    )
    overrides = _grouped(
        select(Override.session_id, Override.rule)
        .where(Override.session_id.in_(awaiting))
        .order_by(Override.id)
    )
    phq9 = _grouped(
        select(Assessment.session_id, Assessment.items)
        .where(Assessment.session_id.in_(awaiting), Assessment.instrument == PHQ9.code)
        .order_by(Assessment.id)
    )
    alerts = _grouped(
        select(ClinicalAlert.session_id, ClinicalAlert.acknowledged_at.is_(None)).where(
            ClinicalAlert.session_id.in_(awaiting)
        )
    )
    pauses = _grouped(
        select(InfusionPause.session_id, InfusionPause.paused_at, InfusionPause.resumed_at).where(
            InfusionPause.session_id.in_(awaiting)
        )
    )
    zone = clinic_timezone()
    found = []
    for row in db.session.execute(
        select(
            TreatmentSession.id,
            TreatmentSession.signed_at,
            TreatmentSession.started_at,
            TreatmentSession.modality,
            TreatmentSession.dose_started_at,
            TreatmentSession.infusion_ended_at,
            TreatmentSession.discharged_at,
            TreatmentSession.escort_kind,
            TreatmentSession.discharged_with,
            TreatmentSession.escort_relationship,
            TreatmentSession.escort_phone,
            TreatmentSession.planned_minutes,
            TreatmentSession.not_dosed_reason,
            TreatmentSession.not_dosed_note,
            Patient.date_of_birth,
        )
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .where(TreatmentSession.status == SessionStatus.SIGNED)
    ):
        facts = review_facts(
            row.modality,
            age_on(row.date_of_birth, row.started_at.astimezone(zone).date()),
            row.dose_started_at,
            row.infusion_ended_at,
            row.discharged_at,
            readings.get(row.id, []),
            events.get(row.id, []),
            [rule for (rule,) in overrides.get(row.id, ())],
            [items for (items,) in phq9.get(row.id, ())],
            escort=(
                row.escort_kind,
                row.discharged_with,
                row.escort_relationship,
                row.escort_phone,
            ),
            planned_minutes=row.planned_minutes,
            pauses=pauses.get(row.id, []),
            not_dosed_reason=row.not_dosed_reason,
            not_dosed_note=row.not_dosed_note,
        )
        found.append((row.id, row.signed_at, facts, [o for (o,) in alerts.get(row.id, ())]))
    return found


def review_queue(
    clinical_rules: ClinicalRules,
    review_rules: ReviewRules,
    scheduling_rules: SchedulingRules,
    page: int = 1,
    per_page: int | None = None,
) -> QueuePage:
    """Nurse-signed sessions awaiting co-signature, in queue order: sessions with an open
    same-day alert first, then by the most severe flag, then the longest waiting. Flags are
    worked out for every waiting session (the order needs them); only the page's sessions are
    loaded as objects, with their course status."""
    keyed = []
    for session_id, signed_at, facts, raised in awaiting_facts():
        flags = session_flags(facts, clinical_rules, review_rules)
        acknowledged = bool(raised) and not any(raised)
        key = queue_key(flags, signed_at, acknowledged=acknowledged)
        keyed.append((key, session_id, flags, sum(raised)))
    keyed.sort(key=lambda entry: entry[:2])
    per_page = per_page or QUEUE_PAGE_SIZE
    pages = max(1, -(-len(keyed) // per_page))
    page = min(max(page, 1), pages)
    shown = keyed[(page - 1) * per_page : page * per_page]
    sessions = {
        t.id: t
        for t in db.session.scalars(
            select(TreatmentSession)
            .where(TreatmentSession.id.in_([session_id for _, session_id, _, _ in shown]))
            .options(
                joinedload(TreatmentSession.patient),
                joinedload(TreatmentSession.course),
                joinedload(TreatmentSession.signed_by),
            )
        )
    }
    statuses = course_statuses(
        list({t.course_id: t.course for t in sessions.values()}.values()),
        review_rules,
        scheduling_rules,
    )
    rows = [
        QueueRow(sessions[i], flags, key[0] == 0, raised, statuses[sessions[i].course_id])
        for key, i, flags, raised in shown
    ]
    return QueuePage(rows, len(keyed), page, pages, per_page)


def load_review_session(session_id: int) -> TreatmentSession | None:
    """A session with everything the review page shows and the co-signature hashes."""
    return db.session.scalar(
        select(TreatmentSession)
        .where(TreatmentSession.id == session_id)
        .options(
            joinedload(TreatmentSession.patient),
            joinedload(TreatmentSession.course),
            joinedload(TreatmentSession.nurse),
            joinedload(TreatmentSession.signed_by),
            joinedload(TreatmentSession.cosigned_by),
            selectinload(TreatmentSession.vitals).joinedload(VitalsReading.recorded_by),
            selectinload(TreatmentSession.adverse_events).options(
                joinedload(AdverseEvent.recorded_by),
                joinedload(AdverseEvent.resolved_by),
                joinedload(AdverseEvent.cleared_by),
            ),
            selectinload(TreatmentSession.assessments).joinedload(Assessment.recorded_by),
            selectinload(TreatmentSession.overrides).joinedload(Override.decided_by),
            selectinload(TreatmentSession.addenda).joinedload(Addendum.author),
            selectinload(TreatmentSession.infusion_pauses),
            selectinload(TreatmentSession.devices),
        )
    )


def session_alerts(session_id: int) -> list[ClinicalAlert]:
    return list(
        db.session.scalars(
            select(ClinicalAlert)
            .where(ClinicalAlert.session_id == session_id)
            .options(joinedload(ClinicalAlert.acknowledged_by))
            .order_by(ClinicalAlert.raised_at)
        )
    )


def bp_chart_for(
    treatment: TreatmentSession, age: int, rules: ClinicalRules, chart_id: str = "bp-chart"
) -> charts.Chart:
    """The blood-pressure chart of a session whose vitals are loaded."""
    readings = sorted(treatment.vitals, key=lambda r: r.taken_at)
    dose_at = treatment.dose_started_at
    before = [r for r in readings if dose_at is None or r.taken_at <= dose_at]
    baseline = (before[-1].systolic, before[-1].diastolic) if before and dose_at else None
    return charts.session_bp_chart(
        chart_id,
        [(r.taken_at, r.systolic, r.diastolic) for r in readings],
        dose_at,
        treatment.infusion_ended_at,
        baseline,
        hold_line(age, rules),
        rules,
        clinic_timezone(),
    )


# --- the patient timeline --------------------------------------------------------------------


@dataclass
class SessionLine:
    """One session of the timeline with what the rules make of its readings and scales."""

    session_id: int
    course_id: int
    started_at: datetime
    dose_started_at: datetime | None
    discharged_at: datetime | None
    number: int  # within its course
    # For the whole history (charts): from SQL, see _pre_dose_systolic and _peak_systolic.
    pre_systolic: int | None
    peak_systolic: int | None
    # For the shown page of the session table only.
    treatment: TreatmentSession | None = None
    pre: Vitals | None = None
    peak: Vitals | None = None
    lowest_spo2: int | None = None
    lowest_moaas: int | None = None
    max_cadss: int | None = None
    events: list[AdverseEvent] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)

    @property
    def rise(self) -> tuple[int, int] | None:
        if self.pre is None or self.peak is None:
            return None
        return self.peak.systolic - self.pre.systolic, self.peak.diastolic - self.pre.diastolic

    @property
    def duration_minutes(self) -> int | None:
        """Minutes from the dose to discharge."""
        if self.dose_started_at is None or self.discharged_at is None:
            return None
        return int((self.discharged_at - self.dose_started_at).total_seconds() // 60)


@dataclass(frozen=True)
class ScaleEntry:
    """One administered scale as the timeline shows it."""

    session_id: int | None
    instrument: str
    administered_at: datetime
    total: int
    band: str
    items: list[int]


@dataclass
class CourseView:
    course: TreatmentCourse
    status: CourseStatus
    sessions: list[SessionLine]
    phases: list[charts.PhaseSpan]
    peak_chart: charts.Chart
    decisions: list[CourseDecision] = field(default_factory=list)


@dataclass
class Timeline:
    patient: Patient
    age: int
    courses: list[CourseView]
    sessions: list[SessionLine]  # the page shown, newest first
    session_total: int
    page: int
    pages: int
    per_page: int
    phq9: list[ScaleEntry]
    gad7: list[ScaleEntry]
    alerts: list[ClinicalAlert]
    bands_chart: charts.Chart
    phq9_chart: charts.Chart
    gad7_chart: charts.Chart


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
    begin = min([_local_start(course.started_on, zone), *starts[:1]])
    end = _local_end(course.ended_on, zone) if course.ended_on else max(now, *starts[-1:], begin)
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


def _pre_dose_systolic() -> Any:
    """Per session: the systolic of the last reading at or before the dose (None undosed)."""
    return (
        select(VitalsReading.systolic)
        .where(
            VitalsReading.session_id == TreatmentSession.id,
            VitalsReading.taken_at <= TreatmentSession.dose_started_at,
        )
        .order_by(VitalsReading.taken_at.desc(), VitalsReading.id.desc())
        .limit(1)
        .correlate(TreatmentSession)
        .scalar_subquery()
        .label("pre_systolic")
    )


def _peak_systolic() -> Any:
    """Per session: the highest systolic after the dose (None undosed or unread)."""
    return (
        select(func.max(VitalsReading.systolic))
        .where(
            VitalsReading.session_id == TreatmentSession.id,
            VitalsReading.taken_at > TreatmentSession.dose_started_at,
        )
        .correlate(TreatmentSession)
        .scalar_subquery()
        .label("peak_systolic")
    )


def _fill_shown_line(
    line: SessionLine,
    row: Any,
    treatment: TreatmentSession,
    age: int,
    readings: Sequence[Vitals],
    scales: Sequence[ScaleEntry],
    events: list[AdverseEvent],
    overrides: Sequence[str],
    clinical_rules: ClinicalRules,
    review_rules: ReviewRules,
) -> None:
    """What the session table shows of a session on the current page, with its flags."""
    facts = review_facts(
        row.modality,
        age,
        row.dose_started_at,
        row.infusion_ended_at,
        row.discharged_at,
        readings,
        [(e.kind, e.serious) for e in events],
        overrides,
        [a.items for a in scales if a.instrument == PHQ9.code],
        **_loaded_extras(treatment),
    )
    after = facts.readings_after_dose
    line.treatment = treatment
    line.pre = facts.baseline if row.dose_started_at else None
    line.peak = max(after, key=lambda r: (r.systolic, r.diastolic)) if after else None
    line.lowest_spo2 = min((r.spo2 for r in readings), default=None)
    line.lowest_moaas = min((a.total for a in scales if a.instrument == MOAAS.code), default=None)
    line.max_cadss = max((a.total for a in scales if a.instrument == CADSS6.code), default=None)
    line.events = events
    if row.status != SessionStatus.IN_PROGRESS:
        line.flags = session_flags(facts, clinical_rules, review_rules)


def load_timeline(
    patient_id: int,
    clinical_rules: ClinicalRules,
    review_rules: ReviewRules,
    scheduling_rules: SchedulingRules,
    page: int = 1,
) -> Timeline | None:
    """Everything the timeline shows, in the same number of statements for 1 or 500 sessions.
    Courses, charts and scale tables cover the whole history; the session table shows one page
    of the newest sessions, and only those get their review flags worked out."""
    patient = db.session.scalar(
        select(Patient)
        .where(Patient.id == patient_id)
        .options(
            selectinload(Patient.courses).options(
                joinedload(TreatmentCourse.prescriber),
                selectinload(TreatmentCourse.decisions).joinedload(CourseDecision.decided_by),
            )
        )
    )
    if patient is None:
        return None
    zone = clinic_timezone()
    now = utcnow()
    sessions = db.session.execute(
        select(
            TreatmentSession.id,
            TreatmentSession.course_id,
            TreatmentSession.status,
            TreatmentSession.modality,
            TreatmentSession.started_at,
            TreatmentSession.dose_started_at,
            TreatmentSession.infusion_ended_at,
            TreatmentSession.discharged_at,
            TreatmentSession.not_dosed_reason,
            TreatmentSession.not_dosed_note,
            _pre_dose_systolic(),
            _peak_systolic(),
        )
        .where(TreatmentSession.patient_id == patient_id)
        .order_by(TreatmentSession.started_at, TreatmentSession.id)
    ).all()
    per_page = TIMELINE_PAGE_SIZE
    pages = max(1, -(-len(sessions) // per_page))
    page = min(max(page, 1), pages)
    newest_first = sessions[::-1]
    shown = {t.id for t in newest_first[(page - 1) * per_page : page * per_page]}
    readings = readings_by_session(shown)
    assessments = [
        ScaleEntry(*row)
        for row in db.session.execute(
            select(
                Assessment.session_id,
                Assessment.instrument,
                Assessment.administered_at,
                Assessment.total,
                Assessment.band,
                Assessment.items,
            )
            .where(
                Assessment.patient_id == patient_id,
                # PHQ-9 and GAD-7 are charted over the whole history; the sedation and
                # dissociation scales are shown for the sessions of the page only.
                or_(
                    Assessment.instrument.in_((PHQ9.code, GAD7.code)),
                    Assessment.session_id.in_(shown),
                ),
            )
            .order_by(Assessment.administered_at, Assessment.id)
        )
    ]
    events: dict[int, list[AdverseEvent]] = defaultdict(list)
    for event in db.session.scalars(
        select(AdverseEvent)
        .join(TreatmentSession, AdverseEvent.session_id == TreatmentSession.id)
        .where(TreatmentSession.patient_id == patient_id)
        .order_by(AdverseEvent.onset_at)
    ):
        events[event.session_id].append(event)
    overrides: dict[int, list[str]] = defaultdict(list)
    for session_id, rule in db.session.execute(
        select(Override.session_id, Override.rule)
        .join(TreatmentSession, Override.session_id == TreatmentSession.id)
        .where(TreatmentSession.patient_id == patient_id)
    ):
        overrides[session_id].append(rule)
    alerts = list(
        db.session.scalars(
            select(ClinicalAlert)
            .where(ClinicalAlert.patient_id == patient_id)
            .options(joinedload(ClinicalAlert.acknowledged_by))
            .order_by(ClinicalAlert.acknowledged_at.is_not(None), ClinicalAlert.raised_at.desc())
        )
    )

    by_session: dict[int, list[ScaleEntry]] = defaultdict(list)
    for a in assessments:
        if a.session_id is not None:
            by_session[a.session_id].append(a)
    course_of = {s.id: s.course_id for s in sessions}
    phq_rows = [
        (course_of.get(a.session_id) if a.session_id else None, a.administered_at, a.total)
        for a in assessments
        if a.instrument == PHQ9.code
    ]

    treatments = {
        t.id: t
        for t in db.session.scalars(
            select(TreatmentSession)
            .where(TreatmentSession.id.in_(shown))
            .options(
                selectinload(TreatmentSession.nurse),
                selectinload(TreatmentSession.signed_by),
                selectinload(TreatmentSession.cosigned_by),
                selectinload(TreatmentSession.infusion_pauses),
            )
        )
    }
    lines: list[SessionLine] = []
    numbers: dict[int, int] = defaultdict(int)
    for t in sessions:
        numbers[t.course_id] += 1
        line = SessionLine(
            session_id=t.id,
            course_id=t.course_id,
            started_at=t.started_at,
            dose_started_at=t.dose_started_at,
            discharged_at=t.discharged_at,
            number=numbers[t.course_id],
            pre_systolic=t.pre_systolic,
            peak_systolic=t.peak_systolic,
        )
        if t.id in shown:
            _fill_shown_line(
                line,
                t,
                treatments[t.id],
                patient.age_on(t.started_at.astimezone(zone).date()),
                readings.get(t.id, []),
                by_session.get(t.id, []),
                events.get(t.id, []),
                overrides.get(t.id, []),
                clinical_rules,
                review_rules,
            )
        lines.append(line)

    hold_systolic = hold_line(patient.age_on(clinic_today()), clinical_rules)[0]
    course_views = []
    for course in sorted(patient.courses, key=lambda c: (c.started_on, c.id)):
        course_lines = [line for line in lines if line.course_id == course.id]
        dosed = [line.dose_started_at for line in course_lines]
        dosed = [d for d in dosed if d is not None]
        status = course_status(
            course,
            course_scores(course, phq_rows),
            min(dosed, default=None),
            len(dosed),
            review_rules,
            scheduling_rules,
        )
        peaks = [
            charts.SessionPeak(line.dose_started_at, line.peak_systolic, line.pre_systolic)
            for line in course_lines
            if line.peak_systolic is not None and line.dose_started_at is not None
        ]
        course_views.append(
            CourseView(
                course=course,
                status=status,
                sessions=course_lines,
                phases=phase_spans(
                    course,
                    course.decisions,
                    [line.started_at for line in course_lines],
                    induction_count(course.modality, scheduling_rules),
                    now,
                    zone,
                ),
                peak_chart=charts.peak_systolic_chart(
                    f"peak-chart-{course.id}",
                    course_label(course),
                    peaks,
                    hold_systolic,
                    clinical_rules,
                    zone,
                ),
                decisions=list(course.decisions),
            )
        )

    phq9 = [a for a in assessments if a.instrument == PHQ9.code]
    gad7 = [a for a in assessments if a.instrument == GAD7.code]
    moments = [p.start for cv in course_views for p in cv.phases] + [
        p.end for cv in course_views for p in cv.phases
    ]
    moments += [a.administered_at for a in phq9 + gad7]
    domain = charts.time_domain(moments) if moments else None
    spans = [
        charts.CourseSpan(
            course_label(cv.course),
            cv.phases[0].start,
            cv.phases[-1].end,
            cv.status.baseline,
        )
        for cv in course_views
    ]
    return Timeline(
        patient=patient,
        age=patient.age_on(clinic_today()),
        courses=course_views,
        sessions=[line for line in reversed(lines) if line.session_id in shown],
        session_total=len(lines),
        page=page,
        pages=pages,
        per_page=per_page,
        phq9=phq9,
        gad7=gad7,
        alerts=alerts,
        bands_chart=charts.course_bands_chart(
            "course-chart",
            [
                charts.CourseRow(
                    f"{course_label(cv.course)} · {cv.course.phase}",
                    tuple(cv.phases),
                    tuple(line.started_at for line in cv.sessions),
                )
                for cv in course_views
            ],
            zone,
            domain,
        ),
        phq9_chart=charts.score_chart(
            "phq9-chart",
            PHQ9,
            [(a.administered_at, a.total) for a in phq9],
            spans,
            review_rules,
            zone,
            domain,
        ),
        gad7_chart=charts.score_chart(
            "gad7-chart",
            GAD7,
            [(a.administered_at, a.total) for a in gad7],
            [],
            review_rules,
            zone,
            domain,
        ),
    )


def load_course(course_id: int) -> TreatmentCourse | None:
    return db.session.scalar(
        select(TreatmentCourse)
        .where(TreatmentCourse.id == course_id)
        .options(
            joinedload(TreatmentCourse.patient),
            joinedload(TreatmentCourse.prescriber),
            selectinload(TreatmentCourse.decisions).joinedload(CourseDecision.decided_by),
        )
    )


def setting_changers(user_ids: Iterable[int | None]) -> dict[int, User]:
    ids = sorted({i for i in user_ids if i is not None})
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
