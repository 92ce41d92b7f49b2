"""Chairs and appointments: the clinic's calendar."""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic_app.clinical.codes import AppointmentStatus, VisitKind
from clinic_app.database import created_at, in_values, intpk, user_fk
from clinic_app.extensions import db

if TYPE_CHECKING:
    from clinic_app.models.patient import Patient, TreatmentCourse
    from clinic_app.models.treatment import TreatmentSession


class Chair(db.Model):
    """A treatment chair (a bookable resource)."""

    __tablename__ = "chairs"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(40), unique=True)
    active: Mapped[bool] = mapped_column(default=True)


class Appointment(db.Model):
    """One visit on the calendar; a series is several rows sharing a series id."""

    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint(in_values("status", AppointmentStatus), name="status_known"),
        CheckConstraint(in_values("visit_kind", VisitKind), name="visit_kind_known"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[intpk]
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("chairs.id"), index=True)
    series_id: Mapped[str | None] = mapped_column(String(36), index=True)
    sequence_no: Mapped[int | None]
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    visit_kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=AppointmentStatus.SCHEDULED.value)
    driver_name: Mapped[str] = mapped_column(String(120), default="")
    driver_phone: Mapped[str] = mapped_column(String(32), default="")
    driver_confirmed_at: Mapped[datetime | None]
    driver_confirmed_by_id: Mapped[int | None] = user_fk(nullable=True)
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[created_at]

    patient: Mapped["Patient"] = relationship()
    course: Mapped["TreatmentCourse | None"] = relationship()
    chair: Mapped[Chair | None] = relationship()
    treatment_session: Mapped["TreatmentSession | None"] = relationship(
        back_populates="appointment"
    )
