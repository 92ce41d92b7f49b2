"""Patient, Practitioner (staff who performed, recorded or prescribed) and Location (a site)."""

from clinic_app.fhir.common import coding, day, location_id, patient_id, practitioner_id, prune
from clinic_app.models import Patient, Site, User

IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"


def patient(row: Patient, base: str) -> dict:
    """The patient with the clinic MRN under `base`/identifiers/mrn."""
    return prune(
        {
            "resourceType": "Patient",
            "id": patient_id(row.id),
            "identifier": [
                {
                    "use": "usual",
                    "type": {"coding": [coding(IDENTIFIER_TYPE, "MR", "Medical record number")]},
                    "system": f"{base}/identifiers/mrn",
                    "value": row.mrn,
                }
            ],
            "active": True,
            "name": [{"use": "official", "family": row.last_name, "given": [row.first_name]}],
            "telecom": [
                {"system": "phone", "value": row.phone} if row.phone else None,
                {"system": "email", "value": row.email} if row.email else None,
            ],
            "gender": row.sex,  # the column allows female, male, other: all R4 codes
            "birthDate": day(row.date_of_birth),
            "address": [_address(row)] if row.address else [],
        }
    )


def _address(row: Patient) -> dict:
    """The patient's home address as an R4 Address."""
    return {
        "use": "home",
        "type": "both",
        "line": [row.address_line1, row.address_line2],
        "city": row.city,
        "state": row.state,
        "postalCode": row.zip_code,
        "country": "US",
    }


def practitioner(row: User) -> dict:
    """A member of staff named on a record: name and credentials (RN, MD...)."""
    return prune(
        {
            "resourceType": "Practitioner",
            "id": practitioner_id(row.id),
            "active": row.active,
            "name": [{"text": row.full_name}],
            "qualification": [{"code": {"text": row.credentials}}] if row.credentials else [],
        }
    )


def location(row: Site) -> dict:
    """A site of the clinic group, with its postal address and phone."""
    return prune(
        {
            "resourceType": "Location",
            "id": location_id(row.id),
            "identifier": [{"value": row.code}],
            "status": "active" if row.active else "inactive",
            "name": row.name,
            "telecom": [{"system": "phone", "value": row.phone}] if row.phone else [],
            "address": {
                "line": [row.address_line1, row.address_line2],
                "city": row.city,
                "state": row.state,
                "postalCode": row.zip_code,
            },
        }
    )
