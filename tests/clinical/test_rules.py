"""ClinicalRules defaults and clinic overrides."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.review import ReviewRules
from clinic_app.clinical.rules import FLOAT, INT, ClinicalRules
from clinic_app.clinical.series import SchedulingRules

INT_FIELDS = [f.name for f in dataclasses.fields(ClinicalRules) if f.type is int]
FLOAT_FIELDS = [f.name for f in dataclasses.fields(ClinicalRules) if f.type is float]


def test_defaults_are_the_design_numbers():
    r = ClinicalRules()
    assert (r.hold_systolic, r.hold_systolic_older, r.older_age_years, r.hold_diastolic) == (
        140,
        150,
        65,
        90,
    )
    assert (r.rise_systolic, r.rise_diastolic) == (40, 25)
    assert (r.notify_systolic, r.notify_diastolic) == (160, 100)
    assert (r.urgent_systolic, r.urgent_diastolic) == (180, 110)
    assert r.low_spo2 == 92
    assert r.esketamine_bp_check_minutes == 40
    assert r.iv_vitals_interval_minutes == 15
    assert r.esketamine_min_observation_minutes == 120
    assert r.iv_recovery_minutes == 30
    assert r.discharge_bp_within_percent == 20
    assert r.iv_default_mg_per_kg == 0.5
    assert (r.iv_default_minutes, r.iv_min_minutes, r.iv_max_minutes) == (40, 40, 60)
    assert r.esketamine_device_interval_minutes == 5
    assert r.iv_usual_max_mg_per_kg == 1.0
    assert r.iv_pump_tolerance_percent == 10


def test_field_types_are_int_except_mg_per_kg():
    assert FLOAT_FIELDS == ["iv_default_mg_per_kg", "iv_usual_max_mg_per_kg"]
    assert "hold_systolic" in INT_FIELDS
    assert len(INT_FIELDS) + len(FLOAT_FIELDS) == len(dataclasses.fields(ClinicalRules))


def test_rules_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ClinicalRules().hold_systolic = 150  # type: ignore[misc]


def test_no_overrides_gives_defaults():
    assert ClinicalRules.with_overrides({}) == ClinicalRules()


def test_override_replaces_only_named_fields():
    rules = ClinicalRules.with_overrides({"hold_systolic": 145, "iv_recovery_minutes": 45})
    assert rules.hold_systolic == 145
    assert rules.iv_recovery_minutes == 45
    assert rules.hold_diastolic == 90
    assert rules == dataclasses.replace(ClinicalRules(), hold_systolic=145, iv_recovery_minutes=45)


@pytest.mark.parametrize("stored", ["145", 145.0, 145])
def test_int_fields_are_converted_to_int(stored):
    rules = ClinicalRules.with_overrides({"hold_systolic": stored})
    assert rules.hold_systolic == 145
    assert type(rules.hold_systolic) is int


def test_int_field_from_float_truncates():
    assert ClinicalRules.with_overrides({"low_spo2": 93.9}).low_spo2 == 93


@pytest.mark.parametrize("stored, expected", [("0.75", 0.75), (1, 1.0), (0.25, 0.25)])
def test_float_field_is_converted_to_float(stored, expected):
    rules = ClinicalRules.with_overrides({"iv_default_mg_per_kg": stored})
    assert rules.iv_default_mg_per_kg == expected
    assert type(rules.iv_default_mg_per_kg) is float


def test_unknown_keys_are_ignored():
    rules = ClinicalRules.with_overrides(
        {"timezone": "America/Los_Angeles", "no_such_rule": "x", "hold_diastolic": "95"}
    )
    assert rules == dataclasses.replace(ClinicalRules(), hold_diastolic=95)


def test_unparseable_int_value_raises():
    with pytest.raises(ValueError):
        ClinicalRules.with_overrides({"hold_systolic": "high"})


@given(name=st.sampled_from(INT_FIELDS), value=st.integers(min_value=0, max_value=10_000))
def test_any_int_field_round_trips_from_text(name, value):
    rules = ClinicalRules.with_overrides({name: str(value)})
    assert getattr(rules, name) == value
    others = {f.name for f in dataclasses.fields(ClinicalRules)} - {name}
    for other in others:
        assert getattr(rules, other) == getattr(ClinicalRules(), other)


def test_every_rule_field_is_declared_as_a_clinic_setting():
    for rules in (ClinicalRules, ReviewRules, SchedulingRules):
        declared = dict(rules.settings())
        assert len(declared) == len(dataclasses.fields(rules))
        for field, setting in declared.items():
            assert setting.label and setting.group, field.name
            if setting.kind in (INT, FLOAT):
                assert setting.low <= field.default <= setting.high, field.name


def test_a_setting_two_rule_sets_read_is_declared_once():
    clinical = {f.name: (f.default, s) for f, s in ClinicalRules.settings()}
    shared = [(f.name, (f.default, s)) for f, s in SchedulingRules.settings() if f.name in clinical]
    assert sorted(name for name, _ in shared) == [
        "esketamine_min_observation_minutes",
        "iv_default_minutes",
        "iv_recovery_minutes",
    ]
    assert all(clinical[name] == declared for name, declared in shared)
