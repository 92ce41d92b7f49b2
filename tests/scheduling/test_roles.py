"""Who may do what on the schedule (DESIGN §2): only the front desk books, moves, cancels, marks
no-shows, books make-ups and records driver calls; nurses and the psychiatrist view; admin has no
schedule access; anonymous users go to sign in."""

from urllib.parse import urlsplit

import pytest
from flask import url_for
from sqlalchemy import func, select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import Appointment, AuditEvent
from tests.helpers import sign_in
from tests.scheduling.builders import DAYS, book_series, local, plan_data

VIEW = {"front_desk", "nurse", "psychiatrist"}
DESK = {"front_desk"}
EXPECTED = {
    "scheduling.day": VIEW,
    "scheduling.week": VIEW,
    "scheduling.drivers": VIEW,
    "scheduling.maintenance": VIEW,
    "scheduling.find_patient": VIEW,
    "scheduling.patient": VIEW,
    "scheduling.handout": VIEW,
    "scheduling.calendar_file": VIEW,
    "scheduling.appointment": VIEW,
    "scheduling.plan": DESK,
    "scheduling.book": DESK,
    "scheduling.book_consult": DESK,
    "scheduling.cancel_leftover_induction": DESK,
    "scheduling.move": DESK,
    "scheduling.cancel": DESK,
    "scheduling.no_show": DESK,
    "scheduling.makeup": DESK,
    "scheduling.driver": DESK,
}


def test_every_schedule_route_declares_its_roles(app):
    endpoints = {e for e in app.view_functions if e.startswith("scheduling.")}
    assert endpoints == set(EXPECTED)
    for endpoint, roles in EXPECTED.items():
        declared = {str(r) for r in app.view_functions[endpoint].allowed_roles}
        assert declared == roles, endpoint


@pytest.fixture
def ids(app, esk):
    patient_id, course_id = esk
    visits = book_series(app, patient_id, course_id)
    return {"patient_id": patient_id, "course_id": course_id, "appointment_id": visits[0]}


def _routes(app, ids):
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint in EXPECTED:
                url = url_for(rule.endpoint, **{k: ids[k] for k in rule.arguments})
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    found.append((rule.endpoint, method, url))
    return found


# Valid input for every write, so that a 403 cannot come from bad input.
def _post_data(endpoint, ids):
    return {
        "scheduling.plan": plan_data(ids["course_id"]),
        "scheduling.book": {
            "book-course_id": ids["course_id"],
            "book-visit_kind": "induction",
            "book-visits-0-day": "2026-06-02",
            "book-visits-0-start": "09:00",
            "book-visits-0-chair_id": "1",
            "action": "book",
        },
        "scheduling.book_consult": {
            "consult-day": "2026-04-08",
            "consult-start": "13:00",
            "consult-minutes": "60",
        },
        "scheduling.move": {
            "move-day": "2026-04-08",
            "move-start": "09:00",
            "move-chair_id": "1",
            "move-scope": "this",
        },
        "scheduling.cancel": {"cancel-reason": "ate", "cancel-scope": "this"},
        "scheduling.no_show": {"noshow-reason": "no_contact"},
        "scheduling.makeup": {
            "makeup-day": "2026-04-08",
            "makeup-start": "09:00",
            "makeup-chair_id": "1",
        },
        "scheduling.driver": {"driver-driver_status": "confirmed", "driver-return_to": "drivers"},
        "scheduling.find_patient": {"q": "Esk"},
        "scheduling.calendar_file": {},
    }.get(endpoint, {})


def _state(app):
    with app.app_context():
        return [
            (a.id, a.status, a.starts_at, a.chair_id, a.driver_status)
            for a in db.session.scalars(select(Appointment).order_by(Appointment.id))
        ]


@pytest.mark.parametrize("role", ["nurse", "psychiatrist", "admin"])
def test_only_the_front_desk_changes_the_calendar(app, as_role, ids, role):
    clock.freeze(local(DAYS[0], 10))  # visit 1 has started: a no-show would be allowed
    client = as_role(role)
    before = _state(app)
    for endpoint, method, url in _routes(app, ids):
        response = client.open(url, method=method, data=_post_data(endpoint, ids))
        allowed = role in EXPECTED[endpoint]
        if allowed:
            assert response.status_code == 200, (role, method, url, response.status_code)
        else:
            assert response.status_code == 403, (role, method, url, response.status_code)
    assert _state(app) == before
    with app.app_context():
        written = set(
            db.session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.action.like("schedule.%"),
                    AuditEvent.action.not_in(["schedule.view", "schedule.handout", "schedule.ics"]),
                )
            )
        )
    assert written == {"schedule.book"}  # the fixture's own booking, by the front desk


def test_the_front_desk_can_do_every_action(app, as_role, ids):
    clock.freeze(local(DAYS[0], 10))
    desk = as_role("front_desk")
    for _, method, url in _routes(app, ids):
        if method == "GET":
            assert desk.get(url).status_code == 200, url
    base = f"/schedule/appointments/{ids['appointment_id']}"
    assert desk.post(base + "/driver", data=_post_data("scheduling.driver", ids)).status_code == 302
    assert (
        desk.post(base + "/no-show", data=_post_data("scheduling.no_show", ids)).status_code == 302
    )
    page = desk.get(base)
    assert "Make-up visit" in page.get_data(as_text=True)


def test_admin_has_no_schedule_access(app, as_role, ids):
    admin = as_role("admin")
    for _, method, url in _routes(app, ids):
        assert admin.open(url, method=method).status_code == 403, url
    with app.app_context():
        denied = db.session.scalar(
            select(func.count()).where(
                AuditEvent.action == "access.denied", AuditEvent.outcome == "denied"
            )
        )
    assert denied == len(_routes(app, ids))


def test_anonymous_users_are_sent_to_sign_in(app, client, ids):
    for _, method, url in _routes(app, ids):
        response = client.open(url, method=method)
        assert response.status_code == 302, url
        assert urlsplit(response.headers["Location"]).path == "/login"


def test_nurses_and_the_psychiatrist_see_no_action_forms(app, as_role, ids):
    clock.freeze(local(DAYS[0], 10))
    for role in ("nurse", "psychiatrist"):
        body = (
            as_role(role)
            .get(f"/schedule/appointments/{ids['appointment_id']}")
            .get_data(as_text=True)
        )
        for action in ("/move", "/cancel", "/no-show", "/driver", "/makeup"):
            assert f'action="/schedule/appointments/{ids["appointment_id"]}{action}"' not in body
        patient = (
            as_role(role).get(f"/schedule/patients/{ids['patient_id']}").get_data(as_text=True)
        )
        assert "Plan visits" not in patient
        assert "/consult" not in patient


def test_the_front_desk_start_page_is_the_calendar(app, client, staff):
    assert sign_in(client, "front_desk").headers["Location"] == "/schedule/"
    body = client.get("/schedule/").get_data(as_text=True)
    assert 'href="/schedule/">Schedule</a>' in body.replace(' active" aria-current="page', "")
