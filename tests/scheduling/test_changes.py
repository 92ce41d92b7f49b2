"""Moving and cancelling visits (one, or this and the following), no-shows with reasons, late
cancellations, make-up visits that keep the series' rhythm, and the missed-induction alert."""

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import Appointment, ClinicalAlert
from tests.helpers import CLINIC_ZONE, audit_actions, count, field_error, form_values, markup
from tests.scheduling.builders import (
    DAYS,
    book_series,
    book_visit,
    local,
    make_patient_with_course,
    row,
)


@pytest.fixture
def series(app, esk) -> list[int]:
    ids = book_series(app, *esk)
    assert len(ids) == 8
    return ids


def starts(app, ids) -> list[datetime]:
    return [row(app, i).starts_at for i in ids]


def test_the_booked_series_is_on_the_expected_days(app, series):
    assert [s.astimezone(CLINIC_ZONE).date() for s in starts(app, series)] == DAYS


# --- moving --------------------------------------------------------------------------------------


def test_move_one_visit_to_another_day_time_and_chair(app, as_role, series, chairs):
    desk = as_role("front_desk")
    third = series[2]
    assert (
        desk.post(
            f"/schedule/appointments/{third}/driver",
            data={"driver-driver_status": "confirmed", "driver-return_to": "appointment"},
        ).status_code
        == 302
    )
    assert row(app, third).status == "confirmed"
    before = starts(app, series)
    response = desk.post(
        f"/schedule/appointments/{third}/move",
        data={
            "move-day": "2026-04-15",
            "move-start": "10:30",
            "move-chair_id": str(chairs[1]),
            "move-scope": "this",
        },
    )
    assert response.status_code == 302
    moved = row(app, third)
    assert moved.starts_at == local(date(2026, 4, 15), 10, 30)
    assert moved.ends_at - moved.starts_at == timedelta(minutes=150)
    assert moved.chair_id == chairs[1]
    # The driver was confirmed for the old time: confirm again.
    assert (moved.driver_status, moved.driver_confirmed_at, moved.status) == (
        "unconfirmed",
        None,
        "scheduled",
    )
    after = starts(app, series)
    assert [a for i, a in enumerate(after) if i != 2] == [b for i, b in enumerate(before) if i != 2]
    assert "schedule.move" in audit_actions(app)


def test_move_this_and_the_following_visits_keeps_the_rhythm(app, as_role, series):
    desk = as_role("front_desk")
    fifth = series[4]
    page = desk.get(f"/schedule/appointments/{fifth}")
    assert "This and the following visits of the series" in markup(page)
    response = desk.post(
        f"/schedule/appointments/{fifth}/move",
        data={
            "move-day": "2026-04-28",
            "move-start": "10:30",
            "move-chair_id": str(row(app, fifth).chair_id),
            "move-scope": "following",
        },
    )
    assert response.status_code == 302, markup(response)
    local_starts = [s.astimezone(CLINIC_ZONE) for s in starts(app, series)]
    assert [s.date() for s in local_starts[:4]] == DAYS[:4]
    assert [s.date() for s in local_starts[4:]] == [d + timedelta(days=7) for d in DAYS[4:]]
    assert {s.time() for s in local_starts[:4]} == {time(9)}
    assert {s.time() for s in local_starts[4:]} == {time(10, 30)}


def test_a_later_visit_whose_chair_is_taken_gets_another_free_chair(app, as_role, series, chairs):
    desk = as_role("front_desk")
    other, _ = make_patient_with_course(app, last_name="Blocker")
    last_chair = row(app, series[7]).chair_id
    # The last visit would move to Fri 8 May 10:30 in its chair: someone is there.
    book_visit(
        app,
        other,
        None,
        last_chair,
        local(date(2026, 5, 8), 10, 0),
        minutes=60,
        visit_kind="consult",
    )
    response = desk.post(
        f"/schedule/appointments/{series[4]}/move",
        data={
            "move-day": "2026-04-28",
            "move-start": "10:30",
            "move-chair_id": str(row(app, series[4]).chair_id),
            "move-scope": "following",
        },
    )
    assert response.status_code == 302
    last = row(app, series[7])
    assert last.starts_at == local(date(2026, 5, 8), 10, 30)
    assert last.chair_id != last_chair


@pytest.mark.parametrize(
    ("data", "status", "field", "message"),
    [
        ({"move-day": "2026-04-18"}, 409, "move-day", "closed on Sat 18 Apr"),
        ({"move-start": "17:00"}, 409, "move-start", "Outside clinic hours"),
        ({"move-day": "2026-04-10"}, 409, "move-day", "never two doses in one day"),
        ({"move-day": "2026-04-01"}, 400, "move-day", "This date has passed."),
        ({"move-day": "someday"}, 400, "move-day", "Not a valid date value."),
        ({"move-start": ""}, 400, "move-start", "This field is required."),
        ({"move-chair_id": "999"}, 400, "move-chair_id", "Not a valid choice."),
        ({"move-scope": "everything"}, 400, "move-scope", "Not a valid choice."),
    ],
)
def test_moves_the_calendar_refuses_change_nothing(
    app, as_role, series, chairs, data, status, field, message
):
    desk = as_role("front_desk")
    before = starts(app, series)
    values = {
        "move-day": "2026-04-15",
        "move-start": "09:00",
        "move-chair_id": str(chairs[0]),
        "move-scope": "this",
    }
    values.update(data)
    response = desk.post(f"/schedule/appointments/{series[2]}/move", data=values)
    assert response.status_code == status
    assert message in (field_error(response, field) or "")
    assert starts(app, series) == before
    assert "schedule.move" not in audit_actions(app)


def test_moving_into_a_taken_chair_is_refused(app, as_role, series, chairs):
    desk = as_role("front_desk")
    other, _ = make_patient_with_course(app, last_name="Sitter")
    book_visit(app, other, None, chairs[2], local(date(2026, 4, 15), 9), visit_kind="consult")
    response = desk.post(
        f"/schedule/appointments/{series[2]}/move",
        data={
            "move-day": "2026-04-15",
            "move-start": "10:00",
            "move-chair_id": str(chairs[2]),
            "move-scope": "this",
        },
    )
    assert response.status_code == 409
    assert "Chair 3 is booked 09:00–11:30 on Wed 15 Apr." in field_error(response, "move-chair_id")
    assert row(app, series[2]).starts_at == local(date(2026, 4, 14), 9)


# --- cancelling ----------------------------------------------------------------------------------


def test_cancel_with_a_reason(app, as_role, series):
    desk = as_role("front_desk")
    response = desk.post(
        f"/schedule/appointments/{series[2]}/cancel",
        data={"cancel-reason": "ate", "cancel-scope": "this"},
    )
    assert response.status_code == 302
    cancelled = row(app, series[2])
    assert cancelled.status == "cancelled"
    assert cancelled.cancel_reason == "Ate within the fasting window"
    assert cancelled.late_cancellation is False
    assert cancelled.cancelled_at == clock.utcnow()
    assert [row(app, i).status for i in series].count("cancelled") == 1


def desk_at(as_role, moment: datetime):
    """The front desk signed in at `moment` (a frozen clock days later would time out the
    sign-in)."""
    clock.freeze(moment)
    return as_role("front_desk")


def test_a_cancellation_under_24_hours_is_flagged_late_and_counted(app, as_role, series):
    desk = desk_at(as_role, local(date(2026, 4, 13), 10, 0))  # 23 h before visit 3
    response = desk.post(
        f"/schedule/appointments/{series[2]}/cancel",
        data={"cancel-reason": "no_driver", "cancel-scope": "this"},
    )
    assert response.status_code == 302
    assert row(app, series[2]).late_cancellation is True
    desk.post(
        f"/schedule/appointments/{series[3]}/cancel",
        data={"cancel-reason": "other", "cancel-other": "Moving house", "cancel-scope": "this"},
    )
    assert row(app, series[3]).late_cancellation is False
    assert row(app, series[3]).cancel_reason == "Other: Moving house"
    page = markup(desk.get(f"/schedule/patients/{row(app, series[0]).patient_id}"))
    late = '<span class="count-value count-alert">1</span>'
    assert f'Late cancellations (< 24 h)</dt><dd class="col-auto">{late}' in page
    assert 'Cancellations</dt><dd class="col-auto">2</dd>' in page
    assert "late cancellation" in page


def test_cancel_this_and_the_following_visits(app, as_role, series):
    desk = as_role("front_desk")
    response = desk.post(
        f"/schedule/appointments/{series[5]}/cancel",
        data={"cancel-reason": "patient_request", "cancel-scope": "following"},
    )
    assert response.status_code == 302
    assert [row(app, i).status for i in series] == ["scheduled"] * 5 + ["cancelled"] * 3


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"cancel-reason": "other", "cancel-other": "  "}, "cancel-other"),
        ({"cancel-reason": "bogus"}, "cancel-reason"),
        ({"cancel-reason": ""}, "cancel-reason"),
        ({"cancel-reason": "ate", "cancel-scope": "all"}, "cancel-scope"),
        ({"cancel-reason": "other", "cancel-other": "x" * 151}, "cancel-other"),
    ],
)
def test_bad_cancellations_are_400_and_change_nothing(app, as_role, series, data, field):
    desk = as_role("front_desk")
    values = {"cancel-scope": "this", **data}
    response = desk.post(f"/schedule/appointments/{series[2]}/cancel", data=values)
    assert response.status_code == 400
    assert field_error(response, field)
    assert row(app, series[2]).status == "scheduled"
    assert "schedule.cancel" not in audit_actions(app)


def test_a_cancelled_visit_cannot_be_cancelled_or_moved_again(app, as_role, series):
    desk = as_role("front_desk")
    url = f"/schedule/appointments/{series[2]}"
    desk.post(url + "/cancel", data={"cancel-reason": "ate", "cancel-scope": "this"})
    again = desk.post(url + "/cancel", data={"cancel-reason": "ate", "cancel-scope": "this"})
    assert again.status_code == 400
    assert "can no longer be changed" in markup(again)
    move = desk.post(
        url + "/move",
        data={
            "move-day": "2026-04-15",
            "move-start": "09:00",
            "move-chair_id": "1",
            "move-scope": "this",
        },
    )
    assert move.status_code == 400
    assert audit_actions(app).count("schedule.cancel") == 1


# --- no-shows, make-up visits, alerts ------------------------------------------------------------


def _no_show(desk, appointment_id, reason="no_contact", other=""):
    return desk.post(
        f"/schedule/appointments/{appointment_id}/no-show",
        data={"noshow-reason": reason, "noshow-other": other},
    )


def test_a_no_show_needs_the_start_time_to_have_passed(app, as_role, series):
    desk = as_role("front_desk")
    early = _no_show(desk, series[0])
    assert early.status_code == 400
    assert "only once its start time has passed" in markup(early)
    assert row(app, series[0]).status == "scheduled"
    clock.freeze(local(DAYS[0], 10, 0))
    response = _no_show(desk, series[0], "ate")
    assert response.status_code == 302
    missed = row(app, series[0])
    assert (missed.status, missed.cancel_reason) == ("no_show", "Ate within the fasting window")
    assert missed.late_cancellation is False
    assert "schedule.no_show" in audit_actions(app)


@pytest.mark.parametrize(
    ("reason", "other", "field"),
    [("other", "", "noshow-other"), ("nope", "", "noshow-reason"), ("", "", "noshow-reason")],
)
def test_bad_no_show_input_is_400(app, as_role, series, reason, other, field):
    clock.freeze(local(DAYS[0], 10, 0))
    response = _no_show(as_role("front_desk"), series[0], reason, other)
    assert response.status_code == 400
    assert field_error(response, field)
    assert row(app, series[0]).status == "scheduled"


def test_a_missed_induction_visit_offers_a_make_up_that_keeps_the_rhythm(app, as_role, series):
    desk = as_role("front_desk")
    clock.freeze(local(DAYS[0], 10, 0))
    assert _no_show(desk, series[0]).status_code == 302
    page = desk.get(f"/schedule/appointments/{series[0]}")
    body = markup(page)
    # Tuesday missed: Wednesday keeps 48 h before Friday's visit 2.
    assert "Next day that keeps the series' rhythm: <strong>Wed 8 Apr 2026</strong>" in body
    # Several times that day, the one nearest the missed visit's (09:00) first.
    action = f'action="/schedule/appointments/{series[0]}/makeup"'
    assert body.count(action) >= 3
    assert body.index("Book 09:00") < body.index("Book 08:00") < body.index("Book 13:00")
    values = form_values(page, f"/schedule/appointments/{series[0]}/makeup", first=True)
    assert values["makeup-start"] == "09:00"
    response = desk.post(f"/schedule/appointments/{series[0]}/makeup", data=values)
    assert response.status_code == 302
    with app.app_context():
        makeup = db.session.scalar(select(Appointment).where(Appointment.id.not_in(series)))
        first = db.session.get(Appointment, series[0])
        assert makeup.series_id == first.series_id
        assert makeup.sequence_no == 1
        assert makeup.starts_at == local(date(2026, 4, 8), 9)
        assert makeup.visit_kind == "induction"
        assert makeup.status == "scheduled"
    assert response.headers["Location"] == f"/schedule/appointments/{makeup.id}"
    # Booked once: the offer is gone and a second click is refused.
    assert "makeup-card" not in markup(desk.get(f"/schedule/appointments/{series[0]}"))
    again = desk.post(f"/schedule/appointments/{series[0]}/makeup", data=values)
    assert again.status_code == 400
    assert count(app, Appointment) == 9


def test_any_offered_make_up_time_can_be_booked(app, as_role, series):
    desk = as_role("front_desk")
    clock.freeze(local(DAYS[0], 10, 0))
    assert _no_show(desk, series[0]).status_code == 302
    page = desk.get(f"/schedule/appointments/{series[0]}")
    assert "Book 13:00" in markup(page)
    values = form_values(page, f"/schedule/appointments/{series[0]}/makeup", first=True)
    values["makeup-start"] = "13:00"
    assert desk.post(f"/schedule/appointments/{series[0]}/makeup", data=values).status_code == 302
    with app.app_context():
        makeup = db.session.scalar(select(Appointment).where(Appointment.id.not_in(series)))
        assert makeup.starts_at == local(date(2026, 4, 8), 13)


def test_two_missed_induction_visits_in_a_row_raise_the_psychiatrists_alert(app, as_role, series):
    desk = as_role("front_desk")
    clock.freeze(local(DAYS[0], 10, 0))
    _no_show(desk, series[0])
    assert count(app, ClinicalAlert) == 0
    desk = desk_at(as_role, local(DAYS[1], 7, 0))
    desk.post(
        f"/schedule/appointments/{series[1]}/cancel",
        data={"cancel-reason": "unwell", "cancel-scope": "this"},
    )
    with app.app_context():
        alerts = db.session.scalars(select(ClinicalAlert)).all()
        assert len(alerts) == 1
        alert = alerts[0]
        assert alert.kind == "missed_induction"
        assert alert.appointment_id == series[1]
        assert alert.patient_id == db.session.get(Appointment, series[1]).patient_id
        assert alert.detail == {"missed": 2}
        assert alert.raised_at == clock.utcnow()
        assert alert.acknowledged_at is None
    assert "alert.raise" in audit_actions(app)
    # A third miss continues the same run: no second alert.
    _no_show(desk_at(as_role, local(DAYS[2], 10, 0)), series[2])
    assert count(app, ClinicalAlert) == 1


def test_an_attended_visit_between_misses_means_no_alert(app, as_role, series):
    desk = as_role("front_desk")
    clock.freeze(local(DAYS[0], 10, 0))
    _no_show(desk, series[0])
    with app.app_context():
        db.session.get(Appointment, series[1]).status = "completed"
        db.session.commit()
    _no_show(desk_at(as_role, local(DAYS[2], 10, 0)), series[2])
    assert count(app, ClinicalAlert) == 0


def test_cancelling_the_rest_of_a_series_in_advance_is_not_a_missed_visit(app, as_role, series):
    desk = as_role("front_desk")
    response = desk.post(
        f"/schedule/appointments/{series[4]}/cancel",
        data={"cancel-reason": "patient_request", "cancel-scope": "following"},
    )
    assert response.status_code == 302
    assert count(app, ClinicalAlert) == 0
    assert count(app, Appointment, Appointment.status == "cancelled") == 4
    assert count(app, Appointment, Appointment.late_cancellation.is_(True)) == 0


def test_two_late_cancellations_in_a_row_raise_the_alert(app, as_role, series):
    desk = desk_at(as_role, local(DAYS[0], 7, 0))
    desk.post(
        f"/schedule/appointments/{series[0]}/cancel",
        data={"cancel-reason": "unwell", "cancel-scope": "this"},
    )
    assert count(app, ClinicalAlert) == 0
    desk = desk_at(as_role, local(DAYS[1], 7, 0))
    desk.post(
        f"/schedule/appointments/{series[1]}/cancel",
        data={"cancel-reason": "no_driver", "cancel-scope": "this"},
    )
    with app.app_context():
        alerts = db.session.scalars(select(ClinicalAlert)).all()
        assert [(a.appointment_id, a.detail) for a in alerts] == [(series[1], {"missed": 2})]


def test_a_late_cancellation_by_the_clinic_is_not_the_patients_miss(app, as_role, series):
    clock.freeze(local(DAYS[0], 10, 0))
    _no_show(as_role("front_desk"), series[0])
    desk = desk_at(as_role, local(DAYS[1], 7, 0))
    desk.post(
        f"/schedule/appointments/{series[1]}/cancel",
        data={"cancel-reason": "clinic", "cancel-scope": "this"},
    )
    assert count(app, ClinicalAlert) == 0
    assert row(app, series[1]).late_cancellation is False


def test_planning_again_continues_an_induction_under_way(app, as_role, series):
    desk = as_role("front_desk")
    desk.post(
        f"/schedule/appointments/{series[3]}/cancel",
        data={"cancel-reason": "patient_request", "cancel-scope": "following"},
    )
    patient_id = row(app, series[0]).patient_id
    course_id = row(app, series[0]).course_id
    form = desk.get(f"/schedule/patients/{patient_id}/plan")
    assert form_values(form, f"/schedule/patients/{patient_id}/plan")["visit_kind"] == "induction"
    page = desk.post(
        f"/schedule/patients/{patient_id}/plan",
        data={
            "course_id": course_id,
            "visit_kind": "induction",
            "first_date": "2026-04-07",
            "preferred_time": "09:00",
        },
    )
    assert page.status_code == 200
    body = markup(page)
    assert "Continues the induction already under way: visits 4 onwards." in body
    values = form_values(page, f"/schedule/patients/{patient_id}/book")
    days = [date.fromisoformat(values[f"book-visits-{i}-day"]) for i in range(5)]
    assert "book-visits-5-day" not in values
    assert days[0] > DAYS[2]  # after visit 3, the last one still booked
    values["action"] = "book"
    booked = desk.post(f"/schedule/patients/{patient_id}/book", data=values)
    assert booked.status_code == 302, markup(booked)
    with app.app_context():
        rows = db.session.scalars(
            select(Appointment)
            .where(Appointment.status == "scheduled")
            .order_by(Appointment.starts_at)
        ).all()
        assert [r.sequence_no for r in rows] == list(range(1, 9))
        assert len({r.series_id for r in rows}) == 1
    calendar = markup(desk.get(f"/schedule/patients/{patient_id}"))
    assert "Induction 8/8" in calendar and "Induction 9/" not in calendar
    full = desk.post(
        f"/schedule/patients/{patient_id}/plan",
        data={
            "course_id": course_id,
            "visit_kind": "induction",
            "first_date": "2026-04-07",
            "preferred_time": "09:00",
        },
    )
    assert full.status_code == 400
    assert "all attended or booked" in field_error(full, "visit_kind")


def test_a_consult_without_a_chair_moves_and_keeps_no_chair(app, as_role, staff, chairs):
    patient_id, _ = make_patient_with_course(app, last_name="Consult")
    visit = book_visit(
        app, patient_id, None, None, local(date(2026, 4, 8), 11), minutes=60, visit_kind="consult"
    )
    response = as_role("front_desk").post(
        f"/schedule/appointments/{visit}/move",
        data={
            "move-day": "2026-04-09",
            "move-start": "14:00",
            "move-chair_id": "",
            "move-scope": "this",
        },
    )
    assert response.status_code == 302
    moved = row(app, visit)
    assert (moved.starts_at, moved.ends_at - moved.starts_at, moved.chair_id) == (
        local(date(2026, 4, 9), 14),
        timedelta(minutes=60),
        None,
    )
