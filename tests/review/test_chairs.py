"""The clinic's chairs, kept by the psychiatrist: add, rename, out of service and back; never
out of service while visits are booked on it; every change audited; bad input refused by the
field with nothing saved."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import Chair
from clinic_app.scheduling.checks import chair_ids
from tests.helpers import audit_rows, count, field_error, text
from tests.review import builders
from tests.scheduling.builders import book_visit


def _chair(app, name: str) -> Chair:
    with app.app_context():
        chair = db.session.scalar(select(Chair).where(Chair.name == name))
        db.session.expunge_all()
        return chair


def _add(app, *names: str) -> list[int]:
    with app.app_context():
        chairs = [Chair(name=name) for name in names]
        db.session.add_all(chairs)
        db.session.commit()
        return [chair.id for chair in chairs]


def _book(app, chair_id: int, hours_from_now: float, status: str = "scheduled") -> None:
    with app.app_context():
        patient, course = builders.patient_with_course(last_name=f"Booked{chair_id}")
        db.session.commit()
        ids = patient.id, course.id
    start = utcnow() + timedelta(hours=hours_from_now)
    book_visit(app, *ids, chair_id, start, minutes=120, status=status)


def _row(chair_id: int, name: str, active: bool) -> dict[str, str]:
    data = {f"chair{chair_id}-name": name}
    if active:
        data[f"chair{chair_id}-active"] = "y"
    return data


def test_the_psychiatrist_adds_a_chair_the_front_desk_can_book(app, as_role, staff):
    psychiatrist = as_role("psychiatrist")
    page = psychiatrist.get("/settings/chairs")
    assert page.status_code == 200
    assert "No chairs yet" in text(page)

    response = psychiatrist.post("/settings/chairs", data={"name": "  Recliner   B "})
    assert response.status_code == 302
    chair = _chair(app, "Recliner B")
    assert chair.active
    assert "Recliner B added; the front desk can book it now." in text(
        psychiatrist.get("/settings/chairs")
    )
    with app.app_context():
        assert chair_ids() == [chair.id]
    (event,) = audit_rows(app, "chair.create")
    assert (event.user_id, event.entity_id, event.detail) == (
        staff["psychiatrist"],
        chair.id,
        {"name": "Recliner B"},
    )
    assert "Recliner B" in text(as_role("front_desk").get("/schedule/"))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the chair a name."),
        ("   ", "Give the chair a name."),
        ("chair 1", "There is already a chair called chair 1."),
        ("x" * 41, "Field cannot be longer than 40 characters."),
    ],
)
def test_a_bad_new_chair_is_refused_by_the_field(app, as_role, staff, name, message):
    _add(app, "Chair 1")
    response = as_role("psychiatrist").post("/settings/chairs", data={"name": name})
    assert response.status_code == 400
    assert field_error(response, "name") == message
    assert count(app, Chair) == 1
    assert audit_rows(app, "chair.create") == []


def test_renaming_and_taking_a_chair_out_of_service_and_back(app, as_role, staff):
    (chair_id,) = _add(app, "Chair 1")
    _book(app, chair_id, hours_from_now=-30)  # a past visit does not hold the chair
    _book(app, chair_id, hours_from_now=30, status="cancelled")  # nor does a cancelled one
    psychiatrist = as_role("psychiatrist")

    response = psychiatrist.post(
        f"/settings/chairs/{chair_id}", data=_row(chair_id, "Window", False)
    )
    assert response.status_code == 302
    chair = _chair(app, "Window")
    assert (chair.id, chair.active) == (chair_id, False)
    with app.app_context():
        assert chair_ids() == []
    assert "Window saved (out of service)." in text(psychiatrist.get("/settings/chairs"))

    assert psychiatrist.post(f"/settings/chairs/{chair_id}", data=_row(chair_id, "Window", True))
    assert _chair(app, "Window").active
    events = audit_rows(app, "chair.update")
    assert [e.detail for e in events] == [
        {"fields": ["name", "active"], "name": "Window", "active": False},
        {"fields": ["active"], "name": "Window", "active": True},
    ]
    # Saving the row unchanged writes nothing.
    response = psychiatrist.post(
        f"/settings/chairs/{chair_id}", data=_row(chair_id, "Window", True)
    )
    assert response.status_code == 302
    assert len(audit_rows(app, "chair.update")) == 2


def test_a_chair_with_visits_booked_ahead_stays_in_service(app, as_role, staff):
    chair_id, other_id = _add(app, "Chair 1", "Chair 2")
    _book(app, chair_id, hours_from_now=2)
    _book(app, chair_id, hours_from_now=50)
    psychiatrist = as_role("psychiatrist")
    assert "2 visits booked ahead" in text(psychiatrist.get("/settings/chairs"))

    response = psychiatrist.post(
        f"/settings/chairs/{chair_id}", data=_row(chair_id, "Chair 1 renamed", False)
    )
    assert response.status_code == 400
    assert field_error(response, f"chair{chair_id}-active") == (
        "Chair 1 renamed has 2 visits booked from now on: move them to another chair first."
    )
    chair = _chair(app, "Chair 1")
    assert chair is not None and chair.active
    assert audit_rows(app, "chair.update") == []


def test_a_rename_onto_another_chairs_name_is_refused(app, as_role, staff):
    chair_id, _ = _add(app, "Chair 1", "Chair 2")
    response = as_role("psychiatrist").post(
        f"/settings/chairs/{chair_id}", data=_row(chair_id, "CHAIR 2", True)
    )
    assert response.status_code == 400
    assert (
        field_error(response, f"chair{chair_id}-name") == "There is already a chair called CHAIR 2."
    )
    assert _chair(app, "Chair 1") is not None


def test_an_unknown_chair_is_404(app, as_role, staff):
    assert (
        as_role("psychiatrist").post("/settings/chairs/999", data=_row(999, "X", True)).status_code
        == 404
    )
