"""An adverse event of a session: actual, with severity, seriousness (a serious event is
Serious), outcome (resolved or ongoing), who recorded it and the dose it is suspected of."""

from clinic_app.clinical.codes import ADVERSE_EVENT_KINDS
from clinic_app.fhir.codes import AE_OUTCOME, AE_SERIOUSNESS, AE_SEVERITY, NON_SERIOUS, SERIOUS
from clinic_app.fhir.common import (
    Visit,
    administration_id,
    concept,
    practitioner_id,
    prune,
    reference,
)
from clinic_app.models import AdverseEvent


def adverse_event(row: AdverseEvent, visit: Visit, dosed: bool) -> dict:
    """`dosed`: the session's dose was given, so the administration is the suspect entity."""
    label = ADVERSE_EVENT_KINDS[row.kind]
    return prune(
        {
            "resourceType": "AdverseEvent",
            "id": f"ae-{row.id}",
            "actuality": "actual",
            "event": {"text": f"{label}: {row.description}" if row.description else label},
            "subject": visit.subject,
            "encounter": visit.encounter,
            "date": visit.at(row.onset_at),
            "recordedDate": visit.at(row.created_at),
            "recorder": reference("Practitioner", practitioner_id(row.recorded_by_id)),
            "seriousness": concept(AE_SERIOUSNESS, *(SERIOUS if row.serious else NON_SERIOUS)),
            "severity": concept(AE_SEVERITY, str(row.severity), str(row.severity).capitalize()),
            "outcome": concept(AE_OUTCOME, "resolved", "Resolved")
            if row.resolved
            else concept(AE_OUTCOME, "ongoing", "Ongoing"),
            "suspectEntity": [
                {
                    "instance": reference(
                        "MedicationAdministration", administration_id(row.session_id)
                    )
                }
            ]
            if dosed
            else [],
        }
    )
