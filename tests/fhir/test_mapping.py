"""The pure mappings on rows built in memory: the cases a demo chart may not hold."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.codes import (
    CoursePhase,
    EventSeverity,
    Indication,
    Modality,
    SessionStatus,
)
from clinic_app.fhir.adverse_events import adverse_event
from clinic_app.fhir.common import Visit, number, prune, timestamp
from clinic_app.fhir.courses import care_plan, episode_of_care
from clinic_app.fhir.medication import administration
from clinic_app.fhir.scales import assessment_resources
from clinic_app.fhir.vitals import reading_observations
from clinic_app.models import (
    AdverseEvent,
    Assessment,
    DeviceAdministration,
    TreatmentCourse,
    TreatmentSession,
    VitalsReading,
)
from tests.fhir.conformance import parse

LA = ZoneInfo("America/Los_Angeles")
AT = datetime(2026, 7, 1, 17, 0, tzinfo=UTC)  # 10:00 in Los Angeles (summer time)
VISIT = Visit(7, 3, True, LA)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=12,
)


def _empty_anywhere(value) -> bool:
    if value is None or value in ("", [], {}):
        return True
    if isinstance(value, dict):
        return any(_empty_anywhere(v) for v in value.values())
    if isinstance(value, list):
        return any(_empty_anywhere(v) for v in value)
    return False


@given(st.dictionaries(st.text(max_size=3), json_values))
def test_prune_leaves_no_empty_value_and_keeps_false_and_zero(value):
    pruned = prune(value)
    assert prune(pruned) == pruned
    assert not any(_empty_anywhere(v) for v in pruned.values())
    for key, item in value.items():
        if item is False or item == 0:
            assert pruned[key] == item


def test_times_are_local_to_the_second_with_the_offset():
    assert timestamp(AT, LA) == "2026-07-01T10:00:00-07:00"
    assert timestamp(AT.replace(month=1, microsecond=5), LA) == "2026-01-01T09:00:00-08:00"
    assert (number(Decimal("80.0")), number(Decimal("0.50"))) == (80, 0.5)


def _session(**fields) -> TreatmentSession:
    values = {
        "id": 7,
        "patient_id": 3,
        "course_id": 2,
        "modality": Modality.ESKETAMINE_NASAL,
        "nurse_id": 11,
        "status": SessionStatus.DISCHARGED,
        "started_at": AT,
        "lot_number": "",
    }
    return TreatmentSession(**{**values, **fields})


def test_a_session_ended_without_a_dose_is_not_done_with_the_reason():
    row = _session(status=SessionStatus.NOT_DOSED, not_dosed_at=AT, not_dosed_reason="bp_hold")
    given_ = administration(row, VISIT)
    parse(given_)
    assert given_["status"] == "not-done"
    assert given_["statusReason"] == [{"text": "Blood-pressure hold not overridden"}]
    assert given_["medicationCodeableConcept"]["coding"][0]["code"] == "2201625"
    assert given_["effectiveDateTime"] == "2026-07-01T10:00:00-07:00"
    assert administration(_session(status=SessionStatus.IN_PROGRESS), VISIT) is None


def test_esketamine_stopped_short_names_the_partial_device_and_both_lots():
    row = _session(dose_mg=Decimal(84), devices_used=3, dose_started_at=AT)
    row.devices = [
        DeviceAdministration(device_number=1, given_at=AT, lot_number="A", complete=True),
        DeviceAdministration(
            device_number=2, given_at=AT + timedelta(minutes=5), lot_number="B", complete=False
        ),
    ]
    given_ = administration(row, VISIT)
    parse(given_)
    assert given_["status"] == "stopped"
    assert given_["dosage"]["text"] == "84 mg = 3 x 28 mg devices; 2 charted; partial: device 2"
    assert given_["note"] == [{"text": "Lots: A, B"}]
    assert "batch" not in given_["contained"][0]
    assert given_["effectivePeriod"]["end"] == "2026-07-01T10:05:00-07:00"


def test_a_running_infusion_is_in_progress_at_its_start():
    row = _session(
        modality=Modality.IV_KETAMINE,
        status=SessionStatus.IN_PROGRESS,
        dose_mg=Decimal(40),
        dose_started_at=AT,
        lot_number="K1",
    )
    given_ = administration(row, Visit(7, 3, False, LA))
    parse(given_)
    assert given_["status"] == "in-progress"
    assert given_["effectiveDateTime"] == "2026-07-01T10:00:00-07:00"
    assert given_["dosage"]["text"] == "40 mg"
    assert given_["contained"][0]["batch"] == {"lotNumber": "K1"}


def test_serious_resolved_event_without_a_dose():
    row = AdverseEvent(
        id=5,
        session_id=7,
        kind="other",
        description="Fainted in the car park",
        severity=EventSeverity.SEVERE,
        serious=True,
        resolved=True,
        onset_at=AT,
        created_at=AT,
        recorded_by_id=11,
    )
    event = adverse_event(row, VISIT, dosed=False)
    parse(event)
    assert event["event"] == {"text": "Other: Fainted in the car park"}
    assert event["seriousness"]["coding"][0]["code"] == "Serious"
    assert event["severity"]["coding"][0]["code"] == "severe"
    assert event["outcome"]["coding"][0]["code"] == "resolved"
    assert "suspectEntity" not in event


def test_a_reading_without_respiratory_rate_gives_three_observations():
    row = VitalsReading(
        id=9, taken_at=AT, phase="intra", systolic=150, diastolic=95, heart_rate=88, spo2=96
    )
    observations = list(reading_observations(row, VISIT))
    assert [o["id"] for o in observations] == ["obs-bp-9", "obs-hr-9", "obs-spo2-9"]
    for observation in observations:
        parse(observation)


def test_a_scale_outside_a_session_has_no_encounter():
    row = Assessment(
        id=4,
        patient_id=3,
        instrument="gad7",
        items=[0, 1, 2, 3, 0, 1, 2],
        total=9,
        band="mild",
        administered_at=AT,
    )
    response, total = assessment_resources(row, Visit(None, 3, True, LA), "https://x.test/fhir")
    for resource in (response, total):
        parse(resource)
        assert "encounter" not in resource
    assert response["item"][3]["answer"][0]["valueCoding"]["code"] == "LA6571-9"
    assert total["code"]["coding"][0]["code"] == "70274-6"
    assert total["derivedFrom"] == [{"reference": "QuestionnaireResponse/qr-4"}]


def test_sedation_score_uses_the_clinic_code_system():
    row = Assessment(id=6, patient_id=3, instrument="moaas", items=[4], total=4, administered_at=AT)
    (total,) = assessment_resources(row, VISIT, "https://x.test/fhir")
    parse(total)
    assert total["code"]["coding"][0]["system"] == "https://x.test/fhir/CodeSystem/scales"
    assert total["category"][0]["coding"][0]["code"] == "exam"


def test_a_stopped_course_is_a_finished_episode_and_a_revoked_plan():
    course = TreatmentCourse(
        id=2,
        patient_id=3,
        modality=Modality.IV_KETAMINE,
        indication=Indication.TRD,
        prescriber_id=12,
        iv_mg_per_kg=Decimal("0.5"),
        iv_minutes=40,
        phase=CoursePhase.STOPPED,
        stop_reason="No response after induction",
        started_on=date(2026, 5, 1),
        ended_on=date(2026, 6, 1),
    )
    episode, plan = episode_of_care(course), care_plan(course)
    parse(episode)
    parse(plan)
    assert episode["status"] == "finished"
    assert episode["period"] == {"start": "2026-05-01", "end": "2026-06-01"}
    assert plan["status"] == "revoked"
    detail = plan["activity"][0]["detail"]
    assert detail["status"] == "stopped"
    assert detail["statusReason"] == {"text": "No response after induction"}
    assert detail["productCodeableConcept"]["coding"][0]["code"] == "6130"
    assert "dailyAmount" not in detail
