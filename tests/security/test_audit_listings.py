"""Pages that list patients write one audit row per view naming what they listed; failed
sign-ins name the username tried and the source address; refusals name the ids asked for."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from clinic_app.extensions import db
from clinic_app.models import AuditEvent
from clinic_app.settings import clinic_today
from tests import factories
from tests.helpers import sign_in


def _rows_since(app, before: int) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(select(AuditEvent).where(AuditEvent.id > before).order_by("id"))
        )


def _last_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(db.func.coalesce(db.func.max(AuditEvent.id), 0)))


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@pytest.mark.parametrize(
    ("role", "url", "action", "detail"),
    [
        (
            "nurse",
            "/today",
            "list.today",
            lambda today: {"date": today.isoformat(), "site": "MAIN"},
        ),
        (
            "front_desk",
            "/schedule/",
            "list.day",
            lambda today: {"date": today.isoformat(), "site": "MAIN"},
        ),
        (
            "front_desk",
            "/schedule/?date=2026-04-08",
            "list.day",
            lambda _: {"date": "2026-04-08", "site": "MAIN"},
        ),
        (
            "front_desk",
            "/schedule/week?date=2026-04-08",
            "list.week",
            lambda _: {"date": "2026-04-06", "site": "MAIN"},
        ),
        (
            "nurse",
            "/schedule/week",
            "list.week",
            lambda today: {"date": _monday(today).isoformat(), "site": "MAIN"},
        ),
        (
            "front_desk",
            "/schedule/drivers?date=2026-04-07",
            "list.drivers",
            lambda _: {"date": "2026-04-07", "site": "MAIN"},
        ),
        (
            "front_desk",
            "/schedule/maintenance",
            "list.maintenance",
            lambda today: {"date": today.isoformat(), "site": "MAIN"},
        ),
        ("psychiatrist", "/review", "list.review_queue", lambda _: {"page": 1, "site": "MAIN"}),
        ("front_desk", "/patients/", "patient.search", lambda _: {"query": "", "found": 1}),
    ],
)
def test_a_listing_page_writes_one_row_naming_what_it_listed(
    app, as_role, staff, role, url, action, detail
):
    with app.app_context():
        factories.make_patient()
        db.session.commit()
    client = as_role(role)
    before = _last_id(app)
    assert client.get(url).status_code == 200
    rows = _rows_since(app, before)
    assert [(r.action, r.user_id, r.outcome) for r in rows] == [(action, staff[role], "success")]
    with app.app_context():
        assert rows[0].detail == detail(clinic_today())


@pytest.mark.parametrize(
    ("url", "role"), [("/patients/", "nurse"), ("/schedule/patients", "front_desk")]
)
def test_a_patient_search_records_its_text_and_how_many_it_found(app, as_role, staff, url, role):
    with app.app_context():
        factories.make_patient(last_name="Okafor")
        factories.make_patient(last_name="Okoro")
        factories.make_patient(last_name="Smith")
        db.session.commit()
    client = as_role(role)
    before = _last_id(app)
    assert client.post(url, data={"q": "Oka"}).status_code == 200
    assert client.post(url, data={"q": "x" * 500}).status_code == 200
    rows = _rows_since(app, before)
    assert [(r.action, r.user_id) for r in rows] == [("patient.search", staff[role])] * 2
    assert rows[0].detail == {"query": "Oka", "found": 1}
    assert rows[1].detail == {"query": "x" * 100, "found": 0}


def test_opening_the_empty_find_page_lists_nobody_and_writes_nothing(app, as_role):
    client = as_role("front_desk")
    before = _last_id(app)
    assert client.get("/schedule/patients").status_code == 200
    assert _rows_since(app, before) == []


def _failed_sign_in(app, username: str, password: str, address: str) -> AuditEvent:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    before = _last_id(app)
    assert sign_in(client, username, password).status_code == 401
    (row,) = _rows_since(app, before)
    assert (row.action, row.outcome) == ("login", "failure")
    return row


def test_a_failed_sign_in_names_the_account_tried_and_the_source(app, staff):
    row = _failed_sign_in(app, " Nurse", "wrong-password", "203.0.113.9")
    assert row.detail == {"reason": "bad_password", "username": "nurse", "source": "203.0.113.9"}


def test_an_unknown_name_is_kept_as_a_fingerprint_that_matches_repeated_tries(app, staff):
    first = _failed_sign_in(app, "Hunter2-Secret", "x", "198.51.100.7")
    again = _failed_sign_in(app, "hunter2-secret ", "y", "198.51.100.8")
    other = _failed_sign_in(app, "someone.else", "z", "198.51.100.7")
    assert first.detail["reason"] == "unknown_user"
    assert first.detail["source"] == "198.51.100.7"
    assert first.detail["username"].startswith("unknown:")
    assert "hunter" not in str(first.detail)
    assert first.detail["username"] == again.detail["username"] != other.detail["username"]


def test_a_refusal_names_the_record_asked_for(app, as_role, staff):
    before = _last_id(app)
    assert as_role("front_desk").get("/review/courses/4242").status_code == 403
    rows = _rows_since(app, before)
    assert rows[-1].action == "access.denied"
    assert rows[-1].detail["asked"] == {"course_id": 4242}
