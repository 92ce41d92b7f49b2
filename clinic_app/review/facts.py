"""A session's facts as the review rules take them (`SessionReviewFacts`), from plain values or
from a session whose records are loaded. No database access here."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from clinic_app.clinical.codes import Modality
from clinic_app.clinical.dosing import Pause, paused_minutes
from clinic_app.clinical.review import SessionReviewFacts
from clinic_app.clinical.scores import PHQ9
from clinic_app.clinical.vitals import Vitals, reading_time
from clinic_app.models import TreatmentSession


def review_facts(
    modality: str,
    age: int,
    dose_started_at: datetime | None,
    infusion_ended_at: datetime | None,
    discharged_at: datetime | None,
    readings: Sequence[Vitals],
    adverse_events: Sequence[tuple[str, bool]],
    overrides: Sequence[str],
    phq9_items: Sequence[Sequence[int]],
    *,
    escort: tuple[str, str, str, str] = ("", "", "", ""),
    planned_minutes: int | None = None,
    pauses: Sequence[Pause] = (),
    not_dosed_reason: str = "",
    not_dosed_note: str = "",
) -> SessionReviewFacts:
    """Facts for the review rules: the pre-dose reading is the last one at or before the dose.
    Of several PHQ-9s in one session, the one with the highest item 9 answer speaks. `escort`
    is (kind, name, relationship, phone); `pauses` are the IV pump's (paused at, resumed at)
    pairs."""
    ordered = sorted(readings, key=reading_time)
    if dose_started_at is None:
        before, after = ordered, []
    else:
        before = [r for r in ordered if reading_time(r) <= dose_started_at]
        after = [r for r in ordered if reading_time(r) > dose_started_at]
    items = max(phq9_items, key=lambda i: i[8] if len(i) == 9 else -1, default=None)
    return SessionReviewFacts(
        modality=Modality(modality),
        age_years=age,
        dose_started_at=dose_started_at,
        infusion_ended_at=infusion_ended_at,
        discharged_at=discharged_at,
        baseline=before[-1] if before else None,
        readings_after_dose=after,
        adverse_events=list(adverse_events),
        overrides=list(overrides),
        phq9_items=list(items) if items is not None else None,
        other_escort=escort[1:] if escort[0] == "other_adult" else None,
        planned_minutes=planned_minutes,
        paused_minutes=(
            paused_minutes(dose_started_at, infusion_ended_at, pauses)
            if dose_started_at is not None and infusion_ended_at is not None
            else 0.0
        ),
        not_dosed_reason=not_dosed_reason or "",
        not_dosed_note=not_dosed_note or "",
    )


def loaded_session_facts(treatment: TreatmentSession, age: int) -> SessionReviewFacts:
    """Facts of a session whose vitals, adverse events, overrides, assessments and infusion
    pauses are loaded."""
    return review_facts(
        treatment.modality,
        age,
        treatment.dose_started_at,
        treatment.infusion_ended_at,
        treatment.discharged_at,
        [r.as_vitals() for r in treatment.vitals],
        [(e.kind, e.serious) for e in treatment.adverse_events],
        [o.rule for o in treatment.overrides],
        [a.items for a in treatment.assessments if a.instrument == PHQ9.code],
        **loaded_extras(treatment),
    )


def loaded_extras(treatment: TreatmentSession) -> dict[str, Any]:
    """review_facts' keyword facts from a session whose pauses are loaded."""
    return {
        "escort": (
            treatment.escort_kind,
            treatment.discharged_with,
            treatment.escort_relationship,
            treatment.escort_phone,
        ),
        "planned_minutes": treatment.planned_minutes,
        "pauses": [(p.paused_at, p.resumed_at) for p in treatment.infusion_pauses],
        "not_dosed_reason": treatment.not_dosed_reason,
        "not_dosed_note": treatment.not_dosed_note,
    }
