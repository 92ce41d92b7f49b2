"""The maintenance-due worklist: due within 14 days and not booked, or overdue."""

from datetime import timedelta

from clinic_app.extensions import db
from clinic_app.models import TreatmentCourse, TreatmentSession
from tests import factories
from tests.helpers import markup
from tests.scheduling.builders import MONDAY, book_visit, local, make_patient_with_course


def _patient(
    app,
    chairs,
    name,
    modality,
    phase,
    last_days_ago,
    done=1,
    kind="maintenance",
    interval=None,
    next_in_days=None,
):
    patient_id, course_id = make_patient_with_course(app, modality, last_name=name)
    with app.app_context():
        course = db.session.get(TreatmentCourse, course_id)
        course.phase = phase
        course.stop_reason = "Patient choice" if phase == "stopped" else ""
        course.maintenance_interval_days = interval
        db.session.commit()
    for n in range(done):
        day = MONDAY - timedelta(days=last_days_ago + 3 * n)
        book_visit(
            app,
            patient_id,
            course_id,
            None,
            local(day, 8 + n % 8),
            status="completed",
            visit_kind=kind,
            minutes=30,
        )
    if next_in_days is not None:
        book_visit(
            app,
            patient_id,
            course_id,
            None,
            local(MONDAY + timedelta(days=next_in_days), 9),
            visit_kind="maintenance",
        )
    return patient_id


def test_due_and_overdue_patients_are_listed_booked_and_later_ones_are_not(
    app, as_role, staff, chairs
):
    _patient(app, chairs, "Duesoon", "iv_ketamine", "maintenance", 20)  # due in 8 days
    _patient(app, chairs, "Overdue", "iv_ketamine", "maintenance", 40)  # 12 days overdue
    _patient(app, chairs, "Booked", "iv_ketamine", "maintenance", 40, next_in_days=2)
    _patient(app, chairs, "Later", "iv_ketamine", "maintenance", 5)  # due in 23 days
    _patient(app, chairs, "Custom", "iv_ketamine", "maintenance", 5, interval=14)  # due in 9
    _patient(app, chairs, "Weekly", "esketamine_nasal", "maintenance", 3)  # weekly: due in 4
    _patient(
        app, chairs, "Inductiondone", "esketamine_nasal", "induction", 2, done=8, kind="induction"
    )  # induction over: due in 5
    _patient(
        app, chairs, "Inductionmid", "esketamine_nasal", "induction", 2, done=3, kind="induction"
    )  # still in induction: not on the list
    _patient(app, chairs, "Stopped", "iv_ketamine", "stopped", 40)
    body = markup(as_role("front_desk").get("/schedule/maintenance"))
    names = [n for n in ("Overdue", "Weekly", "Inductiondone", "Duesoon", "Custom")]
    positions = [body.index(f"{n}, Alex") for n in names]
    assert positions == sorted(positions)  # overdue first, then by due date
    for absent in ("Booked", "Later", "Inductionmid", "Stopped"):
        assert f"{absent}, Alex" not in body
    assert "Overdue 12 days" in body
    assert "Due in 8 days" in body and "Due in 4 days" in body
    assert "/plan?course_id=" in body and "kind=maintenance" in body


def test_a_walk_in_session_counts_as_the_last_visit(app, as_role, staff, chairs):
    patient_id = _patient(app, chairs, "Walkin", "iv_ketamine", "maintenance", 60)
    with app.app_context():
        course = db.session.scalar(
            db.select(TreatmentCourse).where(TreatmentCourse.patient_id == patient_id)
        )
        db.session.add(
            TreatmentSession(
                patient_id=patient_id,
                course_id=course.id,
                modality="iv_ketamine",
                nurse_id=factories.user("nurse").id,
                psychiatrist_id=course.prescriber_id,
                started_at=local(MONDAY - timedelta(days=20), 9),
            )
        )
        db.session.commit()
    body = markup(as_role("psychiatrist").get("/schedule/maintenance"))
    assert "Walkin, Alex" in body and "Due in 8 days" in body
    assert "Plan visits" not in body  # only the front desk plans
