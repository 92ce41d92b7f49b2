"""Planning and booking a series: the proposal, conflicts with alternatives, adjusting single
visits, one transaction per series, and every refusal with nothing saved."""

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from clinic_app.extensions import db
from clinic_app.models import Appointment, AuditEvent, Patient
from clinic_app.scheduling import booking, checks
from tests import factories
from tests.helpers import (
    CLINIC_ZONE,
    audit_actions,
    checked,
    count,
    field_error,
    form_values,
    markup,
)
from tests.scheduling.builders import (
    DOSE_STRINGS,
    MONDAY,
    book_from,
    book_visit,
    local,
    make_patient_with_course,
    plan_data,
    propose,
    series_rows,
)

BOOK = "/schedule/patients/{}/book"


def _local_days(rows) -> list[date]:
    return [r.starts_at.astimezone(CLINIC_ZONE).date() for r in rows]


def test_front_desk_sees_the_plan_form_with_the_patients_preferences(app, as_role, esk):
    patient_id, course_id = esk
    with app.app_context():
        person = db.session.get(Patient, patient_id)
        person.preferred_weekdays = [1, 4]
        person.preferred_time = time(10, 30)
        db.session.commit()
    page = as_role("front_desk").get(f"/schedule/patients/{patient_id}/plan")
    assert page.status_code == 200
    values = form_values(page, f"/schedule/patients/{patient_id}/plan")
    assert values["course_id"] == str(course_id)
    assert values["visit_kind"] == "induction"
    assert values["first_date"] == "2026-04-07"
    assert values["preferred_time"] == "10:30"
    assert checked(page, "preferred_weekdays") == ["1", "4"]


def test_esketamine_induction_proposes_eight_visits_twice_weekly(app, as_role, esk):
    patient_id, course_id = esk
    desk = as_role("front_desk")
    page = propose(desk, patient_id, course_id)
    assert page.status_code == 200
    values = form_values(page, BOOK.format(patient_id))
    days = [date.fromisoformat(values[f"book-visits-{i}-day"]) for i in range(8)]
    assert "book-visits-8-day" not in values
    # Starting on a Tuesday: the Tue/Fri pair, two a week for four weeks, never two in one day.
    assert [d.weekday() for d in days] == [1, 4] * 4
    assert days[0] == date(2026, 4, 7) and days[-1] == date(2026, 5, 1)
    assert all(values[f"book-visits-{i}-start"] == "09:00" for i in range(8))
    assert all(values[f"book-visits-{i}-chair_id"] for i in range(8))
    body = markup(page)
    assert "Proposed induction series: 8 visits" in body
    assert not any(s in body for s in DOSE_STRINGS)
    assert count(app, Appointment) == 0  # proposing saves nothing


def test_preferred_weekdays_and_time_shape_the_proposal(app, as_role, esk):
    patient_id, course_id = esk
    page = propose(
        as_role("front_desk"),
        patient_id,
        course_id,
        preferred_weekdays=["0", "3"],
        preferred_time="13:15",
    )
    values = form_values(page, BOOK.format(patient_id))
    days = [date.fromisoformat(values[f"book-visits-{i}-day"]) for i in range(8)]
    # The first week has only Tue-Fri left: Thursday and the nearest day that keeps 48 h.
    assert [d.weekday() for d in days] == [1, 3] + [0, 3] * 3
    assert {values[f"book-visits-{i}-start"] for i in range(8)} == {"13:15"}


def test_iv_induction_proposes_six_infusions_in_two_to_three_weeks(app, as_role, staff, chairs):
    patient_id, course_id = make_patient_with_course(app, "iv_ketamine")
    page = propose(as_role("front_desk"), patient_id, course_id)
    values = form_values(page, BOOK.format(patient_id))
    days = [date.fromisoformat(values[f"book-visits-{i}-day"]) for i in range(6)]
    assert "book-visits-6-day" not in values
    assert (days[-1] - days[0]).days <= 20
    assert len(set(days)) == 6
    assert "Proposed induction series: 6 visits" in markup(page)


def test_a_full_day_is_marked_as_a_conflict_with_an_alternative_filled_in(
    app, as_role, esk, chairs
):
    patient_id, course_id = esk
    # Every chair is taken all day on Tuesday 7 April (the series' first target day).
    others = [make_patient_with_course(app, last_name=f"Busy{n}")[0] for n in range(4)]
    for person, chair in zip(others, chairs, strict=True):
        for hour in (8, 10, 12, 14, 16):
            book_visit(
                app,
                person,
                None,
                chair,
                local(date(2026, 4, 7), hour),
                minutes=120,
                visit_kind="consult",
            )
    page = propose(as_role("front_desk"), patient_id, course_id)
    assert page.status_code == 200
    body = markup(page)
    assert "<strong>Conflict:</strong> No free chair on Tue 7 Apr within clinic hours" in body
    assert "Alternative filled in: Wed 8 Apr 09:00" in body
    values = form_values(page, BOOK.format(patient_id))
    assert values["book-visits-0-target"] == "2026-04-07"
    assert values["book-visits-0-day"] == "2026-04-08"
    assert values["book-visits-1-day"] == "2026-04-10"  # the rest of the series keeps its days
    assert book_from(as_role("front_desk"), patient_id, page).status_code == 302
    assert len(series_rows(app, patient_id)) == 8 + 0


def test_booking_writes_one_row_per_visit_under_one_series_in_one_go(app, as_role, esk):
    patient_id, course_id = esk
    desk = as_role("front_desk")
    page = propose(desk, patient_id, course_id)
    response = book_from(desk, patient_id, page)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/schedule/patients/{patient_id}"
    rows = series_rows(app, patient_id)
    assert len(rows) == 8
    assert len({r.series_id for r in rows}) == 1 and len(rows[0].series_id) == 36
    assert [r.sequence_no for r in rows] == list(range(1, 9))
    assert {r.status for r in rows} == {"scheduled"}
    assert {r.visit_kind for r in rows} == {"induction"}
    assert {r.course_id for r in rows} == {course_id}
    assert {(r.driver_name, r.driver_phone) for r in rows} == {("Sam Tester", "555-0199")}
    assert {r.driver_status for r in rows} == {"unconfirmed"}
    assert {int((r.ends_at - r.starts_at).total_seconds() // 60) for r in rows} == {150}
    assert {r.starts_at.astimezone(CLINIC_ZONE).time() for r in rows} == {time(9, 0)}
    assert audit_actions(app).count("schedule.book") == 1
    page = desk.get(f"/schedule/patients/{patient_id}")
    assert "Induction 3/8" in markup(page)


def test_single_visits_can_be_adjusted_before_booking(app, as_role, esk, chairs):
    patient_id, course_id = esk
    desk = as_role("front_desk")
    page = propose(desk, patient_id, course_id)
    response = book_from(
        desk,
        patient_id,
        page,
        **{
            "book-visits-2-day": "2026-04-15",
            "book-visits-2-start": "11:45",
            "book-visits-2-chair_id": str(chairs[3]),
            "book-driver_name": "Robin Ride",
            "book-driver_phone": "555-0777",
        },
    )
    assert response.status_code == 302
    rows = series_rows(app, patient_id)
    third = rows[2]
    assert third.starts_at == local(date(2026, 4, 15), 11, 45)
    assert third.chair_id == chairs[3]
    assert {r.driver_name for r in rows} == {"Robin Ride"}


def test_check_again_reports_problems_without_saving(app, as_role, esk):
    patient_id, course_id = esk
    desk = as_role("front_desk")
    page = propose(desk, patient_id, course_id)
    checked = book_from(desk, patient_id, page, action="check")
    assert checked.status_code == 200
    assert "Every visit fits" in markup(checked)
    same_day = book_from(
        desk, patient_id, page, action="check", **{"book-visits-1-day": "2026-04-07"}
    )
    assert same_day.status_code == 409
    assert "never two doses in one day" in field_error(same_day, "book-visits-1-day")
    assert count(app, Appointment) == 0


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"book-visits-3-day": "2026-04-18"}, "book-visits-3-day", "closed on Sat 18 Apr"),
        ({"book-visits-3-start": "16:30"}, "book-visits-3-start", "Outside clinic hours"),
        ({"book-visits-3-start": "07:00"}, "book-visits-3-start", "Outside clinic hours"),
        ({"book-visits-3-day": "2026-04-03"}, "book-visits-3-day", "already passed"),
        ({"book-visits-3-day": "2026-04-07"}, "book-visits-3-day", "never two doses in one day"),
    ],
)
def test_calendar_refusals_are_shown_by_the_visit_and_nothing_is_saved(
    app, as_role, esk, changes, field, message
):
    patient_id, course_id = esk
    desk = as_role("front_desk")
    page = propose(desk, patient_id, course_id)
    response = book_from(desk, patient_id, page, **changes)
    assert response.status_code == 409
    assert message in (field_error(response, field) or "")
    assert "Nothing was saved" in markup(response)
    assert count(app, Appointment) == 0
    assert "schedule.book" not in audit_actions(app)


def test_a_chair_taken_meanwhile_is_refused_with_a_clear_message(app, as_role, esk, chairs):
    patient_id, course_id = esk
    desk = as_role("front_desk")
    page = propose(desk, patient_id, course_id)
    values = form_values(page, BOOK.format(patient_id))
    day = date.fromisoformat(values["book-visits-4-day"])
    chair = int(values["book-visits-4-chair_id"])
    other, _ = make_patient_with_course(app, last_name="Quick")
    book_visit(app, other, None, chair, local(day, 10, 0), minutes=60, visit_kind="consult")
    response = book_from(desk, patient_id, page)
    assert response.status_code == 409
    error = field_error(response, "book-visits-4-chair_id")
    assert error is not None and "is booked 10:00–11:00" in error
    assert count(app, Appointment, Appointment.patient_id == patient_id) == 0


def test_a_day_with_another_dose_of_the_patient_is_a_conflict_in_the_proposal(
    app, as_role, esk, chairs
):
    patient_id, course_id = esk
    # Another dosing visit on Tue 7 April (the series' first target day), in the afternoon: a
    # 09:00 slot would not overlap it, but never two doses in one day.
    book_visit(
        app, patient_id, None, chairs[0], local(date(2026, 4, 7), 14), visit_kind="maintenance"
    )
    page = propose(as_role("front_desk"), patient_id, course_id)
    assert page.status_code == 200
    body = markup(page)
    # With that dose and the series' Friday the week already holds two esketamine doses.
    assert (
        "The patient already has a dosing visit on Tue 7 Apr; no other day fits before visit 2"
        in body
    )
    # Left as it is, the visit has no chair to book; forced onto that day, it is refused.
    desk = as_role("front_desk")
    response = book_from(desk, patient_id, page)
    assert response.status_code == 400
    assert field_error(response, "book-visits-0-chair_id") == "Choose a chair."
    forced = {"book-visits-0-chair_id": str(chairs[1]), "book-visits-0-start": "09:00"}
    response = book_from(desk, patient_id, page, **forced)
    assert response.status_code == 409
    assert "never two doses in one day" in field_error(response, "book-visits-0-day")
    assert count(app, Appointment, Appointment.patient_id == patient_id) == 1


def test_the_patient_booked_elsewhere_is_refused(app, as_role, esk, chairs):
    patient_id, course_id = esk
    desk = as_role("front_desk")
    page = propose(desk, patient_id, course_id)
    values = form_values(page, BOOK.format(patient_id))
    day = date.fromisoformat(values["book-visits-6-day"])
    book_visit(app, patient_id, None, None, local(day, 10, 0), minutes=60, visit_kind="consult")
    response = book_from(desk, patient_id, page)
    assert response.status_code == 409
    assert "The patient already has a visit 10:00–11:00" in field_error(
        response, "book-visits-6-start"
    )
    assert count(app, Appointment, Appointment.patient_id == patient_id) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"book-visits-0-day": "not-a-date"}, "book-visits-0-day"),
        ({"book-visits-0-day": ""}, "book-visits-0-day"),
        ({"book-visits-2-start": "25:99"}, "book-visits-2-start"),
        ({"book-visits-5-chair_id": ""}, "book-visits-5-chair_id"),
        ({"book-visits-5-chair_id": "999"}, "book-visits-5-chair_id"),
        ({"book-driver_name": "x" * 121}, "book-driver_name"),
        ({"book-driver_phone": "5" * 33}, "book-driver_phone"),
    ],
)
def test_bad_input_on_the_booking_form_is_a_400_with_nothing_saved(
    app, as_role, esk, changes, field
):
    patient_id, course_id = esk
    desk = as_role("front_desk")
    page = propose(desk, patient_id, course_id)
    response = book_from(desk, patient_id, page, **changes)
    assert response.status_code == 400
    assert field_error(response, field)
    assert count(app, Appointment) == 0


def test_a_course_of_another_patient_is_refused(app, as_role, esk):
    patient_id, course_id = esk
    other, other_course = make_patient_with_course(app, last_name="Else")
    desk = as_role("front_desk")
    page = propose(desk, patient_id, course_id)
    response = book_from(desk, patient_id, page, **{"book-course_id": str(other_course)})
    assert response.status_code == 400
    assert count(app, Appointment) == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"first_date": "2026-04-06"}, "first_date"),  # today: plan from tomorrow
        ({"first_date": "2020-01-01"}, "first_date"),
        ({"first_date": "2028-01-01"}, "first_date"),
        ({"first_date": "soon"}, "first_date"),
        ({"preferred_time": ""}, "preferred_time"),
        ({"visit_kind": "consult"}, "visit_kind"),
        ({"visit_kind": "maintenance", "count": ""}, "count"),
        ({"visit_kind": "maintenance", "count": "40"}, "count"),
        ({"course_id": "999"}, "course_id"),
        ({"preferred_weekdays": "9"}, "preferred_weekdays"),
    ],
)
def test_bad_input_on_the_plan_form_is_a_400(app, as_role, esk, changes, field):
    patient_id, course_id = esk
    data = plan_data(course_id)
    data.update(changes)
    response = as_role("front_desk").post(f"/schedule/patients/{patient_id}/plan", data=data)
    assert response.status_code == 400
    assert field_error(response, field)
    assert count(app, Appointment) == 0


def test_a_patient_without_an_active_course_cannot_be_planned(app, as_role, staff, chairs):
    with app.app_context():
        person = factories.make_patient()
        db.session.commit()
        patient_id = person.id
    page = as_role("front_desk").get(f"/schedule/patients/{patient_id}/plan")
    assert page.status_code == 200
    assert "has no active course" in markup(page)


def test_the_database_refuses_a_double_booking_the_checks_missed(app, as_role, esk, monkeypatch):
    """A race the pre-check cannot see (simulated by skipping it): the database constraint
    (trigger on SQLite, exclusion constraint on PostgreSQL) refuses and the desk gets a clear
    message, with nothing saved."""
    patient_id, course_id = esk
    desk = as_role("front_desk")
    page = propose(desk, patient_id, course_id)
    values = form_values(page, BOOK.format(patient_id))
    day = date.fromisoformat(values["book-visits-0-day"])
    other, _ = make_patient_with_course(app, last_name="Racer")
    book_visit(
        app,
        other,
        None,
        int(values["book-visits-0-chair_id"]),
        local(day, 9, 30),
        visit_kind="consult",
        minutes=30,
    )
    monkeypatch.setattr(booking, "check_visits", lambda *a, **k: checks.Check())
    response = book_from(desk, patient_id, page)
    assert response.status_code == 409
    assert "Someone else booked this chair at that time a moment ago" in markup(response)
    assert count(app, Appointment, Appointment.patient_id == patient_id) == 0


def test_spacing_under_48_hours_is_a_warning_not_a_refusal(app, as_role, esk):
    patient_id, course_id = esk
    desk = as_role("front_desk")
    page = propose(desk, patient_id, course_id)
    # Visit 2 on Wednesday 8 April: 24 h after visit 1.
    checked = book_from(
        desk, patient_id, page, action="check", **{"book-visits-1-day": "2026-04-08"}
    )
    assert checked.status_code == 200
    assert "the clinic warns under 48 h" in markup(checked)
    booked = book_from(desk, patient_id, page, **{"book-visits-1-day": "2026-04-08"})
    assert booked.status_code == 302


def test_maintenance_visits_follow_the_prescribed_interval(app, as_role, staff, chairs):
    patient_id, course_id = make_patient_with_course(app, "iv_ketamine")
    with app.app_context():
        from clinic_app.models import TreatmentCourse

        course = db.session.get(TreatmentCourse, course_id)
        course.phase = "maintenance"
        course.maintenance_interval_days = 21
        db.session.commit()
    last = local(MONDAY - timedelta(days=7), 9)
    book_visit(
        app,
        patient_id,
        course_id,
        chairs[0],
        last,
        minutes=95,
        status="completed",
        visit_kind="maintenance",
    )
    desk = as_role("front_desk")
    form = desk.get(f"/schedule/patients/{patient_id}/plan")
    values = form_values(form, f"/schedule/patients/{patient_id}/plan")
    assert values["visit_kind"] == "maintenance"
    assert values["first_date"] == "2026-04-20"  # last visit 30 Mar + 21 days
    page = propose(
        desk, patient_id, course_id, visit_kind="maintenance", first_date="2026-04-20", count="3"
    )
    assert page.status_code == 200
    values = form_values(page, BOOK.format(patient_id))
    days = [date.fromisoformat(values[f"book-visits-{i}-day"]) for i in range(3)]
    assert days == [date(2026, 4, 20), date(2026, 5, 11), date(2026, 6, 1)]
    assert book_from(desk, patient_id, page).status_code == 302
    rows = [r for r in series_rows(app, patient_id) if r.status == "scheduled"]
    assert [r.visit_kind for r in rows] == ["maintenance"] * 3
    assert [r.sequence_no for r in rows] == [1, 2, 3]
    # IV chair time: setup 15 + infusion 40 + recovery 30 + turnover 10.
    assert {int((r.ends_at - r.starts_at).total_seconds() // 60) for r in rows} == {95}


def test_esketamine_maintenance_is_weekly_through_week_eight_by_default(app, as_role, esk, chairs):
    patient_id, course_id = esk
    for n in range(8):
        book_visit(
            app,
            patient_id,
            course_id,
            chairs[0],
            local(MONDAY - timedelta(days=30 - 3 * n), 9),
            status="completed",
        )
    desk = as_role("front_desk")
    page = propose(
        desk, patient_id, course_id, visit_kind="maintenance", first_date="2026-04-08", count="5"
    )
    assert page.status_code == 200
    values = form_values(page, BOOK.format(patient_id))
    days = [date.fromisoformat(values[f"book-visits-{i}-day"]) for i in range(5)]
    assert [(b - a).days for a, b in zip(days, days[1:], strict=False)] == [7, 7, 7, 7]


def test_audit_rows_carry_no_free_text(app, as_role, esk):
    patient_id, course_id = esk
    desk = as_role("front_desk")
    book_from(desk, patient_id, propose(desk, patient_id, course_id))
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "schedule.book"))
        assert event.patient_id == patient_id
        assert set(event.detail) == {"series_id", "visits", "kind"}
