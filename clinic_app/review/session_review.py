"""One session as the psychiatrist reviews it: the session with everything the page shows, its
flags and its blood-pressure chart."""

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from clinic_app.clinical.codes import SessionStatus
from clinic_app.clinical.review import Flag, ReviewRules, session_flags
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.vitals import hold_line
from clinic_app.extensions import db
from clinic_app.models import (
    TreatmentSession,
)
from clinic_app.review import charts
from clinic_app.review.facts import loaded_session_facts
from clinic_app.review.summary import from_row
from clinic_app.settings import page_timezone
from clinic_app.treatments.queries import chart_options


def load_review_session(session_id: int) -> TreatmentSession | None:
    """A session with everything the review page shows, its stored summary and the
    co-signature hashes."""
    return db.session.scalar(
        select(TreatmentSession)
        .where(TreatmentSession.id == session_id)
        .options(*chart_options(), joinedload(TreatmentSession.review))
    )


def session_date(treatment: TreatmentSession) -> date:
    """The session's date on the page's clock (its site's, see `show_visit_times`)."""
    return treatment.started_at.astimezone(ZoneInfo(page_timezone())).date()


def review_flags(
    treatment: TreatmentSession,
    age: int,
    clinical_rules: ClinicalRules,
    review_rules: ReviewRules,
) -> list[Flag]:
    """The flags stored when the session was signed; a session not signed yet (or signed
    without them) has them worked out from its loaded records. None while being charted."""
    if treatment.review is not None:
        return list(from_row(treatment.review).flags)
    if treatment.status == SessionStatus.IN_PROGRESS:
        return []
    return session_flags(loaded_session_facts(treatment, age), clinical_rules, review_rules)


def bp_chart_for(
    treatment: TreatmentSession,
    age: int,
    rules: ClinicalRules,
    chart_id: str = "bp-chart",
    zone: ZoneInfo | None = None,
) -> charts.Chart:
    """The blood-pressure chart of a session whose vitals are loaded, its times in `zone`
    (default: the page's, a session page being on its site's clock)."""
    readings = sorted(treatment.vitals, key=lambda r: r.taken_at)
    dose_at = treatment.dose_started_at
    before = [r for r in readings if dose_at is None or r.taken_at <= dose_at]
    baseline = (before[-1].systolic, before[-1].diastolic) if before and dose_at else None
    return charts.session_bp_chart(
        chart_id,
        [(r.taken_at, r.systolic, r.diastolic) for r in readings],
        dose_at,
        treatment.infusion_ended_at,
        baseline,
        hold_line(age, rules),
        rules,
        zone or ZoneInfo(page_timezone()),
    )
