"""Two front-desk users book the same chair at the same moment: exactly one succeeds.

Real concurrent connections on PostgreSQL (skipped on SQLite, whose single writer serialises
the two transactions anyway): two threads, each with its own app context and so its own
connection, meet at a barrier and then write overlapping visits and commit. The exclusion
constraint lets exactly one commit; the other gets the conflict."""

from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select

from clinic_app.extensions import db
from clinic_app.models import Appointment, Patient, TreatmentCourse
from clinic_app.scheduling import booking, checks
from tests import factories
from tests.helpers import race
from tests.scheduling.builders import local, make_patient_with_course

TUESDAY = date(2026, 4, 7)


@pytest.fixture
def postgres(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("real concurrent writers need PostgreSQL (set TEST_DATABASE_URL)")


def _patients(app, n=2):
    return [make_patient_with_course(app, last_name=f"Racer{i}") for i in range(n)]


def test_two_raw_inserts_of_one_chair_and_time_commit_exactly_once(app, postgres, staff, chairs):
    people = _patients(app)

    def work(index, barrier):
        patient_id, course_id = people[index]
        start = local(TUESDAY, 9, 0 if index == 0 else 30)  # overlapping, not identical
        db.session.add(
            Appointment(
                patient_id=patient_id,
                course_id=course_id,
                chair_id=chairs[0],
                starts_at=start,
                ends_at=start + timedelta(minutes=150),
                visit_kind="induction",
            )
        )
        barrier.wait()
        db.session.flush()
        db.session.commit()
        return "committed"

    results = race(app, work)
    assert sorted(map(str, results)).count("committed") == 1
    error = next(r for r in results if r != "committed")
    assert "chair_not_double_booked" in str(error)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Appointment)) == 1


def test_two_desks_booking_through_the_service_one_gets_the_conflict(app, postgres, staff, chairs):
    people = _patients(app)

    def work(index, barrier):
        patient_id, course_id = people[index]
        desk = factories.user("front_desk")
        person = db.session.get(Patient, patient_id)
        course = db.session.get(TreatmentCourse, course_id)
        request = checks.VisitRequest(TUESDAY, time(9, 0 if index == 0 else 15), chairs[0])
        barrier.wait()
        booked = booking.book_series(desk, person, course, "induction", [request])
        db.session.commit()
        return booked.visits[0].id

    results = race(app, work)
    booked = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, checks.Conflict)]
    assert len(booked) == 1 and len(refused) == 1, results
    # Either the pre-check saw the other booking, or the database refused the insert.
    assert (
        "Chair 1 is booked" in refused[0].message
        or "a moment ago" in refused[0].message
        or ("cannot be booked as entered" in refused[0].message)
    )
    with app.app_context():
        rows = db.session.scalars(select(Appointment)).all()
        assert [r.id for r in rows] == booked
