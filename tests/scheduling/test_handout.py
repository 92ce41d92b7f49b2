"""The patient's handout and .ics file: upcoming visits, fasting and no-driving instructions, the
clinic's time zone (also across a daylight-saving change), audit, and nothing clinical."""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import Appointment, ClinicSetting
from tests import factories
from tests.helpers import audit_actions, markup, pdf_pages, soup
from tests.scheduling.builders import (
    DOSE_STRINGS,
    book_series,
    book_visit,
    local,
    make_patient_with_course,
)

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def series(app, esk):
    return esk[0], book_series(app, *esk)


def _parse(response) -> Calendar:
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    return Calendar.from_ical(response.get_data())


def test_handout_lists_upcoming_visits_with_esketamine_instructions(app, as_role, series):
    patient_id, ids = series
    with app.app_context():
        db.session.get(Appointment, ids[1]).status = "cancelled"
        db.session.commit()
    page = as_role("front_desk").get(f"/schedule/patients/{patient_id}/handout")
    assert page.status_code == 200
    body = markup(page)
    assert "Your upcoming visits" in body and "Erin Esk" in body
    assert "Tue 7 Apr 2026" in body and "Fri 10 Apr 2026" not in body
    assert body.count("Nasal spray treatment</td>") == 7
    assert (
        "Do not eat for 2 hours and do not drink anything for 30 minutes before your visit." in body
    )
    assert "Do not drive or operate machinery until the next day, after a restful sleep." in body
    assert "data-print" in body and "js/schedule.js" in body
    assert not any(s in body for s in DOSE_STRINGS)
    assert page.headers["Cache-Control"] == "no-store"
    assert "schedule.handout" in audit_actions(app)


def test_iv_instructions_follow_the_clinic_fasting_setting(app, as_role, staff, chairs):
    patient_id, course_id = make_patient_with_course(app, "iv_ketamine")
    book_visit(app, patient_id, course_id, chairs[0], local(date(2026, 4, 8), 9), minutes=95)
    with app.app_context():
        db.session.add(ClinicSetting(key="iv_fast_food_hours", value=6))
        db.session.commit()
    body = markup(as_role("nurse").get(f"/schedule/patients/{patient_id}/handout"))
    assert "Do not eat for 6 hours before your visit." in body
    assert "Do not drive or operate machinery for 24 hours after your infusion." in body
    assert "Infusion</td>" in body
    assert "mg/kg" not in body and "0.50" not in body


def test_the_ics_file_parses_and_round_trips(app, as_role, series):
    patient_id, ids = series
    response = as_role("front_desk").get(f"/schedule/patients/{patient_id}/visits.ics")
    assert response.headers["Content-Disposition"] == 'attachment; filename="clinic-visits.ics"'
    assert response.headers["Cache-Control"] == "no-store"
    raw = response.get_data(as_text=True)
    calendar = _parse(response)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 8
    assert [str(e["uid"]) for e in events] == [f"appointment-{i}@localhost" for i in ids]
    # A neutral title (the clinic's name) and the clinic as the place; unconfirmed: tentative.
    assert {str(e["summary"]) for e in events} == {"Clinic"}
    assert {str(e["location"]) for e in events} == {"Clinic"}
    assert {str(e["status"]) for e in events} == {"TENTATIVE"}
    assert "ketamine" not in raw.lower()
    assert [tz["tzid"] for tz in calendar.walk("VTIMEZONE")] == ["America/Los_Angeles"]
    assert "DTSTART;TZID=America/Los_Angeles:20260407T090000" in raw
    with app.app_context():
        rows = [db.session.get(Appointment, i) for i in ids]
        for event, row in zip(events, rows, strict=True):
            assert event["dtstart"].dt == row.starts_at
            assert event["dtend"].dt == row.ends_at
            assert event["dtstart"].dt.tzinfo.key == "America/Los_Angeles"
            assert "Do not eat for 2 hours" in str(event["description"])
    again = Calendar.from_ical(calendar.to_ical())
    assert [(str(e["uid"]), e["dtstart"].dt, e["dtend"].dt) for e in again.walk("VEVENT")] == [
        (str(e["uid"]), e["dtstart"].dt, e["dtend"].dt) for e in events
    ]
    assert not any(s in raw for s in DOSE_STRINGS)
    assert "Esk" not in raw and "MRN" not in raw  # nothing beyond what the patient knows
    assert "schedule.ics" in audit_actions(app)


def test_the_handout_and_calendar_name_the_clinic_and_when_the_driver_collects(
    app, as_role, series
):
    patient_id, ids = series
    with app.app_context():
        for key, value in (
            ("clinic_name", "Harbor Wellness"),
            ("clinic_address", "12 Bay St, Oakland CA 94607"),
            ("clinic_phone", "510-555-0100"),
        ):
            db.session.add(ClinicSetting(key=key, value=value))
        db.session.get(Appointment, ids[0]).status = "confirmed"
        db.session.commit()
    desk = as_role("front_desk")
    body = markup(desk.get(f"/schedule/patients/{patient_id}/handout"))
    assert "Harbor Wellness" in body and "12 Bay St, Oakland CA 94607" in body
    assert "Phone 510-555-0100" in body
    # 09:00 + 15 min dosing + 120 min observation: collected at 11:15.
    assert "Driver collects you at" in body and "<td>11:15</td>" in body
    raw = desk.get(f"/schedule/patients/{patient_id}/visits.ics").get_data(as_text=True)
    events = list(Calendar.from_ical(raw).walk("VEVENT"))
    assert str(events[0]["summary"]) == "Harbor Wellness"
    assert str(events[0]["location"]) == "Harbor Wellness, 12 Bay St, Oakland CA 94607"
    assert [str(e["status"]) for e in events[:2]] == ["CONFIRMED", "TENTATIVE"]
    assert "Clinic phone: 510-555-0100." in str(events[0]["description"])
    with app.app_context():
        db.session.add(ClinicSetting(key="calendar_title", value="Appointment"))
        db.session.commit()
    raw = desk.get(f"/schedule/patients/{patient_id}/visits.ics").get_data(as_text=True)
    assert {str(e["summary"]) for e in Calendar.from_ical(raw).walk("VEVENT")} == {"Appointment"}


def _address_block(response) -> str:
    return soup(response).select_one("address.handout-clinic").get_text(" ", strip=True)


def test_the_handout_and_its_pdf_give_the_sites_phone(app, as_role, series):
    patient_id, _ = series
    with app.app_context():
        db.session.add(ClinicSetting(key="clinic_phone", value="510-555-0100"))
        factories.site(phone="213-555-0142", address_line1="1 Main St", city="Los Angeles")
        db.session.commit()
    desk = as_role("front_desk")
    page = desk.get(f"/schedule/patients/{patient_id}/handout")
    assert "Phone 213-555-0142" in _address_block(page)
    assert "Call the clinic on 213-555-0142" in markup(page)
    assert "510-555-0100" not in markup(page)
    text = " ".join(pdf_pages(desk.get(f"/schedule/patients/{patient_id}/handout.pdf")))
    assert "Phone 213-555-0142" in text and "510-555-0100" not in text


def test_with_nothing_booked_the_handout_gives_the_usual_sites_phone(app, as_role, staff):
    with app.app_context():
        site = factories.site(phone="213-555-0142", address_line1="1 Main St")
        patient = factories.make_patient()
        patient.usual_site = site
        db.session.commit()
        patient_id = patient.id
    desk = as_role("front_desk")
    page = desk.get(f"/schedule/patients/{patient_id}/handout")
    assert "No upcoming visits are booked." in markup(page)
    assert _address_block(page) == "Clinic · Site MAIN 1 Main St Phone 213-555-0142"
    text = " ".join(pdf_pages(desk.get(f"/schedule/patients/{patient_id}/handout.pdf")))
    assert "Phone 213-555-0142" in text


def test_the_ics_file_can_be_fetched_by_post(app, as_role, series):
    patient_id, _ = series
    response = as_role("psychiatrist").post(f"/schedule/patients/{patient_id}/visits.ics")
    assert len(list(_parse(response).walk("VEVENT"))) == 8


def test_a_series_across_the_end_of_daylight_saving_stays_at_0900_local(app, as_role, esk):
    """Planned on Monday 26 October 2026: the Tue/Fri series crosses Sunday 1 November, when
    Los Angeles falls back from UTC-7 to UTC-8. Every visit stays at 09:00 clinic time."""
    patient_id, course_id = esk
    clock.freeze(datetime(2026, 10, 26, 8, tzinfo=LA).astimezone(UTC))
    book_series(app, patient_id, course_id, date(2026, 10, 27))
    desk = as_role("front_desk")
    events = list(_parse(desk.get(f"/schedule/patients/{patient_id}/visits.ics")).walk("VEVENT"))
    starts = [e["dtstart"].dt for e in events]
    assert len(starts) == 8
    assert starts[0].date() == date(2026, 10, 27) and starts[-1].date() > date(2026, 11, 1)
    assert {s.astimezone(LA).time() for s in starts} == {time(9, 0)}
    offsets = {s.date() < date(2026, 11, 1): s.utcoffset() for s in starts}
    assert offsets == {True: timedelta(hours=-7), False: timedelta(hours=-8)}
    utc_hours = {s.astimezone(UTC).hour for s in starts}
    assert utc_hours == {16, 17}
    body = markup(desk.get(f"/schedule/patients/{patient_id}"))
    assert body.count("09:00–11:30") == 8


def test_no_visits_gives_an_empty_calendar(app, as_role, staff):
    with app.app_context():
        patient_id = factories.make_patient().id
        db.session.commit()
    calendar = _parse(as_role("front_desk").get(f"/schedule/patients/{patient_id}/visits.ics"))
    assert list(calendar.walk("VEVENT")) == []
    assert "No upcoming visits are booked." in markup(
        as_role("front_desk").get(f"/schedule/patients/{patient_id}/handout")
    )


def test_unknown_patients_are_404(app, as_role, staff):
    desk = as_role("front_desk")
    assert desk.get("/schedule/patients/999/visits.ics").status_code == 404
    assert desk.get("/schedule/patients/999/handout").status_code == 404


def test_the_handout_and_the_calendar_print_a_visit_day_the_same_way(app, as_role, series):
    """The long date everywhere a visit's day stands alone: handout, day calendar, driver calls,
    the patient's visits and the visit page."""
    patient_id, ids = series
    desk = as_role("front_desk")
    handout = markup(desk.get(f"/schedule/patients/{patient_id}/handout"))
    rows = re.findall(r"<tr>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>", handout)
    assert rows[0] == ("Tue 7 Apr 2026", "09:00")
    day = rows[0][0]
    assert f'<h1 class="h3 mb-0">{day}</h1>' in markup(desk.get("/schedule/?date=2026-04-07"))
    drivers = markup(desk.get("/schedule/drivers?date=2026-04-07"))
    assert f'<h1 class="h3 mb-0">Driver calls · {day}</h1>' in drivers
    assert f">{day}</a></td>" in markup(desk.get(f"/schedule/patients/{patient_id}"))
    visit = markup(desk.get(f"/schedule/appointments/{ids[0]}"))
    assert f'<h1 class="h3 mb-0">{day}, 09:00–11:30</h1>' in visit
