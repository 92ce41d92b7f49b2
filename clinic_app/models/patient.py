"""Patients and their treatment courses."""

from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic_app.clinical.addresses import PostalAddress, one_line
from clinic_app.clinical.codes import CoursePhase, DecisionKind, Indication, Modality
from clinic_app.clinical.vitals import age_on
from clinic_app.clock import utcnow
from clinic_app.database import coded, created_at, in_values, intpk, search_key, user_fk
from clinic_app.extensions import db

if TYPE_CHECKING:
    from clinic_app.models.site import Site
    from clinic_app.models.user import User


class Patient(db.Model):
    """Demographics, safety screen and the default driver of one patient."""

    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint(
            "weight_kg IS NULL OR (weight_kg > 20 AND weight_kg < 350)", name="weight_plausible"
        ),
        CheckConstraint("failed_trials >= 0", name="failed_trials_non_negative"),
        CheckConstraint(in_values("sex", ("female", "male", "other")), name="sex_known"),
    )

    id: Mapped[intpk]
    mrn: Mapped[str] = mapped_column(String(32), unique=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80), index=True)
    date_of_birth: Mapped[date]
    sex: Mapped[str] = mapped_column(String(10))
    phone: Mapped[str] = mapped_column(String(32), default="")
    email: Mapped[str] = mapped_column(String(120), default="")
    # Postal address, optional at registration; the dispensing record needs it (21 CFR
    # 1304.22(c)). All blank or complete (clinic_app.clinical.addresses).
    address_line1: Mapped[str] = mapped_column(String(120), default="", server_default="")
    address_line2: Mapped[str] = mapped_column(String(120), default="", server_default="")
    city: Mapped[str] = mapped_column(String(80), default="", server_default="")
    state: Mapped[str] = mapped_column(String(2), default="", server_default="")
    zip_code: Mapped[str] = mapped_column(String(10), default="", server_default="")
    allergies: Mapped[str] = mapped_column(Text, default="")
    weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    driver_name: Mapped[str] = mapped_column(String(120), default="")
    driver_phone: Mapped[str] = mapped_column(String(32), default="")
    driver_relationship: Mapped[str] = mapped_column(String(40), default="")
    consent_date: Mapped[date | None]
    contraindications: Mapped[list[str]] = mapped_column(JSON, default=list)
    failed_trials: Mapped[int] = mapped_column(default=0)
    medication_classes: Mapped[list[str]] = mapped_column(JSON, default=list)
    rems_enrolled_on: Mapped[date | None]
    # The patient ID the SPRAVATO REMS assigns at enrollment.
    rems_patient_id: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # When a nurse or the psychiatrist last reviewed the clinical screen (allergies,
    # contraindications, medications); None reads "not screened", never "none found".
    screened_at: Mapped[datetime | None]
    screened_by_id: Mapped[int | None] = user_fk(nullable=True)
    # Scheduling preferences: ISO weekdays (0 = Monday) and a usual clinic-local start time.
    preferred_weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)
    preferred_time: Mapped[time | None]
    # The site the patient usually attends (a chart is one record across the group).
    usual_site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version_id: Mapped[int] = mapped_column(default=1)

    courses: Mapped[list["TreatmentCourse"]] = relationship(
        back_populates="patient", order_by="TreatmentCourse.started_on.desc()"
    )
    screened_by: Mapped["User | None"] = relationship()
    usual_site: Mapped["Site | None"] = relationship()

    __mapper_args__ = {"version_id_col": version_id}

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def postal_address(self) -> PostalAddress:
        return PostalAddress(
            self.address_line1, self.address_line2, self.city, self.state, self.zip_code
        )

    @property
    def address(self) -> str:
        """The postal address on one line, "" when none is recorded."""
        return one_line(self.postal_address)

    @property
    def screened(self) -> bool:
        return self.screened_at is not None

    @property
    def rems_enrolled(self) -> bool:
        return self.rems_enrolled_on is not None

    @property
    def treatment_resistant(self) -> bool:
        return self.failed_trials >= 2

    def age_on(self, day: date) -> int:
        """Age in whole years on `day`."""
        return age_on(self.date_of_birth, day)


# Patient search matches a prefix of lower(name or MRN); these serve it (patients.services).
SEARCH_COLUMNS = (Patient.last_name, Patient.first_name, Patient.mrn)
for _column in SEARCH_COLUMNS:
    Index(f"ix_patients_search_{_column.key}", search_key(_column))


class TreatmentCourse(db.Model):
    """One patient's prescribed plan for one modality, with its phase."""

    __tablename__ = "treatment_courses"
    __table_args__ = (
        CheckConstraint(
            "(modality = 'iv_ketamine' AND iv_mg_per_kg > 0 AND iv_mg_per_kg <= 2"
            " AND iv_minutes BETWEEN 20 AND 120 AND esketamine_dose_mg IS NULL)"
            " OR (modality = 'esketamine_nasal' AND esketamine_dose_mg IN (56, 84)"
            " AND iv_mg_per_kg IS NULL AND iv_minutes IS NULL)",
            name="dose_plan_matches_modality",
        ),
        CheckConstraint("phase <> 'stopped' OR stop_reason <> ''", name="stop_has_reason"),
    )

    id: Mapped[intpk]
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    modality: Mapped[Modality] = mapped_column(coded(Modality, 20, "modality_known"))
    indication: Mapped[Indication] = mapped_column(coded(Indication, 30, "indication_known"))
    prescriber_id: Mapped[int] = user_fk()
    iv_mg_per_kg: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    iv_minutes: Mapped[int | None]
    esketamine_dose_mg: Mapped[int | None]
    phase: Mapped[CoursePhase] = mapped_column(
        coded(CoursePhase, 20, "phase_known"), default=CoursePhase.INDUCTION
    )
    stop_reason: Mapped[str] = mapped_column(String(200), default="")
    started_on: Mapped[date] = mapped_column(index=True)
    ended_on: Mapped[date | None]
    maintenance_interval_days: Mapped[int | None]
    # Why the prescriber chose a dose above the clinic's usual maximum, or a TRD indication for a
    # patient with fewer than two failed antidepressant trials.
    dose_reason: Mapped[str] = mapped_column(Text, default="")
    indication_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[created_at]

    patient: Mapped[Patient] = relationship(back_populates="courses")
    prescriber: Mapped["User"] = relationship()
    decisions: Mapped[list["CourseDecision"]] = relationship(
        back_populates="course", order_by="CourseDecision.decided_at"
    )

    @property
    def is_active(self) -> bool:
        return self.phase.active

    @property
    def modality_label(self) -> str:
        return self.modality.label

    @property
    def dose_plan(self) -> str:
        if self.modality == Modality.IV_KETAMINE:
            return f"{self.iv_mg_per_kg} mg/kg over {self.iv_minutes} min"
        return f"{self.esketamine_dose_mg} mg"


class CourseDecision(db.Model):
    """A psychiatrist's decision on a course: end-of-induction review, move to maintenance,
    dose change or stop; what it changed and why."""

    __tablename__ = "course_decisions"

    id: Mapped[intpk]
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    kind: Mapped[DecisionKind] = mapped_column(coded(DecisionKind, 20, "kind_known"))
    from_value: Mapped[str] = mapped_column(String(40), default="")
    to_value: Mapped[str] = mapped_column(String(40), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int] = user_fk()
    decided_at: Mapped[datetime] = mapped_column(index=True)

    course: Mapped[TreatmentCourse] = relationship(back_populates="decisions")
    decided_by: Mapped["User"] = relationship()
