"""IV weight-based dosing, esketamine devices and dose rules, infusion length."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.codes import Indication
from clinic_app.clinical.dosing import (
    DoseError,
    IvDose,
    esketamine_devices,
    esketamine_dose_problem,
    infusion_minutes_flag,
    iv_dose,
)
from clinic_app.clinical.rules import ClinicalRules
from tests.clinical.builders import RULES

D = Decimal

# --- iv_dose ----------------------------------------------------------------------------------


def test_standard_dose():
    dose = iv_dose(D("70"), D("0.5"), 40)
    assert dose == IvDose(weight_kg=D("70"), mg_per_kg=D("0.5"), dose_mg=D("35.0"), minutes=40)
    assert str(dose.dose_mg) == "35.0"


@pytest.mark.parametrize(
    "weight, mg_per_kg, expected",
    [
        ("70.1", "0.5", "35.1"),  # 35.05 rounds half up (half-even would give 35.0)
        ("60.08", "0.5", "30.0"),  # 30.04 rounds down
        ("70.3", "0.55", "38.7"),  # 38.665
        ("33.3", "0.35", "11.7"),  # 11.655
        ("82.5", "0.75", "61.9"),  # 61.875
    ],
)
def test_dose_rounded_half_up_to_tenth_mg(weight, mg_per_kg, expected):
    assert iv_dose(D(weight), D(mg_per_kg), 40).dose_mg == D(expected)


@pytest.mark.parametrize("weight", ["30", "250", "30.0", "249.9"])
def test_weight_limits_are_inclusive(weight):
    assert iv_dose(D(weight), D("0.5"), 40).weight_kg == D(weight)


@pytest.mark.parametrize("weight", ["29.9", "250.1", "0", "-70", "700"])
def test_implausible_weight_refused(weight):
    with pytest.raises(DoseError, match=r"^Weight must be between 30 and 250 kg\.$"):
        iv_dose(D(weight), D("0.5"), 40)


@pytest.mark.parametrize("mg_per_kg", ["0", "-0.5"])
def test_no_mg_per_kg_refused(mg_per_kg):
    with pytest.raises(DoseError, match=r"^The course has no mg/kg dose\.$"):
        iv_dose(D("70"), D(mg_per_kg), 40)


def test_weight_checked_before_mg_per_kg():
    with pytest.raises(DoseError, match="Weight"):
        iv_dose(D("10"), D("0"), 40)


def test_dose_error_is_a_value_error():
    assert issubclass(DoseError, ValueError)


@pytest.mark.parametrize(
    "dose_mg, minutes, rate",
    [("35.0", 40, "0.88"), ("35.1", 40, "0.88"), ("30.0", 60, "0.50"), ("41.3", 40, "1.03")],
)
def test_mg_per_minute_rounded_to_hundredth(dose_mg, minutes, rate):
    dose = IvDose(D("70"), D("0.5"), D(dose_mg), minutes)
    assert dose.mg_per_minute == D(rate)
    assert str(dose.mg_per_minute) == rate


weights = st.decimals(min_value=30, max_value=250, places=1)
mg_per_kgs = st.decimals(min_value=D("0.05"), max_value=D("1.5"), places=2)


@given(weight=weights, mg_per_kg=mg_per_kgs)
def test_dose_is_weight_times_mg_per_kg_within_rounding(weight, mg_per_kg):
    dose = iv_dose(weight, mg_per_kg, 40)
    assert abs(dose.dose_mg - weight * mg_per_kg) <= D("0.05")
    assert dose.dose_mg.as_tuple().exponent == -1


@given(a=weights, b=weights, mg_per_kg=mg_per_kgs)
def test_dose_is_monotone_in_weight(a, b, mg_per_kg):
    low, high = sorted((a, b))
    assert iv_dose(low, mg_per_kg, 40).dose_mg <= iv_dose(high, mg_per_kg, 40).dose_mg


@given(
    weight=st.decimals(allow_nan=False, allow_infinity=False, places=1).filter(
        lambda w: not 30 <= w <= 250
    )
)
def test_any_weight_outside_limits_is_refused(weight):
    with pytest.raises(DoseError):
        iv_dose(weight, D("0.5"), 40)


# --- esketamine -------------------------------------------------------------------------------


@pytest.mark.parametrize("dose_mg, devices", [(56, 2), (84, 3)])
def test_devices_per_dose(dose_mg, devices):
    assert esketamine_devices(dose_mg) == devices


@pytest.mark.parametrize("dose_mg", [0, 28, 55, 57, 83, 85, 112])
def test_devices_refuse_other_doses(dose_mg):
    with pytest.raises(DoseError, match=r"^Esketamine dose must be 56 or 84 mg\.$"):
        esketamine_devices(dose_mg)


@pytest.mark.parametrize("indication", list(Indication))
def test_planned_56_is_always_allowed(indication):
    assert esketamine_dose_problem(56, 56, indication, []) is None


@pytest.mark.parametrize("dose_mg", [28, 70, 112])
def test_dose_problem_for_a_non_label_dose(dose_mg):
    # Checked before the prescription, even when the course plans that same dose.
    assert esketamine_dose_problem(dose_mg, dose_mg, Indication.TRD, [56]) == (
        "Esketamine dose must be 56 or 84 mg."
    )


@pytest.mark.parametrize("dose_mg, planned", [(84, 56), (56, 84)])
def test_dose_problem_when_not_the_prescribed_dose(dose_mg, planned):
    assert esketamine_dose_problem(dose_mg, planned, Indication.MDSI, [56]) == (
        f"The course prescribes {planned} mg; a different dose needs the psychiatrist."
    )


TRD_84 = "84 mg needs an earlier 56 mg dose in this TRD course; the first dose is 56 mg."


@pytest.mark.parametrize("earlier", [[], [84], [84, 84]])
def test_trd_84_without_an_earlier_56_is_a_problem(earlier):
    assert esketamine_dose_problem(84, 84, Indication.TRD, earlier) == TRD_84


@pytest.mark.parametrize("earlier", [[56], [84, 56], (56, 84)])
def test_trd_84_after_a_56_is_fine(earlier):
    assert esketamine_dose_problem(84, 84, Indication.TRD, earlier) is None


def test_trd_rule_accepts_plain_string_and_a_generator():
    assert esketamine_dose_problem(84, 84, "trd", (d for d in [56])) is None
    assert esketamine_dose_problem(84, 84, "trd", iter([])) == TRD_84


@pytest.mark.parametrize("indication", [Indication.MDSI, Indication.OTHER])
def test_84_first_dose_allowed_outside_trd(indication):
    assert esketamine_dose_problem(84, 84, indication, []) is None


# --- infusion length --------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [40, 40.0, 45, 59.9, 60])
def test_infusion_within_window(minutes):
    assert infusion_minutes_flag(minutes, RULES) is None


def test_infusion_too_short():
    assert infusion_minutes_flag(39, RULES) == "Infusion ran 39 min, shorter than 40 min."
    assert infusion_minutes_flag(20.4, RULES) == "Infusion ran 20 min, shorter than 40 min."


def test_infusion_too_long():
    assert infusion_minutes_flag(61, RULES) == "Infusion ran 61 min, longer than 60 min."
    assert infusion_minutes_flag(95, RULES) == "Infusion ran 95 min, longer than 60 min."


def test_fractions_just_outside_are_flagged():
    assert "shorter than 40 min" in infusion_minutes_flag(39.9, RULES)
    assert "longer than 60 min" in infusion_minutes_flag(60.1, RULES)


def test_infusion_window_uses_settings():
    rules = ClinicalRules(iv_min_minutes=30, iv_max_minutes=45)
    assert infusion_minutes_flag(35, rules) is None
    assert infusion_minutes_flag(29, rules) == "Infusion ran 29 min, shorter than 30 min."
    assert infusion_minutes_flag(50, rules) == "Infusion ran 50 min, longer than 45 min."


@given(st.floats(min_value=0, max_value=600, allow_nan=False))
def test_flag_exactly_outside_window(minutes):
    flag = infusion_minutes_flag(minutes, RULES)
    assert (flag is None) is (40 <= minutes <= 60)
