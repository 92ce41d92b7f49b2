"""The vitals schedule: check states, esketamine and IV checks, the next open check."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.codes import Modality
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.schedule import Check, CheckState, next_open_check, vitals_checks
from tests.clinical.builders import RULES, T0, at

ESK = Modality.ESKETAMINE_NASAL
IV = Modality.IV_KETAMINE
FIVE = timedelta(minutes=5)
ONE_SEC = timedelta(seconds=1)


def labels(checks):
    return [c.label for c in checks]


def by_label(checks, label):
    return next(c for c in checks if c.label == label)


# --- Check.state and .late --------------------------------------------------------------------


def test_done_check_is_done_whenever_asked():
    check = Check("40 min BP", T0, T0 + timedelta(minutes=90), FIVE)
    for now in (T0 - timedelta(hours=1), T0, T0 + timedelta(hours=3)):
        assert check.state(now) is CheckState.DONE


def test_undated_open_check_is_due():
    check = Check("Pre-dose", None, None, FIVE)
    assert check.state(T0) is CheckState.DUE


def test_undated_done_check_is_done_and_never_late():
    check = Check("Pre-dose", None, T0, FIVE)
    assert check.state(T0) is CheckState.DONE
    assert check.late is False


@pytest.mark.parametrize(
    "now, state",
    [
        (T0 - FIVE - ONE_SEC, CheckState.UPCOMING),
        (T0 - FIVE, CheckState.DUE),
        (T0, CheckState.DUE),
        (T0 + FIVE, CheckState.DUE),
        (T0 + FIVE + ONE_SEC, CheckState.OVERDUE),
    ],
)
def test_open_check_state_around_due_time(now, state):
    assert Check("15 min", T0, None, FIVE).state(now) is state


@pytest.mark.parametrize(
    "done_at, late",
    [(T0 - FIVE - ONE_SEC, False), (T0, False), (T0 + FIVE, False), (T0 + FIVE + ONE_SEC, True)],
)
def test_late_only_after_tolerance(done_at, late):
    assert Check("15 min", T0, done_at, FIVE).late is late


def test_open_check_is_not_late():
    assert Check("15 min", T0, None, FIVE).late is False


# --- before dosing ----------------------------------------------------------------------------


@pytest.mark.parametrize("modality", list(Modality))
def test_before_dosing_only_the_pre_dose_check(modality):
    checks = vitals_checks(modality, None, at(300), [], RULES)
    assert checks == [Check("Pre-dose", None, None, FIVE)]
    assert checks[0].state(at(0)) is CheckState.DUE


@pytest.mark.parametrize("modality", list(Modality))
def test_before_dosing_latest_reading_satisfies_pre_dose(modality):
    checks = vitals_checks(modality, None, at(300), [at(-20), at(-5), at(-12)], RULES)
    assert checks == [Check("Pre-dose", None, at(-5), FIVE)]


# --- esketamine -------------------------------------------------------------------------------


def esk(readings, end_at=None, rules=RULES):
    return vitals_checks(ESK, T0, end_at or at(180), readings, rules)


def test_esketamine_checks_and_due_times():
    checks = esk([])
    assert labels(checks) == ["Pre-dose", "40 min BP", "Before discharge"]
    assert [c.due_at for c in checks] == [T0, at(40), at(120)]
    assert [c.tolerance for c in checks] == [FIVE, FIVE, timedelta(minutes=15)]
    assert all(c.done_at is None for c in checks)


def test_esketamine_checks_ignore_end_at():
    assert labels(esk([], end_at=T0)) == ["Pre-dose", "40 min BP", "Before discharge"]


def test_pre_dose_reading_at_dose_start_counts_and_later_ones_do_not():
    checks = esk([at(-10), at(0), at(1)])
    assert checks[0].done_at == at(0)
    checks = esk([at(1)])
    assert checks[0].done_at is None


def test_missing_pre_dose_check_becomes_overdue_after_dosing():
    check = esk([])[0]
    assert check.state(at(5)) is CheckState.DUE
    assert check.state(at(6)) is CheckState.OVERDUE


@pytest.mark.parametrize(
    "reading, done, late",
    [
        (at(34, 59), None, False),
        (at(35), at(35), False),
        (at(40), at(40), False),
        (at(45), at(45), False),
        (at(46), at(46), True),
    ],
)
def test_forty_minute_bp_check(reading, done, late):
    check = by_label(esk([reading]), "40 min BP")
    assert check.done_at == done
    assert check.late is late


def test_forty_minute_check_takes_first_reading_in_range():
    check = by_label(esk([at(50), at(38), at(20)]), "40 min BP")
    assert check.done_at == at(38)


def test_forty_minute_check_states_while_open():
    check = by_label(esk([at(10)]), "40 min BP")
    assert check.state(at(34)) is CheckState.UPCOMING
    assert check.state(at(35)) is CheckState.DUE
    assert check.state(at(45)) is CheckState.DUE
    assert check.state(at(46)) is CheckState.OVERDUE


@pytest.mark.parametrize(
    "reading, done, late",
    [
        (at(104, 59), None, False),
        (at(105), at(105), False),
        (at(135), at(135), False),
        (at(136), at(136), True),
    ],
)
def test_before_discharge_check_window(reading, done, late):
    check = by_label(esk([at(40), reading]), "Before discharge")
    assert check.done_at == done
    assert check.late is late


def test_before_discharge_states_while_open():
    check = by_label(esk([at(40)]), "Before discharge")
    assert check.state(at(104)) is CheckState.UPCOMING
    assert check.state(at(105)) is CheckState.DUE
    assert check.state(at(135)) is CheckState.DUE
    assert check.state(at(136)) is CheckState.OVERDUE


def test_one_late_reading_satisfies_only_the_forty_minute_check():
    """A single reading at 110 min marks the 40-min check done (late); the before-discharge
    check needs a reading of its own."""
    forty, leave = esk([at(110)])[1:]
    assert forty.done_at == at(110)
    assert forty.late is True
    assert leave.done_at is None
    assert leave.state(at(111)) is CheckState.DUE


def test_a_second_reading_in_the_window_satisfies_the_before_discharge_check():
    forty, leave = esk([at(118), at(110)])[1:]
    assert (forty.done_at, leave.done_at) == (at(110), at(118))


def test_esketamine_schedule_uses_settings():
    rules = ClinicalRules(
        esketamine_bp_check_minutes=30,
        esketamine_min_observation_minutes=90,
        check_tolerance_minutes=2,
        predischarge_check_window_minutes=10,
    )
    checks = esk([at(27), at(28), at(79), at(80)], rules=rules)
    assert labels(checks) == ["Pre-dose", "30 min BP", "Before discharge"]
    assert [c.due_at for c in checks] == [T0, at(30), at(90)]
    assert checks[1].done_at == at(28)
    assert checks[2].done_at == at(80)


# --- IV ---------------------------------------------------------------------------------------


def iv(readings, end_minutes=90, rules=RULES):
    return vitals_checks(IV, T0, at(end_minutes), readings, rules)


def test_iv_checks_every_fifteen_minutes_up_to_end_at():
    checks = iv([], end_minutes=60)
    assert labels(checks) == ["Pre-dose", "15 min", "30 min", "45 min", "60 min"]
    assert [c.due_at for c in checks] == [T0, at(15), at(30), at(45), at(60)]
    assert all(c.tolerance == FIVE for c in checks)


@pytest.mark.parametrize(
    "end_minutes, last",
    [(14, "Pre-dose"), (15, "15 min"), (59, "45 min"), (60, "60 min"), (74.99, "60 min")],
)
def test_iv_end_at_bounds_the_checks(end_minutes, last):
    assert labels(iv([], end_minutes=end_minutes))[-1] == last


@pytest.mark.parametrize(
    "reading, slot",
    [
        (at(9, 59), None),
        (at(10), "15 min"),
        (at(15), "15 min"),
        (at(24, 59), "15 min"),
        (at(25), "30 min"),
        (at(39, 59), "30 min"),
        (at(40), "45 min"),
    ],
)
def test_iv_reading_lands_in_one_slot(reading, slot):
    checks = iv([reading])
    done = [c.label for c in checks[1:] if c.done_at is not None]
    assert done == ([slot] if slot else [])


def test_iv_reading_counts_for_one_slot_only():
    checks = iv([at(12), at(20)])
    assert by_label(checks, "15 min").done_at == at(12)
    assert by_label(checks, "30 min").done_at is None


def test_iv_late_reading_in_slot_is_late():
    checks = iv([at(16), at(36)])
    assert by_label(checks, "15 min").late is False
    assert by_label(checks, "30 min").late is True


def test_iv_readings_given_unsorted():
    checks = iv([at(46), at(-5), at(31), at(14)], end_minutes=45)
    assert [c.done_at for c in checks] == [at(-5), at(14), at(31), at(46)]


def test_iv_schedule_uses_settings():
    rules = ClinicalRules(iv_vitals_interval_minutes=10, check_tolerance_minutes=2)
    checks = iv([at(8), at(17)], end_minutes=30, rules=rules)
    assert labels(checks) == ["Pre-dose", "10 min", "20 min", "30 min"]
    assert checks[1].done_at == at(8)
    assert checks[2].done_at is None  # 17 falls in the 10-min slot [8, 18), already satisfied
    assert checks[1].tolerance == timedelta(minutes=2)


offsets = st.lists(st.integers(min_value=-30 * 60, max_value=240 * 60), max_size=25)


@given(
    reading_seconds=offsets,
    end_minutes=st.integers(0, 240),
    interval=st.integers(5, 30),
    tolerance=st.integers(0, 4),
)
def test_iv_slots_are_ordered_and_readings_used_once(
    reading_seconds, end_minutes, interval, tolerance
):
    rules = ClinicalRules(iv_vitals_interval_minutes=interval, check_tolerance_minutes=tolerance)
    times = [at(seconds=s) for s in reading_seconds]
    checks = vitals_checks(IV, T0, at(end_minutes), times, rules)
    assert checks[0].label == "Pre-dose"
    minutes = [int(c.label.removesuffix(" min")) for c in checks[1:]]
    assert minutes == list(range(interval, end_minutes + 1, interval))
    assert all(a < b for a, b in zip(minutes, minutes[1:], strict=False))
    done = [c.done_at for c in checks if c.done_at is not None]
    assert len(done) == len(set(done))
    for check in checks[1:]:
        if check.done_at is not None:
            assert check.done_at in times
            assert check.due_at - check.tolerance <= check.done_at
            assert check.done_at < check.due_at + timedelta(minutes=interval) - check.tolerance
    if checks[0].done_at is not None:
        assert checks[0].done_at == max(t for t in times if t <= T0)


# --- next_open_check --------------------------------------------------------------------------


def test_next_open_check_none_when_all_done():
    checks = esk([at(-5), at(40), at(115)])
    assert next_open_check(checks, at(130)) is None


def test_next_open_check_is_earliest_not_done():
    checks = esk([at(-5)])
    assert next_open_check(checks, at(20)) == (checks[1], CheckState.UPCOMING)
    assert next_open_check(checks, at(50)) == (checks[1], CheckState.OVERDUE)


def test_next_open_check_skips_done_ones_even_if_later_open():
    checks = iv([at(-5), at(30)], end_minutes=45)
    check, state = next_open_check(checks, at(33))
    assert check.label == "15 min"
    assert state is CheckState.OVERDUE


def test_next_open_check_before_dosing():
    checks = vitals_checks(IV, None, at(0), [], RULES)
    assert next_open_check(checks, at(0)) == (checks[0], CheckState.DUE)


def test_next_open_check_of_nothing():
    assert next_open_check([], at(0)) is None
