"""The 7-calendar-day deadline of the REMS monitoring form, on the site's calendar."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.rems_deadline import (
    FormState,
    days_left,
    due_on,
    form_state,
    late_from,
    treatment_day,
)

LA = ZoneInfo("America/Los_Angeles")
NY = ZoneInfo("America/New_York")


def local(zone, *args):
    return datetime(*args, tzinfo=zone).astimezone(UTC)


@pytest.mark.parametrize(
    ("zone", "dosed", "due"),
    [
        # A Friday session is due the next Friday.
        (LA, (2026, 12, 4, 10, 0), date(2026, 12, 11)),
        # Late evening in Los Angeles is already tomorrow in UTC: the site's date counts.
        (LA, (2026, 11, 30, 22, 30), date(2026, 12, 7)),
        (NY, (2026, 11, 30, 23, 30), date(2026, 12, 7)),
        # Month and year ends, February in a common year.
        (NY, (2027, 2, 25, 9, 0), date(2027, 3, 4)),
        (LA, (2026, 12, 28, 9, 0), date(2027, 1, 4)),
        (NY, (2028, 2, 26, 9, 0), date(2028, 3, 4)),  # leap year
        # Across the spring-forward and fall-back nights.
        (LA, (2027, 3, 10, 9, 0), date(2027, 3, 17)),
        (NY, (2026, 10, 30, 16, 0), date(2026, 11, 6)),
    ],
)
def test_due_seven_calendar_days_after_the_local_treatment_date(zone, dosed, due):
    assert due_on(treatment_day(local(zone, *dosed), zone), 7) == due


def test_late_from_local_midnight_after_the_due_date_across_dst():
    # Dosed Friday 5 Mar 2027 in New York; clocks go forward Sunday 14 Mar. Due Friday 12 Mar,
    # late from Saturday 13 Mar 00:00 EST (05:00 UTC).
    assert late_from(date(2027, 3, 5), 7, NY) == datetime(2027, 3, 13, 5, 0, tzinfo=UTC)
    # Los Angeles, due on Sunday 7 Nov 2027 (clocks went back that morning): late from Monday
    # 00:00 PST (08:00 UTC), not PDT.
    assert late_from(date(2027, 10, 31), 7, LA) == datetime(2027, 11, 8, 8, 0, tzinfo=UTC)


def test_days_left_on_the_sites_calendar():
    due = date(2026, 12, 11)
    # 23:30 on 10 Dec in Los Angeles is 11 Dec in UTC: still one day left there.
    assert days_left(due, local(LA, 2026, 12, 10, 23, 30), LA) == 1
    assert days_left(due, local(LA, 2026, 12, 11, 23, 59), LA) == 0
    assert days_left(due, local(LA, 2026, 12, 12, 0, 0), LA) == -1
    # The same instant is already 12 Dec in New York.
    assert days_left(due, local(LA, 2026, 12, 11, 23, 59), NY) == -1


@given(
    st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    st.sampled_from([LA, NY]),
    st.integers(1, 7),
)
def test_overdue_exactly_from_late_from(dosed, zone, days):
    day = treatment_day(dosed, zone)
    due = due_on(day, days)
    edge = late_from(day, days, zone)
    assert days_left(due, edge - timedelta(seconds=1), zone) == 0
    assert days_left(due, edge, zone) == -1
    assert (edge.astimezone(zone).date() - day).days == days + 1


@pytest.mark.parametrize(
    ("kwargs", "state"),
    [
        (
            {"signed": True, "missing": 0, "submitted": True, "changed": False, "days_left": -3},
            FormState.SUBMITTED,
        ),
        (
            {"signed": True, "missing": 0, "submitted": True, "changed": True, "days_left": 2},
            FormState.CHANGED,
        ),
        (
            {"signed": True, "missing": 0, "submitted": False, "changed": False, "days_left": -1},
            FormState.OVERDUE,
        ),
        (
            {"signed": False, "missing": 3, "submitted": False, "changed": False, "days_left": -1},
            FormState.OVERDUE,
        ),
        (
            {"signed": True, "missing": 0, "submitted": False, "changed": False, "days_left": 0},
            FormState.READY,
        ),
        (
            {"signed": True, "missing": 1, "submitted": False, "changed": False, "days_left": 5},
            FormState.DUE,
        ),
        (
            {"signed": False, "missing": 0, "submitted": False, "changed": False, "days_left": 5},
            FormState.DUE,
        ),
    ],
)
def test_form_state(kwargs, state):
    assert form_state(**kwargs) == state
