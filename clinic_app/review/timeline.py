"""The patient timeline's rows, loaded in a fixed number of statements whatever the history;
review/timeline_build.py makes the page of them.

Signed sessions bring the summary stored when they were signed; the few sessions not signed
yet have theirs worked out from their records (six more statements, only when there are any).
Objects are loaded only for the page of the session table."""

from collections import defaultdict
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import aliased, joinedload, selectinload

from clinic_app.clinical.review import ReviewRules
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.scores import GAD7, PHQ9
from clinic_app.clinical.series import SchedulingRules
from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import (
    AdverseEvent,
    Appointment,
    Assessment,
    Chair,
    ClinicalAlert,
    CourseDecision,
    Patient,
    SessionReview,
    Site,
    TreatmentCourse,
    TreatmentSession,
)
from clinic_app.review.stored import summaries_of
from clinic_app.review.summary import COLUMNS, from_columns
from clinic_app.review.timeline_build import (
    History,
    Rules,
    ScaleEntry,
    SessionRow,
    Timeline,
    build_timeline,
    newest_page,
)
from clinic_app.settings import clinic_timezone, clinic_today

TIMELINE_PAGE_SIZE = 50


def _patient(patient_id: int) -> Patient | None:
    return db.session.scalar(
        select(Patient)
        .where(Patient.id == patient_id)
        .options(
            selectinload(Patient.courses).options(
                joinedload(TreatmentCourse.prescriber),
                selectinload(TreatmentCourse.decisions).joinedload(CourseDecision.decided_by),
            )
        )
    )


def _sessions(patient_id: int, rules: Rules) -> tuple[list[SessionRow], dict]:
    """The patient's sessions oldest first, and each one's summary: stored, or worked out."""
    rows = db.session.execute(
        select(
            TreatmentSession.id,
            TreatmentSession.course_id,
            TreatmentSession.started_at,
            TreatmentSession.dose_started_at,
            TreatmentSession.discharged_at,
            Site.timezone,
            SessionReview.session_id.label("stored"),
            *(getattr(SessionReview, name) for name in COLUMNS),
        )
        .outerjoin(SessionReview, SessionReview.session_id == TreatmentSession.id)
        .outerjoin(Appointment, Appointment.id == TreatmentSession.appointment_id)
        .outerjoin(Chair, Chair.id == Appointment.chair_id)
        .outerjoin(Site, Site.id == Chair.site_id)
        .where(TreatmentSession.patient_id == patient_id)
        .order_by(TreatmentSession.started_at, TreatmentSession.id)
    ).all()
    summaries = {row.id: from_columns(row[7:]) for row in rows if row.stored is not None}
    unstored = [row.id for row in rows if row.stored is None]
    if unstored:
        summaries.update(summaries_of(unstored, rules.clinical, rules.review, rules.zone))
    # Each on its site's clock; a walk-in without a chair on the clinic's, as the scales are.
    lines = [
        SessionRow(row[0], row[1], row[2], row[3], row[4], zone=row[5] or rules.zone.key)
        for row in rows
    ]
    return lines, summaries


def _scales(patient_id: int, clinic_zone: ZoneInfo) -> list[ScaleEntry]:
    """PHQ-9 and GAD-7 over the whole history, oldest first, each with the site and zone it was
    given in: its session's site (a walk-in without a chair: the clinic's zone, as the session
    table shows it); outside a session, the patient's usual site, else the clinic's zone."""
    at_session, usual = aliased(Site), aliased(Site)
    rows = db.session.execute(
        select(
            Assessment.session_id,
            Assessment.instrument,
            Assessment.administered_at,
            Assessment.total,
            Assessment.band,
            Assessment.items,
            at_session.code,
            at_session.timezone,
            usual.code,
            usual.timezone,
        )
        .join(Patient, Patient.id == Assessment.patient_id)
        .outerjoin(usual, usual.id == Patient.usual_site_id)
        .outerjoin(TreatmentSession, TreatmentSession.id == Assessment.session_id)
        .outerjoin(Appointment, Appointment.id == TreatmentSession.appointment_id)
        .outerjoin(Chair, Chair.id == Appointment.chair_id)
        .outerjoin(at_session, at_session.id == Chair.site_id)
        .where(
            Assessment.patient_id == patient_id,
            Assessment.instrument.in_((PHQ9.code, GAD7.code)),
        )
        .order_by(Assessment.administered_at, Assessment.id)
    )
    entries = []
    for row in rows:
        site, zone = (row[6], row[7]) if row.session_id else (row[8], row[9])
        entries.append(ScaleEntry(*row[:6], site=site, zone=zone or clinic_zone.key))
    return entries


def _page_objects(shown: list[int]) -> tuple[dict, dict]:
    """The shown sessions with who charted and signed them, and their adverse events."""
    treatments = {
        t.id: t
        for t in db.session.scalars(
            select(TreatmentSession)
            .where(TreatmentSession.id.in_(shown))
            .options(
                joinedload(TreatmentSession.nurse),
                joinedload(TreatmentSession.signed_by),
                joinedload(TreatmentSession.cosigned_by),
                joinedload(TreatmentSession.appointment)
                .joinedload(Appointment.chair)
                .joinedload(Chair.site),
            )
        )
    }
    events: dict[int, list[AdverseEvent]] = defaultdict(list)
    for event in db.session.scalars(
        select(AdverseEvent)
        .where(AdverseEvent.session_id.in_(shown))
        .order_by(AdverseEvent.onset_at, AdverseEvent.id)
    ):
        events[event.session_id].append(event)
    return treatments, events


def _alerts(patient_id: int) -> list[ClinicalAlert]:
    return list(
        db.session.scalars(
            select(ClinicalAlert)
            .where(ClinicalAlert.patient_id == patient_id)
            .options(joinedload(ClinicalAlert.acknowledged_by))
            .order_by(ClinicalAlert.acknowledged_at.is_not(None), ClinicalAlert.raised_at.desc())
        )
    )


def load_history(
    patient_id: int, rules: Rules, shown: Callable[[list[SessionRow]], list[int]]
) -> History | None:
    """What the timeline is built from, in the same number of statements for 1 or 500
    sessions: the whole history, and the sessions `shown` picks (ids, from the rows oldest
    first) with their objects and adverse events. None for an unknown patient."""
    patient = _patient(patient_id)
    if patient is None:
        return None
    sessions, summaries = _sessions(patient_id, rules)
    treatments, events = _page_objects(shown(sessions))
    return History(
        patient=patient,
        age=patient.age_on(clinic_today()),
        courses=patient.courses,
        sessions=sessions,
        summaries=summaries,
        scales=_scales(patient_id, rules.zone),
        alerts=_alerts(patient_id),
        treatments=treatments,
        events=events,
    )


def load_timeline(
    patient_id: int,
    clinical_rules: ClinicalRules,
    review_rules: ReviewRules,
    scheduling_rules: SchedulingRules,
    page: int = 1,
) -> Timeline | None:
    """Everything the timeline shows. Courses, charts and scale tables cover the whole history;
    the session table shows one page of the newest sessions."""
    rules = Rules(clinical_rules, review_rules, scheduling_rules, clinic_timezone(), utcnow())
    history = load_history(
        patient_id,
        rules,
        lambda rows: newest_page([r.id for r in rows], page, TIMELINE_PAGE_SIZE)[1],
    )
    if history is None:
        return None
    paging, _ = newest_page([s.id for s in history.sessions], page, TIMELINE_PAGE_SIZE)
    return build_timeline(history, paging, rules)
