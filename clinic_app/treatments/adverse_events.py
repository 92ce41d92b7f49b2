"""Adverse events at the chair: recorded, edited, resolved, cleared by the psychiatrist; a serious
one alerts the psychiatrist. Each function takes the acting user, enforces the rules, audits
and flushes; the caller commits."""

from datetime import datetime
from typing import Any

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, require_role
from clinic_app.clinical.adverse_events import counts_as_serious, description_problem
from clinic_app.clinical.codes import ADVERSE_EVENT_KINDS, AlertKind, EventSeverity, Role
from clinic_app.clock import utcnow
from clinic_app.errors import FieldErrors, RuleViolation
from clinic_app.extensions import db
from clinic_app.models import AdverseEvent, TreatmentSession, User
from clinic_app.treatments.chart import raise_alert
from clinic_app.treatments.guards import checked_time, require_open, require_unsigned


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
        "onset_at": checked_time(treatment, data.get("onset_at"), "onset_at"),
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
    resolved_at = checked_time(treatment, value, "resolved_at")
    if resolved_at < event.onset_at:
        raise RuleViolation("The event cannot resolve before its onset.", "resolved_at")
    return resolved_at


def add_adverse_event(
    actor: User, treatment: TreatmentSession, data: dict[str, Any]
) -> AdverseEvent:
    """Record an adverse event ("Other" needs a description); a severe one counts as serious.
    Marked resolved at once, it records when (`resolved_at`, blank = now) and who."""
    require_role(actor, *CLINICAL)
    require_open(treatment)
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
    require_unsigned(treatment)
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
    require_unsigned(treatment)
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
    require_open(treatment)
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
