"""The dose of a session as a MedicationAdministration: RxNorm drug (a contained Medication
carrying the lot), route, dose in mg, and the esketamine devices or the IV mg/kg and pump rate;
a session ended without a dose gives one with status not-done and the reason."""

from datetime import datetime

from clinic_app.clinical.codes import NOT_DOSED_REASONS, Modality, SessionStatus
from clinic_app.clinical.dosing import ESKETAMINE_DEVICE_MG
from clinic_app.fhir.codes import MEDICATIONS, ROUTES, RXNORM, SNOMED
from clinic_app.fhir.common import (
    Visit,
    administration_id,
    concept,
    number,
    practitioner_id,
    prune,
    quantity,
    reference,
)
from clinic_app.fhir.vitals import weight_id
from clinic_app.models import TreatmentSession


def _medication(row: TreatmentSession, lots: list[str]) -> dict:
    code, display = MEDICATIONS[row.modality]
    return {
        "resourceType": "Medication",
        "id": "medication",
        "code": concept(RXNORM, code, display),
        "batch": {"lotNumber": lots[0]} if len(lots) == 1 else None,
    }


def _esketamine_text(row: TreatmentSession) -> str:
    given = len(row.devices)
    text = f"{number(row.dose_mg or 0)} mg = {row.devices_used} x {ESKETAMINE_DEVICE_MG} mg devices"
    partial = [d for d in row.devices if not d.complete]
    if given < (row.devices_used or 0):
        text += f"; {given} charted"
    if partial:
        text += "; partial: " + ", ".join(f"device {d.device_number}" for d in partial)
    return text


def _iv_text(row: TreatmentSession) -> str:
    parts = [f"{number(row.dose_mg or 0)} mg"]
    if row.dose_mg_per_kg is not None and row.weight_kg is not None:
        parts.append(f"= {number(row.dose_mg_per_kg)} mg/kg x {number(row.weight_kg)} kg")
    if row.planned_minutes:
        parts.append(f"over {row.planned_minutes} min")
    return " ".join(parts)


def _effective(row: TreatmentSession, visit: Visit, started: datetime) -> dict:
    if row.modality == Modality.ESKETAMINE_NASAL:
        end = row.devices[-1].given_at if len(row.devices) > 1 else None
    else:
        end = row.infusion_ended_at
    if end is None:
        return {"effectiveDateTime": visit.at(started)}
    return {"effectivePeriod": {"start": visit.at(started), "end": visit.at(end)}}


def _given_status(row: TreatmentSession) -> str:
    if row.modality == Modality.ESKETAMINE_NASAL:
        finished = len(row.devices) >= (row.devices_used or 0)
    else:
        finished = row.infusion_ended_at is not None
    if finished:
        return "completed"
    return "in-progress" if row.status == SessionStatus.IN_PROGRESS else "stopped"


def _dosage(row: TreatmentSession) -> dict:
    iv = row.modality == Modality.IV_KETAMINE
    return {
        "text": _iv_text(row) if iv else _esketamine_text(row),
        "route": concept(SNOMED, *ROUTES[row.modality]),
        "dose": quantity(row.dose_mg, "mg") if row.dose_mg is not None else None,
        "rateQuantity": quantity(row.pump_rate_ml_per_hour, "mL/h")
        if iv and row.pump_rate_ml_per_hour is not None
        else None,
    }


def administration(row: TreatmentSession, visit: Visit) -> dict | None:
    """The session's administration; None when it was neither dosed nor ended undosed."""
    base = {
        "resourceType": "MedicationAdministration",
        "id": administration_id(row.id),
        "subject": visit.subject,
        "context": visit.encounter,
        "performer": [{"actor": reference("Practitioner", practitioner_id(row.nurse_id))}],
    }
    if row.not_dosed_at is not None:
        return prune(
            {
                **base,
                "status": "not-done",
                "statusReason": [{"text": NOT_DOSED_REASONS.get(row.not_dosed_reason, "")}],
                "medicationCodeableConcept": concept(RXNORM, *MEDICATIONS[row.modality]),
                "effectiveDateTime": visit.at(row.not_dosed_at),
            }
        )
    if row.dose_started_at is None:
        return None
    lots = sorted({d.lot_number for d in row.devices} or ({row.lot_number} - {""}))
    return prune(
        {
            **base,
            "contained": [_medication(row, lots)],
            "status": _given_status(row),
            "medicationReference": {"reference": "#medication"},
            **_effective(row, visit, row.dose_started_at),
            "supportingInformation": [reference("Observation", weight_id(row.id))]
            if row.weight_kg is not None
            else [],
            "note": [{"text": f"Lots: {', '.join(lots)}"}] if len(lots) > 1 else [],
            "dosage": _dosage(row),
        }
    )
