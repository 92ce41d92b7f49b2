"""Driver calls for the next clinic day, and what the nurse's Today board and check-in do with
the result."""

from datetime import date

import pytest
from sqlalchemy import select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import Appointment, TreatmentSession
from tests.helpers import audit_actions, count, field_error, markup
from tests.scheduling.builders import MONDAY, book_visit, local, make_patient_with_course

TUESDAY = date(2026, 4, 7)


@pytest.fixture
def tuesday_visits(app, esk, chairs) -> list[int]:
    """Two visits on Tuesday 7 April (the next clinic day) and one on Wednesday."""
    patient_id, course_id = esk
    other, other_course = make_patient_with_course(app, first_name="Olly", last_name="Other")
    return [
        book_visit(app, patient_id, course_id, chairs[0], local(TUESDAY, 9)),
        book_visit(app, other, other_course, chairs[1], local(TUESDAY, 11), driver_name=""),
        book_visit(app, other, other_course, chairs[1], local(date(2026, 4, 8), 11)),
    ]


def appointment(app, appointment_id) -> Appointment:
    with app.app_context():
        found = db.session.get(Appointment, appointment_id)
        db.session.expunge(found)
        return found


def test_the_list_shows_the_next_clinic_days_visits_and_drivers(app, as_role, tuesday_visits):
    page = as_role("front_desk").get("/schedule/drivers")
    assert page.status_code == 200
    body = markup(page)
    assert "Driver calls · Tue 7 Apr 2026" in body
    assert "Esk, Erin" in body and "Other, Olly" in body
    assert "Sam Tester" in body and "No driver named" in body
    assert body.count('value="confirmed">Confirmed') == 2
    friday = markup(as_role("front_desk").get("/schedule/drivers?date=2026-04-10"))
    assert "No visits on Fri 10 Apr" in friday


def test_the_next_clinic_day_skips_the_weekend(app, as_role, staff):
    clock.freeze(local(date(2026, 4, 10), 8))  # Friday
    body = markup(as_role("front_desk").get("/schedule/drivers"))
    assert "Driver calls · Mon 13 Apr 2026" in body


def test_confirm_could_not_reach_and_no_driver(app, as_role, staff, tuesday_visits):
    desk = as_role("front_desk")
    first = tuesday_visits[0]
    url = f"/schedule/appointments/{first}/driver"
    response = desk.post(
        url, data={"driver-driver_status": "confirmed", "driver-return_to": "drivers"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/schedule/drivers?date=2026-04-07&site=MAIN#a{first}"
    confirmed = appointment(app, first)
    assert confirmed.driver_status == "confirmed"
    assert confirmed.driver_confirmed_at == clock.utcnow()
    assert confirmed.driver_confirmed_by_id == staff["front_desk"]
    assert confirmed.status == "confirmed"

    desk.post(url, data={"driver-driver_status": "unreachable", "driver-return_to": "drivers"})
    unreachable = appointment(app, first)
    assert (unreachable.driver_status, unreachable.driver_confirmed_at, unreachable.status) == (
        "unreachable",
        None,
        "scheduled",
    )
    desk.post(url, data={"driver-driver_status": "no_driver", "driver-return_to": "drivers"})
    assert appointment(app, first).driver_status == "no_driver"
    assert audit_actions(app).count("schedule.driver") == 3
    body = markup(desk.get("/schedule/drivers"))
    assert "Driver: no driver" in body


def test_each_call_result_is_confirmed_and_no_driver_prompts_to_rebook(
    app, as_role, tuesday_visits
):
    desk = as_role("front_desk")
    first = tuesday_visits[0]
    url = f"/schedule/appointments/{first}/driver"
    page = desk.post(
        url,
        data={"driver-driver_status": "unreachable", "driver-return_to": "drivers"},
        follow_redirects=True,
    )
    assert "Driver call recorded for Erin Esk (09:00): could not reach." in markup(page)
    page = desk.post(
        url,
        data={"driver-driver_status": "no_driver", "driver-return_to": "drivers"},
        follow_redirects=True,
    )
    body = markup(page)
    assert "Driver call recorded for Erin Esk (09:00): no driver." in body
    assert "Erin Esk has no driver for the 09:00 visit and may not drive home: move or cancel" in (
        body
    )
    assert f'href="/schedule/appointments/{first}#move">Move or cancel the visit' in body
    visit_page = desk.post(
        url,
        data={"driver-driver_status": "no_driver", "driver-return_to": "appointment"},
        follow_redirects=True,
    )
    assert "move or cancel the visit (reason: no driver)" in markup(visit_page)


def test_a_new_driver_can_be_named_on_the_visit_page(app, as_role, tuesday_visits):
    desk = as_role("front_desk")
    second = tuesday_visits[1]
    refused = desk.post(
        f"/schedule/appointments/{second}/driver",
        data={"driver-driver_status": "confirmed", "driver-return_to": "appointment"},
    )
    assert refused.status_code == 400
    assert field_error(refused, "driver-driver_name") == "Name the driver before confirming."
    assert appointment(app, second).driver_status == "unconfirmed"
    response = desk.post(
        f"/schedule/appointments/{second}/driver",
        data={
            "driver-driver_status": "confirmed",
            "driver-driver_name": "Pat Lift",
            "driver-driver_phone": "555-0444",
            "driver-return_to": "appointment",
        },
    )
    assert response.status_code == 302
    saved = appointment(app, second)
    assert (saved.driver_name, saved.driver_phone, saved.driver_status) == (
        "Pat Lift",
        "555-0444",
        "confirmed",
    )


@pytest.mark.parametrize(
    "data",
    [
        {"driver-driver_status": "maybe", "driver-return_to": "drivers"},
        {"driver-driver_status": "unconfirmed", "driver-return_to": "drivers"},
        {"driver-return_to": "drivers"},
        {"driver-driver_status": "confirmed", "driver-return_to": "elsewhere"},
        {"driver-driver_status": "confirmed", "driver-driver_name": "x" * 121},
    ],
)
def test_bad_driver_input_is_400_and_changes_nothing(app, as_role, tuesday_visits, data):
    response = as_role("front_desk").post(
        f"/schedule/appointments/{tuesday_visits[0]}/driver", data=data
    )
    assert response.status_code == 400
    assert appointment(app, tuesday_visits[0]).driver_status == "unconfirmed"
    assert "schedule.driver" not in audit_actions(app)


def test_no_driver_calls_on_cancelled_visits(app, as_role, tuesday_visits):
    with app.app_context():
        db.session.get(Appointment, tuesday_visits[0]).status = "cancelled"
        db.session.commit()
    response = as_role("front_desk").post(
        f"/schedule/appointments/{tuesday_visits[0]}/driver",
        data={"driver-driver_status": "confirmed", "driver-return_to": "drivers"},
    )
    assert response.status_code == 400
    assert appointment(app, tuesday_visits[0]).driver_status == "unconfirmed"


@pytest.mark.parametrize("role", ["nurse", "psychiatrist"])
def test_clinicians_see_the_list_but_cannot_record_calls(app, as_role, tuesday_visits, role):
    client = as_role(role)
    page = client.get("/schedule/drivers")
    assert page.status_code == 200
    assert 'value="confirmed">Confirmed' not in markup(page)
    response = client.post(
        f"/schedule/appointments/{tuesday_visits[0]}/driver",
        data={"driver-driver_status": "confirmed", "driver-return_to": "drivers"},
    )
    assert response.status_code == 403
    assert appointment(app, tuesday_visits[0]).driver_status == "unconfirmed"


# --- the nurse's Today board and check-in --------------------------------------------------------


def _today_visits(app, chairs, statuses) -> list[tuple[int, int, int]]:
    """One visit today per driver status: (patient id, course id, appointment id)."""
    made = []
    for n, status in enumerate(statuses):
        patient_id, course_id = make_patient_with_course(
            app, first_name=f"Pat{n}", last_name=f"Driver{status.title().replace('_', '')}"
        )
        visit = book_visit(
            app, patient_id, course_id, chairs[n], local(MONDAY, 10), driver_status=status
        )
        made.append((patient_id, course_id, visit))
    return made


def test_the_today_board_warns_about_unconfirmed_and_missing_drivers(app, as_role, staff, chairs):
    _today_visits(app, chairs, ["confirmed", "unconfirmed", "unreachable", "no_driver"])
    body = markup(as_role("nurse").get("/today"))
    assert body.count("Driver not confirmed") == 1
    assert body.count("Driver not reached by the front desk") == 1
    assert body.count("No driver: do not dose until one is confirmed") == 1


def test_check_in_is_refused_when_the_front_desk_recorded_no_driver(app, as_role, staff, chairs):
    (none_p, none_c, none_a), (ok_p, ok_c, ok_a) = _today_visits(
        app, chairs, ["no_driver", "confirmed"]
    )
    nurse = as_role("nurse")
    refused = nurse.post(
        "/sessions/start",
        data={"patient_id": none_p, "course_id": none_c, "appointment_id": none_a},
        follow_redirects=True,
    )
    assert "recorded no driver for this visit" in markup(refused)
    assert count(app, TreatmentSession) == 0
    started = nurse.post(
        "/sessions/start", data={"patient_id": ok_p, "course_id": ok_c, "appointment_id": ok_a}
    )
    assert started.status_code == 302
    with app.app_context():
        session = db.session.scalar(select(TreatmentSession))
        assert session.appointment_id == ok_a
        assert db.session.get(Appointment, ok_a).status == "in_treatment"


def test_checking_in_twice_leads_to_the_open_session(app, as_role, staff, chairs):
    [(patient_id, course_id, visit)] = _today_visits(app, chairs, ["confirmed"])
    nurse = as_role("nurse")
    data = {"patient_id": patient_id, "course_id": course_id, "appointment_id": visit}
    first = nurse.post("/sessions/start", data=data)
    assert first.status_code == 302
    session_url = first.headers["Location"]
    again = nurse.post("/sessions/start", data=data, follow_redirects=False)
    assert again.status_code == 302
    assert again.headers["Location"] == session_url
    page = nurse.get(session_url)
    assert "is already checked in; this is the session." in markup(page)
    assert "cannot be started" not in markup(page)
