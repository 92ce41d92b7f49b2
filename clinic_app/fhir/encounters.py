"""A treatment session as an Encounter: ambulatory, check-in to discharge, the nurse as primary
performer and the supervising psychiatrist as secondary, at its site, in its course's episode."""

from clinic_app.clinical.codes import SessionStatus
from clinic_app.fhir.codes import (
    ACT_CODE,
    AMBULATORY,
    PARTICIPATION_TYPE,
    PRIMARY_PERFORMER,
    SECONDARY_PERFORMER,
)
from clinic_app.fhir.common import (
    Visit,
    coding,
    encounter_id,
    episode_id,
    location_id,
    practitioner_id,
    prune,
    reference,
)
from clinic_app.models import TreatmentSession


def _participant(kind: tuple[str, str], user_id: int | None) -> dict | None:
    if user_id is None:
        return None
    return {
        "type": [{"coding": [coding(PARTICIPATION_TYPE, *kind)]}],
        "individual": reference("Practitioner", practitioner_id(user_id)),
    }


def encounter(row: TreatmentSession, visit: Visit, site_id: int | None) -> dict:
    """The session's Encounter; `site_id` is its chair's site (None when it had no chair)."""
    ended = row.discharged_at or row.not_dosed_at
    return prune(
        {
            "resourceType": "Encounter",
            "id": encounter_id(row.id),
            "status": "in-progress" if row.status == SessionStatus.IN_PROGRESS else "finished",
            "class": coding(ACT_CODE, *AMBULATORY),
            "type": [{"text": f"{row.modality.label} treatment session"}],
            "subject": visit.subject,
            "episodeOfCare": [reference("EpisodeOfCare", episode_id(row.course_id))],
            "participant": [
                _participant(PRIMARY_PERFORMER, row.nurse_id),
                _participant(SECONDARY_PERFORMER, row.psychiatrist_id),
            ],
            "period": {"start": visit.at(row.started_at), "end": visit.at(ended) if ended else ""},
            "location": [{"location": reference("Location", location_id(site_id))}]
            if site_id is not None
            else [],
        }
    )
