"""Moves, make-ups and plans run the booking's own check: order within the series, never two
doses a day, the esketamine twice-a-week limit, spacing warnings, closed days (public holidays
included), observation before closing; new phases after the last booked visit; REMS at booking."""

import re
from datetime import date

import pytest
from sqlalchemy import select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import Appointment, ClinicSetting, TreatmentCourse
from tests import factories
from tests.helpers import field_error, form_values, markup, soup
from tests.scheduling.builders import (
    DAYS,
    book_series,
    book_visit,
    local,
    make_patient_with_course,
    propose,
    row,
)


@pytest.fixture
def series(app, esk) -> list[int]:
    return book_series(app, *esk)


def _move(desk, appointment_id: int, day: date, start: str, scope: str = "this"):
    return desk.post(
        f"/schedule/appointments/{appointment_id}/move",
        data={"move-day": day.isoformat(), "move-start": start, "move-scope": scope},
        follow_redirects=True,
    )


def test_moving_a_visit_before_an_earlier_visit_of_its_series_is_refused(app, as_role, series):
    # Induction 6/8 moved to 22 h before visit 1/8.
    response = _move(as_role("front_desk"), series[5], date(2026, 4, 6), "11:00")
    assert response.status_code == 409
    assert "Visit 6 must come after visit 1 of its series (Tue 7 Apr 09:00)." in markup(response)
    assert row(app, series[5]).starts_at == local(DAYS[5], 9)


def test_a_move_under_48_hours_from_the_previous_dose_warns(app, as_role, series):
    response = _move(as_role("front_desk"), series[1], date(2026, 4, 9), "08:00")
    assert response.status_code == 200
    body = markup(response)
    assert "Visit moved" in body
    assert "Doses 47 h 00 min apart (Tue 7 Apr 09:00 and Thu 9 Apr 08:00)" in body
    assert row(app, series[1]).starts_at == local(date(2026, 4, 9), 8)


def test_a_move_into_a_week_with_two_esketamine_doses_is_refused(app, as_role, esk, series):
    patient_id, course_id = esk
    chair = row(app, series[0]).chair_id
    extra = book_visit(
        app, patient_id, course_id, chair, local(date(2026, 5, 4), 10), visit_kind="maintenance"
    )
    response = _move(as_role("front_desk"), extra, date(2026, 4, 29), "10:00")
    assert response.status_code == 409
    assert "Esketamine is at most 2 doses a week; the week of Mon 27 Apr would have 3." in (
        markup(response)
    )


def test_a_move_onto_a_public_holiday_is_refused(app, as_role, series):
    response = _move(as_role("front_desk"), series[7], date(2026, 5, 25), "09:00")
    assert response.status_code == 409
    assert "The clinic is closed on Mon 25 May (Memorial Day)." in markup(response)


def test_a_move_whose_observation_would_end_after_closing_is_refused(app, as_role, series):
    with app.app_context():
        db.session.add(ClinicSetting(key="esketamine_min_observation_minutes", value=180))
        db.session.commit()
    # The booked 150-minute block would end at 18:00; the 180-minute observation at 18:45.
    response = _move(as_role("front_desk"), series[7], DAYS[7], "15:30")
    assert response.status_code == 409
    assert "The 180-minute observation would end at 18:45, after closing at 18:00." in (
        markup(response)
    )
    assert row(app, series[7]).starts_at == local(DAYS[7], 9)


def test_a_makeup_under_48_hours_before_the_next_dose_warns(app, as_role, series):
    clock.freeze(local(DAYS[0], 10, 0))
    desk = as_role("front_desk")
    desk.post(
        f"/schedule/appointments/{series[0]}/no-show",
        data={"noshow-reason": "no_contact", "noshow-other": ""},
    )
    page = desk.get(f"/schedule/appointments/{series[0]}")
    values = form_values(page, f"/schedule/appointments/{series[0]}/makeup")
    values.update({"makeup-day": "2026-04-08", "makeup-start": "15:30"})
    response = desk.post(
        f"/schedule/appointments/{series[0]}/makeup", data=values, follow_redirects=True
    )
    assert response.status_code == 200
    assert "Make-up visit booked." in markup(response)
    assert "Doses 41 h 30 min apart (Wed 8 Apr 15:30 and Fri 10 Apr 09:00)" in markup(response)


def _proposed_days(page, patient_id: int) -> list[date]:
    values = form_values(page, f"/schedule/patients/{patient_id}/book")
    found = sorted(k for k in values if re.fullmatch(r"book-visits-\d+-day", k))
    return sorted(date.fromisoformat(values[k]) for k in found)


def test_maintenance_starts_after_the_last_booked_induction_visit_on_preferred_days(
    app, as_role, esk, series
):
    patient_id, course_id = esk
    desk = as_role("front_desk")
    form = desk.get(f"/schedule/patients/{patient_id}/plan?course_id={course_id}&kind=maintenance")
    # Weekly from a week after the last induction visit (Fri 1 May), not from tomorrow.
    assert form_values(form, f"/schedule/patients/{patient_id}/plan")["first_date"] == (
        "2026-05-08"
    )
    page = propose(
        desk,
        patient_id,
        course_id,
        visit_kind="maintenance",
        first_date="2026-04-07",
        preferred_weekdays="1",
        count="4",
    )
    assert page.status_code == 200
    assert _proposed_days(page, patient_id) == [
        date(2026, 5, 12),
        date(2026, 5, 19),
        date(2026, 5, 26),
        date(2026, 6, 2),
    ]


def test_an_induction_over_christmas_skips_the_public_holidays(app, as_role, chairs):
    clock.freeze(local(date(2026, 12, 14), 8))
    patient_id, course_id = make_patient_with_course(app, first_name="Noel", last_name="Winter")
    desk = as_role("front_desk")
    # From a Tuesday the protocol pairs Tue/Fri: 25 December and 1 January are Fridays.
    page = propose(desk, patient_id, course_id, first_date="2026-12-22")
    assert page.status_code == 200
    days = _proposed_days(page, patient_id)
    assert len(days) == 8
    assert date(2026, 12, 25) not in days and date(2027, 1, 1) not in days
    assert days[0] == date(2026, 12, 22)


def test_clinic_settings_change_the_holiday_calendar(app, as_role, chairs):
    with app.app_context():
        db.session.add(ClinicSetting(key="holiday_country", value=""))
        db.session.add(ClinicSetting(key="holiday_subdivision", value=""))
        db.session.commit()
    patient_id, course_id = make_patient_with_course(app)
    clock.freeze(local(date(2026, 12, 14), 8))
    response = as_role("front_desk").get("/schedule/?date=2026-12-25")
    assert "Clinic closed" not in markup(response)


def test_booking_esketamine_for_a_patient_not_in_the_rems_warns_and_lists_them(
    app, as_role, chairs
):
    patient_id, course_id = make_patient_with_course(
        app, first_name="Rita", last_name="Unenrolled", rems_enrolled_on=None
    )
    desk = as_role("front_desk")
    page = propose(desk, patient_id, course_id)
    warning = "Rita Unenrolled is not enrolled in the esketamine REMS"
    assert warning in markup(page)
    url = f"/schedule/patients/{patient_id}/book"
    data = form_values(page, url) | {"action": "book"}
    booked = desk.post(url, data=data, follow_redirects=True)
    assert "Booked 8 visits." in markup(booked)
    assert warning in markup(booked)
    calls = markup(desk.get("/schedule/drivers"))
    chase = calls[calls.index("REMS enrolment to chase") :]
    assert "Unenrolled, Rita" in chase and "first visit Tue 7 Apr 09:00" in chase


def test_an_enrolled_patient_gets_no_rems_warning(app, as_role, esk):
    patient_id, course_id = esk
    page = propose(as_role("front_desk"), patient_id, course_id)
    assert "REMS" not in markup(page)
    assert field_error(page, "first_date") is None


def test_a_new_patient_without_a_course_can_be_booked_for_an_intake_visit(
    app, as_role, staff, chairs
):
    with app.app_context():
        person = factories.make_patient(first_name="Ivy", last_name="Intake")
        db.session.commit()
        patient_id = person.id
    desk = as_role("front_desk")
    page = desk.get(f"/schedule/patients/{patient_id}")
    assert "Book a consult or intake visit" in markup(page)
    url = f"/schedule/patients/{patient_id}/consult"
    values = form_values(page, url)
    values.update({"consult-day": "2026-04-07", "consult-start": "10:00", "consult-minutes": "60"})
    booked = desk.post(url, data=values, follow_redirects=True)
    assert booked.status_code == 200
    assert "Consult booked." in markup(booked)
    with app.app_context():
        visit = db.session.scalars(
            select(Appointment).where(Appointment.patient_id == patient_id)
        ).one()
        assert (visit.visit_kind, visit.course_id, visit.chair_id) == ("consult", None, None)
        assert visit.starts_at == local(date(2026, 4, 7), 10)
    # The same check as any booking: the patient is busy then; a 12-hour clock is refused.
    again = desk.post(url, data=values)
    assert again.status_code == 409
    assert "The patient already has a visit 10:00–11:00" in (
        field_error(again, "consult-start") or ""
    )
    bad = desk.post(url, data=values | {"consult-start": "2:00 PM"})
    assert bad.status_code == 400
    assert field_error(bad, "consult-start") == "Enter the time as HH:MM, 24-hour (e.g. 14:30)."


def test_time_inputs_are_24_hour_text_fields(app, as_role, esk):
    patient_id, course_id = esk
    page = soup(propose(as_role("front_desk"), patient_id, course_id))
    start = page.find("input", attrs={"name": "book-visits-0-start"})
    assert start["type"] == "text" and start["placeholder"] == "HH:MM"
    assert start["value"] == "09:00"


def test_a_chair_conflict_offers_the_nearest_free_chair_or_time(app, as_role, esk, series):
    patient_id, _ = esk
    first = row(app, series[0])
    other, _ = make_patient_with_course(app, first_name="Olga", last_name="Other")
    book_visit(
        app, other, None, first.chair_id, local(DAYS[1], 14), minutes=120, visit_kind="consult"
    )
    response = as_role("front_desk").post(
        f"/schedule/appointments/{series[1]}/move",
        data={"move-day": DAYS[1].isoformat(), "move-start": "14:30", "move-scope": "this"},
    )
    assert response.status_code == 409
    error = field_error(response, "move-chair_id") or ""
    assert "Chair 1 is booked 14:00–16:00 on Fri 10 Apr." in error
    assert "Nearest free: Chair 2 at 14:30." in error


def test_check_again_keeps_what_was_planned_and_typed(app, as_role, esk):
    patient_id, course_id = esk
    desk = as_role("front_desk")
    page = propose(desk, patient_id, course_id, first_date="2026-04-08", preferred_time="10:15")
    book_url = f"/schedule/patients/{patient_id}/book"
    data = form_values(page, book_url) | {"action": "check", "book-visits-2-start": "11:45"}
    checked = desk.post(book_url, data=data)
    assert checked.status_code == 200
    plan = form_values(checked, f"/schedule/patients/{patient_id}/plan")
    assert (plan["first_date"], plan["preferred_time"]) == ("2026-04-08", "10:15")
    assert form_values(checked, book_url)["book-visits-2-start"] == "11:45"


def test_moving_a_course_to_maintenance_asks_about_the_leftover_induction_visits(
    app, as_role, esk, series
):
    patient_id, course_id = esk
    desk = as_role("front_desk")
    assert "still booked" not in markup(desk.get(f"/schedule/patients/{patient_id}"))
    with app.app_context():
        db.session.get(TreatmentCourse, course_id).phase = "maintenance"
        db.session.commit()
    page = markup(desk.get(f"/schedule/patients/{patient_id}"))
    assert "has moved to maintenance, but 8 induction visits are still booked" in page
    url = f"/schedule/patients/{patient_id}/courses/{course_id}/cancel-induction"
    done = desk.post(url, follow_redirects=True)
    assert "Cancelled 8 induction visits." in markup(done)
    assert "still booked" not in markup(done)
    with app.app_context():
        visits = db.session.scalars(select(Appointment)).all()
        assert {(v.status, v.cancel_reason, v.late_cancellation) for v in visits} == {
            ("cancelled", "Course moved to maintenance", False)
        }
    assert desk.post(url).status_code == 400
