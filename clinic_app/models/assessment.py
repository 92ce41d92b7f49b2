"""Rating scales: PHQ-9, GAD-7, MOAA/S, CADSS-6."""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic_app.clinical.scores import INSTRUMENTS
from clinic_app.database import created_at, in_values, intpk, user_fk
from clinic_app.extensions import db

if TYPE_CHECKING:
    from clinic_app.models.treatment import TreatmentSession
    from clinic_app.models.user import User


class Assessment(db.Model):
    """One administration of a scale, item by item, with its computed total and band."""

    __tablename__ = "assessments"
    __table_args__ = (
        CheckConstraint(in_values("instrument", INSTRUMENTS), name="instrument_known"),
        CheckConstraint("total >= 0", name="total_non_negative"),
    )

    id: Mapped[intpk]
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    instrument: Mapped[str] = mapped_column(String(10))
    items: Mapped[list[int]] = mapped_column(JSON)
    total: Mapped[int]
    band: Mapped[str] = mapped_column(String(30), default="")
    administered_at: Mapped[datetime] = mapped_column(index=True)
    recorded_by_id: Mapped[int] = user_fk()
    created_at: Mapped[created_at]

    treatment_session: Mapped["TreatmentSession | None"] = relationship(
        back_populates="assessments"
    )
    recorded_by: Mapped["User"] = relationship()

    @property
    def label(self) -> str:
        return INSTRUMENTS[self.instrument].label
