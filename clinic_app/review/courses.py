"""Courses as the review pages load them: one course with its decisions, and the response
status of several courses at once."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from clinic_app.clinical.review import ReviewRules
from clinic_app.clinical.scores import PHQ9
from clinic_app.clinical.series import SchedulingRules
from clinic_app.extensions import db
from clinic_app.models import Assessment, CourseDecision, TreatmentCourse, TreatmentSession
from clinic_app.review.course_status import CourseStatus, course_scores, course_status
from clinic_app.settings import clinic_timezone


def course_statuses(
    courses: Sequence[TreatmentCourse],
    review_rules: ReviewRules,
    scheduling_rules: SchedulingRules,
) -> dict[int, CourseStatus]:
    """Status of several courses in two statements."""
    if not courses:
        return {}
    patient_ids = sorted({c.patient_id for c in courses})
    course_ids = sorted({c.id for c in courses})
    rows_by_patient: dict[int, list[tuple[int | None, datetime, int]]] = defaultdict(list)
    for patient_id, course_id, at, total in db.session.execute(
        select(
            Assessment.patient_id,
            TreatmentSession.course_id,
            Assessment.administered_at,
            Assessment.total,
        )
        .outerjoin(TreatmentSession, Assessment.session_id == TreatmentSession.id)
        .where(
            Assessment.patient_id.in_(patient_ids),
            Assessment.instrument == PHQ9.code,
            # What course_scores keeps: a course's own sessions, or no session at all.
            or_(TreatmentSession.course_id.in_(course_ids), Assessment.session_id.is_(None)),
        )
    ):
        rows_by_patient[patient_id].append((course_id, at, total))
    doses = {
        course_id: (first, count)
        for course_id, first, count in db.session.execute(
            select(
                TreatmentSession.course_id,
                func.min(TreatmentSession.dose_started_at),
                func.count(),
            )
            .where(
                TreatmentSession.course_id.in_(course_ids),
                TreatmentSession.dose_started_at.is_not(None),
            )
            .group_by(TreatmentSession.course_id)
        )
    }
    zone = clinic_timezone()
    result = {}
    for course in courses:
        first, count = doses.get(course.id, (None, 0))
        scores = course_scores(course, rows_by_patient[course.patient_id], zone)
        result[course.id] = course_status(
            course, scores, first, count, review_rules, scheduling_rules
        )
    return result


def load_course(course_id: int) -> TreatmentCourse | None:
    """A course with its patient, prescriber and decisions (and who made them)."""
    return db.session.scalar(
        select(TreatmentCourse)
        .where(TreatmentCourse.id == course_id)
        .options(
            joinedload(TreatmentCourse.patient),
            joinedload(TreatmentCourse.prescriber),
            selectinload(TreatmentCourse.decisions).joinedload(CourseDecision.decided_by),
        )
    )
