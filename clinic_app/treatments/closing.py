"""How a session ends: without a dose, or discharged; then the nurse's signature over a hash of
the charted content, and addenda after it. Each function takes the acting user, enforces the
rules, audits and flushes; the caller commits."""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, require_role
from clinic_app.auth.services import reauthenticate
from clinic_app.clinical.codes import (
    NOT_DOSED_REASONS,
    AlertKind,
    AppointmentStatus,
    Role,
    SessionStatus,
)
from clinic_app.clinical.discharge import Attestation, attestation_blockers
from clinic_app.clock import utcnow
from clinic_app.errors import DischargeBlocked, RuleViolation
from clinic_app.extensions import db
from clinic_app.models import Addendum, TreatmentSession, User
from clinic_app.rems.answers import missing_before_signing
from clinic_app.rems.monitoring import open_form as open_rems_form
from clinic_app.review.stored import store_summaries
from clinic_app.settings import clinical_rules
from clinic_app.treatments.chart import close_alerts
from clinic_app.treatments.guards import patient_age, require_open
from clinic_app.treatments.summary import summarize


def end_not_dosed(
    actor: User, treatment: TreatmentSession, reason: str, note: str, version_id: int
) -> None:
    """End the session without a dose (REMS not met, hold not overridden, patient declined...).
    The visit is marked not dosed and the rest of its slot freed; the nurse then signs it."""
    require_role(actor, *CLINICAL)
    require_open(treatment, version_id)
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
    require_open(treatment, version_id)
    now = utcnow()
    rules = clinical_rules()
    summary = summarize(treatment, patient_age(treatment.patient), now, rules)
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
