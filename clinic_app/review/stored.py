"""Session summaries (review/summary.py) worked out from plain columns, and stored for signed
sessions: at signing, and for sessions that generators insert signed.

`summaries_of` reads any set of sessions in six statements whatever their number; the timeline
uses it for the sessions that are not signed yet, whose summary may still change."""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from clinic_app import settings
from clinic_app.clinical.codes import SessionStatus
from clinic_app.clinical.review import ReviewRules
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.scores import CADSS6, MOAAS, PHQ9
from clinic_app.clinical.vitals import Vitals, age_on
from clinic_app.extensions import db
from clinic_app.models import (
    AdverseEvent,
    Assessment,
    InfusionPause,
    Override,
    Patient,
    SessionReview,
    TreatmentSession,
    VitalsReading,
)
from clinic_app.review.facts import review_facts
from clinic_app.review.summary import SessionSummary, summarize

# Signed sessions without a stored summary are worked out this many at a time.
BATCH = 2000


def _grouped(query: Any) -> dict[int, list[tuple]]:
    """Rows of (session id, *values) grouped by session id, in the query's order."""
    grouped: dict[int, list[tuple]] = defaultdict(list)
    for session_id, *values in db.session.execute(query):
        grouped[session_id].append(tuple(values))
    return grouped


def readings_by_session(session_ids: Any) -> dict[int, list[Vitals]]:
    """The readings of the sessions `session_ids` names (ids or a subquery) as plain Vitals, in
    charting order, grouped by session, in one statement."""
    return {
        session_id: [Vitals(*values) for values in rows]
        for session_id, rows in _grouped(
            select(
                VitalsReading.session_id,
                VitalsReading.systolic,
                VitalsReading.diastolic,
                VitalsReading.heart_rate,
                VitalsReading.spo2,
                VitalsReading.resp_rate,
                VitalsReading.taken_at,
            )
            .where(VitalsReading.session_id.in_(session_ids))
            .order_by(VitalsReading.taken_at, VitalsReading.id)
        ).items()
    }


def _records(session_ids: Any) -> dict[str, dict[int, list[tuple]]]:
    """Scales, adverse events, overrides and pump pauses of the sessions, by session, in the
    order the session page lists them."""
    return {
        "scales": _grouped(
            select(Assessment.session_id, Assessment.instrument, Assessment.total, Assessment.items)
            .where(
                Assessment.session_id.in_(session_ids),
                Assessment.instrument.in_((PHQ9.code, MOAAS.code, CADSS6.code)),
            )
            .order_by(Assessment.administered_at, Assessment.id)
        ),
        "events": _grouped(
            select(AdverseEvent.session_id, AdverseEvent.kind, AdverseEvent.serious)
            .where(AdverseEvent.session_id.in_(session_ids))
            .order_by(AdverseEvent.onset_at, AdverseEvent.id)
        ),
        "overrides": _grouped(
            select(Override.session_id, Override.rule)
            .where(Override.session_id.in_(session_ids))
            .order_by(Override.decided_at, Override.id)
        ),
        "pauses": _grouped(
            select(InfusionPause.session_id, InfusionPause.paused_at, InfusionPause.resumed_at)
            .where(InfusionPause.session_id.in_(session_ids))
            .order_by(InfusionPause.paused_at)
        ),
    }


# What the review facts need of the session row.
_FACT_COLUMNS = (
    TreatmentSession.id,
    TreatmentSession.status,
    TreatmentSession.modality,
    TreatmentSession.started_at,
    TreatmentSession.dose_started_at,
    TreatmentSession.infusion_ended_at,
    TreatmentSession.discharged_at,
    TreatmentSession.escort_kind,
    TreatmentSession.discharged_with,
    TreatmentSession.escort_relationship,
    TreatmentSession.escort_phone,
    TreatmentSession.planned_minutes,
    TreatmentSession.not_dosed_reason,
    TreatmentSession.not_dosed_note,
)


def summaries_of(
    session_ids: Any,
    clinical_rules: ClinicalRules,
    review_rules: ReviewRules,
    zone: ZoneInfo,
) -> dict[int, SessionSummary]:
    """The summary of each session `session_ids` names (ids or a subquery), in six statements.
    Sessions still being charted get their peaks and lows but no flags."""
    readings = readings_by_session(session_ids)
    records = _records(session_ids)
    scales, events = records["scales"], records["events"]
    summaries = {}
    for row in db.session.execute(
        select(*_FACT_COLUMNS, Patient.date_of_birth)
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .where(TreatmentSession.id.in_(session_ids))
    ):
        own = scales.get(row.id, [])
        facts = review_facts(
            row.modality,
            age_on(row.date_of_birth, row.started_at.astimezone(zone).date()),
            row.dose_started_at,
            row.infusion_ended_at,
            row.discharged_at,
            readings.get(row.id, []),
            [(kind, serious) for kind, serious in events.get(row.id, [])],
            [rule for (rule,) in records["overrides"].get(row.id, [])],
            [items for code, _, items in own if code == PHQ9.code],
            escort=(
                row.escort_kind,
                row.discharged_with,
                row.escort_relationship,
                row.escort_phone,
            ),
            planned_minutes=row.planned_minutes,
            pauses=records["pauses"].get(row.id, []),
            not_dosed_reason=row.not_dosed_reason,
            not_dosed_note=row.not_dosed_note,
        )
        summaries[row.id] = summarize(
            facts,
            readings.get(row.id, []),
            [(code, total) for code, total, _ in own],
            clinical_rules,
            review_rules,
            flagged=row.status != SessionStatus.IN_PROGRESS,
        )
    return summaries


def store_summaries(session_ids: Iterable[int]) -> None:
    """Work out the summaries of signed sessions (none stored yet) under the clinic's rules in
    force, store them and flush."""
    ids = sorted(set(session_ids))
    if not ids:
        return
    summaries = summaries_of(
        ids, settings.clinical_rules(), settings.review_rules(), settings.clinic_timezone()
    )
    db.session.execute(
        insert(SessionReview),
        [{"session_id": i, **summary.columns()} for i, summary in summaries.items()],
    )
    db.session.flush()


def store_missing() -> int:
    """Store the summary of every signed or co-signed session that has none (sessions a
    generator inserted signed); returns how many were stored."""
    stored = 0
    while True:
        ids = list(
            db.session.scalars(
                select(TreatmentSession.id)
                .outerjoin(SessionReview, SessionReview.session_id == TreatmentSession.id)
                .where(
                    TreatmentSession.status.in_(
                        (SessionStatus.SIGNED.value, SessionStatus.COSIGNED.value)
                    ),
                    SessionReview.session_id.is_(None),
                )
                .order_by(TreatmentSession.id)
                .limit(BATCH)
            )
        )
        if not ids:
            return stored
        store_summaries(ids)
        stored += len(ids)
