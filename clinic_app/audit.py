"""Audit records, written by services in the same transaction as the change they describe, and
chained by HMAC-SHA-256 under AUDIT_KEY (kept outside the database) so that editing, deleting or
inserting a row breaks the chain even for someone who can write to the database."""

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app, has_request_context
from sqlalchemy import ScalarResult, select, text, update

from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.keys import audit_key
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


def row_hash(event: AuditEvent, key: bytes | None = None) -> str:
    """HMAC-SHA-256 under `key` (default: the app's audit key) over the row's content and the
    previous row's hash."""
    content = {name: getattr(event, name) for name in HASHED_FIELDS}
    content["occurred_at"] = event.occurred_at.isoformat()
    message = json.dumps(content, sort_keys=True, default=str).encode()
    return hmac.new(key or audit_key(current_app.config), message, hashlib.sha256).hexdigest()


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
    rows: ScalarResult[AuditEvent] = db.session.scalars(
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


def hash_at(position: int) -> str | None:
    """The hash of the `position`-th row of the trail (1 = the first), or None past the end."""
    if position < 1:
        return None
    return db.session.scalar(
        select(AuditEvent.row_hash).order_by(AuditEvent.id).offset(position - 1).limit(1)
    )


class ChainBroken(RuntimeError):
    """The trail does not verify under the key it is said to be written with."""


def rekey(old_key: bytes, new_key: bytes) -> int:
    """Re-hash the whole trail under `new_key` after checking it under `old_key`; returns the
    number of rows. Run as the tables' owner with the app servers stopped: the append-only
    trigger is lifted inside this transaction only."""
    # Locking the head first keeps every audit writer out until this transaction ends.
    db.session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(id=1))
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    old_prev = new_prev = GENESIS
    rehashed: list[tuple[int, str, str]] = []
    for event in events:
        if event.prev_hash != old_prev or row_hash(event, old_key) != event.row_hash:
            raise ChainBroken(f"audit trail broken at row id {event.id} under the old key")
        old_prev = event.row_hash
        event.prev_hash = new_prev
        new_prev = row_hash(event, new_key)
        rehashed.append((event.id, event.prev_hash, new_prev))
    db.session.expunge_all()  # the new values go in by plain UPDATEs below
    with _append_only_lifted():
        for event_id, prev_hash, new_hash in rehashed:
            db.session.execute(
                update(AuditEvent)
                .where(AuditEvent.id == event_id)
                .values(prev_hash=prev_hash, row_hash=new_hash)
            )
    db.session.execute(
        update(AuditChainHead).where(AuditChainHead.id == 1).values(head_hash=new_prev)
    )
    return len(rehashed)


PG_TRIGGER = "audit_events_append_only"
SQLITE_TRIGGERS = {"audit_events_no_update": "UPDATE", "audit_events_no_delete": "DELETE"}


@contextmanager
def _append_only_lifted() -> Iterator[None]:
    """Disable the append-only trigger(s) that exist, and put them back afterwards."""
    if db.engine.dialect.name == "postgresql":
        present = db.session.scalar(
            text("SELECT 1 FROM pg_trigger WHERE tgname = :name"), {"name": PG_TRIGGER}
        )
        if present:
            db.session.execute(text(f"ALTER TABLE audit_events DISABLE TRIGGER {PG_TRIGGER}"))
        yield
        if present:
            db.session.execute(text(f"ALTER TABLE audit_events ENABLE TRIGGER {PG_TRIGGER}"))
        return
    names = db.session.scalars(
        text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'")
    ).all()
    lifted = [name for name in names if name in SQLITE_TRIGGERS]
    for name in lifted:
        db.session.execute(text(f"DROP TRIGGER {name}"))
    yield
    for name in lifted:
        db.session.execute(
            text(
                f"CREATE TRIGGER {name} BEFORE {SQLITE_TRIGGERS[name]} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
        )
