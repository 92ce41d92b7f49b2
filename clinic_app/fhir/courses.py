"""A treatment course as an EpisodeOfCare (which the session Encounters belong to) and as a
CarePlan (the prescribed dose plan and its phase)."""

from clinic_app.clinical.codes import CoursePhase, Modality
from clinic_app.fhir.codes import MEDICATIONS, RXNORM
from clinic_app.fhir.common import (
    concept,
    day,
    episode_id,
    patient_id,
    practitioner_id,
    prune,
    quantity,
    reference,
)
from clinic_app.models import TreatmentCourse

EPISODE_STATUS = {
    CoursePhase.INDUCTION: "active",
    CoursePhase.MAINTENANCE: "active",
    CoursePhase.COMPLETED: "finished",
    CoursePhase.STOPPED: "finished",
}
PLAN_STATUS = {
    CoursePhase.INDUCTION: "active",
    CoursePhase.MAINTENANCE: "active",
    CoursePhase.COMPLETED: "completed",
    CoursePhase.STOPPED: "revoked",
}
ACTIVITY_STATUS = {
    CoursePhase.INDUCTION: "in-progress",
    CoursePhase.MAINTENANCE: "in-progress",
    CoursePhase.COMPLETED: "completed",
    CoursePhase.STOPPED: "stopped",
}


def _title(course: TreatmentCourse) -> str:
    return f"{course.modality.label} for {course.indication.label}"


def _period(course: TreatmentCourse) -> dict:
    return {"start": day(course.started_on), "end": day(course.ended_on) if course.ended_on else ""}


def episode_of_care(course: TreatmentCourse) -> dict:
    return prune(
        {
            "resourceType": "EpisodeOfCare",
            "id": episode_id(course.id),
            "status": EPISODE_STATUS[course.phase],
            "type": [{"text": _title(course)}],
            "patient": reference("Patient", patient_id(course.patient_id)),
            "period": _period(course),
            "careManager": reference("Practitioner", practitioner_id(course.prescriber_id)),
        }
    )


def care_plan(course: TreatmentCourse) -> dict:
    """The course's plan: the drug, the dose plan and the phase (stopped courses say why)."""
    code, display = MEDICATIONS[course.modality]
    esketamine = course.modality == Modality.ESKETAMINE_NASAL
    return prune(
        {
            "resourceType": "CarePlan",
            "id": f"careplan-{course.id}",
            "status": PLAN_STATUS[course.phase],
            "intent": "order",
            "title": _title(course),
            "description": f"{course.phase.value.capitalize()}: {course.dose_plan}",
            "subject": reference("Patient", patient_id(course.patient_id)),
            "period": _period(course),
            "author": reference("Practitioner", practitioner_id(course.prescriber_id)),
            "activity": [
                {
                    "detail": {
                        "kind": "MedicationRequest",
                        "status": ACTIVITY_STATUS[course.phase],
                        "statusReason": {"text": course.stop_reason},
                        "productCodeableConcept": concept(RXNORM, code, display),
                        "dailyAmount": quantity(course.esketamine_dose_mg, "mg")
                        if esketamine and course.esketamine_dose_mg
                        else None,
                        "description": course.dose_plan,
                    }
                }
            ],
        }
    )
