"""Minimum stay, recorded and bedside blockers, and the discharge gate."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.codes import Modality
from clinic_app.clinical.discharge import (
    Blocker,
    Escort,
    Score,
    SessionFacts,
    attestation_blockers,
    discharge_blockers,
    earliest_discharge,
    recorded_blockers,
)
from clinic_app.clinical.rules import ClinicalRules
from tests.clinical.builders import (
    RULES,
    T0,
    at,
    esketamine_facts,
    good_attestation,
    iv_facts,
    vitals,
)


def codes(blockers):
    return [b.code for b in blockers]


# --- earliest_discharge -----------------------------------------------------------------------


def test_no_earliest_discharge_before_dosing():
    assert earliest_discharge(esketamine_facts(dosed=False), RULES) is None


def test_esketamine_earliest_discharge_is_two_hours_after_first_device():
    assert earliest_discharge(esketamine_facts(), RULES) == at(120)


def test_iv_earliest_discharge_unknown_while_infusion_runs():
    assert earliest_discharge(iv_facts(ended_after=None), RULES) is None


def test_iv_earliest_discharge_is_recovery_after_infusion_end():
    assert earliest_discharge(iv_facts(ended_after=42), RULES) == at(72)


def test_earliest_discharge_uses_settings():
    rules = ClinicalRules(esketamine_min_observation_minutes=150, iv_recovery_minutes=45)
    assert earliest_discharge(esketamine_facts(), rules) == at(150)
    assert earliest_discharge(iv_facts(ended_after=40), rules) == at(85)


# --- recorded_blockers: esketamine ------------------------------------------------------------


def test_no_dose_is_the_only_recorded_blocker():
    facts = esketamine_facts([vitals(200, 120, spo2=80, taken_at=at(5))], dosed=False)
    assert recorded_blockers(facts, at(500), RULES) == [
        Blocker("no_dose", "No dose has been recorded.")
    ]


def test_esketamine_clear_after_two_hours_with_the_forty_minute_bp():
    facts = esketamine_facts([vitals(taken_at=at(40)), vitals(taken_at=at(115))])
    assert recorded_blockers(facts, at(120), RULES) == []


@pytest.mark.parametrize(
    "now, observed", [(at(0), 0), (at(60), 60), (at(119), 119), (at(119, 59), 119)]
)
def test_observation_time_blocks_until_two_hours(now, observed):
    # The 40-minute BP is in and a fresh reading is taken at `now`; only the clock blocks.
    facts = esketamine_facts([vitals(taken_at=at(40)), vitals(taken_at=now)])
    assert recorded_blockers(facts, now, RULES) == [
        Blocker("observation_time", f"Observed {observed} of 120 minutes since the first device.")
    ]


def test_bp_check_missing_when_only_early_readings():
    # Readings that all predate the BP check window are necessarily stale after two hours.
    facts = esketamine_facts([vitals(taken_at=at(10)), vitals(taken_at=at(34, 59))])
    assert recorded_blockers(facts, at(130), RULES) == [
        Blocker("bp_check_missing", "The 40-minute BP is not recorded."),
        Blocker(
            "vitals_not_recent", "Take vitals again: the last reading is older than 15 minutes."
        ),
    ]


@pytest.mark.parametrize(
    "minutes, expected",
    [(35, ["vitals_not_recent"]), (40, ["vitals_not_recent"]), (118, [])],
)
def test_any_reading_from_thirty_five_minutes_is_the_bp_check(minutes, expected):
    # A single reading is both the BP check and the last reading, so an early one is stale
    # at 130 minutes; what matters here is that bp_check_missing never appears.
    facts = esketamine_facts([vitals(taken_at=at(minutes))])
    assert codes(recorded_blockers(facts, at(130), RULES)) == expected


def test_esketamine_without_readings():
    facts = esketamine_facts([])
    assert codes(recorded_blockers(facts, at(30), RULES)) == [
        "observation_time",
        "bp_check_missing",
        "no_post_dose_vitals",
    ]
    assert recorded_blockers(facts, at(130), RULES)[-1] == Blocker(
        "no_post_dose_vitals", "No vitals have been recorded since the dose."
    )


def test_readings_without_a_time_are_ignored():
    facts = esketamine_facts([vitals(200, 120, spo2=80, taken_at=None)])
    assert codes(recorded_blockers(facts, at(130), RULES)) == [
        "bp_check_missing",
        "no_post_dose_vitals",
    ]


# --- recorded_blockers: IV --------------------------------------------------------------------


def test_infusion_running():
    facts = iv_facts([vitals(taken_at=at(15)), vitals(taken_at=at(295))], ended_after=None)
    assert recorded_blockers(facts, at(300), RULES) == [
        Blocker("infusion_running", "The infusion end time is not recorded.")
    ]


@pytest.mark.parametrize(
    "now, left",
    [(at(40), 30), (at(40, 1), 30), (at(41), 29), (at(68, 59), 2), (at(69), 1), (at(69, 59), 1)],
)
def test_recovery_time_counts_whole_minutes_left(now, left):
    facts = iv_facts([vitals(taken_at=now)], ended_after=40)
    assert recorded_blockers(facts, now, RULES) == [
        Blocker("recovery_time", f"Recovery: 30 min after the infusion; {left} to go.")
    ]


def test_recovery_over_exactly_at_recovery_end():
    facts = iv_facts([vitals(taken_at=at(60))], ended_after=40)
    assert recorded_blockers(facts, at(70), RULES) == []


def test_iv_has_no_forty_minute_bp_rule():
    # The only reading predates 35 minutes: no bp_check_missing for IV, only staleness.
    facts = iv_facts([vitals(taken_at=at(5))], ended_after=40)
    assert codes(recorded_blockers(facts, at(70), RULES)) == ["vitals_not_recent"]
    # Shorten the infusion so the same kind of early reading is also recent: nothing blocks.
    facts = iv_facts([vitals(taken_at=at(34))], ended_after=15)
    assert recorded_blockers(facts, at(45), RULES) == []


def test_iv_without_readings():
    facts = iv_facts([], ended_after=40)
    assert codes(recorded_blockers(facts, at(70), RULES)) == ["no_post_dose_vitals"]


# --- recorded_blockers: last reading ----------------------------------------------------------


def test_bp_not_returned_uses_the_latest_reading_by_time():
    baseline = vitals(130, 80)
    readings = [
        vitals(128, 80, taken_at=at(60)),
        vitals(170, 98, taken_at=at(110)),
        vitals(125, 78, taken_at=at(45)),
    ]
    facts = esketamine_facts(readings, baseline=baseline)
    assert recorded_blockers(facts, at(120), RULES) == [
        Blocker(
            "bp_not_returned",
            "Last BP 170/98 is not within 20 % of pre-dose 130/80 nor under the hold line.",
        )
    ]


def test_bp_returned_when_latest_reading_is_back():
    readings = [vitals(170, 98, taken_at=at(60)), vitals(150, 92, taken_at=at(110))]
    facts = esketamine_facts(readings, baseline=vitals(130, 80))
    assert recorded_blockers(facts, at(120), RULES) == []


def test_bp_not_returned_depends_on_age_hold_line():
    readings = [vitals(150, 85, taken_at=at(110))]
    young = esketamine_facts(readings, baseline=vitals(100, 60), age_years=64)
    older = esketamine_facts(readings, baseline=vitals(100, 60), age_years=65)
    assert codes(recorded_blockers(young, at(120), RULES)) == ["bp_not_returned"]
    assert recorded_blockers(older, at(120), RULES) == []


def test_no_bp_comparison_without_baseline():
    facts = SessionFacts(
        Modality.IV_KETAMINE, 40, T0, at(40), None, [vitals(200, 120, taken_at=at(60))]
    )
    assert recorded_blockers(facts, at(70), RULES) == []


@pytest.mark.parametrize("spo2, blocked", [(91, True), (92, False)])
def test_spo2_of_last_reading(spo2, blocked):
    facts = iv_facts([vitals(spo2=85, taken_at=at(50)), vitals(spo2=spo2, taken_at=at(65))])
    expected = [Blocker("spo2_low", f"Last SpO₂ {spo2} % is below 92 %.")] if blocked else []
    assert recorded_blockers(facts, at(70), RULES) == expected


def test_earlier_low_spo2_does_not_block():
    facts = iv_facts([vitals(spo2=85, taken_at=at(50)), vitals(spo2=97, taken_at=at(65))])
    assert recorded_blockers(facts, at(70), RULES) == []


def test_blockers_in_fix_order():
    readings = [vitals(190, 115, spo2=88, taken_at=at(20))]
    facts = esketamine_facts(readings, baseline=vitals(120, 80))
    assert codes(recorded_blockers(facts, at(60), RULES)) == [
        "observation_time",
        "bp_check_missing",
        "vitals_not_recent",
        "bp_not_returned",
        "spo2_low",
    ]


def test_iv_blockers_in_fix_order():
    readings = [vitals(190, 115, spo2=88, taken_at=at(20))]
    facts = iv_facts(readings, baseline=vitals(120, 80), ended_after=40)
    assert codes(recorded_blockers(facts, at(60), RULES)) == [
        "recovery_time",
        "vitals_not_recent",
        "bp_not_returned",
        "spo2_low",
    ]


def test_recorded_blockers_use_settings():
    rules = ClinicalRules(
        esketamine_min_observation_minutes=90,
        esketamine_bp_check_minutes=30,
        low_spo2=95,
        discharge_bp_within_percent=10,
        predischarge_check_window_minutes=70,
    )
    readings = [vitals(150, 85, spo2=94, taken_at=at(26))]
    facts = esketamine_facts(readings, baseline=vitals(130, 80))
    blockers = recorded_blockers(facts, at(95), rules)
    assert blockers == [
        Blocker(
            "bp_not_returned",
            "Last BP 150/85 is not within 10 % of pre-dose 130/80 nor under the hold line.",
        ),
        Blocker("spo2_low", "Last SpO₂ 94 % is below 95 %."),
    ]
    # Defaults: 90 < 120 min, 26 min < 35 min, a 69-minute-old reading is stale (> 15),
    # +20 systolic is within 20 %, 94 % is not low.
    assert codes(recorded_blockers(facts, at(95), RULES)) == [
        "observation_time",
        "bp_check_missing",
        "vitals_not_recent",
    ]


# --- recorded_blockers: recent vitals ---------------------------------------------------------

STALE_15 = Blocker(
    "vitals_not_recent", "Take vitals again: the last reading is older than 15 minutes."
)


def test_last_reading_exactly_fifteen_minutes_old_is_recent():
    facts = esketamine_facts([vitals(taken_at=at(40)), vitals(taken_at=at(105))])
    assert recorded_blockers(facts, at(120), RULES) == []


def test_last_reading_fifteen_minutes_and_one_second_old_is_stale():
    facts = esketamine_facts([vitals(taken_at=at(40)), vitals(taken_at=at(105))])
    assert recorded_blockers(facts, at(120, 1), RULES) == [STALE_15]


def test_forty_minute_reading_alone_is_not_enough_at_two_hours():
    facts = esketamine_facts([vitals(taken_at=at(40))])
    assert recorded_blockers(facts, at(120), RULES) == [STALE_15]


@pytest.mark.parametrize("now, stale", [(at(70), False), (at(70, 1), True)])
def test_iv_last_reading_boundary(now, stale):
    facts = iv_facts([vitals(taken_at=at(55))], ended_after=40)
    assert recorded_blockers(facts, now, RULES) == ([STALE_15] if stale else [])


def test_recency_uses_the_latest_reading_by_time():
    readings = [vitals(taken_at=at(110)), vitals(taken_at=at(40)), vitals(taken_at=at(60))]
    assert recorded_blockers(esketamine_facts(readings), at(120), RULES) == []


def test_reading_without_a_time_does_not_count_as_recent():
    readings = [vitals(taken_at=at(40)), vitals(taken_at=None)]
    assert recorded_blockers(esketamine_facts(readings), at(120), RULES) == [STALE_15]


@pytest.mark.parametrize(
    "age, stale",
    [
        (timedelta(minutes=5), False),
        (timedelta(minutes=5, seconds=1), True),
        (timedelta(minutes=10), True),
    ],
)
def test_recent_vitals_window_uses_settings(age, stale):
    rules = ClinicalRules(predischarge_check_window_minutes=5)
    facts = esketamine_facts([vitals(taken_at=at(40)), vitals(taken_at=at(120) - age)])
    expected = [
        Blocker("vitals_not_recent", "Take vitals again: the last reading is older than 5 minutes.")
    ]
    assert recorded_blockers(facts, at(120), rules) == (expected if stale else [])
    # A 10-minute-old reading is still recent under the default 15-minute window.
    if age == timedelta(minutes=10):
        assert recorded_blockers(facts, at(120), RULES) == []


def test_stale_vitals_block_discharge_with_a_good_attestation():
    facts = iv_facts([vitals(taken_at=at(50))], ended_after=40)
    assert codes(discharge_blockers(facts, good_attestation(), at(70), RULES)) == [
        "vitals_not_recent",
    ]


# --- attestation ------------------------------------------------------------------------------


def test_good_attestation_has_no_blockers():
    assert attestation_blockers(good_attestation(), esketamine_facts(), RULES) == []


@pytest.mark.parametrize(
    "change, blocker",
    [
        ({"alert_oriented": False}, Blocker("not_alert", "The patient is not alert and oriented.")),
        ({"gait_steady": False}, Blocker("gait", "The patient's gait is not steady.")),
        ({"vomiting": True}, Blocker("vomiting", "The patient is actively vomiting.")),
        (
            {"escort": Escort("")},
            Blocker("no_escort", "Choose who the patient leaves with."),
        ),
    ],
)
def test_each_attestation_blocker(change, blocker):
    assert attestation_blockers(good_attestation(**change), esketamine_facts(), RULES) == [blocker]


def test_all_attestation_blockers_in_order():
    attestation = good_attestation(
        alert_oriented=False, gait_steady=False, vomiting=True, escort=Escort("")
    )
    facts = esketamine_facts(dissociation=[])
    assert codes(attestation_blockers(attestation, facts, RULES)) == [
        "not_alert",
        "gait",
        "vomiting",
        "dissociation_unassessed",
        "no_escort",
    ]


# --- discharge_blockers -----------------------------------------------------------------------


def test_discharge_blockers_are_recorded_then_bedside():
    facts = esketamine_facts([vitals(taken_at=at(40)), vitals(taken_at=at(95))])
    attestation = good_attestation(vomiting=True)
    assert codes(discharge_blockers(facts, attestation, at(100), RULES)) == [
        "observation_time",
        "vomiting",
    ]


def test_discharge_allowed_when_everything_is_clear():
    facts = iv_facts([vitals(taken_at=at(55)), vitals(taken_at=at(70))])
    assert discharge_blockers(facts, good_attestation(), at(70), RULES) == []


def test_no_dose_plus_bedside_blockers():
    facts = esketamine_facts(dosed=False)
    assert codes(discharge_blockers(facts, good_attestation(gait_steady=False), at(0), RULES)) == [
        "no_dose",
        "gait",
    ]


# --- properties -------------------------------------------------------------------------------

any_vitals = st.builds(
    vitals,
    systolic=st.integers(50, 300),
    diastolic=st.integers(20, 200),
    spo2=st.integers(50, 100),
    taken_at=st.none() | st.integers(-60 * 60, 600 * 60).map(lambda s: at(seconds=s)),
)
any_escort = st.builds(
    Escort,
    kind=st.sampled_from(["", "confirmed_driver", "other_adult"]),
    name=st.sampled_from(["", " ", "Jo Park", "Uber driver", "taxi"]),
    phone=st.sampled_from(["", "555-0100"]),
    relationship=st.sampled_from(["", "sister", "alone"]),
)
any_attestation = st.builds(
    good_attestation,
    alert_oriented=st.booleans(),
    gait_steady=st.booleans(),
    vomiting=st.booleans(),
    escort=any_escort,
    dissociation_resolved=st.booleans(),
)
any_scores = st.lists(
    st.builds(
        Score,
        taken_at=st.integers(-30 * 60, 600 * 60).map(lambda s: at(seconds=s)),
        total=st.integers(0, 5),
    ),
    max_size=5,
)
minutes = st.floats(min_value=-60, max_value=600, allow_nan=False)


@given(
    readings=st.lists(any_vitals, max_size=6),
    baseline=st.none() | any_vitals,
    age=st.integers(18, 100),
    attestation=any_attestation,
    elapsed=st.floats(min_value=-60, max_value=119.999, allow_nan=False),
)
def test_esketamine_never_dischargeable_before_two_hours(
    readings, baseline, age, attestation, elapsed
):
    facts = esketamine_facts(readings, baseline=baseline, age_years=age)
    blockers = discharge_blockers(facts, attestation, at(elapsed), RULES)
    assert "observation_time" in codes(blockers)


@given(
    readings=st.lists(any_vitals, max_size=6),
    baseline=st.none() | any_vitals,
    attestation=any_attestation,
    ended_after=st.none() | st.floats(min_value=0, max_value=120, allow_nan=False),
    now_minutes=minutes,
)
def test_iv_never_dischargeable_before_recovery(
    readings, baseline, attestation, ended_after, now_minutes
):
    facts = iv_facts(readings, ended_after=ended_after, baseline=baseline)
    blockers = discharge_blockers(facts, attestation, at(now_minutes), RULES)
    found = codes(blockers)
    if ended_after is None:
        assert "infusion_running" in found
    elif now_minutes < ended_after + 30:
        assert "recovery_time" in found
    else:
        assert "infusion_running" not in found and "recovery_time" not in found


@given(
    modality=st.sampled_from(list(Modality)),
    readings=st.lists(any_vitals, max_size=6),
    baseline=st.none() | any_vitals,
    attestation=any_attestation,
    dosed=st.booleans(),
    ended_after=st.none() | st.floats(min_value=0, max_value=120, allow_nan=False),
    now_minutes=minutes,
    sedation=any_scores,
    dissociation=any_scores,
    driver=st.sampled_from(["", "Sam Lee"]),
)
def test_empty_blockers_imply_every_discharge_condition(
    modality,
    readings,
    baseline,
    attestation,
    dosed,
    ended_after,
    now_minutes,
    sedation,
    dissociation,
    driver,
):
    facts = SessionFacts(
        modality,
        50,
        T0 if dosed else None,
        None if ended_after is None else at(ended_after),
        baseline,
        readings,
        sedation=sedation,
        dissociation=dissociation,
        confirmed_driver=driver,
    )
    now = at(now_minutes)
    if not discharge_blockers(facts, attestation, now, RULES):
        earliest = earliest_discharge(facts, RULES)
        assert earliest is not None
        assert now >= earliest
        last = max((r for r in readings if r.taken_at is not None), key=lambda r: r.taken_at)
        assert last.spo2 >= 92
        assert now - last.taken_at <= timedelta(minutes=15)
        assert last.systolic < 160 and last.diastolic < 100  # no BP recheck owed
        # Awake: the last post-dose MOAA/S is 5.
        after = sorted((s for s in sedation if s.taken_at > T0), key=lambda s: s.taken_at)
        assert after and after[-1].total == 5
        # Dissociation: the last post-dose CADSS-6 is under the line, or none and attested.
        cadss = sorted((s for s in dissociation if s.taken_at > T0), key=lambda s: s.taken_at)
        assert (cadss and cadss[-1].total < 4) or (not cadss and attestation.dissociation_resolved)
        # The escort: the confirmed driver, or a named adult with phone and relationship.
        escort = attestation.escort
        if escort.kind == "confirmed_driver":
            assert driver
        else:
            assert escort.kind == "other_adult"
            assert escort.name.strip() and escort.phone and escort.relationship
            assert "uber" not in escort.name.lower() and "taxi" not in escort.name.lower()
            assert escort.relationship != "alone"


def test_one_second_before_two_hours_still_blocked():
    facts = esketamine_facts([vitals(taken_at=at(40)), vitals(taken_at=at(115))])
    now = at(120) - timedelta(seconds=1)
    assert codes(discharge_blockers(facts, good_attestation(), now, RULES)) == ["observation_time"]


@given(
    modality=st.sampled_from(list(Modality)),
    readings=st.lists(any_vitals, max_size=6),
    baseline=st.none() | any_vitals,
    ended_after=st.none() | st.floats(min_value=0, max_value=120, allow_nan=False),
    now_minutes=minutes,
    window=st.integers(1, 60),
)
def test_vitals_not_recent_iff_last_reading_older_than_window(
    modality, readings, baseline, ended_after, now_minutes, window
):
    rules = ClinicalRules(predischarge_check_window_minutes=window)
    facts = SessionFacts(
        modality, 50, T0, None if ended_after is None else at(ended_after), baseline, readings
    )
    now = at(now_minutes)
    found = codes(recorded_blockers(facts, now, rules))
    timed = [r.taken_at for r in readings if r.taken_at is not None]
    stale = bool(timed) and now - max(timed) > timedelta(minutes=window)
    assert ("vitals_not_recent" in found) == stale
