"""Dose-step rules: a large IV dose and a TRD indication that need the prescriber's reason, the
IV pump's consistency with the dose, pauses, a short infusion, and the esketamine devices."""

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.codes import Indication
from clinic_app.clinical.dosing import (
    TRD_MIN_FAILED_TRIALS,
    device_problem,
    indication_needs_reason,
    infusion_short,
    iv_dose_needs_confirmation,
    paused_minutes,
    pump_problem,
    pump_rate_for,
    running_minutes,
)
from clinic_app.clinical.rules import ClinicalRules
from tests.clinical.builders import RULES, T0, at, pause

D = Decimal

# --- a dose above the usual maximum -----------------------------------------------------------


@pytest.mark.parametrize(
    "mg_per_kg, needed",
    [
        ("0.1", False),
        ("0.5", False),
        ("0.99", False),
        ("1.0", False),  # the usual maximum itself needs no confirmation
        ("1.00", False),
        ("1.01", True),
        ("1.5", True),
        ("2.0", True),  # the hard limit still needs the confirmation
    ],
)
def test_iv_dose_above_the_usual_maximum_needs_confirmation(mg_per_kg, needed):
    assert iv_dose_needs_confirmation(D(mg_per_kg), RULES) is needed


def test_the_usual_maximum_is_the_clinic_setting():
    rules = ClinicalRules(iv_usual_max_mg_per_kg=0.75)
    assert not iv_dose_needs_confirmation(D("0.75"), rules)
    assert iv_dose_needs_confirmation(D("0.76"), rules)
    assert not iv_dose_needs_confirmation(D("0.76"), RULES)


@given(
    mg_per_kg=st.decimals(min_value="0.01", max_value="2", places=2),
    usual=st.sampled_from([0.5, 0.75, 1.0, 1.25, 2.0]),
)
def test_confirmation_exactly_above_the_line(mg_per_kg, usual):
    rules = ClinicalRules(iv_usual_max_mg_per_kg=usual)
    assert iv_dose_needs_confirmation(mg_per_kg, rules) is (mg_per_kg > D(str(usual)))


# --- a TRD course with fewer than two failed trials -------------------------------------------


@pytest.mark.parametrize("indication", list(Indication))
@pytest.mark.parametrize("failed_trials", [0, 1, 2, 3, 10])
def test_trd_below_two_failed_trials_needs_a_reason(indication, failed_trials):
    expected = indication == Indication.TRD and failed_trials < 2
    assert indication_needs_reason(indication, failed_trials) is expected
    assert indication_needs_reason(indication.value, failed_trials) is expected


def test_trd_means_two_failed_trials():
    assert TRD_MIN_FAILED_TRIALS == 2


# --- the IV pump -------------------------------------------------------------------------------


def test_matching_pump_settings_pass():
    # 40 mg over 40 min at 1 mg/mL: 60 mL/h.
    assert pump_problem(D("40"), 40, D("1"), D("60"), RULES) is None
    assert pump_rate_for(D("40"), 40, D("1")) == D("60.0")


@pytest.mark.parametrize(
    "rate, ok",
    [("54", True), ("66", True), ("53.9", False), ("66.1", False), ("120", False), ("6", False)],
)
def test_pump_within_ten_percent_of_the_dose_and_half_a_rate_step(rate, ok):
    # 60 mL/h gives 40 mg; the margin is 10 % (4 mg) plus half a 0.1 mL/h step over 40 min at
    # 1 mg/mL (0.033 mg): 54 and 66 mL/h give 36 and 44 mg, 53.9 and 66.1 mL/h miss by 4.07.
    assert (pump_problem(D("40"), 40, D("1"), D(rate), RULES) is None) is ok


def test_a_clear_mismatch_says_what_the_pump_gives_and_the_rate_to_set():
    # A tenfold error in the concentration: 10 mg/mL at 60 mL/h gives 400 mg.
    assert pump_problem(D("40"), 40, D("10"), D("60"), RULES) == (
        "60 mL/h of 10 mg/mL for 40 min gives 400.0 mg, not 40 mg: set 6.0 mL/h."
    )


def test_tolerance_is_the_clinic_setting():
    strict = ClinicalRules(iv_pump_tolerance_percent=1)
    assert pump_problem(D("40"), 40, D("1"), D("62"), RULES) is None
    assert pump_problem(D("40"), 40, D("1"), D("62"), strict) is not None


def test_a_tiny_rate_is_judged_against_the_pumps_step():
    # 5 mg over 83 min at 10 mg/mL needs 0.36 mL/h; the pump sets 0.4 mL/h (5.5 mg).
    assert pump_problem(D("5"), 83, D("10"), D("0.4"), RULES) is None
    assert pump_problem(D("5"), 83, D("10"), D("0.5"), RULES) is not None


@pytest.mark.parametrize(
    "concentration, rate, message",
    [
        ("0", "60", "The concentration must be above 0 mg/mL."),
        ("1", "0", "The rate must be above 0 mL/h."),
    ],
)
def test_zero_settings_refused(concentration, rate, message):
    assert pump_problem(D("40"), 40, D(concentration), D(rate), RULES) == message


@given(
    dose=st.decimals(min_value="5", max_value="250", places=1),
    minutes=st.integers(20, 120),
    concentration=st.sampled_from([D("0.5"), D("1"), D("2"), D("5"), D("10")]),
)
def test_the_suggested_rate_always_passes(dose, minutes, concentration):
    rate = pump_rate_for(dose, minutes, concentration)
    assert pump_problem(dose, minutes, concentration, rate, RULES) is None


# --- pauses and a short infusion --------------------------------------------------------------


def test_no_pauses():
    assert paused_minutes(T0, at(40), []) == 0
    assert running_minutes(T0, at(40), []) == 40


def test_pauses_are_subtracted():
    pauses = [pause(10, 15), pause(20, 22.5)]
    assert paused_minutes(T0, at(48), pauses) == 7.5
    assert running_minutes(T0, at(48), pauses) == 40.5


def test_pauses_are_clipped_to_the_infusion_and_an_open_one_runs_to_the_end():
    assert paused_minutes(T0, at(40), [pause(-5, 5)]) == 5
    assert paused_minutes(T0, at(40), [pause(35, 50)]) == 5
    assert paused_minutes(T0, at(40), [pause(30, None)]) == 10
    assert paused_minutes(T0, at(40), [pause(45, 50), pause(-10, -5)]) == 0


@given(
    length=st.floats(1, 180),
    spans=st.lists(st.tuples(st.floats(0, 180), st.floats(0, 60)), max_size=5),
)
def test_running_plus_paused_is_the_whole_span(length, spans):
    end = at(length)
    pauses = [(at(start), at(start) + timedelta(minutes=gap or 0.5)) for start, gap in spans]
    pauses.sort()
    # Pauses never overlap in the app (one open at a time); keep the generated ones apart.
    kept, last = [], T0
    for begin, finish in pauses:
        if begin >= last:
            kept.append((begin, finish))
            last = finish
    paused = paused_minutes(T0, end, kept)
    assert 0 <= paused <= length + 1e-6
    assert abs(running_minutes(T0, end, kept) + paused - length) < 1e-6


@pytest.mark.parametrize(
    "ran, planned, short",
    [(40, 40, False), (39.5, 40, False), (39.4, 40, True), (32, 40, True), (60, 40, False)],
)
def test_an_infusion_is_short_below_the_planned_minutes(ran, planned, short):
    assert infusion_short(ran, planned) is short


# --- esketamine devices -------------------------------------------------------------------------


def test_devices_in_order_and_apart():
    assert device_problem(2, at(5), 3, [(1, T0)], RULES) is None
    assert device_problem(3, at(11), 3, [(1, T0), (2, at(5))], RULES) is None


def test_device_too_soon_after_the_one_before():
    assert device_problem(2, at(4), 2, [(1, T0)], RULES) == (
        "Device 2 comes at least 5 min after device 1 (4 min)."
    )


def test_device_seconds_short_of_the_interval_says_so():
    # 4 min 54 s is refused; "(5 min)" would read as if it were allowed.
    assert device_problem(2, T0 + timedelta(seconds=294), 2, [(1, T0)], RULES) == (
        "Device 2 comes at least 5 min after device 1 (4 min 54 s)."
    )


def test_device_before_the_one_before():
    assert device_problem(2, at(-1), 2, [(1, T0)], RULES) == (
        "Device 2 cannot come before device 1."
    )


def test_device_out_of_order():
    assert device_problem(3, at(10), 3, [(1, T0)], RULES) == "Record device 2 next."


@pytest.mark.parametrize("devices_due", [2, 3])
def test_no_more_devices_than_the_dose(devices_due):
    earlier = [(n, at(5 * (n - 1))) for n in range(1, devices_due + 1)]
    assert device_problem(devices_due + 1, at(30), devices_due, earlier, RULES) == (
        f"All {devices_due} devices of this dose are recorded."
    )


def test_interval_is_the_clinic_setting():
    rules = ClinicalRules(esketamine_device_interval_minutes=10)
    assert device_problem(2, at(9), 2, [(1, T0)], rules) is not None
    assert device_problem(2, at(10), 2, [(1, T0)], rules) is None
