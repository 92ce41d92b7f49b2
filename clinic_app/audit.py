"""Audit records, written by services in the same transaction as the change they describe."""

from typing import Any

from flask import g, has_request_context

from clinic_app.extensions import db
from clinic_app.models import AuditEvent, User


def record(
    actor: User | None,
    action: str,
    entity: Any = None,
    *,
    patient_id: int | None = None,
    outcome: str = "success",
    **detail: Any,
) -> AuditEvent:
    """Add an audit row for `action` on `entity` by `actor`. Detail holds codes, never free text."""
    event = AuditEvent(
        user_id=actor.id if actor is not None else None,
        role=actor.role if actor is not None else "",
        action=action,
        entity_type=type(entity).__name__ if entity is not None else "",
        entity_id=getattr(entity, "id", None),
        patient_id=patient_id,
        outcome=outcome,
        request_id=g.get("request_id", "") if has_request_context() else "cli",
        detail=detail,
    )
    db.session.add(event)
    return event
