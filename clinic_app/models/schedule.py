"""Chairs and appointments: the clinic's calendar."""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    DDL,
    CheckConstraint,
    ForeignKey,
    String,
    UniqueConstraint,
    event,
    func,
    literal_column,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic_app.clinical.codes import AppointmentStatus, DriverStatus, VisitKind
from clinic_app.database import coded, created_at, intpk, user_fk
from clinic_app.extensions import db
from clinic_app.models.site import Site

if TYPE_CHECKING:
    from clinic_app.models.patient import Patient, TreatmentCourse
    from clinic_app.models.treatment import TreatmentSession


class Chair(db.Model):
    """A treatment chair (a bookable resource) at one site; names are unique within a site."""

    __tablename__ = "chairs"
    __table_args__ = (UniqueConstraint("site_id", "name", name="uq_chairs_site_name"),)

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)

    site: Mapped[Site] = relationship()


class Appointment(db.Model):
    """One visit on the calendar; a series is several rows sharing a series id."""

    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        # No chair and no patient is ever booked twice at once, enforced by the database so two
        # desks booking the same moment cannot both succeed (PostgreSQL; SQLite uses triggers).
        ExcludeConstraint(
            (literal_column("chair_id"), "="),
            (func.tstzrange(literal_column("starts_at"), literal_column("ends_at")), "&&"),
            name="chair_not_double_booked",
            using="gist",
            where="status NOT IN ('cancelled', 'no_show')",
        ).ddl_if(dialect="postgresql"),
        ExcludeConstraint(
            (literal_column("patient_id"), "="),
            (func.tstzrange(literal_column("starts_at"), literal_column("ends_at")), "&&"),
            name="patient_not_double_booked",
            using="gist",
            where="status NOT IN ('cancelled', 'no_show')",
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[intpk]
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("chairs.id"), index=True)
    series_id: Mapped[str | None] = mapped_column(String(36), index=True)
    sequence_no: Mapped[int | None]
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    visit_kind: Mapped[VisitKind] = mapped_column(coded(VisitKind, 20, "visit_kind_known"))
    status: Mapped[AppointmentStatus] = mapped_column(
        coded(AppointmentStatus, 20, "status_known"), default=AppointmentStatus.SCHEDULED
    )
    driver_name: Mapped[str] = mapped_column(String(120), default="")
    driver_phone: Mapped[str] = mapped_column(String(32), default="")
    driver_status: Mapped[DriverStatus] = mapped_column(
        coded(DriverStatus, 20, "driver_status_known"), default=DriverStatus.UNCONFIRMED
    )
    driver_confirmed_at: Mapped[datetime | None]
    driver_confirmed_by_id: Mapped[int | None] = user_fk(nullable=True)
    # Reason for a cancellation or a no-show ("ate within the fasting window", "no driver"...).
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    cancelled_at: Mapped[datetime | None]
    cancelled_by_id: Mapped[int | None] = user_fk(nullable=True)
    late_cancellation: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]

    patient: Mapped["Patient"] = relationship()
    course: Mapped["TreatmentCourse | None"] = relationship()
    chair: Mapped[Chair | None] = relationship()
    treatment_session: Mapped["TreatmentSession | None"] = relationship(
        back_populates="appointment"
    )

    @property
    def site(self) -> Site | None:
        """Where the visit happens: its chair's site (not stored twice)."""
        return self.chair.site if self.chair is not None else None


# SQLite has no exclusion constraints: the same two rules as triggers. Kept in step with the
# migration that creates them for migrated databases.
_OVERLAP_TRIGGER = """CREATE TRIGGER appointments_no_{who}_overlap_{verb_lower} BEFORE {verb}
    ON appointments
    WHEN NEW.status NOT IN ('cancelled', 'no_show') AND EXISTS (
        SELECT 1 FROM appointments AS other
        WHERE other.{column} = NEW.{column} AND other.id IS NOT NEW.id
          AND other.status NOT IN ('cancelled', 'no_show')
          AND other.starts_at < NEW.ends_at AND NEW.starts_at < other.ends_at)
    BEGIN SELECT RAISE(ABORT, '{who}_not_double_booked'); END"""
SQLITE_OVERLAP_TRIGGERS = [
    _OVERLAP_TRIGGER.format(who=who, column=column, verb=verb, verb_lower=verb.lower())  # nosec B608
    for who, column in (("chair", "chair_id"), ("patient", "patient_id"))
    for verb in ("INSERT", "UPDATE")
]
event.listen(
    Appointment.__table__,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS btree_gist").execute_if(dialect="postgresql"),
)
for _sql in SQLITE_OVERLAP_TRIGGERS:
    event.listen(Appointment.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
