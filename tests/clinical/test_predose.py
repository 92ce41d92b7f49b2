"""Consent and REMS enrollment dates against the session's day (pure rules)."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.predose import (
    CONSENT_IN_FUTURE,
    ENROLLMENT_IN_FUTURE,
    NO_CONSENT,
    NOT_ENROLLED,
    consent_problem,
    rems_problem,
    screen_date_problems,
)

DAY = date(2026, 3, 10)


@pytest.mark.parametrize("rule", [consent_problem, rems_problem])
@pytest.mark.parametrize("offset", [-400, -1, 0])
def test_a_date_on_or_before_the_session_day_passes(rule, offset):
    assert rule(DAY + timedelta(days=offset), DAY) is None


def test_no_date_is_the_hard_stop():
    assert consent_problem(None, DAY) == NO_CONSENT
    assert rems_problem(None, DAY) == NOT_ENROLLED


def test_a_date_after_the_session_day_is_refused_and_named():
    assert consent_problem(DAY + timedelta(days=1), DAY) == (
        "The consent on file is dated 11 Mar 2026, after this session: "
        "correct the date on the clinical screen."
    )
    assert rems_problem(date(2027, 3, 10), DAY) == (
        "The REMS enrollment is dated 10 Mar 2027, after this session: no dose until enrolled."
    )


@given(signed=st.dates() | st.none(), session_day=st.dates())
def test_the_rules_pass_exactly_when_the_date_is_on_or_before_the_session(signed, session_day):
    covered = signed is not None and signed <= session_day
    assert (consent_problem(signed, session_day) is None) is covered
    assert (rems_problem(signed, session_day) is None) is covered


@pytest.mark.parametrize(
    ("consent", "rems", "expected"),
    [
        (None, None, {}),
        (DAY, DAY, {}),
        (DAY - timedelta(days=3), None, {}),
        (DAY + timedelta(days=1), None, {"consent_date": CONSENT_IN_FUTURE}),
        (None, DAY + timedelta(days=1), {"rems_enrolled_on": ENROLLMENT_IN_FUTURE}),
        (
            DAY + timedelta(days=9),
            DAY + timedelta(days=2),
            {"consent_date": CONSENT_IN_FUTURE, "rems_enrolled_on": ENROLLMENT_IN_FUTURE},
        ),
    ],
)
def test_screen_dates_after_today(consent, rems, expected):
    assert screen_date_problems(consent, rems, DAY) == expected
