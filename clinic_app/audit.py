"""Audit records, written by services in the same transaction as the change they describe, and
chained by SHA-256 so that editing or deleting a row breaks the chain."""

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from flask import has_request_context
from sqlalchemy import select, update

from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import AuditChainHead, AuditEvent, User
from clinic_app.security import request_id

GENESIS = "0" * 64
HASHED_FIELDS = (
    "occurred_at",
    "user_id",
    "role",
    "action",
    "entity_type",
    "entity_id",
    "patient_id",
    "outcome",
    "request_id",
    "detail",
    "prev_hash",
)


def row_hash(event: AuditEvent) -> str:
    """SHA-256 over the row's content and the previous row's hash."""
    content = {name: getattr(event, name) for name in HASHED_FIELDS}
    content["occurred_at"] = event.occurred_at.isoformat()
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def _advance_head() -> tuple[str, int]:
    """Lock the chain head and return (hash of the newest row, its position)."""
    step = (
        update(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .values(length=AuditChainHead.length + 1)
        .returning(AuditChainHead.head_hash, AuditChainHead.length)
    )
    head = db.session.execute(step).one_or_none()
    if head is None:  # a database created without the migration's seed row
        db.session.add(AuditChainHead(id=1, head_hash=GENESIS, length=0))
        db.session.flush()
        head = db.session.execute(step).one()
    return head.head_hash, head.length


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
    prev_hash, _ = _advance_head()
    event = AuditEvent(
        occurred_at=utcnow(),
        user_id=actor.id if actor is not None else None,
        role=actor.role if actor is not None else "",
        action=action,
        entity_type=type(entity).__name__ if entity is not None else "",
        entity_id=getattr(entity, "id", None),
        patient_id=patient_id,
        outcome=outcome,
        request_id=request_id() if has_request_context() else "cli",
        detail=detail,
        prev_hash=prev_hash,
    )
    event.row_hash = row_hash(event)
    db.session.add(event)
    db.session.execute(
        update(AuditChainHead).where(AuditChainHead.id == 1).values(head_hash=event.row_hash)
    )
    return event


def verify_chain(batch: int = 5000) -> tuple[int, int | None]:
    """Walk the trail in order: (rows checked, id of the first broken row or None)."""
    expected_prev = GENESIS
    checked = 0
    rows: Iterator[AuditEvent] = db.session.scalars(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=batch)
    )
    try:
        for event in rows:
            if event.prev_hash != expected_prev or row_hash(event) != event.row_hash:
                return checked, event.id
            expected_prev = event.row_hash
            checked += 1
    finally:
        rows.close()  # the server-side cursor of a streamed result
    head = db.session.get(AuditChainHead, 1)
    if head is not None and (head.head_hash != expected_prev or head.length != checked):
        return checked, -1  # rows removed from, or forged onto, the end
    return checked, None
