"""The charted encounter (TreatmentSession) and what is recorded during it."""

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic_app.clinical.codes import (
    ADVERSE_EVENT_KINDS,
    ESCORT_KINDS,
    NOT_DOSED_REASONS,
    EventSeverity,
    Modality,
    SessionStatus,
    VitalsPhase,
)
from clinic_app.clinical.vitals import Vitals
from clinic_app.database import coded, created_at, in_values, intpk, user_fk
from clinic_app.extensions import db

if TYPE_CHECKING:
    from clinic_app.models.assessment import Assessment
    from clinic_app.models.patient import Patient, TreatmentCourse
    from clinic_app.models.rems import RemsDischargeAnswers
    from clinic_app.models.review import SessionReview
    from clinic_app.models.schedule import Appointment
    from clinic_app.models.user import User


class TreatmentSession(db.Model):
    """One dosing visit: pre-dose checks, dose, observation, discharge and signatures."""

    __tablename__ = "treatment_sessions"
    __table_args__ = (
        CheckConstraint("dose_mg IS NULL OR dose_mg > 0", name="dose_positive"),
        CheckConstraint(
            "modality <> 'esketamine_nasal' OR dose_mg IS NULL"
            " OR (dose_mg IN (56, 84) AND devices_used * 28 = dose_mg)",
            name="esketamine_devices_match_dose",
        ),
        CheckConstraint(
            "infusion_ended_at IS NULL OR (dose_started_at IS NOT NULL"
            " AND infusion_ended_at > dose_started_at)",
            name="infusion_ends_after_start",
        ),
        CheckConstraint(
            "discharged_at IS NULL OR (dose_started_at IS NOT NULL"
            " AND discharged_at > dose_started_at"
            " AND discharged_with <> '')",
            name="discharge_after_dose_with_escort",
        ),
        CheckConstraint(
            "status = 'in_progress' OR discharged_at IS NOT NULL OR not_dosed_at IS NOT NULL",
            name="closed_after_discharge",
        ),
        CheckConstraint(
            "not_dosed_at IS NULL OR (dose_started_at IS NULL AND discharged_at IS NULL"
            " AND not_dosed_reason <> '')",
            name="not_dosed_has_reason_and_no_dose",
        ),
        CheckConstraint(
            "escort_kind = '' OR " + in_values("escort_kind", ESCORT_KINDS),
            name="escort_kind_known",
        ),
        CheckConstraint(
            "not_dosed_reason = '' OR " + in_values("not_dosed_reason", NOT_DOSED_REASONS),
            name="not_dosed_reason_known",
        ),
        CheckConstraint(
            "status NOT IN ('signed', 'cosigned') OR signed_at IS NOT NULL",
            name="signed_has_signature",
        ),
        CheckConstraint(
            "status <> 'cosigned' OR cosigned_at IS NOT NULL", name="cosigned_has_cosignature"
        ),
    )

    id: Mapped[intpk]
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    modality: Mapped[Modality] = mapped_column(coded(Modality, 20, "modality_known"))
    nurse_id: Mapped[int] = user_fk()
    psychiatrist_id: Mapped[int | None] = user_fk(nullable=True)
    status: Mapped[SessionStatus] = mapped_column(
        coded(SessionStatus, 20, "status_known"), default=SessionStatus.IN_PROGRESS, index=True
    )
    started_at: Mapped[datetime] = mapped_column(index=True)

    # Pre-dose checklist, completed in one step.
    predose_checked_at: Mapped[datetime | None]
    identity_confirmed: Mapped[bool] = mapped_column(default=False)
    consent_confirmed: Mapped[bool] = mapped_column(default=False)
    fasting_confirmed: Mapped[bool] = mapped_column(default=False)
    pregnancy_status: Mapped[str] = mapped_column(String(20), default="")
    medications_reviewed: Mapped[bool] = mapped_column(default=False)
    rems_confirmed: Mapped[bool] = mapped_column(default=False)
    driver_name: Mapped[str] = mapped_column(String(120), default="")
    driver_phone: Mapped[str] = mapped_column(String(32), default="")
    driver_confirmed: Mapped[bool] = mapped_column(default=False)
    # Esketamine: no nasal corticosteroid or decongestant within the last hour.
    nasal_spray_checked: Mapped[bool] = mapped_column(default=False)
    prescriber_on_site: Mapped[bool] = mapped_column(default=False)
    oximeter_available: Mapped[bool] = mapped_column(default=False)

    # Dose.
    weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    dose_mg: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    dose_mg_per_kg: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    planned_minutes: Mapped[int | None]
    devices_used: Mapped[int | None]
    lot_number: Mapped[str] = mapped_column(String(40), default="")
    dose_started_at: Mapped[datetime | None] = mapped_column(index=True)
    infusion_ended_at: Mapped[datetime | None]
    # IV pump settings and the volume given.
    pump_concentration_mg_per_ml: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    pump_rate_ml_per_hour: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    infused_volume_ml: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))

    # Discharge.
    discharged_at: Mapped[datetime | None]
    discharged_with: Mapped[str] = mapped_column(String(120), default="")
    discharged_by_id: Mapped[int | None] = user_fk(nullable=True)
    escort_kind: Mapped[str] = mapped_column(String(20), default="")
    escort_phone: Mapped[str] = mapped_column(String(32), default="")
    escort_relationship: Mapped[str] = mapped_column(String(40), default="")
    # The nurse's attestation at discharge that dissociation has resolved (no CADSS needed).
    dissociation_attested: Mapped[bool] = mapped_column(default=False)

    # Ended without a dose.
    not_dosed_at: Mapped[datetime | None]
    not_dosed_reason: Mapped[str] = mapped_column(String(30), default="")
    not_dosed_note: Mapped[str] = mapped_column(Text, default="")
    not_dosed_by_id: Mapped[int | None] = user_fk(nullable=True)

    # Signatures: who, when, and a hash of the content they attested.
    signed_by_id: Mapped[int | None] = user_fk(nullable=True)
    signed_at: Mapped[datetime | None]
    signature_hash: Mapped[str] = mapped_column(String(64), default="")
    cosigned_by_id: Mapped[int | None] = user_fk(nullable=True)
    cosigned_at: Mapped[datetime | None]
    cosignature_hash: Mapped[str] = mapped_column(String(64), default="")
    cosign_note: Mapped[str] = mapped_column(Text, default="")

    version_id: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version_id}

    appointment: Mapped["Appointment | None"] = relationship(back_populates="treatment_session")
    patient: Mapped["Patient"] = relationship()
    course: Mapped["TreatmentCourse"] = relationship()
    nurse: Mapped["User"] = relationship(foreign_keys=[nurse_id])
    psychiatrist: Mapped["User | None"] = relationship(foreign_keys=[psychiatrist_id])
    signed_by: Mapped["User | None"] = relationship(foreign_keys=[signed_by_id])
    discharged_by: Mapped["User | None"] = relationship(foreign_keys=[discharged_by_id])
    not_dosed_by: Mapped["User | None"] = relationship(foreign_keys=[not_dosed_by_id])
    cosigned_by: Mapped["User | None"] = relationship(foreign_keys=[cosigned_by_id])
    # Readings charted for the same minute keep the order they were entered in.
    vitals: Mapped[list["VitalsReading"]] = relationship(
        back_populates="treatment_session", order_by="(VitalsReading.taken_at, VitalsReading.id)"
    )
    adverse_events: Mapped[list["AdverseEvent"]] = relationship(
        back_populates="treatment_session", order_by="(AdverseEvent.onset_at, AdverseEvent.id)"
    )
    assessments: Mapped[list["Assessment"]] = relationship(
        back_populates="treatment_session",
        order_by="(Assessment.administered_at, Assessment.id)",
    )
    overrides: Mapped[list["Override"]] = relationship(
        back_populates="treatment_session", order_by="(Override.decided_at, Override.id)"
    )
    addenda: Mapped[list["Addendum"]] = relationship(
        back_populates="treatment_session", order_by="Addendum.created_at"
    )
    infusion_pauses: Mapped[list["InfusionPause"]] = relationship(
        back_populates="treatment_session", order_by="InfusionPause.paused_at"
    )
    devices: Mapped[list["DeviceAdministration"]] = relationship(
        back_populates="treatment_session", order_by="DeviceAdministration.device_number"
    )
    # Esketamine: the REMS questions answered at discharge (clinic_app/rems).
    rems_answers: Mapped["RemsDischargeAnswers | None"] = relationship(
        back_populates="treatment_session"
    )
    # Stored when the session is signed (review/stored.py).
    review: Mapped["SessionReview | None"] = relationship()

    @property
    def is_locked(self) -> bool:
        """Signed records never change; corrections are addenda."""
        return self.status in (SessionStatus.SIGNED, SessionStatus.COSIGNED)

    @property
    def is_open(self) -> bool:
        """Still being charted: not discharged, not ended undosed, not signed."""
        return self.status == SessionStatus.IN_PROGRESS


class VitalsReading(db.Model):
    """One set of vital signs taken during a session."""

    __tablename__ = "vitals_readings"
    __table_args__ = (
        CheckConstraint("systolic BETWEEN 50 AND 300", name="systolic_plausible"),
        CheckConstraint(
            "diastolic BETWEEN 20 AND 200 AND diastolic < systolic", name="diastolic_plausible"
        ),
        CheckConstraint("heart_rate BETWEEN 20 AND 250", name="heart_rate_plausible"),
        CheckConstraint("spo2 BETWEEN 50 AND 100", name="spo2_plausible"),
        CheckConstraint(
            "resp_rate IS NULL OR resp_rate BETWEEN 4 AND 60", name="resp_rate_plausible"
        ),
    )

    id: Mapped[intpk]
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    taken_at: Mapped[datetime] = mapped_column(index=True)
    phase: Mapped[VitalsPhase] = mapped_column(coded(VitalsPhase, 10, "phase_known"))
    systolic: Mapped[int]
    diastolic: Mapped[int]
    heart_rate: Mapped[int]
    spo2: Mapped[int]
    resp_rate: Mapped[int | None]
    recorded_by_id: Mapped[int] = user_fk()
    created_at: Mapped[created_at]

    treatment_session: Mapped[TreatmentSession] = relationship(back_populates="vitals")
    recorded_by: Mapped["User"] = relationship()

    def as_vitals(self) -> Vitals:
        """The reading as the pure vitals rules take it."""
        return Vitals(
            self.systolic, self.diastolic, self.heart_rate, self.spo2, self.resp_rate, self.taken_at
        )


class AdverseEvent(db.Model):
    """A side effect or complication observed during a session."""

    __tablename__ = "adverse_events"
    __table_args__ = (
        CheckConstraint(in_values("kind", ADVERSE_EVENT_KINDS), name="kind_known"),
        CheckConstraint("kind <> 'other' OR description <> ''", name="other_described"),
        CheckConstraint(
            "NOT resolved OR (resolved_at IS NOT NULL AND resolved_by_id IS NOT NULL)",
            name="resolved_has_time_and_who",
        ),
        CheckConstraint(
            "cleared_at IS NULL OR (cleared_by_id IS NOT NULL AND clear_note <> '')",
            name="cleared_has_who_and_note",
        ),
    )

    id: Mapped[intpk]
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    # What happened, in the nurse's words; required for "Other" and a serious event.
    description: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[EventSeverity] = mapped_column(coded(EventSeverity, 10, "severity_known"))
    onset_at: Mapped[datetime]
    intervention: Mapped[str] = mapped_column(Text, default="")
    resolved: Mapped[bool] = mapped_column(default=False)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = user_fk(nullable=True)
    # The psychiatrist may clear an unresolved event for discharge, with a note.
    cleared_at: Mapped[datetime | None]
    cleared_by_id: Mapped[int | None] = user_fk(nullable=True)
    clear_note: Mapped[str] = mapped_column(Text, default="")
    serious: Mapped[bool] = mapped_column(default=False)
    recorded_by_id: Mapped[int] = user_fk()
    created_at: Mapped[created_at]

    treatment_session: Mapped[TreatmentSession] = relationship(back_populates="adverse_events")
    recorded_by: Mapped["User"] = relationship(foreign_keys=[recorded_by_id])
    resolved_by: Mapped["User | None"] = relationship(foreign_keys=[resolved_by_id])
    cleared_by: Mapped["User | None"] = relationship(foreign_keys=[cleared_by_id])

    @property
    def kind_label(self) -> str:
        return ADVERSE_EVENT_KINDS[self.kind]


class InfusionPause(db.Model):
    """A pause of the IV pump; `resumed_at` stays empty while the pump is stopped."""

    __tablename__ = "infusion_pauses"
    __table_args__ = (
        CheckConstraint("resumed_at IS NULL OR resumed_at > paused_at", name="resumes_after_pause"),
    )

    id: Mapped[intpk]
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    paused_at: Mapped[datetime]
    resumed_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_id: Mapped[int] = user_fk()
    created_at: Mapped[created_at]

    treatment_session: Mapped[TreatmentSession] = relationship(back_populates="infusion_pauses")
    recorded_by: Mapped["User"] = relationship()


class DeviceAdministration(db.Model):
    """One 28 mg esketamine device: when, which lot, and whether it was given in full."""

    __tablename__ = "device_administrations"
    __table_args__ = (
        UniqueConstraint("session_id", "device_number", name="uq_device_administrations_number"),
        CheckConstraint("device_number BETWEEN 1 AND 3", name="device_number_range"),
        CheckConstraint("complete OR note <> ''", name="partial_explained"),
    )

    id: Mapped[intpk]
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    device_number: Mapped[int]
    given_at: Mapped[datetime]
    lot_number: Mapped[str] = mapped_column(String(40))
    # The device taken from stock (its lot is copied to lot_number for the REMS form).
    container_id: Mapped[int | None] = mapped_column(ForeignKey("stock_containers.id"), index=True)
    complete: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int] = user_fk()
    created_at: Mapped[created_at]

    treatment_session: Mapped[TreatmentSession] = relationship(back_populates="devices")
    recorded_by: Mapped["User"] = relationship()


class Override(db.Model):
    """A psychiatrist's documented decision to proceed despite a rule."""

    __tablename__ = "overrides"
    __table_args__ = (CheckConstraint("reason <> ''", name="reason_given"),)

    id: Mapped[intpk]
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    rule: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int] = user_fk()
    decided_at: Mapped[datetime]

    treatment_session: Mapped[TreatmentSession] = relationship(back_populates="overrides")
    decided_by: Mapped["User"] = relationship()


class Addendum(db.Model):
    """A correction to a signed session; the original record stays as signed."""

    __tablename__ = "addenda"
    __table_args__ = (
        CheckConstraint("reason <> ''", name="reason_given"),
        CheckConstraint("body <> ''", name="body_given"),
    )

    id: Mapped[intpk]
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    author_id: Mapped[int] = user_fk()
    reason: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[created_at]

    treatment_session: Mapped[TreatmentSession] = relationship(back_populates="addenda")
    author: Mapped["User"] = relationship()
