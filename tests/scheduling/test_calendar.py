"""Day and week views: a column per chair, clinic hours and closed days, each visit with patient,
visit kind and number in its series, status and driver; never doses; bounded SQL."""

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import insert

from clinic_app import clock
from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair, ClinicSetting, TreatmentCourse
from clinic_app.treatments import services as charting
from tests import factories
from tests.helpers import markup, page_statements, soup
from tests.scheduling.builders import (
    DOSE_STRINGS,
    MONDAY,
    book_series,
    book_visit,
    local,
    make_patient_with_course,
)

TUESDAY = date(2026, 4, 7)


@pytest.fixture
def booked(app, esk, chairs):
    """Erin's 8-visit series, a chairless consult on Tuesday and a cancelled visit."""
    ids = book_series(app, *esk)
    other, _ = make_patient_with_course(app, first_name="Cora", last_name="Consult")
    book_visit(app, other, None, None, local(TUESDAY, 14), minutes=60, visit_kind="consult")
    book_visit(
        app,
        other,
        None,
        chairs[3],
        local(TUESDAY, 9),
        status="cancelled",
        cancel_reason="No driver",
        late_cancellation=True,
    )
    return ids


def test_day_view_has_a_column_per_chair_and_shows_each_visit(app, as_role, booked):
    page = as_role("front_desk").get("/schedule/?date=2026-04-07")
    assert page.status_code == 200
    body = markup(page)
    headers = [th.text for th in soup(page).find_all("th", scope="col")]
    assert headers == ["Time", "Chair 1", "Chair 2", "Chair 3", "Chair 4", "No chair"]
    assert "Tue 7 Apr 2026" in body
    assert "Esk, Erin" in body
    assert "Induction 1/8 · Esketamine" in body
    assert 'class="badge appt-scheduled">Scheduled' in body
    assert "Driver: not confirmed" in body
    assert "Consult, Cora" in body
    # A 150-minute chair block spans ten 15-minute rows; the first row is opening time.
    assert 'rowspan="10"' in body
    assert {"08:00", "17:45"} <= _time_rows(page)
    # Cancelled visits leave the grid and are listed underneath with the reason.
    assert "Cancelled and no-shows" in body and "No driver" in body and ">late<" in body
    assert not any(s in body for s in DOSE_STRINGS)


def _time_rows(response) -> set[str]:
    """The start times labelling the day grid's rows."""
    return {th.text for th in soup(response).find_all("th", scope="row", class_="cal-time")}


def _row_of(response, label: str) -> str:
    """The text of the day grid's table row that starts at `label` ("15:30")."""
    time_cell = soup(response).find("th", scope="row", class_="cal-time", string=label)
    assert time_cell, label
    return time_cell.parent.get_text(" ")


def test_every_visit_sits_in_the_row_of_its_start(app, as_role, staff, chairs):
    first, _ = make_patient_with_course(app, first_name="Ada", last_name="Early")
    second, _ = make_patient_with_course(app, first_name="Ben", last_name="Later")
    third, _ = make_patient_with_course(app, first_name="Cal", last_name="Morning")
    fourth, _ = make_patient_with_course(app, first_name="Dee", last_name="Next")
    # Back to back off the 15-minute grid in chair 1; adjacent on the grid in chair 2.
    book_visit(app, first, None, chairs[0], local(TUESDAY, 13, 13), minutes=150)
    book_visit(app, second, None, chairs[0], local(TUESDAY, 15, 43), minutes=150)
    book_visit(app, third, None, chairs[1], local(TUESDAY, 9), minutes=90)
    book_visit(app, fourth, None, chairs[1], local(TUESDAY, 10, 30), minutes=90)
    day = as_role("front_desk").get("/schedule/?date=2026-04-07")
    body = markup(day)
    assert "Early, Ada" in _row_of(day, "13:00")
    assert "Later, Ben" in _row_of(day, "15:30")
    assert "Later, Ben" not in _row_of(day, "13:00") + _row_of(day, "14:00")
    assert "Morning, Cal" in _row_of(day, "09:00")
    assert "Next, Dee" in _row_of(day, "10:30")
    # Chair 1 splits into two lanes for the overlapping slot; chair 2 needs one.
    assert '<th scope="col" colspan="2">Chair 1</th>' in body
    assert '<th scope="col">Chair 2</th>' in body


def test_week_view_shows_days_by_chair(app, as_role, booked):
    body = markup(as_role("front_desk").get("/schedule/week?date=2026-04-08"))
    assert "Week of Mon 6 Apr 2026" in body
    assert "3 visits" in body  # Tuesday's visit and consult, Friday's visit
    for label in ("Mon 6 Apr", "Tue 7 Apr", "Wed 8 Apr", "Thu 9 Apr", "Fri 10 Apr"):
        assert label in body
    assert "Sat 11 Apr" not in body  # closed weekdays without visits are left out
    assert "Induction 2/8" in body
    assert not any(s in body for s in DOSE_STRINGS)


def test_closed_days_and_clinic_holidays(app, as_role, booked):
    with app.app_context():
        db.session.add(ClinicSetting(key="closed_dates", value="2026-04-09"))
        db.session.commit()
    desk = as_role("front_desk")
    week = markup(desk.get("/schedule/week?date=2026-04-06"))
    assert "Holiday: clinic closed" in week
    saturday = markup(desk.get("/schedule/?date=2026-04-11"))
    assert "Clinic closed on Sat 11 Apr" in saturday
    holiday = markup(desk.get("/schedule/?date=2026-04-09"))
    assert "Holiday: clinic closed on Thu 9 Apr" in holiday


def test_clinic_hours_come_from_the_settings(app, as_role, booked):
    with app.app_context():
        db.session.add(ClinicSetting(key="opening_time", value="07:30"))
        db.session.add(ClinicSetting(key="closing_time", value="19:00"))
        db.session.commit()
    rows = _time_rows(as_role("nurse").get("/schedule/?date=2026-04-07"))
    assert {"07:30", "18:45"} <= rows
    assert "19:00" not in rows


@pytest.mark.parametrize("role", ["front_desk", "nurse", "psychiatrist"])
def test_every_schedule_page_is_visible_to_the_three_roles(app, as_role, booked, role):
    client = as_role(role)
    for url in (
        "/schedule/",
        "/schedule/?date=2026-04-07",
        "/schedule/week",
        "/schedule/drivers",
        "/schedule/maintenance",
        "/schedule/patients",
        f"/schedule/appointments/{booked[0]}",
    ):
        response = client.get(url)
        assert response.status_code == 200, (role, url)


@pytest.mark.parametrize(
    "url",
    ["/schedule/?date=2026-13-01", "/schedule/week?date=x", "/schedule/drivers?date=1800-01-01"],
)
def test_a_bad_date_is_400(app, as_role, staff, url):
    assert as_role("front_desk").get(url).status_code == 400


def test_the_calendar_never_shows_dose_or_vitals(app, as_role, booked):
    """Even with a charted session on the day, the schedule pages show no clinical detail."""
    with app.app_context():
        first = db.session.get(Appointment, booked[0])
        nurse = factories.user("nurse")
        clock.freeze(local(TUESDAY, 9, 5))
        treatment = charting.start_session(nurse, first.patient, first.course, first)
        charting.record_predose(nurse, treatment, factories.PREDOSE_OK, treatment.version_id)
        charting.add_vitals(nurse, treatment, dict(factories.NORMAL_BP))
        charting.record_dose(
            nurse, treatment, {"dose_mg": "56", "lot_number": "LOT-77"}, treatment.version_id
        )
        db.session.commit()
        patient_id = first.patient_id
    desk = as_role("front_desk")
    for url in (
        "/schedule/?date=2026-04-07",
        "/schedule/week?date=2026-04-07",
        f"/schedule/appointments/{booked[0]}",
        f"/schedule/patients/{patient_id}",
        f"/schedule/patients/{patient_id}/handout",
        "/schedule/drivers?date=2026-04-07",
    ):
        body = markup(desk.get(url))
        assert "In treatment" in body or "handout" in url or "drivers" in url, url
        assert not any(s in body for s in DOSE_STRINGS), url
        assert "122/78" not in body and "LOT-77" not in body, url


# --- SQL per page --------------------------------------------------------------------------------


def _fill_week(app, patients: int, per_patient: int, monday: date) -> None:
    """`patients` x `per_patient` one-hour visits in the week of `monday`, in six chairs, each
    patient's visits in one series on different days."""
    with app.app_context():
        existing = db.session.scalar(db.select(db.func.count()).select_from(Chair))
        db.session.add_all(
            Chair(name=f"Chair {n}", site=factories.site()) for n in range(existing + 1, 7)
        )
        db.session.commit()
        chair_ids = list(db.session.scalars(db.select(Chair.id).order_by(Chair.id)))
    made = [make_patient_with_course(app, last_name=f"Load{n:03d}") for n in range(patients)]
    rows = []
    for n, (patient_id, course_id) in enumerate(made):
        series = str(uuid.uuid4())
        for k in range(per_patient):
            slot = n * per_patient + k
            day = monday + timedelta(days=slot % 5)
            hour = 8 + (slot // 5) // len(chair_ids)
            chair = chair_ids[(slot // 5) % len(chair_ids)]
            start = local(day, hour)
            rows.append(
                {
                    "patient_id": patient_id,
                    "course_id": course_id,
                    "chair_id": chair,
                    "series_id": series,
                    "sequence_no": k + 1,
                    "starts_at": start,
                    "ends_at": start + timedelta(minutes=60),
                    "visit_kind": "maintenance",
                    "status": "scheduled",
                    "driver_name": "Sam",
                    "driver_phone": "1",
                    "driver_status": "unconfirmed",
                    "cancel_reason": "",
                    "late_cancellation": False,
                    "created_at": utcnow(),
                }
            )
    with app.app_context():
        db.session.execute(insert(Appointment), rows)
        db.session.commit()


def test_the_week_calendar_runs_the_same_sql_for_10_and_150_visits(app, as_role, staff, chairs):
    monday = MONDAY + timedelta(days=7)
    url = f"/schedule/week?date={monday.isoformat()}"
    day_url = f"/schedule/?date={(monday + timedelta(days=1)).isoformat()}"
    _fill_week(app, patients=2, per_patient=5, monday=monday)
    desk = as_role("front_desk")
    desk.get(url)  # warm up
    few = page_statements(app, desk, url)
    few_day = page_statements(app, desk, day_url)
    assert "10 visits" in markup(desk.get(url))

    with app.app_context():
        db.session.execute(db.delete(Appointment))
        db.session.commit()
    _fill_week(app, patients=30, per_patient=5, monday=monday)
    assert "150 visits" in markup(desk.get(url))
    many = page_statements(app, desk, url)
    many_day = page_statements(app, desk, day_url)
    print(f"week calendar: {few} statements for 10 visits, {many} for 150")
    print(f"day calendar: {few_day} statements for 2 visits, {many_day} for 30")
    assert many == few <= 12
    assert many_day == few_day <= 12


def _complete_past(app) -> None:
    with app.app_context():
        db.session.execute(
            db.update(Appointment)
            .where(Appointment.starts_at < local(MONDAY, 0))
            .values(status="completed")
        )
        db.session.execute(db.update(TreatmentCourse).values(phase="maintenance"))
        db.session.commit()


def test_the_maintenance_worklist_and_driver_list_run_bounded_sql(app, as_role, staff, chairs):
    past = MONDAY - timedelta(days=14)
    _fill_week(app, patients=2, per_patient=5, monday=past)
    _fill_week(app, patients=1, per_patient=5, monday=MONDAY)
    _complete_past(app)
    desk = as_role("front_desk")
    drivers = f"/schedule/drivers?date={(MONDAY + timedelta(days=1)).isoformat()}"
    desk.get("/schedule/maintenance")
    assert markup(desk.get("/schedule/maintenance")).count("Plan visits<span") == 2
    few = (page_statements(app, desk, "/schedule/maintenance"), page_statements(app, desk, drivers))
    _fill_week(app, patients=20, per_patient=5, monday=past - timedelta(days=7))
    with app.app_context():
        db.session.execute(db.delete(Appointment).where(Appointment.starts_at >= local(MONDAY, 0)))
        db.session.commit()
    _fill_week(app, patients=25, per_patient=5, monday=MONDAY)
    _complete_past(app)
    listed = markup(desk.get("/schedule/maintenance"))
    assert listed.count("Plan visits<span") == 22
    many = (
        page_statements(app, desk, "/schedule/maintenance"),
        page_statements(app, desk, drivers),
    )
    print(f"maintenance and driver list statements: {few} -> {many}")
    assert many == few
