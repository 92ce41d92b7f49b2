"""The dose: IV (mg/kg, pump, vials drawn from stock) or esketamine (devices), and the infusion's
end, pauses and resumption. Each function takes the acting user, enforces the rules, audits and
flushes; the caller commits."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, require_role
from clinic_app.clinical.codes import Modality
from clinic_app.clinical.dosing import (
    DoseError,
    device_problem,
    esketamine_devices,
    esketamine_dose_problem,
    iv_dose,
    pump_problem,
)
from clinic_app.clock import utcnow
from clinic_app.errors import FieldErrors, RuleViolation
from clinic_app.extensions import db
from clinic_app.inventory.dispensing import draw_device, draw_iv, keeps_ledger
from clinic_app.models import DeviceAdministration, InfusionPause, TreatmentSession, User
from clinic_app.settings import clinical_rules
from clinic_app.treatments.guards import checked_time, patient_age, require_open
from clinic_app.treatments.summary import summarize


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
    require_open(treatment, version_id)
    summary = _dose_gate(treatment)
    ledger = keeps_ledger(treatment)
    lot = (data.get("lot_number") or "").strip()
    if not lot and not ledger:
        raise RuleViolation("Record the lot number.", "lot_number")
    assert summary.baseline is not None  # _dose_gate refuses without one
    started = checked_time(
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
    summary = summarize(treatment, patient_age(treatment.patient), utcnow(), clinical_rules())
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
    require_open(treatment)
    if treatment.modality != Modality.ESKETAMINE_NASAL or treatment.dose_started_at is None:
        raise RuleViolation("Record the dose and its first device first.")
    ledger = keeps_ledger(treatment)
    lot = (data.get("lot_number") or "").strip()
    if not lot and not ledger:
        raise RuleViolation("Record the lot number.", "lot_number")
    given_at = checked_time(
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
    require_open(treatment, version_id)
    started = _running_infusion(treatment)
    if _open_pause(treatment) is not None:
        raise RuleViolation("The pump is paused: resume it, or record the end after resuming.")
    if infused_volume_ml is None or infused_volume_ml <= 0:
        raise RuleViolation("Record the volume infused.", "infused_volume_ml")
    ended = checked_time(treatment, ended_at, "infusion_ended_at")
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
    require_open(treatment)
    started = _running_infusion(treatment)
    if _open_pause(treatment) is not None:
        raise RuleViolation("The pump is already paused.")
    reason = (reason or "").strip()
    if not reason:
        raise RuleViolation("Give the reason for the pause.", "reason")
    last = max(
        [started] + [p.resumed_at for p in treatment.infusion_pauses if p.resumed_at is not None],
    )
    at = checked_time(treatment, paused_at, "paused_at", not_before=last)
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
    require_open(treatment)
    _running_infusion(treatment)
    pause = _open_pause(treatment)
    if pause is None:
        raise RuleViolation("The pump is not paused.")
    at = checked_time(treatment, resumed_at, "resumed_at", not_before=pause.paused_at)
    if at <= pause.paused_at:
        raise RuleViolation("Resume after the pause began.", "resumed_at")
    pause.resumed_at = at
    db.session.flush()
    audit.record(actor, "session.infusion_resume", treatment, patient_id=treatment.patient_id)
    return pause
