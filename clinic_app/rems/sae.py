"""Reporting a serious adverse event of an esketamine session: to the REMS, the manufacturer or
FDA MedWatch, when, by whom, with the recipient's reference. Until the REMS has it, the event
stays on the REMS board."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, require_role
from clinic_app.clinical.codes import AlertKind, Modality
from clinic_app.clock import utcnow
from clinic_app.errors import FieldErrors, RuleViolation
from clinic_app.extensions import db
from clinic_app.models import AdverseEvent, ClinicalAlert, SaeReport, User
from clinic_app.models.rems import SaeRecipient


def reports_of(event: AdverseEvent) -> list[SaeReport]:
    """The event's reports, oldest first, with who made them."""
    return list(
        db.session.scalars(
            select(SaeReport)
            .where(SaeReport.adverse_event_id == event.id)
            .options(joinedload(SaeReport.reported_by))
            .order_by(SaeReport.reported_at, SaeReport.id)
        )
    )


def report_sae(actor: User, event: AdverseEvent, data: dict[str, Any]) -> SaeReport:
    """Record one report of a serious esketamine adverse event (reported_at: UTC)."""
    require_role(actor, *CLINICAL)
    if not event.serious or event.treatment_session.modality != Modality.ESKETAMINE_NASAL:
        raise RuleViolation(
            "Only a serious adverse event of an esketamine session is reported here."
        )
    errors = {}
    if data.get("reported_to") not in list(SaeRecipient):
        errors["reported_to"] = "Choose who it was reported to."
    reported_at: datetime | None = data.get("reported_at")
    if reported_at is None:
        errors["reported_on"] = "Give the date and time it was reported."
    elif reported_at > utcnow() + timedelta(minutes=1):
        errors["reported_on"] = "This time is in the future."
    elif reported_at < event.onset_at - timedelta(minutes=1):
        errors["reported_on"] = "The report cannot come before the event."
    if not (data.get("reference") or "").strip():
        errors["reference"] = "Give the reference or case number the recipient gave."
    if errors:
        raise FieldErrors(errors)
    assert reported_at is not None
    report = SaeReport(
        adverse_event_id=event.id,
        reported_to=SaeRecipient(data["reported_to"]),
        reported_at=reported_at,
        reference=data["reference"].strip(),
        reported_by_id=actor.id,
    )
    db.session.add(report)
    db.session.flush()
    audit.record(
        actor,
        "rems.sae_reported",
        report,
        patient_id=event.treatment_session.patient_id,
        reported_to=report.reported_to.value,
    )
    return report


def unreported_to_rems(alert: ClinicalAlert) -> bool:
    """A serious-adverse-event alert of an esketamine session whose event the REMS has not been
    told of: the psychiatrist's alert stays until it has."""
    event_id = alert.detail.get("adverse_event_id") if alert.kind == AlertKind.SERIOUS_AE else None
    event = db.session.get(AdverseEvent, event_id) if event_id is not None else None
    if event is None or event.treatment_session.modality != Modality.ESKETAMINE_NASAL:
        return False
    reported = exists().where(
        SaeReport.adverse_event_id == event.id, SaeReport.reported_to == SaeRecipient.REMS
    )
    return not db.session.scalar(select(reported))
