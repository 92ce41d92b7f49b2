"""What every mapping shares: stable ids and references, times with their offset, codings,
UCUM quantities, and the pruning that keeps empty values out of the JSON."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from clinic_app.fhir.codes import UCUM


@dataclass(frozen=True)
class Visit:
    """What a resource recorded during a session needs to know about the session: its patient,
    whether it is signed (final) and the time zone of its site. A scale given outside a session
    has no session id."""

    session_id: int | None
    patient_id: int
    final: bool
    zone: ZoneInfo

    @property
    def encounter(self) -> dict | None:
        if self.session_id is None:
            return None
        return reference("Encounter", encounter_id(self.session_id))

    @property
    def subject(self) -> dict:
        return reference("Patient", patient_id(self.patient_id))

    @property
    def status(self) -> str:
        return "final" if self.final else "preliminary"

    def at(self, moment: datetime) -> str:
        return timestamp(moment, self.zone)


def patient_id(row_id: int) -> str:
    return f"patient-{row_id}"


def practitioner_id(row_id: int) -> str:
    return f"practitioner-{row_id}"


def location_id(row_id: int) -> str:
    return f"location-{row_id}"


def encounter_id(row_id: int) -> str:
    return f"encounter-{row_id}"


def administration_id(session_id: int) -> str:
    return f"medadmin-{session_id}"


def episode_id(course_id: int) -> str:
    return f"episode-{course_id}"


def reference(resource_type: str, resource_id: str) -> dict:
    """A relative reference (`Patient/patient-12`); it resolves against the Bundle entry's
    fullUrl base, and across the files of a bulk export."""
    return {"reference": f"{resource_type}/{resource_id}"}


def timestamp(moment: datetime, zone: ZoneInfo) -> str:
    """A FHIR dateTime/instant in `zone`, to the second, with its UTC offset."""
    return moment.astimezone(zone).isoformat(timespec="seconds")


def day(value: date) -> str:
    return value.isoformat()


def coding(system: str, code: str, display: str = "") -> dict:
    return {"system": system, "code": code, "display": display}


def concept(system: str, code: str, display: str = "", text: str = "") -> dict:
    """A CodeableConcept with one coding."""
    return {"coding": [coding(system, code, display)], "text": text}


def number(value: Decimal | int | float) -> int | float:
    """A JSON number for a database numeric (whole values stay integers)."""
    as_decimal = Decimal(value)
    return int(as_decimal) if as_decimal == as_decimal.to_integral_value() else float(as_decimal)


def quantity(value: Decimal | int | float, code: str, unit: str | None = None) -> dict:
    """A UCUM quantity; `unit` is the human-readable form (defaults to the code)."""
    return {"value": number(value), "unit": unit or code, "system": UCUM, "code": code}


def prune(value: Any) -> Any:
    """`value` without None, empty strings, lists or dicts, at any depth (FHIR forbids empty
    elements); False and 0 stay."""
    if isinstance(value, dict):
        kept = {key: prune(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if not _empty(item)}
    if isinstance(value, list):
        kept_items = [prune(item) for item in value]
        return [item for item in kept_items if not _empty(item)]
    return value


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)
