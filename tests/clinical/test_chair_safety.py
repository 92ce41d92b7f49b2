"""Sedation, dissociation, adverse events, BP rechecks, the escort, the psychiatrist's override
and the board markers: the discharge gate of issue #10, rule by rule."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.board import board_markers
from clinic_app.clinical.discharge import (
    OVERRIDABLE,
    Escort,
    EventFact,
    Score,
    attestation_blockers,
    chart_blockers,
    discharge_blockers,
    escort_blockers,
    escort_person_problems,
    override_covers,
)
from clinic_app.clinical.escalation import pending_recheck
from clinic_app.clinical.rules import ClinicalRules
from tests.clinical.builders import RULES, at, esketamine_facts, good_attestation, iv_facts, vitals


def codes(blockers):
    return [b.code for b in blockers]


def fresh(minutes):
    """A normal reading at `minutes` after the dose."""
    return vitals(taken_at=at(minutes))


# --- sedation --------------------------------------------------------------------------------


def test_esketamine_moaas_3_at_45_minutes_blocks_at_120():
    """The walkthrough's case: MOAA/S 3 charted 45 minutes before the two-hour mark."""
    facts = esketamine_facts([fresh(40), fresh(115)], sedation=[Score(at(40), 5), Score(at(75), 3)])
    blockers = chart_blockers(facts, at(120), RULES)
    assert "sedated" in codes(blockers)
    sedated = next(b for b in blockers if b.code == "sedated")
    assert sedated.message.startswith("Last MOAA/S is 3 (75 min after the dose)")
    assert "sedation_predischarge_missing" in codes(blockers)


def test_a_five_after_the_low_score_clears_sedation():
    facts = esketamine_facts(
        [fresh(40), fresh(115)],
        sedation=[Score(at(40), 5), Score(at(75), 3), Score(at(112), 5)],
    )
    assert chart_blockers(facts, at(120), RULES) == []


def test_iv_last_moaas_4_blocks():
    facts = iv_facts([fresh(55), fresh(70)], sedation=[Score(at(45), 4)])
    assert codes(chart_blockers(facts, at(70), RULES)) == ["sedated"]


def test_no_moaas_or_cadss_at_all_blocks_and_asks_for_attestation():
    facts = esketamine_facts([fresh(40), fresh(115)], sedation=[], dissociation=[])
    assert codes(chart_blockers(facts, at(120), RULES)) == ["sedation_not_assessed"]
    assert "dissociation_unassessed" in codes(
        attestation_blockers(good_attestation(), facts, RULES)
    )
    attested = good_attestation(dissociation_resolved=True)
    assert attestation_blockers(attested, facts, RULES) == []


def test_esketamine_needs_the_40_minute_and_the_predischarge_moaas():
    only_late = esketamine_facts([fresh(40), fresh(115)], sedation=[Score(at(20), 5)])
    assert codes(chart_blockers(only_late, at(120), RULES)) == [
        "sedation_check_missing",
        "sedation_predischarge_missing",
    ]
    # One assessment cannot count for both checks.
    one = esketamine_facts([fresh(40), fresh(115)], sedation=[Score(at(110), 5)])
    assert codes(chart_blockers(one, at(120), RULES)) == ["sedation_predischarge_missing"]


def test_iv_needs_a_moaas_after_the_infusion():
    facts = iv_facts([fresh(55), fresh(70)], sedation=[Score(at(30), 5)])
    assert codes(chart_blockers(facts, at(70), RULES)) == ["sedation_after_infusion_missing"]


def test_scores_before_the_dose_do_not_count():
    facts = iv_facts([fresh(55), fresh(70)], sedation=[Score(at(-5), 5)])
    assert codes(chart_blockers(facts, at(70), RULES)) == ["sedation_not_assessed"]


# --- dissociation ----------------------------------------------------------------------------


@pytest.mark.parametrize("total, blocked", [(0, False), (3, False), (4, True), (14, True)])
def test_cadss_at_or_above_the_line_blocks(total, blocked):
    facts = iv_facts([fresh(55), fresh(70)], dissociation=[Score(at(50), total)])
    assert ("dissociated" in codes(chart_blockers(facts, at(70), RULES))) == blocked


def test_a_high_cadss_cannot_be_attested_away():
    facts = iv_facts([fresh(55), fresh(70)], dissociation=[Score(at(50), 9)])
    attestation = good_attestation(dissociation_resolved=True)
    assert "dissociated" in codes(discharge_blockers(facts, attestation, at(70), RULES))


def test_cadss_line_is_a_setting():
    facts = iv_facts([fresh(55), fresh(70)], dissociation=[Score(at(50), 5)])
    rules = ClinicalRules(cadss6_resolved_below=6)
    assert chart_blockers(facts, at(70), rules) == []


# --- adverse events --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "severity, resolved, cleared, blocked",
    [
        ("mild", False, False, False),
        ("moderate", False, False, True),
        ("severe", False, False, True),
        ("moderate", True, False, False),
        ("severe", False, True, False),
    ],
)
def test_moderate_or_worse_open_events_block(severity, resolved, cleared, blocked):
    event = EventFact("Nausea", severity, at(30), resolved=resolved, cleared=cleared)
    facts = iv_facts([fresh(55), fresh(70)], events=[event])
    assert ("adverse_event_open" in codes(chart_blockers(facts, at(70), RULES))) == blocked


def test_each_open_event_is_named():
    events = [EventFact("Nausea", "moderate", at(30)), EventFact("Vomiting", "severe", at(35))]
    facts = esketamine_facts([fresh(40), fresh(115)], events=events)
    messages = [b.message for b in chart_blockers(facts, at(120), RULES)]
    assert messages == [
        "Nausea (moderate) is not resolved: mark it resolved, or the psychiatrist clears it.",
        "Vomiting (severe) is not resolved: mark it resolved, or the psychiatrist clears it.",
    ]


# --- blood-pressure rechecks -----------------------------------------------------------------


def test_urgent_then_urgent_bp_owes_a_five_minute_recheck():
    """The walkthrough's case: 176/104 then 184/112 after the dose."""
    readings = [vitals(176, 104, taken_at=at(40)), vitals(184, 112, taken_at=at(55))]
    recheck = pending_recheck(readings, RULES)
    assert recheck is not None and recheck.urgent
    assert recheck.due_at == at(60)
    assert recheck.label == "Urgent BP recheck"
    facts = esketamine_facts(readings)
    assert "bp_recheck" in codes(chart_blockers(facts, at(125), RULES))


def test_notify_bp_owes_a_fifteen_minute_recheck_until_back_under_the_line():
    readings = [vitals(165, 95, taken_at=at(40))]
    assert pending_recheck(readings, RULES).due_at == at(55)
    readings.append(vitals(150, 92, taken_at=at(52)))
    assert pending_recheck(readings, RULES) is None


def test_low_spo2_owes_a_recheck_too():
    recheck = pending_recheck([vitals(spo2=89, taken_at=at(10))], RULES)
    assert recheck.label == "Urgent SpO₂ recheck" and recheck.due_at == at(15)


def test_recheck_intervals_are_settings():
    rules = ClinicalRules(bp_recheck_urgent_minutes=3, bp_recheck_notify_minutes=10)
    assert pending_recheck([vitals(185, 100, taken_at=at(0))], rules).due_at == at(3)
    assert pending_recheck([vitals(162, 90, taken_at=at(0))], rules).due_at == at(10)


@given(
    readings=st.lists(
        st.builds(
            vitals,
            systolic=st.integers(90, 220),
            diastolic=st.integers(50, 89),
            spo2=st.integers(85, 100),
            taken_at=st.integers(0, 300).map(at),
        ),
        min_size=1,
        max_size=8,
        unique_by=lambda r: r.taken_at,
    )
)
def test_a_recheck_is_owed_exactly_while_the_latest_reading_escalates(readings):
    latest = max(readings, key=lambda r: r.taken_at)
    escalates = latest.systolic >= 160 or latest.spo2 < 92
    assert (pending_recheck(readings, RULES) is not None) == escalates


# --- escort ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "escort",
    [
        Escort("other_adult", "Uber driver", "555-0100", "driver"),
        Escort("other_adult", "Lyft", "555-0100", "ride"),
        Escort("other_adult", "Yellow taxi", "555-0100", "taxi"),
        Escort("other_adult", "Pat Doe", "555-0100", "alone"),
        Escort("other_adult", "Nobody", "555-0100", "self"),
    ],
)
def test_ride_hail_taxi_and_alone_are_refused_with_the_reason(escort):
    blockers = escort_blockers(escort, "Sam Lee")
    assert codes(blockers) == ["escort_not_allowed"]
    assert "must not drive until the next day" in blockers[0].message


@pytest.mark.parametrize(
    "name, phone, relationship, problems",
    [
        ("N/A", "n/a", "n/a", {"name", "phone", "relationship"}),
        ("x", "1", "x", {"name", "phone", "relationship"}),
        ("-", "0", "-", {"name", "phone", "relationship"}),
        ("Jo Park", "abc", "sister", {"phone"}),
        ("Waymo", "555-0100", "robotaxi", {"name"}),
        ("Alex Tester", "555-0100", "patient", {"name"}),
        ("Jane Walker", "(555) 010-0111", "neighbour", set()),
    ],
)
def test_placeholders_the_patient_and_robotaxis_are_not_an_escort(
    name, phone, relationship, problems
):
    found = escort_person_problems(name, phone, relationship, patient_name="Alex Tester")
    assert set(found) == problems


def test_another_adult_needs_name_phone_and_relationship():
    assert codes(escort_blockers(Escort("other_adult"), "Sam Lee")) == [
        "escort_name",
        "escort_phone",
        "escort_relationship",
    ]
    good = Escort("other_adult", "Jane Walker", "555-0100-22", "neighbour")
    assert escort_blockers(good, "Sam Lee") == []


def test_the_confirmed_driver_needs_one_confirmed():
    assert escort_blockers(Escort("confirmed_driver"), "Sam Lee") == []
    assert codes(escort_blockers(Escort("confirmed_driver"), "")) == ["no_confirmed_driver"]
    assert codes(escort_blockers(Escort(""), "Sam Lee")) == ["no_escort"]


# --- the psychiatrist's override -------------------------------------------------------------


def test_an_override_lifts_clinical_blockers_but_never_the_stay_or_the_escort():
    facts = esketamine_facts(
        [fresh(40), fresh(100)], sedation=[Score(at(60), 3)], override_at=at(101)
    )
    blockers = discharge_blockers(facts, good_attestation(escort=Escort("")), at(110), RULES)
    # The low score is lifted; the missing pre-discharge assessment is not.
    assert codes(blockers) == ["observation_time", "sedation_predischarge_missing", "no_escort"]


def test_an_override_covers_only_what_was_charted_before_it():
    facts = iv_facts([fresh(55), fresh(70)], sedation=[Score(at(45), 4)], override_at=at(60))
    assert not override_covers(facts)  # a reading came after it
    assert "sedated" in codes(chart_blockers(facts, at(70), RULES))
    later = iv_facts([fresh(55), fresh(70)], sedation=[Score(at(45), 4)], override_at=at(71))
    assert chart_blockers(later, at(72), RULES) == []


def test_never_overridable():
    for code in (
        "observation_time",
        "recovery_time",
        "no_dose",
        "infusion_running",
        "vitals_not_recent",
    ):
        assert code not in OVERRIDABLE


# --- board markers ---------------------------------------------------------------------------


def test_board_marks_every_safety_fact_urgent_first():
    markers = board_markers(
        hold_waiting=True,
        last_reading=vitals(184, 112, spo2=90, taken_at=at(55)),
        serious_event=True,
        phq9_item9=2,
        sedation=[Score(at(30), 5), Score(at(50), 3)],
        rules=RULES,
    )
    assert [m.label for m in markers] == [
        "BP hold: waiting for the psychiatrist",
        "Urgent BP 184/112",
        "SpO₂ 90 %",
        "Serious adverse event",
        "PHQ-9 item 9: 2",
        "Deep sedation: MOAA/S 3",
    ]
    assert all(m.urgent for m in markers)


def test_board_marks_nothing_for_a_quiet_session():
    assert (
        board_markers(
            hold_waiting=False,
            last_reading=vitals(130, 80, taken_at=at(10)),
            serious_event=False,
            phq9_item9=0,
            sedation=[Score(at(30), 4)],
            rules=RULES,
        )
        == []
    )


def test_notify_bp_is_marked_but_not_urgent():
    (marker,) = board_markers(
        hold_waiting=False,
        last_reading=vitals(165, 95, taken_at=at(10)),
        serious_event=False,
        phq9_item9=0,
        sedation=[],
        rules=RULES,
    )
    assert (marker.label, marker.urgent) == ("BP 165/95", False)
