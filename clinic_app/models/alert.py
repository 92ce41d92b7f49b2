"""Clinical alerts that need the psychiatrist's action today."""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic_app.clinical.codes import AlertKind
from clinic_app.database import coded, intpk, user_fk
from clinic_app.extensions import db

if TYPE_CHECKING:
    from clinic_app.models.patient import Patient
    from clinic_app.models.treatment import TreatmentSession
    from clinic_app.models.user import User


class ClinicalAlert(db.Model):
    """PHQ-9 item 9 above 0, a serious adverse event, missed induction visits, or from the chair
    a BP at the notify or urgent line, a low SpO₂ or a pre-dose hold waiting for an override. It
    stays on top of the review page until acknowledged (a hold also ends when overridden or
    rechecked under the line); the acknowledgement is kept."""

    __tablename__ = "clinical_alerts"

    id: Mapped[intpk]
    kind: Mapped[AlertKind] = mapped_column(coded(AlertKind, 30, "kind_known"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), index=True)
    raised_at: Mapped[datetime] = mapped_column(index=True)
    # Codes and numbers only (e.g. the item 9 answer, the event kind), never free text.
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    acknowledged_at: Mapped[datetime | None] = mapped_column(index=True)
    acknowledged_by_id: Mapped[int | None] = user_fk(nullable=True)
    acknowledge_note: Mapped[str] = mapped_column(Text, default="")

    patient: Mapped["Patient"] = relationship()
    treatment_session: Mapped["TreatmentSession | None"] = relationship()
    acknowledged_by: Mapped["User | None"] = relationship()

    @property
    def kind_label(self) -> str:
        return AlertKind(self.kind).label

    @property
    def urgency_rank(self) -> int:
        """Chair alerts list most urgent first: urgent BP and low SpO₂, holds, the notify line."""
        return _URGENCY.get(self.kind, 2)

    @property
    def at_the_chair(self) -> bool:
        """Raised while the patient is in the chair (BP, SpO₂, hold): needs action now."""
        return self.kind in CHAIR_ALERTS


_URGENCY = {AlertKind.BP_URGENT: 0, AlertKind.SPO2_LOW: 0, AlertKind.PREDOSE_HOLD: 1}
CHAIR_ALERTS = frozenset(
    {AlertKind.BP_URGENT, AlertKind.BP_NOTIFY, AlertKind.SPO2_LOW, AlertKind.PREDOSE_HOLD}
)
