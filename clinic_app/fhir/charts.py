"""Loading patients' charts for export in a fixed number of statements per batch of patients,
whatever their history: patients, courses, sessions with their readings, devices, adverse
events and chair, and scales; then the staff and sites they name."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from clinic_app.extensions import db
from clinic_app.models import (
    Appointment,
    Assessment,
    Patient,
    Site,
    TreatmentCourse,
    TreatmentSession,
    User,
)


@dataclass
class Chart:
    """Everything exported about one patient."""

    patient: Patient
    courses: list[TreatmentCourse]
    sessions: list[TreatmentSession]
    assessments: list[Assessment]

    def practitioner_ids(self) -> set[int]:
        """The staff the chart's resources reference."""
        ids = {course.prescriber_id for course in self.courses}
        for row in self.sessions:
            ids.add(row.nurse_id)
            if row.psychiatrist_id is not None:
                ids.add(row.psychiatrist_id)
            ids.update(event.recorded_by_id for event in row.adverse_events)
        return ids

    def site_ids(self) -> set[int]:
        return {site for row in self.sessions if (site := session_site(row)) is not None}


def session_site(row: TreatmentSession) -> int | None:
    """A visit's site is its chair's site; a session without a booked chair has none."""
    appointment = row.appointment
    if appointment is None or appointment.chair is None:
        return None
    return appointment.chair.site_id


def load_charts(patient_ids: Sequence[int], since: datetime | None = None) -> list[Chart]:
    """The charts of `patient_ids` (in that order). With `since`, only sessions started and
    scales given from then on, and the courses they belong to or still running then."""
    sessions_query = (
        select(TreatmentSession)
        .where(TreatmentSession.patient_id.in_(patient_ids))
        .options(
            selectinload(TreatmentSession.vitals),
            selectinload(TreatmentSession.devices),
            selectinload(TreatmentSession.adverse_events),
            joinedload(TreatmentSession.appointment).joinedload(Appointment.chair),
        )
        .order_by(TreatmentSession.started_at, TreatmentSession.id)
    )
    courses_query = select(TreatmentCourse).where(TreatmentCourse.patient_id.in_(patient_ids))
    scales_query = select(Assessment).where(Assessment.patient_id.in_(patient_ids))
    if since is not None:
        sessions_query = sessions_query.where(TreatmentSession.started_at >= since)
        in_window = (
            select(TreatmentSession.id)
            .where(TreatmentSession.patient_id.in_(patient_ids))
            .where(TreatmentSession.started_at >= since)
        )
        courses_query = courses_query.where(
            or_(
                TreatmentCourse.ended_on.is_(None),
                TreatmentCourse.ended_on >= since.date(),
                TreatmentCourse.id.in_(in_window.with_only_columns(TreatmentSession.course_id)),
            )
        )
        scales_query = scales_query.where(
            or_(
                Assessment.session_id.in_(in_window),
                Assessment.session_id.is_(None) & (Assessment.administered_at >= since),
            )
        )
    patients = db.session.scalars(select(Patient).where(Patient.id.in_(patient_ids))).all()
    charts = {row.id: Chart(row, [], [], []) for row in patients}
    for course in db.session.scalars(courses_query.order_by(TreatmentCourse.started_on)):
        charts[course.patient_id].courses.append(course)
    for session in db.session.scalars(sessions_query).unique():
        charts[session.patient_id].sessions.append(session)
    for scale in db.session.scalars(
        scales_query.order_by(Assessment.administered_at, Assessment.id)
    ):
        charts[scale.patient_id].assessments.append(scale)
    return [charts[patient_id] for patient_id in patient_ids if patient_id in charts]


def load_staff(user_ids: Iterable[int]) -> list[User]:
    return list(
        db.session.scalars(select(User).where(User.id.in_(set(user_ids))).order_by(User.id))
    )


def load_sites(site_ids: Iterable[int] | None = None) -> list[Site]:
    """The sites with `site_ids`, or every site."""
    query = select(Site).order_by(Site.id)
    if site_ids is not None:
        query = query.where(Site.id.in_(set(site_ids)))
    return list(db.session.scalars(query))


def site_zones() -> dict[int, ZoneInfo]:
    """Each site's time zone, by site id."""
    rows = db.session.execute(select(Site.id, Site.timezone))
    return {site_id: ZoneInfo(zone) for site_id, zone in rows}
