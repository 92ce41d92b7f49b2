"""Patient registration and treatment courses."""

from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select

from clinic_app import audit
from clinic_app.auth.permissions import DEMOGRAPHICS_EDIT, SCREEN_EDIT, require_role
from clinic_app.auth.services import reauthenticate
from clinic_app.clinical.addresses import PostalAddress, address_problems, clean_text
from clinic_app.clinical.codes import Indication, Modality, Role
from clinic_app.clinical.dosing import indication_needs_reason, iv_dose_needs_confirmation
from clinic_app.clinical.predose import screen_date_problems
from clinic_app.clock import utcnow
from clinic_app.database import search_key
from clinic_app.errors import FieldErrors, RuleViolation, StaleRecord
from clinic_app.extensions import db
from clinic_app.models import Patient, Site, TreatmentCourse, User
from clinic_app.settings import clinic_today, clinical_rules

# What the front desk registers and edits: demographics, contacts, driver, preferences.
DEMOGRAPHIC_FIELDS = (
    "mrn",
    "first_name",
    "last_name",
    "date_of_birth",
    "sex",
    "phone",
    "email",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "zip_code",
    "driver_name",
    "driver_phone",
    "driver_relationship",
    "preferred_weekdays",
    "preferred_time",
    "usual_site_id",
)
# The clinical screen: nurses and the psychiatrist only.
SCREEN_FIELDS = (
    "allergies",
    "contraindications",
    "medication_classes",
    "consent_date",
    "rems_enrolled_on",
    "rems_patient_id",
    "failed_trials",
    "weight_kg",
)


def _check_mrn_free(mrn: str, patient_id: int | None = None) -> None:
    query = select(func.count()).where(Patient.mrn == mrn)
    if patient_id is not None:
        query = query.where(Patient.id != patient_id)
    if db.session.scalar(query):
        raise RuleViolation("Another patient has this MRN.", "mrn")


def _check_usual_site(site_id: int | None, current: int | None = None) -> None:
    """A usual site is an active site (or the one already on the record, even if it closed)."""
    if site_id is None or site_id == current:
        return
    site = db.session.get(Site, site_id)
    if site is None or not site.active:
        raise RuleViolation("Choose one of the clinic's active sites.", "usual_site_id")


ADDRESS_FIELDS = ("address_line1", "address_line2", "city", "state", "zip_code")


def _with_address(data: dict[str, Any], current: Patient | None = None) -> dict[str, Any]:
    """`data` with the postal address trimmed (state upper case), parts it leaves out taken
    from `current`; FieldErrors when the address is partial or malformed. A patient may have
    no address yet (a referral without one)."""
    given = {
        name: data[name] if name in data else getattr(current, name, "") for name in ADDRESS_FIELDS
    }
    address = PostalAddress(
        clean_text(given["address_line1"]),
        clean_text(given["address_line2"]),
        clean_text(given["city"]),
        clean_text(given["state"]).upper(),
        clean_text(given["zip_code"]),
    )
    problems = address_problems(address, required=False)
    if problems:
        raise FieldErrors(problems)
    return {
        **data,
        "address_line1": address.line1,
        "address_line2": address.line2,
        "city": address.city,
        "state": address.state,
        "zip_code": address.zip_code,
    }


def create_patient(actor: User, data: dict[str, Any]) -> Patient:
    """Register a patient's demographics (front desk, psychiatrist), unscreened. Raises
    FieldErrors for a partial or malformed address, RuleViolation for a duplicate MRN or a
    usual site that is not an active site."""
    require_role(actor, *DEMOGRAPHICS_EDIT)
    data = _with_address(data)
    values = {key: data[key] for key in DEMOGRAPHIC_FIELDS if key in data}
    _check_mrn_free(values["mrn"])
    _check_usual_site(values.get("usual_site_id"))
    patient = Patient(**values)
    db.session.add(patient)
    db.session.flush()
    audit.record(actor, "patient.create", patient, patient_id=patient.id)
    return patient


def _apply(patient: Patient, fields: tuple[str, ...], data: dict[str, Any]) -> list[str]:
    """Set the given fields from `data`; returns the names that changed."""
    changed = []
    for key in fields:
        if key in data and getattr(patient, key) != data[key]:
            setattr(patient, key, data[key])
            changed.append(key)
    return changed


def update_patient(actor: User, patient: Patient, data: dict[str, Any], version_id: int) -> Patient:
    """Change a patient's demographics. Raises StaleRecord when it changed since `version_id`,
    FieldErrors for a partial or malformed address."""
    require_role(actor, *DEMOGRAPHICS_EDIT)
    if patient.version_id != version_id:
        raise StaleRecord()
    data = _with_address(data, patient)
    if data.get("mrn") != patient.mrn:
        _check_mrn_free(data["mrn"], patient.id)
    _check_usual_site(data.get("usual_site_id"), patient.usual_site_id)
    changed = _apply(patient, DEMOGRAPHIC_FIELDS, data)
    db.session.flush()
    audit.record(actor, "patient.update", patient, patient_id=patient.id, fields=changed)
    return patient


def record_screen(actor: User, patient: Patient, data: dict[str, Any], version_id: int) -> Patient:
    """Record the clinical screen (nurse, psychiatrist) and who reviewed it when, even if
    nothing changed. Raises StaleRecord when the record changed since `version_id`, FieldErrors
    for a consent or REMS enrollment dated after today."""
    require_role(actor, *SCREEN_EDIT)
    if patient.version_id != version_id:
        raise StaleRecord()
    future = screen_date_problems(
        data.get("consent_date"), data.get("rems_enrolled_on"), clinic_today()
    )
    if future:
        raise FieldErrors(future)
    changed = _apply(patient, SCREEN_FIELDS, data)
    patient.screened_at = utcnow()
    patient.screened_by = actor
    db.session.flush()
    audit.record(actor, "patient.screen", patient, patient_id=patient.id, fields=changed)
    return patient


def _starts_with(column: Any, prefix: str) -> Any:
    """lower(column) starts with `prefix` (already lower case), written as a byte-order range so
    that the search_key index serves it. LIKE cannot: SQLite never uses an index for LIKE on an
    expression, and PostgreSQL only for a literal pattern, not a bound parameter in a prepared
    (generic) plan. Typed % and _ are plain characters here."""
    lowered = search_key(column)
    upper = prefix_upper_bound(prefix)
    if upper is None:
        return lowered.like(prefix + "%")
    return and_(lowered >= prefix, lowered < upper)


def prefix_upper_bound(prefix: str) -> str | None:
    """The exclusive upper end of the strings that start with `prefix`, in code point (UTF-8
    byte) order: the last character raised by one, stepping over the surrogates (U+D800 to
    U+DFFF, which no stored text holds and no driver encodes), or None after U+10FFFF."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return None
    following = 0xE000 if 0xD800 <= last + 1 <= 0xDFFF else last + 1
    return prefix[:-1] + chr(following)


def search_patients(text: str, limit: int = 50) -> list[Patient]:
    """Patients whose last name, first name or MRN starts with `text` (any case): last-name
    matches first (by last name, then first name), then first-name matches, then MRN matches.
    Each part walks its own search_key index in order and stops at `limit`, so a short prefix
    that matches thousands of patients costs no more than a rare one."""
    if "\x00" in text:
        return []  # no stored name or MRN holds NUL (PostgreSQL refuses it as a parameter)
    text = text.strip().lower()
    if not text:
        return list(
            db.session.scalars(
                select(Patient).order_by(Patient.last_name, Patient.first_name).limit(limit)
            )
        )
    found: dict[int, Patient] = {}
    for column, then_by in (
        (Patient.last_name, Patient.first_name),
        (Patient.first_name, Patient.last_name),
        (Patient.mrn, Patient.mrn),
    ):
        if len(found) >= limit:
            break
        for patient in db.session.scalars(
            select(Patient)
            .where(_starts_with(column, text))
            .order_by(search_key(column), search_key(then_by), Patient.id)
            .limit(limit)
        ):
            found.setdefault(patient.id, patient)
    return list(found.values())[:limit]


def confirm_large_dose(
    actor: User,
    mg_per_kg: Decimal,
    reason: str | None,
    password: str | None,
    action: str,
    entity: Any,
    patient_id: int,
    errors: dict[str, str] | None = None,
) -> str:
    """The prescriber's confirmation of an IV dose above the clinic's usual maximum: a reason
    (field `dose_reason`) and the password (field `password`). Returns the reason, or "" when
    the dose needs no confirmation. Missing items join `errors` and raise FieldErrors; a wrong
    password is audited as a failure of `action` and raised as a RuleViolation on `password`,
    before anything is changed, so the caller may commit just that audit row."""
    errors = dict(errors or {})
    if not iv_dose_needs_confirmation(mg_per_kg, clinical_rules()):
        if errors:
            raise FieldErrors(errors)
        return ""
    usual = clinical_rules().iv_usual_max_mg_per_kg
    text = (reason or "").strip()
    if not text:
        errors["dose_reason"] = (
            f"{mg_per_kg} mg/kg is above the usual maximum of {usual} mg/kg: give the reason."
        )
    if not password:
        errors["password"] = f"Confirm {mg_per_kg} mg/kg with your password."
    if errors:
        raise FieldErrors(errors)
    reauthenticate(actor, password, action, entity, patient_id=patient_id)
    return text


def _set_iv_dose(
    actor: User,
    patient: Patient,
    course: TreatmentCourse,
    data: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """The IV course's mg/kg and minutes; above the usual maximum, the prescriber confirms."""
    if not data.get("iv_mg_per_kg") or not data.get("iv_minutes"):
        raise RuleViolation("An IV course needs mg/kg and infusion minutes.", "iv_mg_per_kg")
    course.iv_mg_per_kg = Decimal(data["iv_mg_per_kg"])
    course.iv_minutes = int(data["iv_minutes"])
    course.dose_reason = confirm_large_dose(
        actor,
        course.iv_mg_per_kg,
        data.get("dose_reason"),
        data.get("password"),
        "course.open",
        patient,
        patient.id,
        errors,
    )


def _set_esketamine_dose(
    course: TreatmentCourse, data: dict[str, Any], errors: dict[str, str]
) -> None:
    """The esketamine course's starting dose; raises the collected field errors."""
    dose = int(data["esketamine_dose_mg"])
    if course.indication == Indication.TRD and dose != 56:
        errors["esketamine_dose_mg"] = "A TRD esketamine course starts at 56 mg."
    if errors:
        raise FieldErrors(errors)
    course.esketamine_dose_mg = dose


def open_course(actor: User, patient: Patient, data: dict[str, Any]) -> TreatmentCourse:
    """Prescribe a course (psychiatrist only). One active course per modality at a time.

    An IV dose above the clinic's usual maximum needs a reason and the prescriber's password;
    a TRD course for a patient with fewer than two failed trials needs a reason."""
    require_role(actor, Role.PSYCHIATRIST)
    modality = Modality(data["modality"])
    active = [c for c in patient.courses if c.is_active and c.modality == modality]
    if active:
        raise RuleViolation(
            f"{patient.full_name} already has an active {modality.label} course.", "modality"
        )
    indication = Indication(data["indication"])
    course = TreatmentCourse(
        patient_id=patient.id,
        modality=modality,
        indication=indication,
        prescriber_id=actor.id,
        started_on=data["started_on"],
    )
    errors: dict[str, str] = {}
    if indication_needs_reason(indication, patient.failed_trials):
        course.indication_reason = (data.get("indication_reason") or "").strip()
        if not course.indication_reason:
            errors["indication_reason"] = (
                f"TRD with {patient.failed_trials} failed antidepressant trial"
                f"{'' if patient.failed_trials == 1 else 's'} (fewer than two): give the reason."
            )
    if modality == Modality.IV_KETAMINE:
        _set_iv_dose(actor, patient, course, data, errors)
    else:
        _set_esketamine_dose(course, data, errors)
    db.session.add(course)
    db.session.flush()
    audit.record(
        actor,
        "course.open",
        course,
        patient_id=patient.id,
        modality=modality.value,
        above_usual_dose=bool(course.dose_reason),
        indication_reason=bool(course.indication_reason),
    )
    return course
