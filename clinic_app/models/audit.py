"""Append-only audit trail."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from clinic_app.clock import utcnow
from clinic_app.database import intpk, user_fk
from clinic_app.extensions import db


class AuditEvent(db.Model):
    """Who did what to which record, when, and whether it was allowed. Never updated."""

    __tablename__ = "audit_events"

    id: Mapped[intpk]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = user_fk(nullable=True)
    role: Mapped[str] = mapped_column(String(20), default="")
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(40), default="")
    entity_id: Mapped[int | None]
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(20), default="success")
    request_id: Mapped[str] = mapped_column(String(32), default="")
    # Field names and codes only, never free text that could carry PHI.
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    # Tamper evidence: SHA-256 over this row's content and the previous row's hash.
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(db.Model):
    """The single row holding the newest audit hash. Updating it first serialises audit writers
    (a row lock on PostgreSQL, the write lock on SQLite), so the chain never forks."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    length: Mapped[int] = mapped_column(default=0)
