"""What every chart step checks first: the session is open (and unchanged since the form was
loaded) or unsigned, the patient's age, the session's zone and a typed time within the session."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from clinic_app.clinical.codes import SessionStatus
from clinic_app.clock import utcnow
from clinic_app.dates import format_local
from clinic_app.errors import RuleViolation, StaleRecord
from clinic_app.models import Patient, TreatmentSession
from clinic_app.settings import clinic_timezone, clinic_today

PREGNANCY_RELEVANT_AGES = range(12, 56)


def require_unsigned(treatment: TreatmentSession) -> None:
    if treatment.is_locked:
        raise RuleViolation("This session is signed and locked; add an addendum instead.")


def require_open(treatment: TreatmentSession, version_id: int | None = None) -> None:
    require_unsigned(treatment)
    if treatment.status == SessionStatus.NOT_DOSED:
        raise RuleViolation("This session ended without a dose; only signing and addenda remain.")
    if treatment.status != SessionStatus.IN_PROGRESS:
        raise RuleViolation("This session is discharged; only signing and addenda remain.")
    if version_id is not None and treatment.version_id != version_id:
        raise StaleRecord()


def patient_age(patient: Patient) -> int:
    return patient.age_on(clinic_today())


def pregnancy_relevant(patient: Patient) -> bool:
    """Pregnancy is asked of female and other-sex patients of child-bearing age."""
    return patient.sex != "male" and patient_age(patient) in PREGNANCY_RELEVANT_AGES


def session_zone(treatment: TreatmentSession) -> ZoneInfo:
    """The zone of the session's site (its appointment's chair's), else the clinic's."""
    site = treatment.appointment.site if treatment.appointment is not None else None
    return ZoneInfo(site.timezone) if site is not None else clinic_timezone()


def checked_time(
    treatment: TreatmentSession,
    value: datetime | None,
    field: str,
    not_before: datetime | None = None,
) -> datetime:
    """A charted time inside the session: now when blank; not before check-in, not in the
    future, and not before `not_before` (the step it follows)."""
    now = utcnow()
    if value is None:
        return now
    if value > now + timedelta(minutes=1):
        raise RuleViolation("This time is in the future.", field)
    # Charted times are whole minutes: check-in during 10:02 allows 10:02.
    check_in = treatment.started_at.replace(second=0, microsecond=0)
    if value < check_in:
        local = format_local(treatment.started_at.astimezone(session_zone(treatment)), "time")
        raise RuleViolation(f"This time is before check-in at {local}.", field)
    if not_before is not None and value < not_before:
        raise RuleViolation("This time is before the step it follows.", field)
    return value
