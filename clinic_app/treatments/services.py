"""Charting a treatment session: each function takes the acting user, enforces the rules,
audits and flushes. The caller commits."""

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, require_role
from clinic_app.auth.services import reauthenticate
from clinic_app.clinical.adverse_events import counts_as_serious, description_problem
from clinic_app.clinical.codes import (
    ADVERSE_EVENT_KINDS,
    NOT_DOSED_REASONS,
    AlertKind,
    AppointmentStatus,
    DriverStatus,
    EventSeverity,
    Modality,
    Role,
    SessionStatus,
    VitalsPhase,
)
from clinic_app.clinical.discharge import (
    OVERRIDABLE,
    Attestation,
    attestation_blockers,
    escort_person_problems,
)
from clinic_app.clinical.dosing import (
    DoseError,
    device_problem,
    esketamine_devices,
    esketamine_dose_problem,
    iv_dose,
    pump_problem,
)
from clinic_app.clinical.escalation import escalating_alerts
from clinic_app.clinical.predose import consent_problem, rems_problem
from clinic_app.clinical.scores import INSTRUMENTS, PHQ9, ScoreError, phq9_item9_positive, score
from clinic_app.clinical.vitals import Alert, implausible_fields
from clinic_app.clock import utcnow
from clinic_app.dates import format_local
from clinic_app.errors import (
    DischargeBlocked,
    FieldErrors,
    PermissionDenied,
    RuleViolation,
    StaleRecord,
)
from clinic_app.extensions import db
from clinic_app.inventory.dispensing import draw_device, draw_iv, keeps_ledger
from clinic_app.models import (
    Addendum,
    AdverseEvent,
    Appointment,
    Assessment,
    ClinicalAlert,
    DeviceAdministration,
    InfusionPause,
    Override,
    Patient,
    TreatmentCourse,
    TreatmentSession,
    User,
    VitalsReading,
)
from clinic_app.rems.answers import missing_before_signing
from clinic_app.rems.monitoring import open_form as open_rems_form
from clinic_app.review.stored import store_summaries
from clinic_app.settings import clinic_timezone, clinic_today, clinical_rules, day_bounds_utc
from clinic_app.site_scope import works_at
from clinic_app.treatments.summary import (
    CONTRAINDICATION_OVERRIDE,
    DISCHARGE_OVERRIDE,
    HOLD_OVERRIDE,
    summarize,
)

PREGNANCY_RELEVANT_AGES = range(12, 56)


def _require_unsigned(treatment: TreatmentSession) -> None:
    if treatment.is_locked:
        raise RuleViolation("This session is signed and locked; add an addendum instead.")


def _require_open(treatment: TreatmentSession, version_id: int | None = None) -> None:
    _require_unsigned(treatment)
    if treatment.status == SessionStatus.NOT_DOSED:
        raise RuleViolation("This session ended without a dose; only signing and addenda remain.")
    if treatment.status != SessionStatus.IN_PROGRESS:
        raise RuleViolation("This session is discharged; only signing and addenda remain.")
    if version_id is not None and treatment.version_id != version_id:
        raise StaleRecord()


def _patient_age(patient: Patient) -> int:
    return patient.age_on(clinic_today())


def pregnancy_relevant(patient: Patient) -> bool:
    """Pregnancy is asked of female and other-sex patients of child-bearing age."""
    return patient.sex != "male" and _patient_age(patient) in PREGNANCY_RELEVANT_AGES


def session_zone(treatment: TreatmentSession) -> ZoneInfo:
    """The zone of the session's site (its appointment's chair's), else the clinic's."""
    site = treatment.appointment.site if treatment.appointment is not None else None
    return ZoneInfo(site.timezone) if site is not None else clinic_timezone()


def _checked_time(
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
    _require_open(treatment, version_id)
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
    _require_open(treatment)
    values = {k: data.get(k) for k in ("systolic", "diastolic", "heart_rate", "spo2", "resp_rate")}
    errors = implausible_fields(**values)
    if errors:
        raise FieldErrors(errors)
    taken_at = _checked_time(treatment, data.get("taken_at"), "taken_at")
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
    summary = summarize(treatment, _patient_age(treatment.patient), utcnow(), rules)
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
    _require_open(treatment)
    if not reason.strip():
        raise RuleViolation("Give the reason for the override.", "reason")
    summary = summarize(treatment, _patient_age(treatment.patient), utcnow(), clinical_rules())
    if not summary.hold_active:
        raise RuleViolation("There is no blood-pressure hold to override.")
    override = _record_override(actor, treatment, HOLD_OVERRIDE, reason)
    close_alerts(actor, treatment, AlertKind.PREDOSE_HOLD, f"Overridden: {override.reason}")
    return override


def override_contraindication(actor: User, treatment: TreatmentSession, reason: str) -> Override:
    """The psychiatrist's documented decision to dose despite a contraindication on the
    patient's clinical screen."""
    require_role(actor, Role.PSYCHIATRIST)
    _require_open(treatment)
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
    _require_open(treatment)
    if not reason.strip():
        raise RuleViolation("Give the reason for the override.", "reason")
    summary = summarize(treatment, _patient_age(treatment.patient), utcnow(), clinical_rules())
    if not any(b.code in OVERRIDABLE for b in summary.blockers):
        raise RuleViolation("No blocker stands that an override could lift.")
    return _record_override(actor, treatment, DISCHARGE_OVERRIDE, reason)


def earlier_esketamine_doses(treatment: TreatmentSession) -> list[int]:
    """Doses given in earlier sessions of the same course."""
    return [
        int(d)
        for d in db.session.scalars(
            select(TreatmentSession.dose_mg).where(
                TreatmentSession.course_id == treatment.course_id,
                TreatmentSession.id != treatment.id,
            )
        )
        if d is not None
    ]


def record_dose(
    actor: User, treatment: TreatmentSession, data: dict[str, Any], version_id: int
) -> None:
    """Record the dose and its start. Refused before the checklist and pre-dose vitals, while a
    BP hold stands without an override, or when the dose breaks the course's rules.

    IV: today's weight (never carried from an earlier visit; it becomes the patient's weight)
    and the pump's concentration and rate, which must deliver the dose over the planned
    minutes. Esketamine: the first device, given at the dose start, with its lot. At a site
    that keeps a controlled-substance ledger the dose names its vial(s) or device, drawn from
    stock in the same transaction, and the lot comes from them."""
    require_role(actor, *CLINICAL)
    _require_open(treatment, version_id)
    summary = _dose_gate(treatment)
    ledger = keeps_ledger(treatment)
    lot = (data.get("lot_number") or "").strip()
    if not lot and not ledger:
        raise RuleViolation("Record the lot number.", "lot_number")
    assert summary.baseline is not None  # _dose_gate refuses without one
    started = _checked_time(
        treatment,
        data.get("dose_started_at"),
        "dose_started_at",
        not_before=summary.baseline.taken_at,
    )
    if treatment.modality == Modality.IV_KETAMINE:
        _record_iv_dose(treatment, data)
        if ledger:
            assert treatment.dose_mg is not None
            vials = [data.get("vial_id"), data.get("second_vial_id")]
            lot = draw_iv(actor, treatment, vials, treatment.dose_mg, started)
    else:
        lot = _record_esketamine_dose(actor, treatment, data, started, lot, ledger)
    treatment.lot_number = lot
    treatment.dose_started_at = started
    db.session.flush()
    audit.record(actor, "session.dose", treatment, patient_id=treatment.patient_id)


def _dose_gate(treatment: TreatmentSession):
    """The session's summary when a dose may be recorded now; RuleViolation saying why not."""
    if treatment.dose_started_at is not None:
        raise RuleViolation("The dose is already recorded.")
    if treatment.predose_checked_at is None:
        raise RuleViolation("Complete the pre-dose checklist first.")
    summary = summarize(treatment, _patient_age(treatment.patient), utcnow(), clinical_rules())
    if summary.baseline is None:
        raise RuleViolation("Record pre-dose vitals first.")
    if summary.hold_active and not summary.hold_overridden:
        base = summary.baseline
        raise RuleViolation(
            f"Pre-dose BP {base.systolic}/{base.diastolic} is over the hold line "
            f"{summary.hold[0]}/{summary.hold[1]}: recheck, or a psychiatrist records an override."
        )
    if summary.contraindicated:
        raise RuleViolation(
            "A contraindication is on the clinical screen: no dose unless the psychiatrist "
            "records an override."
        )
    return summary


def _record_iv_dose(treatment: TreatmentSession, data: dict[str, Any]) -> None:
    """Today's weight, the dose it gives, and the pump that must deliver it."""
    weight = data.get("weight_kg")
    if weight is None:
        raise RuleViolation("Weigh the patient today.", "weight_kg")
    course = treatment.course
    # An IV course always has its plan (the treatment_courses CHECK constraint).
    assert course.iv_mg_per_kg is not None and course.iv_minutes is not None
    try:
        dose = iv_dose(Decimal(weight), course.iv_mg_per_kg, course.iv_minutes)
    except DoseError as error:
        raise RuleViolation(str(error), "weight_kg") from error
    concentration = data.get("pump_concentration_mg_per_ml")
    rate = data.get("pump_rate_ml_per_hour")
    if concentration is None or rate is None:
        errors = {}
        if concentration is None:
            errors["pump_concentration_mg_per_ml"] = "Record the concentration in the bag."
        if rate is None:
            errors["pump_rate_ml_per_hour"] = "Record the pump rate."
        raise FieldErrors(errors)
    problem = pump_problem(
        dose.dose_mg, dose.minutes, Decimal(concentration), Decimal(rate), clinical_rules()
    )
    if problem:
        raise RuleViolation(problem, "pump_rate_ml_per_hour")
    treatment.weight_kg = dose.weight_kg
    treatment.patient.weight_kg = dose.weight_kg
    treatment.dose_mg = dose.dose_mg
    treatment.dose_mg_per_kg = dose.mg_per_kg
    treatment.planned_minutes = dose.minutes
    treatment.pump_concentration_mg_per_ml = Decimal(concentration)
    treatment.pump_rate_ml_per_hour = Decimal(rate)


def _record_esketamine_dose(
    actor: User,
    treatment: TreatmentSession,
    data: dict[str, Any],
    started: datetime,
    lot: str,
    ledger: bool,
) -> str:
    """The course's dose in devices and the first device (taken from stock where the site
    keeps a ledger); returns the first device's lot."""
    dose_mg = int(data.get("dose_mg") or 0)
    course = treatment.course
    # An esketamine course always has its dose (the treatment_courses CHECK constraint).
    assert course.esketamine_dose_mg is not None
    problem = esketamine_dose_problem(
        dose_mg,
        course.esketamine_dose_mg,
        course.indication,
        earlier_esketamine_doses(treatment),
    )
    if problem:
        raise RuleViolation(problem, "dose_mg")
    treatment.dose_mg = Decimal(dose_mg)
    treatment.devices_used = esketamine_devices(dose_mg)
    device = _device(actor, 1, started, lot, data.get("device_partial"), data.get("device_note"))
    if ledger:
        container = draw_device(actor, treatment, data.get("device_id"), started)
        device.lot_number = container.lot
        device.container_id = container.id
    treatment.devices.append(device)
    return device.lot_number


def _device(
    actor: User,
    number: int,
    given_at: datetime,
    lot: str,
    partial: bool | None,
    note: str | None,
) -> DeviceAdministration:
    """A device row; a partial administration needs a note saying what happened."""
    note = (note or "").strip()
    if partial and not note:
        raise RuleViolation("Say what happened (sneezed, leaked, device failed...).", "device_note")
    return DeviceAdministration(
        device_number=number,
        given_at=given_at,
        lot_number=lot,
        complete=not partial,
        note=note,
        recorded_by_id=actor.id,
    )


def add_device(actor: User, treatment: TreatmentSession, data: dict[str, Any]) -> None:
    """Record the next esketamine device as it is given: in order, no more than the dose's
    devices, each at least the clinic's interval after the one before."""
    require_role(actor, *CLINICAL)
    _require_open(treatment)
    if treatment.modality != Modality.ESKETAMINE_NASAL or treatment.dose_started_at is None:
        raise RuleViolation("Record the dose and its first device first.")
    ledger = keeps_ledger(treatment)
    lot = (data.get("lot_number") or "").strip()
    if not lot and not ledger:
        raise RuleViolation("Record the lot number.", "lot_number")
    given_at = _checked_time(
        treatment, data.get("given_at"), "given_at", not_before=treatment.dose_started_at
    )
    earlier = [(d.device_number, d.given_at) for d in treatment.devices]
    number = len(earlier) + 1
    problem = device_problem(
        number, given_at, treatment.devices_used or 0, earlier, clinical_rules()
    )
    if problem:
        raise RuleViolation(problem, "given_at")
    device = _device(
        actor, number, given_at, lot, data.get("device_partial"), data.get("device_note")
    )
    if ledger:
        container = draw_device(actor, treatment, data.get("device_id"), given_at)
        device.lot_number = container.lot
        device.container_id = container.id
    treatment.devices.append(device)
    db.session.flush()
    audit.record(
        actor,
        "session.device",
        treatment,
        patient_id=treatment.patient_id,
        device_number=number,
        complete=device.complete,
    )


def _running_infusion(treatment: TreatmentSession) -> datetime:
    """When the running infusion started; RuleViolation when none is running."""
    if treatment.modality != Modality.IV_KETAMINE:
        raise RuleViolation("Only IV sessions have an infusion.")
    if treatment.dose_started_at is None:
        raise RuleViolation("The infusion has not started.")
    if treatment.infusion_ended_at is not None:
        raise RuleViolation("The infusion end is already recorded.")
    return treatment.dose_started_at


def _open_pause(treatment: TreatmentSession) -> InfusionPause | None:
    return next((p for p in treatment.infusion_pauses if p.resumed_at is None), None)


def end_infusion(
    actor: User,
    treatment: TreatmentSession,
    ended_at: datetime | None,
    infused_volume_ml: Decimal | None,
    version_id: int,
) -> None:
    """Record the infusion end (IV only) and the volume infused: after its start and after the
    last pause, never while the pump is paused."""
    require_role(actor, *CLINICAL)
    _require_open(treatment, version_id)
    started = _running_infusion(treatment)
    if _open_pause(treatment) is not None:
        raise RuleViolation("The pump is paused: resume it, or record the end after resuming.")
    if infused_volume_ml is None or infused_volume_ml <= 0:
        raise RuleViolation("Record the volume infused.", "infused_volume_ml")
    ended = _checked_time(treatment, ended_at, "infusion_ended_at")
    if ended <= started:
        raise RuleViolation("The infusion must end after it started.", "infusion_ended_at")
    if any(ended <= p.resumed_at for p in treatment.infusion_pauses if p.resumed_at is not None):
        raise RuleViolation("The infusion must end after the pump resumed.", "infusion_ended_at")
    treatment.infusion_ended_at = ended
    treatment.infused_volume_ml = infused_volume_ml
    db.session.flush()
    audit.record(actor, "session.infusion_end", treatment, patient_id=treatment.patient_id)


def pause_infusion(
    actor: User, treatment: TreatmentSession, paused_at: datetime | None, reason: str
) -> InfusionPause:
    """Stop the pump for a reason (BP rise, the patient's request...) until it is resumed."""
    require_role(actor, *CLINICAL)
    _require_open(treatment)
    started = _running_infusion(treatment)
    if _open_pause(treatment) is not None:
        raise RuleViolation("The pump is already paused.")
    reason = (reason or "").strip()
    if not reason:
        raise RuleViolation("Give the reason for the pause.", "reason")
    last = max(
        [started] + [p.resumed_at for p in treatment.infusion_pauses if p.resumed_at is not None],
    )
    at = _checked_time(treatment, paused_at, "paused_at", not_before=last)
    pause = InfusionPause(paused_at=at, reason=reason, recorded_by_id=actor.id)
    treatment.infusion_pauses.append(pause)
    db.session.flush()
    audit.record(actor, "session.infusion_pause", treatment, patient_id=treatment.patient_id)
    return pause


def resume_infusion(
    actor: User, treatment: TreatmentSession, resumed_at: datetime | None
) -> InfusionPause:
    """Restart the pump after a pause."""
    require_role(actor, *CLINICAL)
    _require_open(treatment)
    _running_infusion(treatment)
    pause = _open_pause(treatment)
    if pause is None:
        raise RuleViolation("The pump is not paused.")
    at = _checked_time(treatment, resumed_at, "resumed_at", not_before=pause.paused_at)
    if at <= pause.paused_at:
        raise RuleViolation("Resume after the pause began.", "resumed_at")
    pause.resumed_at = at
    db.session.flush()
    audit.record(actor, "session.infusion_resume", treatment, patient_id=treatment.patient_id)
    return pause


def add_assessment(
    actor: User,
    treatment: TreatmentSession,
    instrument: str,
    items: list[int],
    administered_at: datetime | None = None,
) -> Assessment:
    """Score and store a scale given during the session (MOAA/S, CADSS-6, PHQ-9, GAD-7)."""
    require_role(actor, *CLINICAL)
    _require_open(treatment)
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
        administered_at=_checked_time(treatment, administered_at, "administered_at"),
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


def _event_fields(treatment: TreatmentSession, data: dict[str, Any]) -> dict[str, Any]:
    """The editable fields of an adverse event, checked; a severe event counts as serious, and
    a serious one (like "Other") needs a description."""
    kind = data.get("kind")
    severity = data.get("severity")
    if kind not in ADVERSE_EVENT_KINDS:
        raise RuleViolation("Choose the event.", "kind")
    if severity not in list(EventSeverity):
        raise RuleViolation("Choose the severity.", "severity")
    severity = EventSeverity(severity)
    serious = counts_as_serious(severity, bool(data.get("serious")))
    description = (data.get("description") or "").strip()
    problem = description_problem(kind, serious, description)
    if problem:
        raise RuleViolation(problem, "description")
    return {
        "kind": kind,
        "description": description,
        "severity": severity,
        "onset_at": _checked_time(treatment, data.get("onset_at"), "onset_at"),
        "intervention": (data.get("intervention") or "").strip(),
        "serious": serious,
    }


def _serious_ae_alert(actor: User, treatment: TreatmentSession, event: AdverseEvent) -> None:
    raise_alert(
        actor,
        AlertKind.SERIOUS_AE,
        treatment.patient_id,
        treatment.id,
        kind=event.kind,
        severity=event.severity,
        adverse_event_id=event.id,
    )


def _resolved_time(
    treatment: TreatmentSession, event: AdverseEvent, value: datetime | None
) -> datetime:
    resolved_at = _checked_time(treatment, value, "resolved_at")
    if resolved_at < event.onset_at:
        raise RuleViolation("The event cannot resolve before its onset.", "resolved_at")
    return resolved_at


def add_adverse_event(
    actor: User, treatment: TreatmentSession, data: dict[str, Any]
) -> AdverseEvent:
    """Record an adverse event ("Other" needs a description); a severe one counts as serious.
    Marked resolved at once, it records when (`resolved_at`, blank = now) and who."""
    require_role(actor, *CLINICAL)
    _require_open(treatment)
    event = AdverseEvent(recorded_by_id=actor.id, **_event_fields(treatment, data))
    if data.get("resolved"):
        event.resolved = True
        event.resolved_at = _resolved_time(treatment, event, data.get("resolved_at"))
        event.resolved_by_id = actor.id
    treatment.adverse_events.append(event)
    db.session.flush()
    audit.record(
        actor,
        "adverse_event.add",
        event,
        patient_id=treatment.patient_id,
        kind=event.kind,
        serious=event.serious,
    )
    if event.serious:
        _serious_ae_alert(actor, treatment, event)
    return event


def _session_event(treatment: TreatmentSession, event: AdverseEvent) -> None:
    if event.session_id != treatment.id:
        raise RuleViolation("This adverse event belongs to another session.")


DOWNGRADE_HINT = "resolve the event instead, or ask the psychiatrist."


def _downgrades(event: AdverseEvent, fields: dict[str, Any]) -> dict[str, str]:
    """Field -> refusal for a lower severity or an unticked "serious": a downgrade can lift a
    discharge blocker, so it is the psychiatrist's call."""
    errors = {}
    order = list(EventSeverity)
    if order.index(fields["severity"]) < order.index(event.severity):
        errors["severity"] = f"Only the psychiatrist may lower the severity: {DOWNGRADE_HINT}"
    if event.serious and not fields["serious"]:
        errors["serious"] = f'Only the psychiatrist may untick "serious": {DOWNGRADE_HINT}'
    return errors


def edit_adverse_event(
    actor: User, treatment: TreatmentSession, event: AdverseEvent, data: dict[str, Any]
) -> None:
    """Correct an event until the session is signed; only the psychiatrist may lower its
    severity or untick "serious". A serious event (or one made serious) raises the same-day
    alert, as recording it does."""
    require_role(actor, *CLINICAL)
    _require_unsigned(treatment)
    _session_event(treatment, event)
    fields = _event_fields(treatment, data)
    if actor.role != Role.PSYCHIATRIST:
        downgrades = _downgrades(event, fields)
        if downgrades:
            raise FieldErrors(downgrades)
    if event.resolved and event.resolved_at < fields["onset_at"]:
        raise RuleViolation("The onset cannot be after the event resolved.", "onset_at")
    changed = sorted(name for name, value in fields.items() if getattr(event, name) != value)
    if not changed:
        return
    for name, value in fields.items():
        setattr(event, name, value)
    db.session.flush()
    audit.record(
        actor,
        "adverse_event.edit",
        event,
        patient_id=treatment.patient_id,
        fields=changed,
        serious=event.serious,
    )
    if event.serious:
        _serious_ae_alert(actor, treatment, event)


def resolve_adverse_event(
    actor: User, treatment: TreatmentSession, event: AdverseEvent, resolved_at: datetime | None
) -> None:
    """Mark an event resolved at a charted time (blank = now), by the acting clinician."""
    require_role(actor, *CLINICAL)
    _require_unsigned(treatment)
    _session_event(treatment, event)
    if event.resolved:
        raise RuleViolation("This event is already resolved.")
    event.resolved_at = _resolved_time(treatment, event, resolved_at)
    event.resolved = True
    event.resolved_by_id = actor.id
    db.session.flush()
    audit.record(actor, "adverse_event.resolve", event, patient_id=treatment.patient_id)


def clear_adverse_event(
    actor: User, treatment: TreatmentSession, event: AdverseEvent, note: str
) -> None:
    """The psychiatrist clears an unresolved event for discharge, with a note."""
    require_role(actor, Role.PSYCHIATRIST)
    _require_open(treatment)
    _session_event(treatment, event)
    if event.resolved:
        raise RuleViolation("This event is resolved; there is nothing to clear.")
    if event.cleared_at is not None:
        raise RuleViolation("This event is already cleared for discharge.")
    if not note.strip():
        raise RuleViolation("Say why the patient may leave with this event.", "note")
    event.cleared_at = utcnow()
    event.cleared_by_id = actor.id
    event.clear_note = note.strip()
    db.session.flush()
    audit.record(actor, "adverse_event.clear", event, patient_id=treatment.patient_id)


def end_not_dosed(
    actor: User, treatment: TreatmentSession, reason: str, note: str, version_id: int
) -> None:
    """End the session without a dose (REMS not met, hold not overridden, patient declined...).
    The visit is marked not dosed and the rest of its slot freed; the nurse then signs it."""
    require_role(actor, *CLINICAL)
    _require_open(treatment, version_id)
    if treatment.dose_started_at is not None:
        raise RuleViolation("The dose is recorded; discharge the patient instead.")
    if reason not in NOT_DOSED_REASONS:
        raise RuleViolation("Choose why no dose was given.", "reason")
    note = note.strip()
    if reason == "other" and not note:
        raise RuleViolation("Say why no dose was given.", "note")
    now = utcnow()
    treatment.not_dosed_at = now
    treatment.not_dosed_reason = reason
    treatment.not_dosed_note = note
    treatment.not_dosed_by_id = actor.id
    treatment.status = SessionStatus.NOT_DOSED
    appointment = treatment.appointment
    if appointment is not None:
        appointment.status = AppointmentStatus.NOT_DOSED
        if appointment.ends_at > now:
            # The chair is free from now on; a visit keeps a positive length (ends_after_start).
            appointment.ends_at = max(now, appointment.starts_at + timedelta(minutes=1))
    db.session.flush()
    audit.record(
        actor, "session.not_dosed", treatment, patient_id=treatment.patient_id, reason=reason
    )
    close_alerts(
        actor,
        treatment,
        AlertKind.PREDOSE_HOLD,
        f"Session ended without a dose: {NOT_DOSED_REASONS[reason]}.",
    )


def discharge(
    actor: User, treatment: TreatmentSession, attestation: Attestation, version_id: int
) -> None:
    """Discharge the patient. Raises DischargeBlocked with every blocker that still stands."""
    require_role(actor, *CLINICAL)
    _require_open(treatment, version_id)
    now = utcnow()
    rules = clinical_rules()
    summary = summarize(treatment, _patient_age(treatment.patient), now, rules)
    blockers = summary.blockers + attestation_blockers(attestation, summary.facts, rules)
    if blockers:
        raise DischargeBlocked(blockers)
    escort = attestation.escort
    if escort.kind == "confirmed_driver":
        treatment.discharged_with = treatment.driver_name
        treatment.escort_phone = treatment.driver_phone
        treatment.escort_relationship = ""
    else:
        treatment.discharged_with = escort.name.strip()
        treatment.escort_phone = escort.phone.strip()
        treatment.escort_relationship = escort.relationship.strip()
    treatment.escort_kind = escort.kind
    treatment.dissociation_attested = attestation.dissociation_resolved
    treatment.discharged_at = now
    treatment.discharged_by_id = actor.id
    treatment.status = SessionStatus.DISCHARGED
    if treatment.appointment is not None:
        treatment.appointment.status = AppointmentStatus.COMPLETED
    open_rems_form(treatment, rules)
    db.session.flush()
    audit.record(actor, "session.discharge", treatment, patient_id=treatment.patient_id)


# The session's own columns a signature attests to (the hash's "session" part).
SIGNED_COLUMNS = (
    "id",
    "patient_id",
    "course_id",
    "modality",
    "nurse_id",
    "weight_kg",
    "dose_mg",
    "dose_mg_per_kg",
    "devices_used",
    "lot_number",
    "identity_confirmed",
    "consent_confirmed",
    "fasting_confirmed",
    "pregnancy_status",
    "medications_reviewed",
    "rems_confirmed",
    "nasal_spray_checked",
    "prescriber_on_site",
    "oximeter_available",
    "driver_name",
    "driver_phone",
    "pump_concentration_mg_per_ml",
    "pump_rate_ml_per_hour",
    "infused_volume_ml",
    "discharged_with",
    "escort_kind",
    "escort_phone",
    "escort_relationship",
    "dissociation_attested",
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def content_hash(treatment: TreatmentSession) -> str:
    """SHA-256 over the charted content a signature attests to."""
    content = {
        "session": {k: str(getattr(treatment, k)) for k in SIGNED_COLUMNS},
        "times": [
            _iso(treatment.dose_started_at),
            _iso(treatment.infusion_ended_at),
            _iso(treatment.discharged_at),
        ],
        "not_dosed": [
            _iso(treatment.not_dosed_at),
            treatment.not_dosed_reason,
            treatment.not_dosed_note,
        ],
        **_charted_rows(treatment),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _charted_rows(treatment: TreatmentSession) -> dict[str, list[list[Any]]]:
    """The session's charted rows, each as a list of its signed values, by kind."""
    return {
        "vitals": [
            [_iso(r.taken_at), r.systolic, r.diastolic, r.heart_rate, r.spo2, r.resp_rate]
            for r in treatment.vitals
        ],
        "assessments": [
            [a.instrument, a.items, _iso(a.administered_at)] for a in treatment.assessments
        ],
        "adverse_events": [
            [
                e.kind,
                e.description,
                e.severity,
                _iso(e.onset_at),
                e.intervention,
                e.resolved,
                _iso(e.resolved_at),
                e.resolved_by_id,
                _iso(e.cleared_at),
                e.cleared_by_id,
                e.clear_note,
                e.serious,
            ]
            for e in treatment.adverse_events
        ],
        "overrides": [
            [o.rule, o.reason, o.decided_by_id, _iso(o.decided_at)] for o in treatment.overrides
        ],
        "pauses": [
            [_iso(p.paused_at), _iso(p.resumed_at), p.reason] for p in treatment.infusion_pauses
        ],
        "devices": [
            [d.device_number, _iso(d.given_at), d.lot_number, d.complete, d.note]
            for d in treatment.devices
        ],
    }


def sign(actor: User, treatment: TreatmentSession, password: str) -> None:
    """The nurse signs a discharged (or not-dosed) session after re-entering the password; it is
    then locked."""
    require_role(actor, Role.NURSE)
    if treatment.status not in (SessionStatus.DISCHARGED, SessionStatus.NOT_DOSED):
        raise RuleViolation("Only a discharged or not-dosed, unsigned session can be signed.")
    owed = missing_before_signing(treatment)
    if owed:
        raise RuleViolation(
            f"Record {' and '.join(owed)} for the REMS before signing: the monitoring form "
            "needs them."
        )
    reauthenticate(actor, password, "session.sign", treatment, patient_id=treatment.patient_id)
    treatment.signed_by_id = actor.id
    treatment.signed_at = utcnow()
    treatment.signature_hash = content_hash(treatment)
    treatment.status = SessionStatus.SIGNED
    db.session.flush()
    # Signed content never changes (co-signing and addenda leave it as it is), so what the
    # review rules make of it is stored now for the queue and the timeline.
    store_summaries([treatment.id])
    audit.record(actor, "session.sign", treatment, patient_id=treatment.patient_id)


def add_addendum(actor: User, treatment: TreatmentSession, reason: str, body: str) -> Addendum:
    """Correct a signed session without changing it: a dated, attributed addendum."""
    require_role(actor, *CLINICAL)
    if not treatment.is_locked:
        raise RuleViolation("The session is not signed yet; correct it directly.")
    if not reason.strip():
        raise RuleViolation("Give the reason for the addendum.", "reason")
    if not body.strip():
        raise RuleViolation("Write the correction.", "body")
    addendum = Addendum(author_id=actor.id, reason=reason.strip(), body=body.strip())
    treatment.addenda.append(addendum)
    db.session.flush()
    audit.record(actor, "session.addendum", addendum, patient_id=treatment.patient_id)
    return addendum
