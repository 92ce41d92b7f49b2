"""The co-signature queue: nurse-signed sessions in queue order, a page at a time.

The order is `clinical.review.queue_key` worked out in SQL from the summaries stored at signing
(review/stored.py): unacknowledged same-day alerts first, then the most severe flag, then the
longest waiting. Only the page's sessions are loaded, whatever the length of the queue."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import contains_eager, joinedload

from clinic_app.clinical.codes import SessionStatus
from clinic_app.clinical.review import Flag, ReviewRules, Severity
from clinic_app.clinical.series import SchedulingRules
from clinic_app.extensions import db
from clinic_app.models import (
    Appointment,
    Chair,
    ClinicalAlert,
    Patient,
    SessionReview,
    TreatmentSession,
)
from clinic_app.review.course_status import CourseStatus
from clinic_app.review.courses import course_statuses
from clinic_app.review.summary import from_row

QUEUE_PAGE_SIZE = 50

# Every signed session gets its summary stored as it is signed; this stands in should one lack
# it (a row inserted signed by other means), so the session is not shown as unflagged.
NOT_STORED = Flag(
    "not_stored",
    Severity.URGENT,
    "No review flags were stored when this session was signed: open it to see them.",
)


@dataclass
class QueueRow:
    treatment: TreatmentSession
    flags: list[Flag]
    pinned: bool
    open_alerts: int
    status: CourseStatus


@dataclass
class QueuePage:
    """One page of the co-signature queue, and how many sessions wait in all."""

    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    per_page: int


def _alerts(*where: Any) -> Any:
    return select(ClinicalAlert.id).where(ClinicalAlert.session_id == TreatmentSession.id, *where)


def _pinned() -> Any:
    """0 while a same-day flag's alert is not acknowledged (a session none of whose alerts is
    open, having raised some, counts as acknowledged), else 1: queue_key's first part."""
    waiting = or_(~_alerts().exists(), _alerts(ClinicalAlert.acknowledged_at.is_(None)).exists())
    return case((and_(SessionReview.same_day, waiting), 0), else_=1)


def _open_alert_count() -> Any:
    return (
        select(func.count())
        .select_from(ClinicalAlert)
        .where(ClinicalAlert.session_id == TreatmentSession.id)
        .where(ClinicalAlert.acknowledged_at.is_(None))
        .correlate(TreatmentSession)
        .scalar_subquery()
    )


def _flags(review: SessionReview | None) -> list[Flag]:
    if review is None:
        return [NOT_STORED]
    return list(from_row(review).flags)


def at_sites(site_ids: tuple[int, ...]) -> Any:
    """Sessions at these sites: their visit's chair's site; a session without a chair (a walk-in,
    a consult room) by its patient's usual site, or everywhere without one, as the Today board
    shows it. Correlated to each session, so only the waiting sessions are looked up: an `IN`
    over every visit at the sites made the queue twice as slow."""
    chair_site = (
        select(Chair.site_id)
        .join(Appointment, Appointment.chair_id == Chair.id)
        .where(Appointment.id == TreatmentSession.appointment_id)
        .correlate(TreatmentSession)
        .scalar_subquery()
    )
    usual_site = (
        select(Patient.usual_site_id)
        .where(Patient.id == TreatmentSession.patient_id)
        .correlate(TreatmentSession)
        .scalar_subquery()
    )
    return or_(
        chair_site.in_(site_ids),
        and_(chair_site.is_(None), or_(usual_site.in_(site_ids), usual_site.is_(None))),
    )


def review_queue(
    review_rules: ReviewRules,
    scheduling_rules: SchedulingRules,
    site_ids: tuple[int, ...],
    page: int = 1,
    per_page: int | None = None,
) -> QueuePage:
    """Nurse-signed sessions at these sites awaiting co-signature, in queue order, with their
    course status and site: four statements."""
    signed = and_(TreatmentSession.status == SessionStatus.SIGNED.value, at_sites(site_ids))
    total = db.session.scalar(select(func.count()).select_from(TreatmentSession).where(signed)) or 0
    per_page = per_page or QUEUE_PAGE_SIZE
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    pinned = _pinned().label("pinned")
    rows = db.session.execute(
        select(TreatmentSession, pinned, _open_alert_count())
        .outerjoin(TreatmentSession.review)
        .where(signed)
        .options(
            contains_eager(TreatmentSession.review),
            joinedload(TreatmentSession.patient),
            joinedload(TreatmentSession.course),
            joinedload(TreatmentSession.signed_by),
            joinedload(TreatmentSession.appointment)
            .joinedload(Appointment.chair)
            .joinedload(Chair.site),
        )
        .order_by(
            pinned,
            func.coalesce(SessionReview.flag_rank, NOT_STORED.severity.rank),
            TreatmentSession.signed_at,
            TreatmentSession.id,
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    statuses = course_statuses(
        list({t.course_id: t.course for t, _, _ in rows}.values()),
        review_rules,
        scheduling_rules,
    )
    return QueuePage(
        [
            QueueRow(t, _flags(t.review), pin == 0, raised, statuses[t.course_id])
            for t, pin, raised in rows
        ],
        total,
        page,
        pages,
        per_page,
    )
