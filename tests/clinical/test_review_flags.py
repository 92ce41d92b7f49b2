"""Review-queue flags on a signed session, same-day alerts, missed visits and queue order."""

import dataclasses
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.attendance import PastVisit, missed_run
from clinic_app.clinical.codes import NOT_DOSED_REASONS, AppointmentStatus, Modality
from clinic_app.clinical.discharge import earliest_discharge
from clinic_app.clinical.review import (
    SAME_DAY_ALERT_CODES,
    Flag,
    ReviewRules,
    SessionReviewFacts,
    Severity,
    missed_induction_alert,
    missed_induction_flag,
    needs_same_day_alert,
    not_dosed_flag,
    queue_key,
    queue_order,
    same_day_alerts,
    session_flags,
)
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.vitals import reading_alerts
from clinic_app.review.facts import review_facts
from tests.clinical.builders import RULES, T0, at, vitals

REVIEW = ReviewRules()
PHQ9_CLEAN = [2, 2, 1, 1, 1, 1, 1, 1, 0]


def facts(**changes) -> SessionReviewFacts:
    """An uneventful esketamine session: first device at T0, discharged at 125 min."""
    values = {
        "modality": Modality.ESKETAMINE_NASAL,
        "age_years": 40,
        "dose_started_at": T0,
        "infusion_ended_at": None,
        "discharged_at": at(125),
        "baseline": vitals(130, 85, taken_at=at(-10)),
        "readings_after_dose": [
            vitals(138, 88, taken_at=at(40)),
            vitals(128, 84, taken_at=at(115)),
        ],
        "adverse_events": [],
        "overrides": [],
        "phq9_items": PHQ9_CLEAN,
    }
    values.update(changes)
    return SessionReviewFacts(**values)


def flags_of(**changes) -> list[Flag]:
    return session_flags(facts(**changes), RULES, REVIEW)


def codes(flags) -> list[str]:
    return [f.code for f in flags]


def with_reading(reading, **changes) -> list[Flag]:
    return flags_of(readings_after_dose=[reading], **changes)


# --- clean session and severities ---------------------------------------------------------------


def test_uneventful_session_has_no_flags():
    assert flags_of() == []


def test_severity_order():
    assert [s.rank for s in Severity] == [0, 1, 2]
    assert [s.value for s in Severity] == ["urgent", "warning", "info"]


# --- blood pressure -----------------------------------------------------------------------------


def test_159_over_99_is_not_flagged():
    assert with_reading(vitals(159, 99, taken_at=at(40))) == []


@pytest.mark.parametrize("systolic, diastolic", [(160, 100), (160, 99), (159, 100)])
def test_160_over_100_notifies(systolic, diastolic):
    assert with_reading(vitals(systolic, diastolic, taken_at=at(40))) == [
        Flag(
            "bp_notify",
            Severity.WARNING,
            f"BP reached {systolic}/{diastolic} 40 min after the dose, "
            "at or above the notify-prescriber line 160/100.",
        )
    ]


def test_179_over_109_is_notify_not_urgent():
    assert codes(with_reading(vitals(179, 109, taken_at=at(40)))) == ["bp_notify"]


@pytest.mark.parametrize("systolic, diastolic", [(180, 109), (179, 110)])
def test_180_or_110_is_urgent(systolic, diastolic):
    assert with_reading(vitals(systolic, diastolic, taken_at=at(35))) == [
        Flag(
            "bp_urgent",
            Severity.URGENT,
            f"BP reached {systolic}/{diastolic} 35 min after the dose, "
            "at or above the urgent line 180/110.",
        )
    ]


def test_rise_over_pre_dose_is_info():
    baseline = vitals(110, 70, taken_at=at(-10))
    assert with_reading(vitals(150, 80, taken_at=at(40)), baseline=baseline) == [
        Flag(
            "bp_rise",
            Severity.INFO,
            "BP rose +40/+10 over pre-dose 110/70 to 150/80 40 min after the dose "
            "(alert at +40/+25).",
        )
    ]
    assert codes(with_reading(vitals(120, 95, taken_at=at(40)), baseline=baseline)) == ["bp_rise"]


def test_rise_just_under_the_line_is_not_flagged():
    baseline = vitals(110, 70, taken_at=at(-10))
    assert with_reading(vitals(149, 94, taken_at=at(40)), baseline=baseline) == []


def test_no_rise_without_a_baseline():
    assert with_reading(vitals(150, 95, taken_at=at(40)), baseline=None) == []


def test_only_the_highest_tier_is_reported_at_its_first_reading():
    baseline = vitals(110, 70, taken_at=at(-10))
    readings = [
        vitals(185, 100, taken_at=at(60)),
        vitals(150, 80, taken_at=at(20)),
        vitals(165, 90, taken_at=at(30)),
        vitals(182, 96, taken_at=at(45)),
    ]
    flags = flags_of(readings_after_dose=readings, baseline=baseline)
    assert flags == [
        Flag(
            "bp_urgent",
            Severity.URGENT,
            "BP reached 182/96 45 min after the dose, at or above the urgent line 180/110.",
        )
    ]


def test_reading_without_time_has_no_minutes_in_reason():
    assert with_reading(vitals(165, 90, taken_at=None))[0].reason == (
        "BP reached 165/90, at or above the notify-prescriber line 160/100."
    )


def test_bp_lines_are_settings():
    rules = ClinicalRules(notify_systolic=150, urgent_systolic=170)
    flags = session_flags(
        facts(readings_after_dose=[vitals(170, 90, taken_at=at(40))]), rules, REVIEW
    )
    assert codes(flags) == ["bp_urgent"]
    assert "urgent line 170/110" in flags[0].reason


# --- SpO₂ ---------------------------------------------------------------------------------------


def test_spo2_92_is_not_flagged():
    assert with_reading(vitals(spo2=92, taken_at=at(20))) == []


def test_spo2_91_is_urgent():
    assert with_reading(vitals(spo2=91, taken_at=at(20))) == [
        Flag("spo2_low", Severity.URGENT, "SpO₂ fell to 91 % 20 min after the dose, below 92 %.")
    ]


def test_lowest_spo2_is_reported():
    readings = [vitals(spo2=90, taken_at=at(10)), vitals(spo2=88, taken_at=at(20))]
    assert flags_of(readings_after_dose=readings)[0].reason == (
        "SpO₂ fell to 88 % 20 min after the dose, below 92 %."
    )


def test_pre_dose_spo2_counts():
    assert flags_of(baseline=vitals(130, 85, spo2=91, taken_at=at(-10))) == [
        Flag("spo2_low", Severity.URGENT, "SpO₂ fell to 91 % before the dose, below 92 %.")
    ]


# --- adverse events, overrides, PHQ-9 item 9 ---------------------------------------------------


def test_non_serious_adverse_event_is_not_flagged():
    assert flags_of(adverse_events=[("nausea", False), ("dissociation", False)]) == []


def test_serious_adverse_event_is_urgent():
    assert flags_of(adverse_events=[("nausea", False), ("respiratory_depression", True)]) == [
        Flag(
            "serious_ae",
            Severity.URGENT,
            "Serious adverse event: Respiratory depression / desaturation.",
        )
    ]


def test_several_serious_events_in_one_flag():
    events = [("emergence", True), ("vomiting", True), ("emergence", True), ("new_kind", True)]
    assert flags_of(adverse_events=events) == [
        Flag(
            "serious_ae",
            Severity.URGENT,
            "Serious adverse events: Emergence reaction, Vomiting, new_kind.",
        )
    ]


def test_override_is_a_warning():
    assert flags_of(overrides=["predose_bp_hold"]) == [
        Flag("override", Severity.WARNING, "Override used: pre-dose BP hold.")
    ]


def test_several_overrides_named_once_each():
    flags = flags_of(overrides=["predose_bp_hold", "fasting_rule", "predose_bp_hold"])
    assert flags[0].reason == "Override used: pre-dose BP hold, fasting rule."


def test_leaving_with_another_adult_names_them_with_relationship_and_phone():
    assert flags_of(other_escort=("Jo Park", "sister", "555-0111")) == [
        Flag(
            "other_escort",
            Severity.WARNING,
            "Left with Jo Park (sister, 555-0111), not the driver confirmed before the dose.",
        )
    ]


@pytest.mark.parametrize(
    "escort, other",
    [
        (("other_adult", "Jo Park", "sister", "555-0111"), ("Jo Park", "sister", "555-0111")),
        (("confirmed_driver", "Sam Tester", "", ""), None),
        (("", "", "", ""), None),
    ],
)
def test_review_facts_keep_the_other_adults_phone(escort, other):
    built = review_facts(
        Modality.ESKETAMINE_NASAL, 40, T0, None, at(125), [], [], [], [], escort=escort
    )
    assert built.other_escort == other


@pytest.mark.parametrize("answer", [1, 2, 3])
def test_phq9_item9_above_zero_is_urgent(answer):
    items = [*PHQ9_CLEAN[:8], answer]
    assert flags_of(phq9_items=items) == [
        Flag(
            "phq9_item9",
            Severity.URGENT,
            f"PHQ-9 item 9 (thoughts of self-harm) scored {answer}: same-day follow-up needed.",
        )
    ]


@pytest.mark.parametrize("items", [None, PHQ9_CLEAN, [3] * 8])
def test_phq9_item9_zero_missing_or_incomplete_is_not_flagged(items):
    assert flags_of(phq9_items=items) == []


# --- late discharge ------------------------------------------------------------------------------


def test_esketamine_discharge_exactly_at_grace_is_not_late():
    assert flags_of(discharged_at=at(150)) == []


def test_esketamine_discharge_one_second_after_grace_is_late():
    assert flags_of(discharged_at=at(150, seconds=1)) == [
        Flag(
            "late_discharge",
            Severity.INFO,
            "Discharged 31 min after the earliest discharge time (grace 30 min): "
            "check what kept the patient.",
        )
    ]


def test_iv_earliest_is_infusion_end_plus_recovery():
    iv = {"modality": Modality.IV_KETAMINE, "infusion_ended_at": at(40)}
    assert flags_of(discharged_at=at(100), **iv) == []
    assert codes(flags_of(discharged_at=at(100, seconds=1), **iv)) == ["late_discharge"]
    assert flags_of(discharged_at=at(160), **iv)[0].reason.startswith("Discharged 90 min after")


def test_no_late_flag_without_the_times():
    assert flags_of(discharged_at=None) == []
    assert flags_of(dose_started_at=None, discharged_at=at(600)) == []
    iv_running = {"modality": Modality.IV_KETAMINE, "infusion_ended_at": None}
    assert flags_of(discharged_at=at(600), **iv_running) == []


def test_grace_is_a_setting():
    review = ReviewRules(late_discharge_grace_minutes=10)
    assert codes(session_flags(facts(discharged_at=at(131)), RULES, review)) == ["late_discharge"]
    assert session_flags(facts(discharged_at=at(130)), RULES, review) == []


# --- ended without a dose ------------------------------------------------------------------------


def undosed(reason: str, note: str = "") -> list[Flag]:
    return flags_of(
        dose_started_at=None,
        discharged_at=None,
        readings_after_dose=[],
        not_dosed_reason=reason,
        not_dosed_note=note,
    )


def test_dosed_session_has_no_not_dosed_flag():
    assert not_dosed_flag("") is None
    assert "not_dosed" not in codes(flags_of())


@pytest.mark.parametrize("reason", sorted(NOT_DOSED_REASONS))
def test_not_dosed_is_a_warning_naming_the_reason(reason):
    assert undosed(reason) == [
        Flag("not_dosed", Severity.WARNING, f"Not dosed: {NOT_DOSED_REASONS[reason]}.")
    ]


def test_not_dosed_flag_carries_the_note():
    flag = not_dosed_flag("other", "Patient too anxious today.")
    assert flag == Flag(
        "not_dosed", Severity.WARNING, "Not dosed: Other (Patient too anxious today)."
    )


@given(reason=st.sampled_from(sorted(NOT_DOSED_REASONS)), note=st.text(max_size=40))
def test_not_dosed_flag_always_names_the_reason_label(reason, note):
    flag = not_dosed_flag(reason, note)
    assert flag is not None and flag.code == "not_dosed"
    assert flag.reason.startswith(f"Not dosed: {NOT_DOSED_REASONS[reason]}")
    assert not any(f.code == "late_discharge" for f in undosed(reason, note))


def test_not_dosed_sorts_after_urgent_flags():
    flags = flags_of(
        dose_started_at=None,
        discharged_at=None,
        readings_after_dose=[],
        phq9_items=[*PHQ9_CLEAN[:8], 1],
        not_dosed_reason="patient_declined",
    )
    assert codes(flags) == ["phq9_item9", "not_dosed"]


# --- session_flags ordering ----------------------------------------------------------------------


def test_every_flag_at_once_most_severe_first():
    flags = flags_of(
        readings_after_dose=[vitals(185, 100, spo2=90, taken_at=at(40))],
        adverse_events=[("sedation", True)],
        overrides=["predose_bp_hold"],
        phq9_items=[*PHQ9_CLEAN[:8], 1],
        discharged_at=at(200),
    )
    assert [(f.code, f.severity) for f in flags] == [
        ("serious_ae", "urgent"),
        ("phq9_item9", "urgent"),
        ("bp_urgent", "urgent"),
        ("spo2_low", "urgent"),
        ("override", "warning"),
        ("late_discharge", "info"),
    ]


def test_warning_bp_sorts_after_urgent_and_with_override():
    flags = flags_of(
        readings_after_dose=[vitals(165, 90, taken_at=at(40))],
        overrides=["predose_bp_hold"],
        discharged_at=at(200),
        phq9_items=[*PHQ9_CLEAN[:8], 2],
    )
    assert codes(flags) == ["phq9_item9", "bp_notify", "override", "late_discharge"]


# --- missed induction visits ---------------------------------------------------------------------


def visits(*statuses: str) -> list[PastVisit]:
    """Visits by status; "late" is a cancellation the patient made late, "cancelled" one made in
    advance (or by the clinic)."""
    return [
        PastVisit("cancelled", late_cancellation=True) if s == "late" else PastVisit(s)
        for s in statuses
    ]


@pytest.mark.parametrize(
    "statuses, run",
    [
        ([], 0),
        (["completed"], 0),
        (["no_show"], 1),
        (["completed", "late"], 1),
        (["no_show", "late"], 2),
        (["no_show", "completed", "late"], 1),
        (["late", "no_show", "completed"], 0),
        (["completed", "no_show", "scheduled", "no_show"], 2),
        (["no_show", "checked_in", "no_show"], 1),
        (["no_show", "in_treatment"], 0),
        (["no_show", "not_dosed"], 0),
        (["no_show", "not_dosed", "late"], 1),
        # Cancelled in advance at the patient's request: neither a miss nor an attendance.
        (["no_show", "cancelled", "no_show"], 2),
        (["cancelled", "cancelled"], 0),
        ([AppointmentStatus.NO_SHOW, AppointmentStatus.NO_SHOW, AppointmentStatus.NO_SHOW], 3),
    ],
)
def test_missed_in_a_row(statuses, run):
    assert missed_run(visits(*statuses)) == run


def test_unknown_status_is_refused():
    with pytest.raises(ValueError):
        missed_run(visits("no_show", "noshow"))


def test_one_miss_is_no_alert_two_are():
    assert missed_induction_alert(visits("completed", "no_show"), REVIEW) is False
    assert missed_induction_alert(visits("completed", "no_show", "late"), REVIEW) is True


def test_cancelling_ahead_is_no_alert():
    assert missed_induction_alert(visits("completed", "cancelled", "cancelled"), REVIEW) is False


def test_completed_between_misses_resets():
    assert missed_induction_alert(visits("no_show", "completed", "no_show"), REVIEW) is False


def test_missed_count_is_a_setting():
    three = ReviewRules(missed_induction_alert_count=3)
    assert missed_induction_alert(visits("no_show", "no_show"), three) is False
    assert missed_induction_alert(visits("no_show", "no_show", "late"), three) is True


def test_missed_induction_flag():
    assert missed_induction_flag(visits("no_show"), REVIEW) is None
    assert missed_induction_flag(visits("no_show", "late"), REVIEW) == Flag(
        "missed_induction",
        Severity.URGENT,
        "2 induction visits missed in a row (no-show or late cancellation): "
        "contact the patient today.",
    )


# --- same-day alerts -----------------------------------------------------------------------------


def test_no_same_day_alert():
    kwargs = {
        "phq9_items": PHQ9_CLEAN,
        "adverse_events": [("nausea", False)],
        "induction_visits": visits("no_show", "completed", "no_show"),
        "rules": REVIEW,
    }
    assert same_day_alerts(**kwargs) == []
    assert needs_same_day_alert(**kwargs) is False
    assert needs_same_day_alert(rules=REVIEW) is False


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"phq9_items": [0] * 8 + [1]}, "phq9_item9"),
        ({"adverse_events": [("sedation", True)]}, "serious_ae"),
        ({"induction_visits": visits("late", "no_show")}, "missed_induction"),
    ],
)
def test_each_same_day_alert(kwargs, code):
    assert codes(same_day_alerts(rules=REVIEW, **kwargs)) == [code]
    assert needs_same_day_alert(rules=REVIEW, **kwargs) is True


def test_all_same_day_alerts_together():
    found = same_day_alerts(
        phq9_items=[0] * 8 + [3],
        adverse_events=[("emergence", True)],
        induction_visits=visits("no_show", "no_show"),
        rules=REVIEW,
    )
    assert codes(found) == ["phq9_item9", "serious_ae", "missed_induction"]
    assert {f.code for f in found} == SAME_DAY_ALERT_CODES
    assert all(f.severity == Severity.URGENT for f in found)


# --- queue order ---------------------------------------------------------------------------------

URGENT_BP = Flag("bp_urgent", Severity.URGENT, "x")
ITEM9 = Flag("phq9_item9", Severity.URGENT, "x")
OVERRIDE = Flag("override", Severity.WARNING, "x")
LATE = Flag("late_discharge", Severity.INFO, "x")


def test_queue_key():
    assert queue_key([], at(0)) == (1, 3, at(0))
    assert queue_key([LATE, OVERRIDE], at(0)) == (1, 1, at(0))
    assert queue_key([URGENT_BP], at(0)) == (1, 0, at(0))
    assert queue_key([ITEM9], at(0)) == (0, 0, at(0))
    assert queue_key([ITEM9], at(0), acknowledged=True) == (1, 0, at(0))


def test_flagged_first_then_oldest_first():
    entries = [
        ("plain-old", at(0), []),
        ("info-new", at(60), [LATE]),
        ("plain-new", at(60), []),
        ("urgent-new", at(90), [URGENT_BP]),
        ("info-old", at(10), [LATE]),
        ("warning", at(30), [OVERRIDE, LATE]),
        ("urgent-old", at(5), [URGENT_BP]),
    ]
    assert queue_order(entries) == [
        "urgent-old",
        "urgent-new",
        "warning",
        "info-old",
        "info-new",
        "plain-old",
        "plain-new",
    ]


def test_unacknowledged_same_day_alert_stays_on_top():
    entries = [("bp", at(0), [URGENT_BP]), ("item9", at(60), [ITEM9]), ("plain", at(-60), [])]
    assert queue_order(entries) == ["item9", "bp", "plain"]
    assert queue_order(entries, acknowledged={"item9"}) == ["bp", "item9", "plain"]


def test_queue_ties_keep_input_order():
    entries = [("b", at(0), [LATE]), ("a", at(0), [LATE])]
    assert queue_order(entries) == ["b", "a"]


# --- properties ----------------------------------------------------------------------------------

any_vitals = st.builds(
    vitals,
    systolic=st.integers(90, 220),
    diastolic=st.integers(50, 130),
    spo2=st.integers(80, 100),
    taken_at=st.none() | st.integers(0, 240).map(lambda m: at(m)),
)
any_facts = st.builds(
    SessionReviewFacts,
    modality=st.sampled_from(list(Modality)),
    age_years=st.integers(18, 90),
    dose_started_at=st.none() | st.just(T0),
    infusion_ended_at=st.none() | st.integers(0, 60).map(lambda m: at(m)),
    discharged_at=st.none() | st.integers(0, 400 * 60).map(lambda s: at(seconds=s)),
    baseline=st.none() | any_vitals,
    readings_after_dose=st.lists(any_vitals, max_size=5),
    adverse_events=st.lists(
        st.tuples(st.sampled_from(["nausea", "sedation", "vomiting", "other"]), st.booleans()),
        max_size=3,
    ),
    overrides=st.lists(st.sampled_from(["predose_bp_hold", "fasting_rule"]), max_size=2),
    phq9_items=st.none() | st.lists(st.integers(0, 3), min_size=9, max_size=9),
)


@given(any_facts)
def test_flags_sorted_by_severity_and_codes_unique(f):
    flags = session_flags(f, RULES, REVIEW)
    ranks = [flag.severity.rank for flag in flags]
    assert ranks == sorted(ranks)
    assert len(set(codes(flags))) == len(flags)
    assert sum(c.startswith("bp_") for c in codes(flags)) <= 1


@given(any_facts, st.sampled_from(["nausea", "sedation", "respiratory_depression"]))
def test_adding_a_serious_event_never_removes_a_flag(f, kind):
    before = set(codes(session_flags(f, RULES, REVIEW)))
    worse = dataclasses.replace(f, adverse_events=[*f.adverse_events, (kind, True)])
    after = codes(session_flags(worse, RULES, REVIEW))
    assert before <= set(after)
    assert after[0] == "serious_ae"


@given(any_facts)
def test_bp_flag_is_the_highest_tier_reading_alerts_reach(f):
    tiers = [
        a.tier
        for r in f.readings_after_dose
        for a in reading_alerts(r, f.baseline, RULES)
        if a.code.startswith("bp_")
    ]
    expected = {3: "bp_urgent", 2: "bp_notify", 1: "bp_rise"}.get(max(tiers, default=0))
    found = [c for c in codes(session_flags(f, RULES, REVIEW)) if c.startswith("bp_")]
    assert found == ([expected] if expected else [])


@given(any_facts)
def test_spo2_flag_iff_any_reading_below_92(f):
    readings = [*f.readings_after_dose, *([f.baseline] if f.baseline else [])]
    low = any(r.spo2 < 92 for r in readings)
    assert ("spo2_low" in codes(session_flags(f, RULES, REVIEW))) == low


@given(any_facts)
def test_late_flag_iff_after_earliest_plus_grace(f):
    earliest = earliest_discharge(f.discharge_facts(), RULES)
    late = (
        earliest is not None
        and f.discharged_at is not None
        and f.discharged_at > earliest + timedelta(minutes=30)
    )
    assert ("late_discharge" in codes(session_flags(f, RULES, REVIEW))) == late


@given(
    st.lists(
        st.sampled_from(["completed", "no_show", "late", "cancelled", "scheduled"]), max_size=10
    )
)
def test_missed_run_matches_trailing_misses(statuses):
    run = missed_run(visits(*statuses))
    attended = [i for i, s in enumerate(statuses) if s == "completed"]
    tail = statuses[attended[-1] + 1 :] if attended else statuses
    assert run == sum(s in ("no_show", "late") for s in tail)
    assert missed_induction_alert(visits(*statuses), REVIEW) == (run >= 2)
    assert missed_run(visits(*statuses, "completed")) == 0


@given(
    st.lists(
        st.tuples(
            st.integers(0, 1000),
            st.lists(st.sampled_from([URGENT_BP, ITEM9, OVERRIDE, LATE]), max_size=3),
        ),
        max_size=8,
    )
)
def test_queue_puts_every_flagged_session_before_every_unflagged(rows):
    entries = [(i, at(m), flags) for i, (m, flags) in enumerate(rows)]
    order = queue_order(entries)
    assert sorted(order) == list(range(len(rows)))
    flagged = [bool(entries[i][2]) for i in order]
    assert flagged == sorted(flagged, reverse=True)


# --- a short infusion ---------------------------------------------------------------------------


def iv_facts(**changes) -> SessionReviewFacts:
    """An IV session: 40 min planned, infusion from T0, discharged at 75 min."""
    values = {
        "modality": Modality.IV_KETAMINE,
        "infusion_ended_at": at(40),
        "discharged_at": at(75),
        "readings_after_dose": [vitals(128, 84, taken_at=at(30))],
        "planned_minutes": 40,
    }
    values.update(changes)
    return facts(**values)


def test_an_infusion_of_the_planned_minutes_is_not_flagged():
    assert "infusion_short" not in codes(session_flags(iv_facts(), RULES, REVIEW))


def test_an_infusion_shorter_than_planned_is_flagged_with_the_minutes():
    flags = session_flags(iv_facts(infusion_ended_at=at(32)), RULES, REVIEW)
    assert (
        Flag(
            "infusion_short",
            Severity.WARNING,
            "Infusion ran 32 min of the planned 40 min: check the volume given.",
        )
        in flags
    )


def test_pauses_do_not_count_as_infusion_time():
    ran_long = iv_facts(infusion_ended_at=at(45), paused_minutes=10.0)
    flags = session_flags(ran_long, RULES, REVIEW)
    assert [f.reason for f in flags if f.code == "infusion_short"] == [
        "Infusion ran 35 min of the planned 40 min (10 min of pauses excluded): "
        "check the volume given."
    ]
    assert "infusion_short" not in codes(
        session_flags(iv_facts(infusion_ended_at=at(50), paused_minutes=10.0), RULES, REVIEW)
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"planned_minutes": None, "infusion_ended_at": at(20)},
        {"infusion_ended_at": None},
        {"dose_started_at": None, "infusion_ended_at": None},
    ],
    ids=["no-plan", "not-ended", "not-dosed"],
)
def test_no_short_flag_without_a_plan_or_an_end(changes):
    assert "infusion_short" not in codes(session_flags(iv_facts(**changes), RULES, REVIEW))


def test_esketamine_is_never_flagged_short():
    assert "infusion_short" not in codes(flags_of(planned_minutes=40))
