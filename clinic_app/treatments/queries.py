"""Loading what the Today board and the session page show, in a fixed number of statements."""

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from clinic_app.clinical.board import BoardStatus
from clinic_app.clinical.codes import AppointmentStatus
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.extensions import db
from clinic_app.models import (
    Addendum,
    AdverseEvent,
    Appointment,
    Assessment,
    AuditEvent,
    Chair,
    DeviceAdministration,
    InfusionPause,
    Override,
    Patient,
    RemsDischargeAnswers,
    Site,
    TreatmentCourse,
    TreatmentSession,
    User,
    VitalsReading,
)
from clinic_app.scheduling import site_days
from clinic_app.settings import clinic_timezone
from clinic_app.site_scope import SiteScope
from clinic_app.treatments.summary import SessionSummary, summarize

# Rows that are done for the day sink to the bottom of the board.
CLOSED_ON_BOARD = (BoardStatus.DISCHARGED, BoardStatus.NOT_DOSED)


@dataclass
class BoardRow:
    patient: Patient
    course: TreatmentCourse | None
    appointment: Appointment | None
    treatment: TreatmentSession | None
    summary: SessionSummary | None

    @property
    def status(self) -> BoardStatus:
        return self.summary.board if self.summary else BoardStatus.WAITING

    @property
    def expected_at(self) -> datetime:
        if self.appointment is not None:
            return self.appointment.starts_at
        assert self.treatment is not None  # a row without an appointment is a walk-in session
        return self.treatment.started_at

    @property
    def site(self) -> Site | None:
        """Where the visit is: its chair's site (None for a walk-in)."""
        return self.appointment.site if self.appointment is not None else None

    @property
    def expected_local(self) -> datetime:
        """The expected time on the visit's site clock (a walk-in's is UTC: the page's zone)."""
        site = self.site
        return self.expected_at.astimezone(ZoneInfo(site.timezone)) if site else self.expected_at

    @property
    def expected_time(self) -> time | datetime:
        """What the board shows: a time of day on the site's clock, shown as it is, or (walk-in)
        the moment, shown in the page's zone."""
        return self.expected_local.time() if self.site else self.expected_at


def _session_options():
    return (
        selectinload(TreatmentSession.vitals),
        selectinload(TreatmentSession.overrides),
        selectinload(TreatmentSession.assessments),
        selectinload(TreatmentSession.adverse_events),
        selectinload(TreatmentSession.infusion_pauses),
        selectinload(TreatmentSession.devices),
        selectinload(TreatmentSession.rems_answers),
    )


def today_board(now: datetime, rules: ClinicalRules, scope: SiteScope) -> list[BoardRow]:
    """Everyone expected or in a chair today at the scope's sites, each site on its own today:
    today's appointments, and walk-in sessions of patients who usually attend those sites (or
    have no usual site)."""
    today = site_days.today(scope)
    start, end = site_days.day_window(today, scope)
    visits = (
        select(Appointment)
        .where(
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
            Appointment.status.not_in([AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW]),
            site_days.at_sites(scope.site_ids),
        )
        .options(
            joinedload(Appointment.patient),
            joinedload(Appointment.course),
            joinedload(Appointment.chair).joinedload(Chair.site),
            selectinload(Appointment.treatment_session).options(*_session_options()),
        )
        .order_by(Appointment.starts_at)
    )
    sessions = (
        select(TreatmentSession)
        .where(
            TreatmentSession.started_at >= start,
            TreatmentSession.started_at < end,
            TreatmentSession.appointment_id.is_(None),
            TreatmentSession.patient_id.in_(
                select(Patient.id).where(site_days.usual_at(scope.site_ids))
            ),
        )
        .options(
            joinedload(TreatmentSession.patient),
            joinedload(TreatmentSession.course),
            *_session_options(),
        )
    )
    rows = [
        BoardRow(a.patient, a.course, a, a.treatment_session, None)
        for a in db.session.scalars(visits).all()
    ]
    rows += [BoardRow(t.patient, t.course, None, t, None) for t in db.session.scalars(sessions)]
    # Each site's own today (with all sites, the window spans every zone shown); a walk-in's on
    # the page's clock.
    zone = site_days.page_zone(scope)
    rows = [
        r
        for r in rows
        if (r.expected_local if r.site else r.expected_at.astimezone(zone)).date() == today
    ]
    for row in rows:
        if row.treatment is not None:
            row.summary = summarize(row.treatment, row.patient.age_on(today), now, rules)
    rows.sort(key=lambda r: (r.status in CLOSED_ON_BOARD, r.expected_at))
    return rows


def chart_options() -> tuple:
    """Eager loads of a session's chart: who did what and every record with its author (the
    session page and the psychiatrist's review page both show it whole)."""
    return (
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
        selectinload(TreatmentSession.infusion_pauses).joinedload(InfusionPause.recorded_by),
        selectinload(TreatmentSession.devices).joinedload(DeviceAdministration.recorded_by),
        selectinload(TreatmentSession.rems_answers).joinedload(RemsDischargeAnswers.answered_by),
        # Where the visit took place: both pages show its times on that site's clock.
        joinedload(TreatmentSession.appointment)
        .joinedload(Appointment.chair)
        .joinedload(Chair.site),
    )


def load_session(session_id: int) -> TreatmentSession | None:
    """A session with everything its page shows."""
    return db.session.scalar(
        select(TreatmentSession)
        .where(TreatmentSession.id == session_id)
        .options(
            *chart_options(),
            joinedload(TreatmentSession.discharged_by),
            joinedload(TreatmentSession.not_dosed_by),
        )
    )


@dataclass(frozen=True)
class LastEdit:
    by: User
    at: datetime


def last_edits(treatment: TreatmentSession) -> dict[int, LastEdit]:
    """Who last edited each of the session's adverse events and when, by event id, from the
    audit trail (events keep no such column), in one statement; {} when there are no events."""
    event_ids = [e.id for e in treatment.adverse_events]
    if not event_ids:
        return {}
    latest = (
        select(func.max(AuditEvent.id))
        .where(
            AuditEvent.patient_id == treatment.patient_id,
            AuditEvent.action == "adverse_event.edit",
            AuditEvent.entity_type == AdverseEvent.__name__,
            AuditEvent.entity_id.in_(event_ids),
            AuditEvent.outcome == "success",
        )
        .group_by(AuditEvent.entity_id)
    )
    rows = db.session.execute(
        select(AuditEvent.entity_id, AuditEvent.occurred_at, User)
        .join(User, User.id == AuditEvent.user_id)
        .where(AuditEvent.id.in_(latest))
    )
    return {row.entity_id: LastEdit(row.User, row.occurred_at) for row in rows}


def last_weight(treatment: TreatmentSession) -> tuple[Decimal, date | None] | None:
    """The patient's last weight: from the latest earlier weighed session with its clinic-local
    date, else the record's weight without a date; None when neither is known."""
    row = db.session.execute(
        select(TreatmentSession.weight_kg, TreatmentSession.started_at)
        .where(
            TreatmentSession.patient_id == treatment.patient_id,
            TreatmentSession.id != treatment.id,
            TreatmentSession.weight_kg.is_not(None),
        )
        .order_by(TreatmentSession.started_at.desc())
        .limit(1)
    ).first()
    if row is not None:
        return row.weight_kg, row.started_at.astimezone(clinic_timezone()).date()
    if treatment.patient.weight_kg is not None:
        return treatment.patient.weight_kg, None
    return None


def active_courses(patient_ids: list[int]) -> dict[int, list[TreatmentCourse]]:
    """Active courses by patient, for offering "start session"."""
    courses: dict[int, list[TreatmentCourse]] = {}
    if not patient_ids:
        return courses
    for course in db.session.scalars(
        select(TreatmentCourse).where(
            TreatmentCourse.patient_id.in_(patient_ids),
            TreatmentCourse.phase.in_(["induction", "maintenance"]),
        )
    ):
        courses.setdefault(course.patient_id, []).append(course)
    return courses
