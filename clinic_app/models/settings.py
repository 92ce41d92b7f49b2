"""Clinic settings: overrides of the rule defaults, one row per changed key."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from clinic_app.clock import utcnow
from clinic_app.database import user_fk
from clinic_app.extensions import db


class ClinicSetting(db.Model):
    """A clinic's value for one setting; keys absent here use the sourced default."""

    __tablename__ = "clinic_settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_by_id: Mapped[int | None] = user_fk(nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
