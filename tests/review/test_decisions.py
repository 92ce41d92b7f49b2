"""The psychiatrist's course decisions: end-of-induction review, maintenance, dose change, stop.
Each is a CourseDecision row and an audit record; bad input saves nothing."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from clinic_app.extensions import db
from clinic_app.models import CourseDecision, TreatmentCourse
from clinic_app.settings import clinic_today
from tests import factories
from tests.helpers import PASSWORD, actions_by, audit_rows, count, field_error, text
from tests.review import builders


def _course(app, modality="esketamine_nasal", doses=(), phq=()) -> tuple[int, int]:
    """A course with past signed sessions of the given esketamine doses (or IV sessions)."""
    with app.app_context():
        patient, course = builders.patient_with_course(modality, last_name="Decider")
        for n, dose in enumerate(doses):
            builders.add_session(
                patient,
                course,
                days_ago=30 - 3 * n,
                dose_mg=dose,
                phq9=builders.phq9_items(phq[n]) if phq else None,
            )
        db.session.commit()
        return course.id, patient.id


def _state(app, course_id) -> dict:
    with app.app_context():
        c = db.session.get(TreatmentCourse, course_id)
        return {
            "phase": c.phase,
            "esketamine_dose_mg": c.esketamine_dose_mg,
            "iv_mg_per_kg": c.iv_mg_per_kg,
            "maintenance_interval_days": c.maintenance_interval_days,
            "stop_reason": c.stop_reason,
            "ended_on": c.ended_on,
            "decisions": count(app, CourseDecision, CourseDecision.course_id == course_id),
        }


def _decisions(app, course_id) -> list[tuple]:
    with app.app_context():
        return [
            (d.kind, d.from_value, d.to_value, d.reason, d.decided_by_id)
            for d in db.session.scalars(
                select(CourseDecision).where(CourseDecision.course_id == course_id)
            )
        ]


def test_end_of_induction_review_records_the_response_status(app, as_role, staff):
    course_id, _ = _course(app, doses=[56] * 8, phq=[20, 18, 16, 14, 12, 11, 10, 9])
    psychiatrist = as_role("psychiatrist")
    page = text(psychiatrist.get(f"/review/courses/{course_id}"))
    assert "Baseline PHQ-9 20" in page and "Latest PHQ-9 9" in page
    assert "Doses given 8 (induction 8, complete)" in page
    assert "Records the response status shown on the left (Response)" in page
    response = psychiatrist.post(
        f"/review/courses/{course_id}/induction-review", data={"note": "Good response; continue."}
    )
    assert response.status_code == 302
    assert _decisions(app, course_id) == [
        (
            "induction_review",
            "induction",
            "responder",
            "Good response; continue.",
            staff["psychiatrist"],
        )
    ]
    [event] = audit_rows(app, "course.decision")
    assert event.detail["kind"] == "induction_review"
    assert event.detail["to_value"] == "responder"
    assert "Good response" not in str(event.detail)  # free text stays out of the audit trail


def test_move_to_maintenance_with_an_interval(app, as_role, staff):
    course_id, patient_id = _course(app, doses=[56] * 8)
    psychiatrist = as_role("psychiatrist")
    response = psychiatrist.post(
        f"/review/courses/{course_id}/maintenance", data={"interval_days": "14", "reason": ""}
    )
    assert response.status_code == 302
    state = _state(app, course_id)
    assert (state["phase"], state["maintenance_interval_days"]) == ("maintenance", 14)
    assert _decisions(app, course_id)[0][:3] == (
        "to_maintenance",
        "induction",
        "maintenance every 14 days",
    )
    timeline = text(psychiatrist.get(f"/patients/{patient_id}/timeline"))
    assert "maintenance every 14 days" in timeline
    again = psychiatrist.post(
        f"/review/courses/{course_id}/maintenance", data={"interval_days": "7"}
    )
    assert again.status_code == 400
    assert "Only a course in induction moves to maintenance." in text(again)
    assert _state(app, course_id)["maintenance_interval_days"] == 14


@pytest.mark.parametrize(
    ("interval", "message"),
    [
        ("30", "Esketamine nasal maintenance runs every 7 to 14 days."),
        ("3", "Esketamine nasal maintenance runs every 7 to 14 days."),
        ("", "Give the interval in days."),
        ("soon", "Not a valid integer value."),
    ],
)
def test_maintenance_interval_must_fit_the_modality(app, as_role, staff, interval, message):
    course_id, _ = _course(app)
    before = _state(app, course_id)
    response = as_role("psychiatrist").post(
        f"/review/courses/{course_id}/maintenance", data={"interval_days": interval}
    )
    assert response.status_code == 400
    assert message in field_error(response, "interval_days")
    assert _state(app, course_id) == before


def test_84mg_is_refused_in_a_trd_course_without_an_earlier_56mg_dose(app, as_role, staff):
    course_id, _ = _course(app)
    before = _state(app, course_id)
    response = as_role("psychiatrist").post(
        f"/review/courses/{course_id}/dose",
        data={"esketamine_dose_mg": "84", "reason": "Partial response."},
    )
    assert response.status_code == 400
    assert field_error(response, "esketamine_dose_mg") == (
        "84 mg needs an earlier 56 mg dose in this TRD course; the first dose is 56 mg."
    )
    assert _state(app, course_id) == before
    assert audit_rows(app, "course.decision") == []


def test_dose_goes_from_56_to_84mg_after_a_56mg_dose(app, as_role, staff):
    course_id, _ = _course(app, doses=[56, 56])
    response = as_role("psychiatrist").post(
        f"/review/courses/{course_id}/dose",
        data={"esketamine_dose_mg": "84", "reason": "Partial response at 56 mg."},
    )
    assert response.status_code == 302
    assert _state(app, course_id)["esketamine_dose_mg"] == 84
    assert _decisions(app, course_id)[0][:4] == (
        "dose_change",
        "56 mg",
        "84 mg",
        "Partial response at 56 mg.",
    )
    [event] = audit_rows(app, "course.decision")
    assert (event.detail["from_value"], event.detail["to_value"]) == ("56 mg", "84 mg")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"esketamine_dose_mg": "84", "reason": ""}, "reason", "Give the reason for the change."),
        (
            {"esketamine_dose_mg": "56", "reason": "Same."},
            "esketamine_dose_mg",
            "The course is already at 56 mg.",
        ),
        (
            {"esketamine_dose_mg": "112", "reason": "More."},
            "esketamine_dose_mg",
            "Not a valid choice.",
        ),
    ],
)
def test_bad_dose_changes_save_nothing(app, as_role, staff, data, field, message):
    course_id, _ = _course(app, doses=[56])
    before = _state(app, course_id)
    response = as_role("psychiatrist").post(f"/review/courses/{course_id}/dose", data=data)
    assert response.status_code == 400
    assert field_error(response, field) == message
    assert _state(app, course_id) == before


def test_iv_dose_change_in_mg_per_kg(app, as_role, staff):
    course_id, _ = _course(app, "iv_ketamine")
    psychiatrist = as_role("psychiatrist")
    bad = psychiatrist.post(
        f"/review/courses/{course_id}/dose", data={"iv_mg_per_kg": "3", "reason": "More."}
    )
    assert bad.status_code == 400
    assert field_error(bad, "iv_mg_per_kg")
    assert _state(app, course_id)["iv_mg_per_kg"] == Decimal("0.50")
    ok = psychiatrist.post(
        f"/review/courses/{course_id}/dose", data={"iv_mg_per_kg": "0.75", "reason": "Partial."}
    )
    assert ok.status_code == 302
    assert _state(app, course_id)["iv_mg_per_kg"] == Decimal("0.75")
    assert _decisions(app, course_id)[0][1:3] == ("0.50 mg/kg", "0.75 mg/kg")


def test_stop_the_course_with_a_reason(app, as_role, staff):
    course_id, _ = _course(app, doses=[56])
    psychiatrist = as_role("psychiatrist")
    empty = psychiatrist.post(f"/review/courses/{course_id}/stop", data={"reason": "  "})
    assert empty.status_code == 400
    assert field_error(empty, "reason") == "Give the reason for stopping."
    assert _state(app, course_id)["phase"] == "induction"
    response = psychiatrist.post(
        f"/review/courses/{course_id}/stop", data={"reason": "Intolerable dissociation."}
    )
    assert response.status_code == 302
    state = _state(app, course_id)
    with app.app_context():
        today = clinic_today()
    assert (state["phase"], state["stop_reason"], state["ended_on"]) == (
        "stopped",
        "Intolerable dissociation.",
        today,
    )
    assert _decisions(app, course_id)[0][:3] == ("stop", "induction", "stopped")
    page = text(psychiatrist.get(f"/review/courses/{course_id}"))
    assert "This course is stopped; no further decisions apply." in page
    later = psychiatrist.post(
        f"/review/courses/{course_id}/dose", data={"esketamine_dose_mg": "84", "reason": "x"}
    )
    assert later.status_code == 400
    assert _state(app, course_id)["decisions"] == 1


DECISION_POSTS = {
    "induction-review": {"note": "Reviewed."},
    "maintenance": {"interval_days": "7"},
    "dose": {"esketamine_dose_mg": "84", "reason": "Partial response."},
    "stop": {"reason": "Patient request."},
}


@pytest.mark.parametrize("role", ["nurse", "front_desk", "admin"])
def test_only_the_psychiatrist_decides_on_courses(app, as_role, staff, role):
    course_id, _ = _course(app, doses=[56])
    before = _state(app, course_id)
    client = as_role(role)
    assert client.get(f"/review/courses/{course_id}").status_code == 403
    for action, data in DECISION_POSTS.items():
        response = client.post(f"/review/courses/{course_id}/{action}", data=data)
        assert response.status_code == 403, action
    assert _state(app, course_id) == before
    assert actions_by(app, staff[role]) == set()
    # The same posts from the psychiatrist go through, so the 403s are the role gate.
    psychiatrist = as_role("psychiatrist")
    for action in ("induction-review", "maintenance", "dose", "stop"):
        ok = psychiatrist.post(f"/review/courses/{course_id}/{action}", data=DECISION_POSTS[action])
        assert ok.status_code == 302, action
    assert _state(app, course_id)["decisions"] == 4


def test_decision_services_refuse_other_roles(app, staff):
    from clinic_app.errors import PermissionDenied
    from clinic_app.review import services

    course_id, _ = _course(app)
    with app.app_context():
        course = db.session.get(TreatmentCourse, course_id)
        nurse = factories.user("nurse")
        for call in (
            lambda: services.to_maintenance(nurse, course, 7),
            lambda: services.change_dose(
                nurse, course, {"esketamine_dose_mg": "84", "reason": "x"}
            ),
            lambda: services.stop_course(nurse, course, "x"),
        ):
            with pytest.raises(PermissionDenied):
                call()
        db.session.rollback()
    assert _state(app, course_id)["decisions"] == 0


def test_iv_dose_change_above_the_usual_maximum_needs_the_password(app, as_role, staff):
    course_id, patient_id = _course(app, "iv_ketamine")
    psychiatrist = as_role("psychiatrist")
    page = text(psychiatrist.get(f"/review/courses/{course_id}"))
    assert "Usual maximum 1.0 mg/kg (hard limit 2 mg/kg)." in page
    data = {"iv_mg_per_kg": "2.0", "reason": "No response at 1 mg/kg."}

    missing = psychiatrist.post(f"/review/courses/{course_id}/dose", data=data)
    assert missing.status_code == 400
    assert field_error(missing, "password") == "Confirm 2.00 mg/kg with your password."
    wrong = psychiatrist.post(
        f"/review/courses/{course_id}/dose", data=dict(data, password="not-my-password")
    )
    assert wrong.status_code == 400
    assert field_error(wrong, "password") == "The password is not correct."
    assert _state(app, course_id)["iv_mg_per_kg"] == Decimal("0.50")
    assert _state(app, course_id)["decisions"] == 0
    [failed] = audit_rows(app, "course.decision")
    assert (failed.outcome, failed.detail, failed.patient_id) == (
        "failure",
        {"reason": "bad_password"},
        patient_id,
    )

    ok = psychiatrist.post(f"/review/courses/{course_id}/dose", data=dict(data, password=PASSWORD))
    assert ok.status_code == 302
    assert _state(app, course_id)["iv_mg_per_kg"] == Decimal("2.00")
    assert _decisions(app, course_id) == [
        ("dose_change", "0.50 mg/kg", "2.00 mg/kg", data["reason"], staff["psychiatrist"])
    ]
    assert [e.outcome for e in audit_rows(app, "course.decision")] == ["failure", "success"]
    with app.app_context():
        assert db.session.get(TreatmentCourse, course_id).dose_reason == data["reason"]
    assert f"Above the usual maximum because: {data['reason']}" in text(
        psychiatrist.get(f"/review/courses/{course_id}")
    )

    # Back to a usual dose: no password, and the course no longer carries a dose reason.
    back = psychiatrist.post(
        f"/review/courses/{course_id}/dose", data={"iv_mg_per_kg": "1.0", "reason": "Dizziness."}
    )
    assert back.status_code == 302
    with app.app_context():
        assert db.session.get(TreatmentCourse, course_id).dose_reason == ""
