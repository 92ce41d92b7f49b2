"""Vital-sign Observations (FHIR vital-signs profile): each reading gives a blood-pressure panel
with systolic and diastolic components, heart rate, SpO2 (both the core and the pulse-oximetry
LOINC code) and, when taken, respiratory rate; the session's weight gives a body weight."""

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

from clinic_app.fhir import codes
from clinic_app.fhir.codes import LOINC, OBSERVATION_CATEGORY, VITAL_SIGNS_PROFILE
from clinic_app.fhir.common import Visit, coding, prune, quantity
from clinic_app.models import TreatmentSession, VitalsReading

PROFILE_BASE = "http://hl7.org/fhir/StructureDefinition/"
VITAL_SIGNS = {"coding": [coding(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")]}
MM_HG = ("mm[Hg]", "mmHg")
PER_MINUTE = ("/min", "/min")


def _code(*pairs: tuple[str, str]) -> dict:
    return {
        "coding": [coding(LOINC, code, display) for code, display in pairs],
        "text": pairs[0][1],
    }


def _observation(
    resource_id: str, profile: str, visit: Visit, taken_at: datetime, code: dict, **value
) -> dict:
    return prune(
        {
            "resourceType": "Observation",
            "id": resource_id,
            "meta": {"profile": [VITAL_SIGNS_PROFILE, PROFILE_BASE + profile]},
            "status": visit.status,
            "category": [VITAL_SIGNS],
            "code": code,
            "subject": visit.subject,
            "encounter": visit.encounter,
            "effectiveDateTime": visit.at(taken_at),
            **value,
        }
    )


def _component(pair: tuple[str, str], value: int, unit: tuple[str, str]) -> dict:
    return {"code": _code(pair), "valueQuantity": quantity(value, *unit)}


def reading_observations(row: VitalsReading, visit: Visit) -> Iterator[dict]:
    """The Observations of one set of vitals, ids derived from the reading's id."""
    yield _observation(
        f"obs-bp-{row.id}",
        "bp",
        visit,
        row.taken_at,
        _code(codes.BP_PANEL),
        component=[
            _component(codes.SYSTOLIC, row.systolic, MM_HG),
            _component(codes.DIASTOLIC, row.diastolic, MM_HG),
        ],
    )
    yield _observation(
        f"obs-hr-{row.id}",
        "heartrate",
        visit,
        row.taken_at,
        _code(codes.HEART_RATE),
        valueQuantity=quantity(row.heart_rate, *PER_MINUTE),
    )
    yield _observation(
        f"obs-spo2-{row.id}",
        "oxygensat",
        visit,
        row.taken_at,
        _code(codes.SPO2, codes.SPO2_PULSE_OX),
        valueQuantity=quantity(row.spo2, "%"),
    )
    if row.resp_rate is not None:
        yield _observation(
            f"obs-rr-{row.id}",
            "resprate",
            visit,
            row.taken_at,
            _code(codes.RESP_RATE),
            valueQuantity=quantity(row.resp_rate, *PER_MINUTE),
        )


def weighed_at(row: TreatmentSession) -> datetime:
    """When the session's weight was taken: at the pre-dose check, else at the dose."""
    return row.predose_checked_at or row.dose_started_at or row.started_at


def weight_id(session_id: int) -> str:
    return f"obs-weight-{session_id}"


def body_weight(row: TreatmentSession, visit: Visit, weight_kg: Decimal) -> dict:
    """The weight recorded for the session's dose (IV doses are per kg of it)."""
    return _observation(
        weight_id(row.id),
        "bodyweight",
        visit,
        weighed_at(row),
        _code(codes.BODY_WEIGHT),
        valueQuantity=quantity(weight_kg, "kg"),
    )
