"""The clinic's chairs, kept by the psychiatrist site by site: add, rename, out of service and
back; never out of service while visits are booked on it; every change audited; bad input refused
by the field with nothing saved."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import Chair, Site, User
from clinic_app.scheduling.checks import chair_ids
from tests import factories
from tests.helpers import audit_rows, count, field_error, text
from tests.review import builders
from tests.scheduling.builders import book_visit


def _chair(app, name: str) -> Chair:
    with app.app_context():
        chair = db.session.scalar(select(Chair).where(Chair.name == name))
        db.session.expunge_all()
        return chair


def _site(app, code: str = "MAIN", **fields) -> int:
    with app.app_context():
        site_id = factories.site(code, **fields).id
        db.session.commit()
        return site_id


def _add(app, *names: str, code: str = "MAIN") -> list[int]:
    with app.app_context():
        chairs = [Chair(name=name, site=factories.site(code)) for name in names]
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


def test_without_a_site_there_is_nothing_to_add_a_chair_to(app, as_role, staff):
    with app.app_context():  # an install before its first site: the staff's site goes
        for user in db.session.scalars(select(User)):
            user.sites.clear()
        db.session.delete(factories.site())
        db.session.commit()
    page = as_role("psychiatrist").get("/settings/chairs")
    assert page.status_code == 200
    assert "No site yet: the admin adds the clinic's sites first." in text(page)
    assert "Add a chair" not in text(page)


def test_the_psychiatrist_adds_a_chair_the_front_desk_can_book(app, as_role, staff):
    site_id = _site(app, name="Downtown")
    psychiatrist = as_role("psychiatrist")
    page = psychiatrist.get("/settings/chairs")
    assert page.status_code == 200
    assert "No chairs at this site yet" in text(page)

    response = psychiatrist.post(
        "/settings/chairs", data={"name": "  Recliner   B ", "site_id": site_id}
    )
    assert response.status_code == 302
    chair = _chair(app, "Recliner B")
    assert (chair.active, chair.site_id) == (True, site_id)
    assert "Recliner B added at Downtown; the front desk can book it now." in text(
        psychiatrist.get("/settings/chairs")
    )
    with app.app_context():
        assert chair_ids() == [chair.id]
    (event,) = audit_rows(app, "chair.create")
    assert (event.user_id, event.entity_id, event.detail) == (
        staff["psychiatrist"],
        chair.id,
        {"name": "Recliner B", "site": "MAIN"},
    )
    assert "Recliner B" in text(as_role("front_desk").get("/schedule/"))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the chair a name."),
        ("   ", "Give the chair a name."),
        ("chair 1", "Downtown already has a chair called chair 1."),
        ("x" * 41, "Field cannot be longer than 40 characters."),
    ],
)
def test_a_bad_new_chair_is_refused_by_the_field(app, as_role, staff, name, message):
    site_id = _site(app, name="Downtown")
    _add(app, "Chair 1")
    response = as_role("psychiatrist").post(
        "/settings/chairs", data={"name": name, "site_id": site_id}
    )
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
    assert field_error(response, f"chair{chair_id}-name") == (
        "Site MAIN already has a chair called CHAIR 2."
    )
    assert _chair(app, "Chair 1") is not None


def test_chairs_are_grouped_by_site_and_names_repeat_across_sites(app, as_role, staff):
    _site(app, "DTLA", name="Downtown LA")
    _site(app, "NYC", name="Midtown NYC", timezone="America/New_York")
    _add(app, "Chair 1", "Chair 2", code="DTLA")
    _add(app, "Chair 1", code="NYC")
    psychiatrist = as_role("psychiatrist")
    page = text(psychiatrist.get("/settings/chairs"))
    downtown, midtown = page.index("Downtown LA DTLA"), page.index("Midtown NYC NYC")
    assert downtown < page.index("2 in service") < midtown < page.index("1 in service")

    nyc_id = _site(app, "NYC")
    response = psychiatrist.post("/settings/chairs", data={"name": "Chair 2", "site_id": nyc_id})
    assert response.status_code == 302
    with app.app_context():
        names = db.session.execute(
            select(Site.code, Chair.name).join(Chair.site).order_by(Site.code, Chair.name)
        ).all()
    assert [tuple(row) for row in names] == [
        ("DTLA", "Chair 1"),
        ("DTLA", "Chair 2"),
        ("NYC", "Chair 1"),
        ("NYC", "Chair 2"),
    ]


@pytest.mark.parametrize(
    ("site_id", "message"),
    [
        ("", "This field is required."),
        ("999", "Not a valid choice."),
        # A closed site is not offered, so choosing it is refused like an unknown one.
        ("closed", "Not a valid choice."),
    ],
)
def test_a_new_chair_needs_an_open_site(app, as_role, staff, site_id, message):
    _site(app, "MAIN")
    closed = _site(app, "OLD", active=False)
    psychiatrist = as_role("psychiatrist")
    posted = str(closed) if site_id == "closed" else site_id
    response = psychiatrist.post("/settings/chairs", data={"name": "Chair 9", "site_id": posted})
    assert response.status_code == 400
    assert field_error(response, "site_id") == message
    assert count(app, Chair) == 0


def test_the_service_refuses_a_chair_at_a_closed_site(app, staff):
    from clinic_app.errors import RuleViolation
    from clinic_app.review.chairs import add_chair

    closed = _site(app, "OLD", active=False)
    with app.app_context(), pytest.raises(RuleViolation) as refused:
        add_chair(factories.user("psychiatrist"), "Chair 9", closed)
    assert (refused.value.field, refused.value.message) == (
        "site_id",
        "Choose the open site the chair is at.",
    )


def test_a_chair_at_a_closed_site_cannot_go_back_into_service(app, as_role, staff):
    (chair_id,) = _add(app, "Chair 1", code="OLD")
    with app.app_context():
        db.session.get(Chair, chair_id).active = False
        factories.site("OLD").active = False
        db.session.commit()
    psychiatrist = as_role("psychiatrist")
    assert "site closed" in text(psychiatrist.get("/settings/chairs"))
    response = psychiatrist.post(
        f"/settings/chairs/{chair_id}", data=_row(chair_id, "Chair 1", True)
    )
    assert response.status_code == 400
    assert field_error(response, f"chair{chair_id}-active") == (
        "Site OLD is closed: the admin reopens the site first."
    )
    assert not _chair(app, "Chair 1").active


def test_an_unknown_chair_is_404(app, as_role, staff):
    assert (
        as_role("psychiatrist").post("/settings/chairs/999", data=_row(999, "X", True)).status_code
        == 404
    )
