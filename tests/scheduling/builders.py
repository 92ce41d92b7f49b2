"""Scheduling test data: the frozen Monday the schedule tests start on, patients with courses,
appointments written directly, and the plan and booking forms posted back."""

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import Appointment, Patient, TreatmentCourse
from clinic_app.scheduling import booking, checks
from tests import factories
from tests.helpers import CLINIC_ZONE, form_values

# Monday 6 April 2026, 08:00 clinic time (PDT): every test starts here unless it moves the clock.
MONDAY = date(2026, 4, 6)
DOSE_STRINGS = ("56 mg", "84 mg", " mg", "mg/kg", "LOT-", "Systolic", "SpO", "PHQ-9", "Sedation")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A clinic wall-clock time as aware UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=CLINIC_ZONE).astimezone(UTC)


def make_patient_with_course(app, modality="esketamine_nasal", **patient) -> tuple[int, int]:
    with app.app_context():
        person = factories.make_patient(**patient)
        course = factories.make_course(person, modality, started_on=clock.utcnow().date())
        db.session.commit()
        return person.id, course.id


def book_visit(
    app,
    patient_id: int,
    course_id: int | None,
    chair_id: int | None,
    start: datetime,
    minutes: int = 150,
    **values,
) -> int:
    """An appointment row written directly (bypassing the booking rules), its id."""
    with app.app_context():
        row = Appointment(
            patient_id=patient_id,
            course_id=course_id,
            chair_id=chair_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=minutes),
            visit_kind=values.pop("visit_kind", "induction"),
            driver_name=values.pop("driver_name", "Sam Tester"),
            driver_phone=values.pop("driver_phone", "555-0199"),
            **values,
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def plan_data(course_id: int, **overrides) -> dict:
    data = {
        "course_id": str(course_id),
        "visit_kind": "induction",
        "first_date": (MONDAY + timedelta(days=1)).isoformat(),
        "preferred_time": "09:00",
        "count": "4",
    }
    data.update(overrides)
    return data


def propose(client, patient_id: int, course_id: int, **overrides):
    return client.post(
        f"/schedule/patients/{patient_id}/plan", data=plan_data(course_id, **overrides)
    )


def book_from(client, patient_id: int, proposal, action: str = "book", **changes):
    """Post the proposal page's booking form back, with `changes` applied."""
    url = f"/schedule/patients/{patient_id}/book"
    data = form_values(proposal, url)
    data.update(changes)
    data["action"] = action
    return client.post(url, data=data)


def series_rows(app, patient_id: int) -> list[Appointment]:
    with app.app_context():
        rows = db.session.scalars(
            select(Appointment)
            .where(Appointment.patient_id == patient_id)
            .order_by(Appointment.starts_at)
        ).all()
        db.session.expunge_all()
        return list(rows)


# The booked series (Tue/Fri from Tue 7 April, 09:00): visits 1-8.
DAYS = [date(2026, 4, d) for d in (7, 10, 14, 17, 21, 24, 28)] + [date(2026, 5, 1)]


def book_series(app, patient_id: int, course_id: int, first: date | None = None) -> list[int]:
    """The induction series booked as proposed from `first` at 09:00 (by default Tuesday 7
    April, giving DAYS); its ids."""
    first = first or MONDAY + timedelta(days=1)
    with app.app_context():
        desk = factories.user("front_desk")
        person = db.session.get(Patient, patient_id)
        course = db.session.get(TreatmentCourse, course_id)
        proposal = booking.propose(desk, person, course, "induction", first, time(9), [], None)
        rows = booking.book_series(
            desk,
            person,
            course,
            "induction",
            [checks.VisitRequest(r.day, r.start, r.chair_id) for r in proposal.rows],
        )
        db.session.commit()
        return [r.id for r in rows.visits]


def row(app, appointment_id: int) -> Appointment:
    """The appointment as stored now, detached."""
    with app.app_context():
        found = db.session.get(Appointment, appointment_id)
        db.session.expunge(found)
        return found
