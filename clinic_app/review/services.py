"""The psychiatrist's actions: co-sign, acknowledge alerts, decide on courses, change clinic
settings; and scales given outside a session. Each takes the acting user, enforces the rules,
audits and flushes. The caller commits."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import g, has_app_context
from sqlalchemy import select

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, require_role
from clinic_app.auth.services import reauthenticate
from clinic_app.clinical.codes import (
    CoursePhase,
    DecisionKind,
    Indication,
    Modality,
    Role,
    SessionStatus,
)
from clinic_app.clinical.dosing import ESKETAMINE_DOSES_MG
from clinic_app.clinical.outcomes import Outcome
from clinic_app.clinical.scores import GAD7, PHQ9, ScoreError, score
from clinic_app.clinical.us_zones import US_ZONES
from clinic_app.clock import utcnow
from clinic_app.errors import FieldErrors, RuleViolation
from clinic_app.extensions import db
from clinic_app.models import (
    Assessment,
    ClinicalAlert,
    ClinicSetting,
    CourseDecision,
    Patient,
    TreatmentCourse,
    TreatmentSession,
    User,
)
from clinic_app.patients.services import confirm_large_dose
from clinic_app.rems.sae import unreported_to_rems
from clinic_app.review import setting_specs as specs
from clinic_app.settings import clinic_today, scheduling_rules
from clinic_app.treatments.chart import raise_item9_alert
from clinic_app.treatments.closing import content_hash

NOTE_MAX = 2000
ACK_NOTE_MAX = 500
# Scales given outside a session may be dated back this far (a phone screen last week, the
# referral's baseline within a month before induction: ORKA-1, McInnes et al. 2022).
OUTSIDE_SCALE_MAX_AGE_DAYS = 60


def _note(text: str | None, field: str, message: str, limit: int = NOTE_MAX) -> str:
    note = (text or "").strip()
    if not note:
        raise RuleViolation(message, field)
    if len(note) > limit:
        raise RuleViolation(f"Keep it under {limit} characters.", field)
    return note


# --- co-signature ----------------------------------------------------------------------------


def cosign(actor: User, treatment: TreatmentSession, note: str, password: str) -> None:
    """The psychiatrist attests a nurse-signed session: note, password re-entry, a hash of the
    content as co-signed. A co-signature is never replaced: a second one is refused."""
    require_role(actor, Role.PSYCHIATRIST)
    if treatment.status == SessionStatus.COSIGNED or treatment.cosigned_at is not None:
        raise RuleViolation("This session is already co-signed; add an addendum instead.")
    if treatment.status != SessionStatus.SIGNED:
        raise RuleViolation("Only a session the nurse has signed can be co-signed.")
    text = _note(note, "note", "Write the attestation note.")
    reauthenticate(actor, password, "session.cosign", treatment, patient_id=treatment.patient_id)
    treatment.cosigned_by_id = actor.id
    treatment.cosigned_at = utcnow()
    treatment.cosign_note = text
    treatment.cosignature_hash = content_hash(treatment)
    treatment.status = SessionStatus.COSIGNED
    db.session.flush()
    audit.record(
        actor,
        "session.cosign",
        treatment,
        patient_id=treatment.patient_id,
        content_hash=treatment.cosignature_hash,
    )


# --- alerts ----------------------------------------------------------------------------------


def acknowledge_alert(actor: User, alert: ClinicalAlert, note: str) -> None:
    """Record that the psychiatrist acted on a same-day alert; the alert then leaves the top."""
    require_role(actor, Role.PSYCHIATRIST)
    if alert.acknowledged_at is not None:
        raise RuleViolation("This alert is already acknowledged.")
    if unreported_to_rems(alert):
        raise RuleViolation(
            "Report this serious adverse event to the SPRAVATO REMS first (REMS board, SAE "
            "report); the alert stays until the REMS has it."
        )
    alert.acknowledge_note = _note(note, "note", "Say what was done.", ACK_NOTE_MAX)
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by_id = actor.id
    db.session.flush()
    audit.record(actor, "alert.acknowledge", alert, patient_id=alert.patient_id, kind=alert.kind)


# --- scales outside a session ----------------------------------------------------------------


def record_scale(
    actor: User,
    patient: Patient,
    instrument: str,
    items: list[int],
    administered_at: datetime | None = None,
) -> Assessment:
    """A PHQ-9 or GAD-7 given outside a session (a consult, a phone check). PHQ-9 item 9 above 0
    raises the same-day alert in the same transaction."""
    require_role(actor, *CLINICAL)
    scale = {PHQ9.code: PHQ9, GAD7.code: GAD7}.get(instrument)
    if scale is None:
        raise RuleViolation("Only PHQ-9 and GAD-7 are recorded outside a session.")
    try:
        total, band = score(scale, items)
    except ScoreError as error:
        raise RuleViolation(str(error), "items") from error
    now = utcnow()
    when = administered_at or now
    if when > now + timedelta(minutes=1):
        raise RuleViolation("This time is in the future.", "administered_at")
    if when < now - timedelta(days=OUTSIDE_SCALE_MAX_AGE_DAYS):
        raise RuleViolation(
            f"Record scales from the last {OUTSIDE_SCALE_MAX_AGE_DAYS} days only.",
            "administered_at",
        )
    assessment = Assessment(
        patient_id=patient.id,
        instrument=scale.code,
        items=list(items),
        total=total,
        band=band,
        administered_at=when,
        recorded_by_id=actor.id,
    )
    db.session.add(assessment)
    db.session.flush()
    audit.record(actor, "assessment.add", assessment, patient_id=patient.id, instrument=scale.code)
    raise_item9_alert(actor, assessment)
    return assessment


# --- course decisions ------------------------------------------------------------------------


def _decide(
    actor: User,
    course: TreatmentCourse,
    kind: DecisionKind,
    from_value: str,
    to_value: str,
    reason: str,
) -> CourseDecision:
    decision = CourseDecision(
        course_id=course.id,
        kind=kind,
        from_value=from_value[:40],
        to_value=to_value[:40],
        reason=reason,
        decided_by_id=actor.id,
        decided_at=utcnow(),
    )
    db.session.add(decision)
    db.session.flush()
    audit.record(
        actor,
        "course.decision",
        decision,
        patient_id=course.patient_id,
        kind=kind.value,
        course_id=course.id,
        from_value=decision.from_value,
        to_value=decision.to_value,
    )
    return decision


def _require_active(course: TreatmentCourse) -> None:
    if not course.is_active:
        raise RuleViolation(f"This course is {course.phase}; no further decisions apply.")


def induction_review(
    actor: User, course: TreatmentCourse, outcome: Outcome, note: str
) -> CourseDecision:
    """The end-of-induction review: the response status as it stands and the note."""
    require_role(actor, Role.PSYCHIATRIST)
    _require_active(course)
    text = _note(note, "note", "Write the review note.")
    return _decide(
        actor, course, DecisionKind.INDUCTION_REVIEW, course.phase, outcome.status.value, text
    )


def maintenance_range(course: TreatmentCourse) -> tuple[int, int]:
    """The interval (days) maintenance may use for the course's modality (clinic settings)."""
    rules = scheduling_rules()
    if course.modality == Modality.ESKETAMINE_NASAL:
        return rules.esketamine_maintenance_min_days, rules.esketamine_maintenance_max_days
    return rules.iv_maintenance_min_days, rules.iv_maintenance_max_days


def to_maintenance(
    actor: User, course: TreatmentCourse, interval_days: int | None, note: str = ""
) -> CourseDecision:
    """Induction ends; maintenance visits every `interval_days`."""
    require_role(actor, Role.PSYCHIATRIST)
    if course.phase != CoursePhase.INDUCTION:
        raise RuleViolation("Only a course in induction moves to maintenance.")
    low, high = maintenance_range(course)
    if interval_days is None or not low <= interval_days <= high:
        raise RuleViolation(
            f"{course.modality_label} maintenance runs every {low} to {high} days.",
            "interval_days",
        )
    course.phase = CoursePhase.MAINTENANCE
    course.maintenance_interval_days = interval_days
    return _decide(
        actor,
        course,
        DecisionKind.TO_MAINTENANCE,
        CoursePhase.INDUCTION.value,
        f"maintenance every {interval_days} days",
        (note or "").strip(),
    )


def _earlier_doses(course: TreatmentCourse) -> set[int]:
    return {
        int(dose)
        for dose in db.session.scalars(
            select(TreatmentSession.dose_mg).where(
                TreatmentSession.course_id == course.id, TreatmentSession.dose_mg.is_not(None)
            )
        )
        if dose is not None
    }


def change_dose(actor: User, course: TreatmentCourse, data: dict[str, Any]) -> CourseDecision:
    """A new dose for the course's next sessions: esketamine 56 or 84 mg (84 in a TRD course only
    after a 56 mg dose was given in it), IV mg/kg; above the clinic's usual maximum the
    psychiatrist's password confirms it, and the reason is kept as the course's dose reason."""
    require_role(actor, Role.PSYCHIATRIST)
    _require_active(course)
    reason = _note(data.get("reason"), "reason", "Give the reason for the change.")
    if course.modality == Modality.ESKETAMINE_NASAL:
        try:
            dose = int(data.get("esketamine_dose_mg") or 0)
        except (TypeError, ValueError):
            dose = 0
        if dose not in ESKETAMINE_DOSES_MG:
            raise RuleViolation("Esketamine dose must be 56 or 84 mg.", "esketamine_dose_mg")
        if dose == course.esketamine_dose_mg:
            raise RuleViolation(f"The course is already at {dose} mg.", "esketamine_dose_mg")
        if course.indication == Indication.TRD and dose == 84 and 56 not in _earlier_doses(course):
            raise RuleViolation(
                "84 mg needs an earlier 56 mg dose in this TRD course; the first dose is 56 mg.",
                "esketamine_dose_mg",
            )
        before, after = f"{course.esketamine_dose_mg} mg", f"{dose} mg"
        course.esketamine_dose_mg = dose
    else:
        try:
            mg_per_kg = Decimal(str(data.get("iv_mg_per_kg"))).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            mg_per_kg = Decimal(0)
        if not Decimal("0.1") <= mg_per_kg <= Decimal("2"):
            raise RuleViolation("IV dose runs from 0.1 to 2 mg/kg.", "iv_mg_per_kg")
        if mg_per_kg == course.iv_mg_per_kg:
            raise RuleViolation(f"The course is already at {mg_per_kg} mg/kg.", "iv_mg_per_kg")
        # The change's reason is its dose reason; the form's reason field carries it.
        confirmed = confirm_large_dose(
            actor,
            mg_per_kg,
            reason,
            data.get("password"),
            "course.decision",
            course,
            course.patient_id,
        )
        before, after = f"{course.iv_mg_per_kg} mg/kg", f"{mg_per_kg} mg/kg"
        course.iv_mg_per_kg = mg_per_kg
        course.dose_reason = confirmed
    return _decide(actor, course, DecisionKind.DOSE_CHANGE, before, after, reason)


def stop_course(actor: User, course: TreatmentCourse, reason: str) -> CourseDecision:
    """Stop the course today, with the reason."""
    require_role(actor, Role.PSYCHIATRIST)
    _require_active(course)
    text = _note(reason, "reason", "Give the reason for stopping.", limit=200)
    before = course.phase
    course.phase = CoursePhase.STOPPED
    course.stop_reason = text
    course.ended_on = clinic_today()
    return _decide(actor, course, DecisionKind.STOP, before, CoursePhase.STOPPED.value, text)


# --- clinic settings -------------------------------------------------------------------------


def stored_settings() -> dict[str, ClinicSetting]:
    """The clinic's setting rows for the keys this page manages."""
    return {
        row.key: row
        for row in db.session.scalars(
            select(ClinicSetting).where(ClinicSetting.key.in_(list(specs.BY_KEY)))
        )
    }


def setting_changers(user_ids: Iterable[int | None]) -> dict[int, User]:
    """The users who last changed settings, by id."""
    ids = sorted({i for i in user_ids if i is not None})
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def update_settings(actor: User, submitted: dict[str, Any]) -> list[str]:
    """Store the settings whose value differs from the one in force; returns the changed keys.

    `submitted` maps keys to stored-form values (see setting_specs.to_stored). Raises FieldErrors
    when the new values contradict each other or do not make valid rules; nothing is stored then.
    """
    require_role(actor, Role.PSYCHIATRIST)
    rows = stored_settings()
    stored = {key: row.value for key, row in rows.items()}
    current = specs.effective(stored)
    changes = {
        key: value
        for key, value in submitted.items()
        if key in specs.BY_KEY and value != current[key]
    }
    candidate = {**current, **changes}
    errors = specs.consistency_errors(candidate)
    if "timezone" in changes and changes["timezone"] not in US_ZONES:
        # A zone stored before may stay; a new one is a US zone, as the sites' are.
        errors["timezone"] = "Choose a US time zone from the list."
    if not errors:
        try:
            specs.effective({**stored, **changes})
        except ValueError as error:
            errors["__all__"] = str(error)
    if errors:
        raise FieldErrors(errors)
    now = utcnow()
    for key in sorted(changes):
        row = rows.get(key)
        old = current[key]
        if row is None:
            row = ClinicSetting(key=key)
            db.session.add(row)
        row.value = changes[key]
        row.updated_by_id = actor.id
        row.updated_at = now
        audit.record(actor, "settings.change", row, key=key, old=old, new=changes[key])
    db.session.flush()
    if has_app_context():
        g.pop("clinic_settings", None)  # later reads in this request see the new values
    return sorted(changes)
