"""Spravato REMS paperwork: what the chart did not hold (the concomitant-medication review at the
pre-dose check, the discharge answers), the monitoring form of each esketamine session, its
submissions (append-only: a resubmission is a new row) and serious-adverse-event reports.

The form's content is not stored on the form row: it is built from the signed session each time
(`clinic_app.clinical.rems_form`), so it can never drift from the chart. What was sent is kept
with each submission (the values and their fingerprint), which is what "changed since
submitted" compares against and what an auditor asks for."""

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    DDL,
    JSON,
    CheckConstraint,
    ForeignKey,
    String,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic_app.database import coded, created_at, intpk, user_fk
from clinic_app.extensions import db

if TYPE_CHECKING:
    from clinic_app.models.site import Site
    from clinic_app.models.treatment import AdverseEvent, TreatmentSession
    from clinic_app.models.user import User


class SubmissionChannel(StrEnum):
    ONLINE = "online"
    FAX = "fax"

    @property
    def label(self) -> str:
        return {"online": "Online (SPRAVATOrems.com)", "fax": "Fax"}[self.value]


class SaeRecipient(StrEnum):
    REMS = "rems"
    MANUFACTURER = "manufacturer"
    FDA_MEDWATCH = "fda_medwatch"

    @property
    def label(self) -> str:
        return {
            "rems": "SPRAVATO REMS (1-855-382-6022)",
            "manufacturer": "Manufacturer (Janssen)",
            "fda_medwatch": "FDA MedWatch",
        }[self.value]


class RemsMedicationReview(db.Model):
    """The patient's concomitant medications by REMS class, reviewed at one esketamine pre-dose
    check ("reviewed today"); the patient's own list is updated to match."""

    __tablename__ = "rems_medication_reviews"

    id: Mapped[intpk]
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), unique=True)
    # The REMS classes the patient takes (clinic_app.clinical.rems_form.REMS_MEDICATION_CLASSES).
    classes: Mapped[list[str]] = mapped_column(JSON, default=list)
    reviewed_by_id: Mapped[int] = user_fk()
    reviewed_at: Mapped[datetime]

    reviewed_by: Mapped["User"] = relationship()


class RemsDischargeAnswers(db.Model):
    """The REMS questions the nurse answers at discharge, pre-filled from the chart."""

    __tablename__ = "rems_discharge_answers"
    __table_args__ = (
        CheckConstraint("ready_minutes BETWEEN 0 AND 720", name="ready_minutes_plausible"),
        CheckConstraint(
            "(NOT sedation_observed OR sedation_resolved IS NOT NULL)"
            " AND (NOT dissociation_observed OR dissociation_resolved IS NOT NULL)"
            " AND (NOT respiratory_observed OR respiratory_resolved IS NOT NULL)",
            name="observed_has_resolution",
        ),
    )

    id: Mapped[intpk]
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), unique=True)
    # Minutes from the first device at which the patient would have been ready to leave had
    # there been no 2-hour rule.
    ready_minutes: Mapped[int]
    vitals_ok_pre: Mapped[bool]
    vitals_ok_completion: Mapped[bool]
    sedation_observed: Mapped[bool]
    sedation_resolved: Mapped[bool | None]
    dissociation_observed: Mapped[bool]
    dissociation_resolved: Mapped[bool | None]
    respiratory_observed: Mapped[bool]
    respiratory_resolved: Mapped[bool | None]
    answered_by_id: Mapped[int] = user_fk()
    answered_at: Mapped[datetime]

    treatment_session: Mapped["TreatmentSession"] = relationship(back_populates="rems_answers")
    answered_by: Mapped["User"] = relationship()


class RemsMonitoringForm(db.Model):
    """The monitoring form one dosed esketamine session owes: the edition it is built on, where
    and when the dose was given, and when it is due (on that site's calendar)."""

    __tablename__ = "rems_monitoring_forms"

    id: Mapped[intpk]
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), unique=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    edition: Mapped[str] = mapped_column(String(20))
    treatment_date: Mapped[date] = mapped_column(index=True)
    due_on: Mapped[date] = mapped_column(index=True)
    # Local midnight after the due date, in UTC: "overdue" is one comparison with now.
    late_from: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[created_at]

    treatment_session: Mapped["TreatmentSession"] = relationship()
    site: Mapped["Site | None"] = relationship()
    submissions: Mapped[list["RemsSubmission"]] = relationship(
        back_populates="form", order_by="RemsSubmission.id"
    )

    @property
    def last_submission(self) -> "RemsSubmission | None":
        return self.submissions[-1] if self.submissions else None


class RemsSubmission(db.Model):
    """One submission of a form to the REMS (never changed; a resubmission is a new row)."""

    __tablename__ = "rems_form_submissions"
    __table_args__ = (CheckConstraint("confirmation_number <> ''", name="confirmation_given"),)

    id: Mapped[intpk]
    form_id: Mapped[int] = mapped_column(ForeignKey("rems_monitoring_forms.id"), index=True)
    submitted_on: Mapped[date] = mapped_column(index=True)
    channel: Mapped[SubmissionChannel] = mapped_column(
        coded(SubmissionChannel, 10, "channel_known")
    )
    confirmation_number: Mapped[str] = mapped_column(String(60))
    # What was sent: the form's values and their fingerprint (rems_form.BuiltForm).
    edition: Mapped[str] = mapped_column(String(20))
    sent_values: Mapped[dict] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(64))
    submitted_by_id: Mapped[int] = user_fk()
    created_at: Mapped[created_at]

    form: Mapped[RemsMonitoringForm] = relationship(back_populates="submissions")
    submitted_by: Mapped["User"] = relationship()


class SaeReport(db.Model):
    """A serious adverse event reported to one recipient (REMS, manufacturer, FDA MedWatch)."""

    __tablename__ = "rems_sae_reports"
    __table_args__ = (CheckConstraint("reference <> ''", name="reference_given"),)

    id: Mapped[intpk]
    adverse_event_id: Mapped[int] = mapped_column(ForeignKey("adverse_events.id"), index=True)
    reported_to: Mapped[SaeRecipient] = mapped_column(coded(SaeRecipient, 20, "recipient_known"))
    reported_at: Mapped[datetime] = mapped_column(index=True)
    reference: Mapped[str] = mapped_column(String(60))
    reported_by_id: Mapped[int] = user_fk()
    created_at: Mapped[created_at]

    adverse_event: Mapped["AdverseEvent"] = relationship()
    reported_by: Mapped["User"] = relationship()


# Submissions are append-only at the database too (PostgreSQL; the migration adds the same for
# SQLite, whose test schema is emptied with DELETE between tests).
APPEND_ONLY_FUNCTION = """CREATE OR REPLACE FUNCTION rems_form_submissions_append_only()
    RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'rems_form_submissions is append-only (% refused)', TG_OP; END $$"""
APPEND_ONLY_TRIGGER = """CREATE TRIGGER rems_form_submissions_append_only
    BEFORE UPDATE OR DELETE ON rems_form_submissions
    FOR EACH ROW EXECUTE FUNCTION rems_form_submissions_append_only()"""
for _sql in (APPEND_ONLY_FUNCTION, APPEND_ONLY_TRIGGER):
    # DDL() formats its text with %(table)s and the like: a literal % is doubled.
    event.listen(
        RemsSubmission.__table__,
        "after_create",
        DDL(_sql.replace("%", "%%")).execute_if(dialect="postgresql"),
    )
