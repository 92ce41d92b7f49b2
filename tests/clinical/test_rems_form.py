"""The REMS monitoring form built from a session: every field, editions as data, missing fields
named, and (Hypothesis) the chart's BP, dose, lot, duration and date on every form."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.discharge import Score
from clinic_app.clinical.rems_chart import EsketamineChart, charted_session, suggested_answers
from clinic_app.clinical.rems_form import (
    CURRENT_EDITION,
    EDITIONS,
    FACT_NAMES,
    BloodPressure,
    MonitoringFacts,
    build_form,
)
from tests.clinical.builders import RULES, vitals

LA = ZoneInfo("America/Los_Angeles")
DOSED = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)  # 10:00 in Los Angeles


def full_facts(**changes) -> MonitoringFacts:
    values = {
        "patient_first_name": "Ana",
        "patient_last_name": "Ruiz",
        "patient_birthdate": date(1980, 5, 17),
        "patient_sex": "female",
        "first_treatment": False,
        "medications": frozenset({"benzodiazepine"}),
        "hcp_first_name": "Nina",
        "hcp_last_name": "Park",
        "hcp_phone": "555-0101",
        "hcp_email": "nina@example.org",
        "setting_name": "Downtown",
        "setting_address1": "1 Main St",
        "setting_city": "Los Angeles",
        "setting_state": "CA",
        "setting_zip": "90012",
        "treatment_date": date(2026, 12, 4),
        "dose_mg": 84,
        "lot_numbers": ("L1", "L2", "L1"),
        "duration_minutes": 125,
        "ready_minutes": 90,
        "vitals_ok_pre": True,
        "vitals_ok_completion": True,
        "bp_pre": BloodPressure(128, 82),
        "bp_40": BloodPressure(150, 92),
        "bp_completion": BloodPressure(130, 84),
        "sedation_observed": True,
        "sedation_resolved": True,
        "dissociation_observed": False,
        "pulse_oximetry_checked": True,
        "respiratory_observed": False,
        "sae_occurred": False,
    }
    values.update(changes)
    return MonitoringFacts(**values)


def test_every_edition_field_reads_a_known_fact():
    for edition in EDITIONS.values():
        for spec in edition.field_specs:
            assert spec.key.startswith("med_") or spec.key in FACT_NAMES, spec.key
            assert not spec.required_if or spec.required_if in {s.key for s in edition.field_specs}
        keys = [s.key for s in edition.field_specs]
        assert len(keys) == len(set(keys))


def test_a_complete_session_misses_nothing_and_reads_as_the_form_writes():
    form = build_form(full_facts())
    assert form.missing == ()
    values = form.values
    assert values["patient_birthdate"] == "05/17/1980"
    assert values["treatment_date"] == "12/04/2026"
    assert values["patient_sex"] == "Female"
    assert values["dose_mg"] == "84 mg"
    assert values["lot_numbers"] == "L1, L2"
    assert values["bp_40"] == "150/92"
    assert values["med_benzodiazepine"] == "Yes"
    assert values["med_opioid"] == "No"
    assert values["first_treatment"] == "No"
    assert values["rems_enrolled"] == ""  # asked only after a first treatment


def test_missing_required_fields_are_named_in_form_order():
    form = build_form(full_facts(hcp_phone="", medications=None, bp_40=None, ready_minutes=None))
    assert form.missing == (
        "Concomitant Medication: Benzodiazepines",
        "Concomitant Medication: Non-benzodiazepine sedative hypnotics",
        "Concomitant Medication: Psychostimulants",
        "Concomitant Medication: Monoamine oxidase inhibitors (MAOIs)",
        "Concomitant Medication: Opioids",
        "Healthcare Provider Conducting Patient Monitoring: Telephone",
        "Patient Treatment Session Information: REMS Evaluation Question: if there was not a "
        "2-hour minimum monitoring requirement, when would this patient have been ready to "
        "leave? (minutes from start of administration)",
        "Monitoring of Vital Signs: Blood pressure 40 minutes post-administration (mmHg)",
    )


def test_follow_up_questions_are_required_after_a_yes():
    form = build_form(full_facts(first_treatment=True, respiratory_observed=True))
    assert (
        "Patient Information: If yes, is the patient enrolled in the SPRAVATO REMS?" in form.missing
    )
    assert any("respiratory depression resolve" in m for m in form.missing)
    assert (
        build_form(
            full_facts(
                first_treatment=True,
                rems_enrolled=True,
                respiratory_observed=True,
                respiratory_resolved=True,
            )
        ).missing
        == ()
    )


def test_the_2021_edition_asks_less():
    form = build_form(full_facts(), "2021-11")
    assert "med_opioid" not in form.values
    assert "first_treatment" not in form.values
    assert "respiratory_observed" not in form.values
    assert form.edition.code == "2021-11"


def test_other_doses_and_the_fingerprint():
    assert build_form(full_facts(dose_mg=28)).values["dose_mg"] == "Other: 28 mg"
    assert build_form(full_facts()).fingerprint == build_form(full_facts()).fingerprint
    assert (
        build_form(full_facts()).fingerprint != build_form(full_facts(ready_minutes=91)).fingerprint
    )
    assert build_form(full_facts()).edition.code == CURRENT_EDITION


# --- from the chart -------------------------------------------------------------------------

bps = st.tuples(st.integers(90, 200), st.integers(50, 89))


@st.composite
def charts(draw):
    """A dosed esketamine chart: pre-dose readings, post-dose readings at distinct minutes,
    one to three devices with lots, and a discharge after the last reading."""
    pre_minutes = draw(st.lists(st.integers(-60, 0), min_size=1, max_size=3, unique=True))
    post_minutes = draw(st.lists(st.integers(1, 240), max_size=8, unique=True))

    def reading(minute):
        systolic, diastolic = draw(bps)
        return vitals(systolic, diastolic, taken_at=dosed + timedelta(minutes=minute))

    dosed = draw(
        st.datetimes(
            min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
        )
    )
    readings = [reading(m) for m in pre_minutes + post_minutes]
    lots = draw(st.lists(st.sampled_from(["A1", "B22", "C-3"]), min_size=1, max_size=3))
    discharged = dosed + timedelta(minutes=max([120, *post_minutes]) + draw(st.integers(0, 30)))
    return (
        EsketamineChart(
            dose_started_at=dosed,
            discharged_at=discharged,
            dose_mg=draw(st.sampled_from([56, 84])),
            device_lots=tuple(lots),
            readings=draw(st.permutations(readings)),
            age_years=40,
        ),
        sorted(pre_minutes),
        sorted(post_minutes),
    )


@given(charts(), st.sampled_from([LA, ZoneInfo("America/New_York")]))
def test_any_signed_session_gives_the_charts_bp_dose_lot_duration_and_date(drawn, zone):
    chart, pre, post = drawn
    session = charted_session(chart, zone, RULES)
    form = build_form(full_facts(**vars(session)))
    values = form.values

    def bp_at(minute):
        r = next(
            r
            for r in chart.readings
            if r.taken_at == chart.dose_started_at + timedelta(minutes=minute)
        )
        return f"{r.systolic}/{r.diastolic}"

    assert values["bp_pre"] == bp_at(pre[-1])
    check = [m for m in post if m >= 35]
    assert values["bp_40"] == (bp_at(check[0]) if check else "")
    assert values["bp_completion"] == (bp_at(check[-1]) if len(check) > 1 else "")
    assert values["dose_mg"] == f"{chart.dose_mg} mg"
    assert values["lot_numbers"] == ", ".join(dict.fromkeys(chart.device_lots))
    assert values["duration_minutes"] == str(
        int((chart.discharged_at - chart.dose_started_at).total_seconds() // 60)
    )
    local_day = chart.dose_started_at.astimezone(zone).date()
    assert values["treatment_date"] == f"{local_day.month:02}/{local_day.day:02}/{local_day.year}"


def test_suggested_answers_from_scores_and_readings():
    chart = EsketamineChart(
        dose_started_at=DOSED,
        discharged_at=DOSED + timedelta(minutes=125),
        dose_mg=56,
        device_lots=("L1",),
        readings=[
            vitals(128, 82, taken_at=DOSED - timedelta(minutes=5)),
            vitals(150, 92, spo2=92, taken_at=DOSED + timedelta(minutes=40)),
            vitals(140, 88, spo2=91, taken_at=DOSED + timedelta(minutes=50)),
            vitals(130, 84, spo2=97, taken_at=DOSED + timedelta(minutes=115)),
        ],
        age_years=40,
        sedation=[
            Score(DOSED + timedelta(minutes=40), 3),
            Score(DOSED + timedelta(minutes=110), 5),
        ],
        dissociation=[Score(DOSED + timedelta(minutes=40), 6)],
    )
    answers = suggested_answers(chart, RULES)
    assert answers.vitals_ok_pre is True and answers.vitals_ok_completion is True
    assert answers.sedation_observed is True and answers.sedation_resolved is True
    assert answers.dissociation_observed is True and answers.dissociation_resolved is False
    assert answers.respiratory_observed is True and answers.respiratory_resolved is True


def test_nothing_charted_suggests_nothing():
    chart = EsketamineChart(DOSED, None, 56, (), [], 40)
    answers = suggested_answers(chart, RULES)
    assert answers.vitals_ok_pre is None and answers.sedation_observed is None
    assert answers.respiratory_observed is False and answers.respiratory_resolved is None
