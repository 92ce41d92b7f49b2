"""Charting a session up to the dose and around it: check-in, pre-dose checks, vitals and their
escalation, overrides, scales and the alerts they raise. Each function takes the acting user,
enforces the rules, audits and flushes; the caller commits."""

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, require_role
from clinic_app.clinical.codes import (
    AlertKind,
    AppointmentStatus,
    DriverStatus,
    Modality,
    Role,
    VitalsPhase,
)
from clinic_app.clinical.discharge import OVERRIDABLE, escort_person_problems
from clinic_app.clinical.escalation import escalating_alerts
from clinic_app.clinical.predose import consent_problem, rems_problem
from clinic_app.clinical.scores import INSTRUMENTS, PHQ9, ScoreError, phq9_item9_positive, score
from clinic_app.clinical.vitals import Alert, implausible_fields
from clinic_app.clock import utcnow
from clinic_app.errors import FieldErrors, PermissionDenied, RuleViolation
from clinic_app.extensions import db
from clinic_app.models import (
    Appointment,
    Assessment,
    ClinicalAlert,
    Override,
    Patient,
    TreatmentCourse,
    TreatmentSession,
    User,
    VitalsReading,
)
from clinic_app.settings import clinic_today, clinical_rules, day_bounds_utc
from clinic_app.site_scope import works_at
from clinic_app.treatments.guards import (
    checked_time,
    patient_age,
    pregnancy_relevant,
    require_open,
    session_zone,
)
from clinic_app.treatments.summary import (
    CONTRAINDICATION_OVERRIDE,
    DISCHARGE_OVERRIDE,
    HOLD_OVERRIDE,
    summarize,
)


def start_session(
    actor: User, patient: Patient, course: TreatmentCourse, appointment: Appointment | None = None
) -> TreatmentSession:
    """Open a session for a patient with an active course; checks in the appointment if given
    (only by staff of the visit's site)."""
    require_role(actor, *CLINICAL)
    site = appointment.site if appointment is not None else None
    if site is not None and not works_at(actor, site.id):
        raise PermissionDenied("another site's visit")
    if course.patient_id != patient.id or not course.is_active:
        raise RuleViolation("The patient has no active course for this treatment.")
    if appointment is not None and (
        appointment.patient_id != patient.id
        or appointment.status
        in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW, AppointmentStatus.COMPLETED)
        or appointment.treatment_session is not None
    ):
        raise RuleViolation("This appointment cannot be started.")
    if appointment is not None and appointment.driver_status == DriverStatus.NO_DRIVER:
        # Nobody could take the patient home: no dose until the front desk confirms a driver.
        raise RuleViolation(
            "The front desk recorded no driver for this visit. Ask the front desk to confirm "
            "a driver before checking the patient in."
        )
    start, end = day_bounds_utc(clinic_today())
    already = db.session.scalar(
        select(func.count())
        .select_from(TreatmentSession)
        .where(
            TreatmentSession.patient_id == patient.id,
            TreatmentSession.started_at.between(start, end),
        )
    )
    if already:
        raise RuleViolation("This patient already has a session today; never two doses in one day.")
    driver_name = (
        appointment.driver_name if appointment and appointment.driver_name else patient.driver_name
    )
    driver_phone = (
        appointment.driver_phone
        if appointment and appointment.driver_phone
        else patient.driver_phone
    )
    treatment = TreatmentSession(
        appointment_id=appointment.id if appointment else None,
        patient_id=patient.id,
        course_id=course.id,
        modality=course.modality,
        nurse_id=actor.id,
        psychiatrist_id=course.prescriber_id,
        started_at=utcnow(),
        driver_name=driver_name,
        driver_phone=driver_phone,
    )
    if appointment is not None:
        appointment.status = AppointmentStatus.IN_TREATMENT
    db.session.add(treatment)
    db.session.flush()
    audit.record(actor, "session.start", treatment, patient_id=patient.id)
    return treatment


def record_predose(
    actor: User, treatment: TreatmentSession, data: dict[str, Any], version_id: int
) -> None:
    """Save the pre-dose checklist. Raises FieldErrors listing every unmet item (hard stops)."""
    require_role(actor, *CLINICAL)
    require_open(treatment, version_id)
    if treatment.dose_started_at is not None:
        raise RuleViolation("The dose is already recorded; the checklist can no longer change.")
    patient = treatment.patient
    if not patient.screened:
        raise RuleViolation(
            "The clinical screen (allergies, contraindications, medications) has not been "
            "recorded for this patient: record it first."
        )
    esketamine = treatment.modality == Modality.ESKETAMINE_NASAL
    errors = _predose_problems(treatment, data)
    if errors:
        raise FieldErrors(errors)
    for field in (
        "identity_confirmed",
        "consent_confirmed",
        "fasting_confirmed",
        "medications_reviewed",
        "rems_confirmed",
        "driver_confirmed",
        "prescriber_on_site",
        "oximeter_available",
    ):
        setattr(treatment, field, bool(data.get(field)))
    treatment.nasal_spray_checked = esketamine and bool(data.get("nasal_spray_checked"))
    treatment.pregnancy_status = (
        data["pregnancy_status"] if pregnancy_relevant(patient) else "not_applicable"
    )
    treatment.driver_name = data["driver_name"].strip()
    treatment.driver_phone = data["driver_phone"].strip()
    treatment.predose_checked_at = utcnow()
    db.session.flush()
    audit.record(actor, "session.predose", treatment, patient_id=treatment.patient_id)


def _predose_problems(treatment: TreatmentSession, data: dict[str, Any]) -> dict[str, str]:
    """Every unmet pre-dose checklist item, by field."""
    patient = treatment.patient
    errors: dict[str, str] = {}
    esketamine = treatment.modality == Modality.ESKETAMINE_NASAL
    required = [
        ("identity_confirmed", "Confirm the patient's identity (two identifiers)."),
        ("fasting_confirmed", "Confirm the patient has fasted per protocol."),
        ("medications_reviewed", "Review today's medications."),
        ("driver_confirmed", "Confirm the driver for the trip home."),
        ("prescriber_on_site", "A prescriber must be on site before dosing."),
        ("oximeter_available", "A pulse oximeter must be at the chair before dosing."),
    ]
    if esketamine:
        # Label §2.3: a nasal corticosteroid or decongestant goes in at least an hour before.
        required.append(
            (
                "nasal_spray_checked",
                "Confirm no nasal corticosteroid or decongestant in the last hour.",
            )
        )
    for field, message in required:
        if not data.get(field):
            errors[field] = message
    day = treatment.started_at.astimezone(session_zone(treatment)).date()
    if not data.get("consent_confirmed"):
        errors["consent_confirmed"] = "Confirm consent is on file."
    elif problem := consent_problem(patient.consent_date, day):
        errors["consent_confirmed"] = problem
    if pregnancy_relevant(patient):
        if data.get("pregnancy_status") not in ("not_pregnant", "pregnant"):
            errors["pregnancy_status"] = "Record the pregnancy status."
        elif data["pregnancy_status"] == "pregnant":
            errors["pregnancy_status"] = "Pregnancy is a contraindication; do not dose."
    if esketamine:
        if problem := rems_problem(patient.rems_enrolled_on, day):
            errors["rems_confirmed"] = problem
        elif not data.get("rems_confirmed"):
            errors["rems_confirmed"] = "Confirm REMS enrollment."
    errors.update(_driver_problems(patient, data))
    return errors


def _driver_problems(patient: Patient, data: dict[str, Any]) -> dict[str, str]:
    """The driver named on the checklist, by field."""
    errors: dict[str, str] = {}
    # The same check as the escort at discharge: a ride-hail is never "the confirmed driver".
    driver = escort_person_problems(
        data.get("driver_name") or "", data.get("driver_phone") or "", None, patient.full_name
    )
    if "name" in driver:
        errors["driver_name"] = (
            driver["name"] if "ride-hail" in driver["name"] else "Name the driver."
        )
    if "phone" in driver:
        errors["driver_phone"] = "Give the driver's phone."
    return errors


def add_vitals(
    actor: User, treatment: TreatmentSession, data: dict[str, Any]
) -> tuple[VitalsReading, list[Alert]]:
    """Record a reading: impossible values refused, alarming ones accepted and returned."""
    require_role(actor, *CLINICAL)
    require_open(treatment)
    values = {k: data.get(k) for k in ("systolic", "diastolic", "heart_rate", "spo2", "resp_rate")}
    errors = implausible_fields(**values)
    if errors:
        raise FieldErrors(errors)
    taken_at = checked_time(treatment, data.get("taken_at"), "taken_at")
    dose_at = treatment.dose_started_at
    if dose_at is None or taken_at <= dose_at:
        phase = VitalsPhase.PRE_DOSE
    elif treatment.modality == Modality.IV_KETAMINE and (
        treatment.infusion_ended_at is None or taken_at <= treatment.infusion_ended_at
    ):
        phase = VitalsPhase.INTRA
    else:
        phase = VitalsPhase.POST_DOSE
    reading = VitalsReading(taken_at=taken_at, phase=phase, recorded_by_id=actor.id, **values)
    treatment.vitals.append(reading)
    db.session.flush()
    rules = clinical_rules()
    summary = summarize(treatment, patient_age(treatment.patient), utcnow(), rules)
    alerts = summary.alerts.get(reading.id, [])
    audit.record(
        actor,
        "vitals.add",
        reading,
        patient_id=treatment.patient_id,
        alerts=[a.code for a in alerts],
    )
    _escalate(actor, treatment, reading, summary)
    return reading, alerts


_ESCALATION_KINDS = {
    "bp_urgent": AlertKind.BP_URGENT,
    "bp_notify": AlertKind.BP_NOTIFY,
    "spo2_low": AlertKind.SPO2_LOW,
}


def _escalate(actor: User, treatment: TreatmentSession, reading: VitalsReading, summary) -> None:
    """Open the psychiatrist's alerts a reading calls for: notify or urgent BP, low SpO₂, and a
    pre-dose hold waiting for an override; a pre-dose recheck under the line ends the hold's."""
    detail = {
        "reading_id": reading.id,
        "systolic": reading.systolic,
        "diastolic": reading.diastolic,
        "spo2": reading.spo2,
        "taken_at": reading.taken_at.isoformat(),
    }
    for alert in escalating_alerts(reading.as_vitals(), clinical_rules()):
        raise_alert(
            actor, _ESCALATION_KINDS[alert.code], treatment.patient_id, treatment.id, **detail
        )
    if reading.phase != VitalsPhase.PRE_DOSE:
        return
    if summary.hold_waiting:
        raise_alert(
            actor,
            AlertKind.PREDOSE_HOLD,
            treatment.patient_id,
            treatment.id,
            **detail,
            hold_systolic=summary.hold[0],
            hold_diastolic=summary.hold[1],
        )
    elif not summary.hold_active:
        close_alerts(
            actor,
            treatment,
            AlertKind.PREDOSE_HOLD,
            f"Pre-dose recheck {reading.systolic}/{reading.diastolic} is under the hold line.",
        )


def close_alerts(actor: User, treatment: TreatmentSession, kind: AlertKind, note: str) -> None:
    """Close the session's open alerts of one kind whose cause has gone (a hold overridden or
    rechecked under the line), with the reason as the note."""
    for alert in db.session.scalars(
        select(ClinicalAlert).where(
            ClinicalAlert.session_id == treatment.id,
            ClinicalAlert.kind == kind,
            ClinicalAlert.acknowledged_at.is_(None),
        )
    ):
        alert.acknowledged_at = utcnow()
        alert.acknowledged_by_id = actor.id
        alert.acknowledge_note = note
        audit.record(actor, "alert.close", alert, patient_id=treatment.patient_id, kind=kind.value)
    db.session.flush()


def override_hold(actor: User, treatment: TreatmentSession, reason: str) -> Override:
    """The psychiatrist's documented decision to dose despite the pre-dose BP hold."""
    require_role(actor, Role.PSYCHIATRIST)
    require_open(treatment)
    if not reason.strip():
        raise RuleViolation("Give the reason for the override.", "reason")
    summary = summarize(treatment, patient_age(treatment.patient), utcnow(), clinical_rules())
    if not summary.hold_active:
        raise RuleViolation("There is no blood-pressure hold to override.")
    override = _record_override(actor, treatment, HOLD_OVERRIDE, reason)
    close_alerts(actor, treatment, AlertKind.PREDOSE_HOLD, f"Overridden: {override.reason}")
    return override


def override_contraindication(actor: User, treatment: TreatmentSession, reason: str) -> Override:
    """The psychiatrist's documented decision to dose despite a contraindication on the
    patient's clinical screen."""
    require_role(actor, Role.PSYCHIATRIST)
    require_open(treatment)
    if not reason.strip():
        raise RuleViolation("Give the reason for the override.", "reason")
    if not treatment.patient.contraindications:
        raise RuleViolation("The clinical screen lists no contraindication to override.")
    return _record_override(actor, treatment, CONTRAINDICATION_OVERRIDE, reason)


def _record_override(actor: User, treatment: TreatmentSession, rule: str, reason: str) -> Override:
    override = Override(
        rule=rule, reason=reason.strip(), decided_by_id=actor.id, decided_at=utcnow()
    )
    treatment.overrides.append(override)
    db.session.flush()
    audit.record(
        actor, "session.override", override, patient_id=treatment.patient_id, rule=override.rule
    )
    return override


def override_discharge(actor: User, treatment: TreatmentSession, reason: str) -> Override:
    """The psychiatrist's documented decision to let the patient leave despite the clinical
    blockers standing now (sedation, dissociation, BP, SpO₂, open events). It covers the chart
    as it stands; the minimum stay, the bedside check and the escort stay."""
    require_role(actor, Role.PSYCHIATRIST)
    require_open(treatment)
    if not reason.strip():
        raise RuleViolation("Give the reason for the override.", "reason")
    summary = summarize(treatment, patient_age(treatment.patient), utcnow(), clinical_rules())
    if not any(b.code in OVERRIDABLE for b in summary.blockers):
        raise RuleViolation("No blocker stands that an override could lift.")
    return _record_override(actor, treatment, DISCHARGE_OVERRIDE, reason)


def add_assessment(
    actor: User,
    treatment: TreatmentSession,
    instrument: str,
    items: list[int],
    administered_at: datetime | None = None,
) -> Assessment:
    """Score and store a scale given during the session (MOAA/S, CADSS-6, PHQ-9, GAD-7)."""
    require_role(actor, *CLINICAL)
    require_open(treatment)
    if instrument not in INSTRUMENTS:
        raise RuleViolation("Unknown scale.", "instrument")
    try:
        total, band = score(INSTRUMENTS[instrument], items)
    except ScoreError as error:
        raise RuleViolation(str(error), "items") from error
    assessment = Assessment(
        patient_id=treatment.patient_id,
        instrument=instrument,
        items=items,
        total=total,
        band=band,
        administered_at=checked_time(treatment, administered_at, "administered_at"),
        recorded_by_id=actor.id,
    )
    treatment.assessments.append(assessment)
    db.session.flush()
    audit.record(
        actor, "assessment.add", assessment, patient_id=treatment.patient_id, instrument=instrument
    )
    raise_item9_alert(actor, assessment)
    return assessment


def raise_alert(
    actor: User,
    alert_kind: AlertKind,
    patient_id: int,
    session_id: int | None,
    /,
    **detail: Any,
) -> ClinicalAlert:
    """A same-day alert for the psychiatrist, in the caller's transaction. While one of the same
    kind for the same patient and session is still unacknowledged, that one stands and is
    returned (the review queue shows it once). `detail` holds codes and numbers only."""
    standing = db.session.scalar(
        select(ClinicalAlert).where(
            ClinicalAlert.kind == alert_kind,
            ClinicalAlert.patient_id == patient_id,
            ClinicalAlert.session_id.is_(None)
            if session_id is None
            else ClinicalAlert.session_id == session_id,
            ClinicalAlert.acknowledged_at.is_(None),
        )
    )
    if standing is not None:
        return standing
    alert = ClinicalAlert(
        kind=alert_kind,
        patient_id=patient_id,
        session_id=session_id,
        raised_at=utcnow(),
        detail=detail,
    )
    db.session.add(alert)
    db.session.flush()
    audit.record(actor, "alert.raise", alert, patient_id=patient_id, kind=alert_kind.value)
    return alert


def raise_item9_alert(actor: User, assessment: Assessment) -> ClinicalAlert | None:
    """PHQ-9 item 9 above 0 raises the same-day alert (sources in `clinical/review.py`)."""
    if assessment.instrument != PHQ9.code or not phq9_item9_positive(assessment.items):
        return None
    return raise_alert(
        actor,
        AlertKind.PHQ9_ITEM9,
        assessment.patient_id,
        assessment.session_id,
        item9=assessment.items[8],
        total=assessment.total,
        assessment_id=assessment.id,
    )
