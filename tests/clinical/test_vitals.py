"""Plausibility limits, the pre-dose hold line, alert tiers, return to baseline and the time
order of readings."""

import dataclasses
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.vitals import (
    LIMITS,
    Tier,
    above_hold_line,
    age_on,
    back_to_baseline,
    hold_line,
    implausible_fields,
    reading_alerts,
    reading_time,
)
from tests.clinical.builders import RULES, vitals

FIELDS = ["systolic", "diastolic", "heart_rate", "spo2", "resp_rate"]


def only(name: str, value: int) -> dict[str, int | None]:
    values: dict[str, int | None] = dict.fromkeys(FIELDS)
    values[name] = value
    return values


# --- implausible_fields ---------------------------------------------------------------------


def test_all_missing_is_fine():
    assert implausible_fields(None, None, None, None, None) == {}


def test_ordinary_reading_is_fine():
    assert implausible_fields(120, 80, 72, 98, 14) == {}


def test_limits_table():
    assert LIMITS == {
        "systolic": (50, 300),
        "diastolic": (20, 200),
        "heart_rate": (20, 250),
        "spo2": (50, 100),
        "resp_rate": (4, 60),
    }


@pytest.mark.parametrize("name", FIELDS)
def test_each_field_accepts_its_limits(name):
    low, high = LIMITS[name]
    assert implausible_fields(**only(name, low)) == {}
    assert implausible_fields(**only(name, high)) == {}


@pytest.mark.parametrize("name", FIELDS)
def test_each_field_refuses_just_outside_its_limits(name):
    low, high = LIMITS[name]
    message = f"Must be between {low} and {high}."
    assert implausible_fields(**only(name, low - 1)) == {name: message}
    assert implausible_fields(**only(name, high + 1)) == {name: message}


def test_several_fields_reported_together():
    errors = implausible_fields(400, 10, 300, 40, 2)
    assert set(errors) == set(FIELDS)


def test_diastolic_equal_to_systolic_is_refused():
    assert implausible_fields(100, 100, None, None, None) == {
        "diastolic": "Diastolic must be lower than systolic."
    }


def test_diastolic_above_systolic_is_refused():
    assert implausible_fields(90, 120, 70, 98, 14) == {
        "diastolic": "Diastolic must be lower than systolic."
    }


def test_diastolic_one_below_systolic_is_fine():
    assert implausible_fields(100, 99, None, None, None) == {}


def test_order_check_skipped_when_systolic_out_of_range():
    assert implausible_fields(40, 60, None, None, None) == {
        "systolic": "Must be between 50 and 300."
    }


def test_order_check_skipped_when_diastolic_out_of_range():
    assert implausible_fields(150, 210, None, None, None) == {
        "diastolic": "Must be between 20 and 200."
    }


def test_order_check_needs_both_values():
    assert implausible_fields(None, 150, None, None, None) == {}
    assert implausible_fields(60, None, None, None, None) == {}


# --- hold line --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "born, day, age",
    [
        (date(1960, 3, 15), date(2025, 3, 14), 64),  # the day before the 65th birthday
        (date(1960, 3, 15), date(2025, 3, 15), 65),
        (date(2000, 2, 29), date(2025, 2, 28), 24),  # leap-day birthday in a common year
        (date(2000, 2, 29), date(2025, 3, 1), 25),
        (date(2000, 12, 31), date(2001, 1, 1), 0),
    ],
)
def test_age_on(born, day, age):
    assert age_on(born, day) == age


@pytest.mark.parametrize(
    "age, expected", [(18, (140, 90)), (64, (140, 90)), (65, (150, 90)), (90, (150, 90))]
)
def test_hold_line_by_age(age, expected):
    assert hold_line(age, RULES) == expected


def test_hold_line_uses_settings():
    rules = ClinicalRules(
        hold_systolic=130, hold_systolic_older=145, older_age_years=70, hold_diastolic=85
    )
    assert hold_line(69, rules) == (130, 85)
    assert hold_line(70, rules) == (145, 85)


@pytest.mark.parametrize(
    "systolic, diastolic, age, held",
    [
        (140, 90, 40, False),
        (141, 90, 40, True),
        (140, 91, 40, True),
        (141, 91, 40, True),
        (145, 80, 64, True),
        (145, 80, 65, False),
        (150, 90, 65, False),
        (151, 90, 65, True),
        (150, 91, 65, True),
        (100, 60, 40, False),
    ],
)
def test_above_hold_line(systolic, diastolic, age, held):
    assert above_hold_line(systolic, diastolic, age, RULES) is held


def test_above_hold_line_uses_settings():
    rules = ClinicalRules(hold_systolic=130)
    assert above_hold_line(131, 80, 40, rules) is True
    assert above_hold_line(131, 80, 40, RULES) is False


@given(
    systolic=st.integers(50, 300),
    diastolic=st.integers(20, 200),
    age=st.integers(18, 100),
)
def test_over_the_hold_line_always_holds(systolic, diastolic, age):
    hold_sys = 150 if age >= 65 else 140
    expected = systolic > hold_sys or diastolic > 90
    assert above_hold_line(systolic, diastolic, age, RULES) is expected


# --- reading_alerts ---------------------------------------------------------------------------


def codes(alerts):
    return [a.code for a in alerts]


def test_ordinary_reading_has_no_alerts():
    assert reading_alerts(vitals(), vitals(), RULES) == []
    assert reading_alerts(vitals(), None, RULES) == []


@pytest.mark.parametrize("systolic, diastolic", [(159, 99), (159, 60), (100, 99)])
def test_just_under_notify_is_quiet(systolic, diastolic):
    assert reading_alerts(vitals(systolic, diastolic), None, RULES) == []


@pytest.mark.parametrize("systolic, diastolic", [(160, 80), (120, 100), (160, 100), (179, 109)])
def test_notify_tier(systolic, diastolic):
    alerts = reading_alerts(vitals(systolic, diastolic), None, RULES)
    assert codes(alerts) == ["bp_notify"]
    assert alerts[0].tier is Tier.NOTIFY
    assert alerts[0].message == (
        f"BP {systolic}/{diastolic} at or above 160/100: notify the prescriber."
    )


@pytest.mark.parametrize("systolic, diastolic", [(180, 80), (130, 110), (180, 110), (250, 150)])
def test_urgent_tier_replaces_notify(systolic, diastolic):
    alerts = reading_alerts(vitals(systolic, diastolic), None, RULES)
    assert codes(alerts) == ["bp_urgent"]
    assert alerts[0].tier is Tier.URGENT
    assert alerts[0].message == (
        f"BP {systolic}/{diastolic} at or above 180/110: "
        "urgent, assess for hypertensive crisis now."
    )


def test_spo2_92_is_fine_91_is_low():
    assert reading_alerts(vitals(spo2=92), None, RULES) == []
    alerts = reading_alerts(vitals(spo2=91), None, RULES)
    assert codes(alerts) == ["spo2_low"]
    assert alerts[0].tier is Tier.URGENT
    assert alerts[0].message == "SpO₂ 91 % is below 92 %."


@pytest.mark.parametrize(
    "reading, alerted",
    [
        ((139, 84), False),  # +39/+24
        ((140, 60), True),  # +40 systolic
        ((100, 85), True),  # +25 diastolic
        ((140, 85), True),
        ((60, 40), False),  # falls never alert
    ],
)
def test_rise_over_baseline(reading, alerted):
    baseline = vitals(100, 60)
    alerts = reading_alerts(vitals(*reading), baseline, RULES)
    assert codes(alerts) == (["bp_rise"] if alerted else [])
    if alerted:
        assert alerts[0].tier is Tier.WATCH


def test_rise_message_shows_signed_change():
    alerts = reading_alerts(vitals(140, 55), vitals(100, 60), RULES)
    assert alerts[0].message == "BP up +40/-5 over pre-dose 100/60."


def test_no_rise_alert_without_baseline():
    assert reading_alerts(vitals(155, 95), None, RULES) == []


def test_most_urgent_first():
    alerts = reading_alerts(vitals(185, 95, spo2=90), vitals(120, 70), RULES)
    assert codes(alerts) == ["bp_urgent", "spo2_low", "bp_rise"]
    assert [a.tier for a in alerts] == [Tier.URGENT, Tier.URGENT, Tier.WATCH]


def test_notify_sorted_before_rise_and_after_spo2():
    alerts = reading_alerts(vitals(165, 80, spo2=88), vitals(120, 70), RULES)
    assert codes(alerts) == ["spo2_low", "bp_notify", "bp_rise"]


def test_alert_thresholds_use_settings():
    rules = ClinicalRules(notify_systolic=150, urgent_systolic=170, low_spo2=95, rise_systolic=20)
    assert codes(reading_alerts(vitals(150, 80), None, rules)) == ["bp_notify"]
    assert codes(reading_alerts(vitals(170, 80), None, rules)) == ["bp_urgent"]
    assert codes(reading_alerts(vitals(spo2=94), None, rules)) == ["spo2_low"]
    assert codes(reading_alerts(vitals(140, 80), vitals(120, 80), rules)) == ["bp_rise"]


readings = st.builds(
    vitals,
    systolic=st.integers(50, 300),
    diastolic=st.integers(20, 200),
    heart_rate=st.integers(20, 250),
    spo2=st.integers(50, 100),
)


@given(reading=readings, baseline=st.none() | readings)
def test_alerts_sorted_and_notify_urgent_exclusive(reading, baseline):
    alerts = reading_alerts(reading, baseline, RULES)
    tiers = [a.tier for a in alerts]
    assert tiers == sorted(tiers, reverse=True)
    found = codes(alerts)
    assert not {"bp_urgent", "bp_notify"} <= set(found)
    assert len(found) == len(set(found))
    assert set(found) <= {"bp_urgent", "bp_notify", "spo2_low", "bp_rise"}
    # Each alert is raised exactly when its rule says so.
    urgent = reading.systolic >= 180 or reading.diastolic >= 110
    notify = not urgent and (reading.systolic >= 160 or reading.diastolic >= 100)
    assert ("bp_urgent" in found) is urgent
    assert ("bp_notify" in found) is notify
    assert ("spo2_low" in found) is (reading.spo2 < 92)
    rise = baseline is not None and (
        reading.systolic - baseline.systolic >= 40 or reading.diastolic - baseline.diastolic >= 25
    )
    assert ("bp_rise" in found) is rise


# --- back_to_baseline -------------------------------------------------------------------------


def test_under_hold_line_counts_as_back_however_far_from_baseline():
    assert back_to_baseline(vitals(140, 90), vitals(100, 60), 40, RULES) is True


@pytest.mark.parametrize("systolic, back", [(156, True), (157, False), (104, True)])
def test_systolic_within_twenty_percent(systolic, back):
    # Baseline 130/80: 20 % is 26 systolic, 16 diastolic. Readings here are over the hold line.
    assert back_to_baseline(vitals(systolic, 95), vitals(130, 80), 40, RULES) is back


@pytest.mark.parametrize("diastolic, back", [(96, True), (97, False)])
def test_diastolic_within_twenty_percent(diastolic, back):
    assert back_to_baseline(vitals(135, diastolic), vitals(130, 80), 40, RULES) is back


def test_both_values_must_be_within():
    # systolic +20 (within 26), diastolic +17 (over 16)
    assert back_to_baseline(vitals(150, 97), vitals(130, 80), 40, RULES) is False


def test_older_patient_uses_older_hold_line():
    assert back_to_baseline(vitals(150, 85), vitals(100, 60), 65, RULES) is True
    assert back_to_baseline(vitals(150, 85), vitals(100, 60), 64, RULES) is False


def test_back_to_baseline_uses_percent_setting():
    rules = ClinicalRules(discharge_bp_within_percent=30)
    assert back_to_baseline(vitals(165, 95), vitals(130, 80), 40, rules) is True  # +35 <= 39
    assert back_to_baseline(vitals(165, 95), vitals(130, 80), 40, RULES) is False


@given(reading=readings, baseline=readings, age=st.integers(18, 100))
def test_back_to_baseline_matches_its_definition(reading, baseline, age):
    under = not above_hold_line(reading.systolic, reading.diastolic, age, RULES)
    within = (
        abs(reading.systolic - baseline.systolic) <= baseline.systolic * 0.2
        and abs(reading.diastolic - baseline.diastolic) <= baseline.diastolic * 0.2
    )
    assert back_to_baseline(reading, baseline, age, RULES) is (under or within)


def test_vitals_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        vitals().systolic = 1  # type: ignore[misc]


# --- reading_time ---------------------------------------------------------------------------


def test_readings_sort_by_when_they_were_taken():
    late = vitals(taken_at=datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
    early = vitals(taken_at=datetime(2026, 3, 2, 9, 45, tzinfo=UTC))
    assert sorted([late, early], key=reading_time) == [early, late]
    assert reading_time(late) == datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def test_an_untimed_reading_has_no_time_order():
    with pytest.raises(ValueError, match="untimed"):
        reading_time(vitals(taken_at=None))
