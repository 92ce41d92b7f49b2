"""Same-day alerts as the review pages show them: which are open, and their detail in words."""

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from clinic_app.clinical.codes import ADVERSE_EVENT_KINDS, AlertKind
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair, ClinicalAlert, Patient, TreatmentSession


def alert_detail(alert: ClinicalAlert) -> str:
    """The alert's coded detail as a sentence."""
    detail = alert.detail or {}
    if alert.kind == AlertKind.PHQ9_ITEM9:
        text = f"Item 9 (thoughts of self-harm) answered {detail.get('item9', '?')}"
        if "total" in detail:
            text += f"; PHQ-9 total {detail['total']}"
        return text + ". Same-day follow-up needed."
    if alert.kind == AlertKind.SERIOUS_AE:
        kind = ADVERSE_EVENT_KINDS.get(detail.get("kind", ""), detail.get("kind", "event"))
        severity = detail.get("severity")
        return f"{kind}{f' ({severity})' if severity else ''}, recorded as serious."
    if alert.kind == AlertKind.MISSED_INDUCTION:
        missed = detail.get("missed") or detail.get("count")
        return f"{missed or 'Several'} induction visits missed in a row: contact the patient today."
    if alert.kind in (AlertKind.BP_URGENT, AlertKind.BP_NOTIFY, AlertKind.PREDOSE_HOLD):
        text = f"BP {detail.get('systolic', '?')}/{detail.get('diastolic', '?')}"
        if "hold_systolic" in detail:
            text += f" before the dose, over the hold line {detail['hold_systolic']}/"
            text += f"{detail['hold_diastolic']}: dosing waits for your override"
        return text + "."
    if alert.kind == AlertKind.SPO2_LOW:
        return f"SpO₂ {detail.get('spo2', '?')} %."
    return ""


def alert_reading_time(alert: ClinicalAlert) -> datetime | None:
    """When the reading behind a chair alert was taken (None for other alerts)."""
    taken = (alert.detail or {}).get("taken_at")
    return datetime.fromisoformat(taken) if taken else None


def open_alerts() -> list[ClinicalAlert]:
    """Unacknowledged alerts at every site, oldest first, with the chair and site of the session
    they came from (the patient's usual site for an alert without a session)."""
    return list(
        db.session.scalars(
            select(ClinicalAlert)
            .where(ClinicalAlert.acknowledged_at.is_(None))
            .options(
                joinedload(ClinicalAlert.patient).joinedload(Patient.usual_site),
                joinedload(ClinicalAlert.treatment_session)
                .joinedload(TreatmentSession.appointment)
                .joinedload(Appointment.chair)
                .joinedload(Chair.site),
            )
            .order_by(ClinicalAlert.raised_at, ClinicalAlert.id)
        )
    )


def open_alert_count() -> int:
    """How many alerts wait for the psychiatrist (the navigation badge)."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(ClinicalAlert)
            .where(ClinicalAlert.acknowledged_at.is_(None))
        )
        or 0
    )


def session_alerts(session_id: int) -> list[ClinicalAlert]:
    """Every alert a session raised, oldest first, with who acknowledged it."""
    return list(
        db.session.scalars(
            select(ClinicalAlert)
            .where(ClinicalAlert.session_id == session_id)
            .options(joinedload(ClinicalAlert.acknowledged_by))
            .order_by(ClinicalAlert.raised_at)
        )
    )
