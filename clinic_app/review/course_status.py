"""A course's response status from its PHQ-9 scores and doses. Pure: no database access."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from clinic_app.clinical.codes import CoursePhase, Modality
from clinic_app.clinical.outcomes import Outcome, baseline_score, course_outcome
from clinic_app.clinical.review import ReviewRules
from clinic_app.clinical.series import SchedulingRules
from clinic_app.models import TreatmentCourse

# A PHQ-9 given outside a session counts for a course from this many days before its start: the
# ORKA-1 baseline is a PHQ-9 within a month before induction (domain.md §4).
BASELINE_LOOKBACK_DAYS = 30


@dataclass(frozen=True)
class CourseStatus:
    outcome: Outcome
    latest_at: datetime | None
    induction_complete: bool
    dosed_sessions: int
    induction_count: int
    scores: tuple[tuple[datetime, int], ...]
    baseline_at: datetime | None = None  # when the baseline PHQ-9 was given

    @property
    def baseline(self) -> int | None:
        return self.outcome.baseline

    @property
    def latest(self) -> int | None:
        return self.outcome.latest

    @property
    def change(self) -> str:
        change = self.outcome.percent_change
        return "—" if change is None else f"{change:+.0f} %"


def induction_count(modality: str, rules: SchedulingRules) -> int:
    if modality == Modality.ESKETAMINE_NASAL:
        return rules.esketamine_induction_count
    return rules.iv_induction_count


def local_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def local_end(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.max, tzinfo=zone)


def course_scores(
    course: TreatmentCourse,
    rows: Iterable[tuple[int | None, datetime, int]],
    zone: ZoneInfo,
) -> list[tuple[datetime, int]]:
    """A course's PHQ-9 totals from (session's course id or None, when, total) rows: those of its
    own sessions, and those given outside a session from a month before its start to its end."""
    start = local_start(course.started_on, zone) - timedelta(days=BASELINE_LOOKBACK_DAYS)
    end = local_end(course.ended_on, zone) if course.ended_on else None
    found = []
    for course_id, at, total in rows:
        if course_id == course.id or (
            course_id is None and at >= start and (end is None or at <= end)
        ):
            found.append((at, total))
    return sorted(found)


def course_status(
    course: TreatmentCourse,
    scores: Sequence[tuple[datetime, int]],
    first_dose_at: datetime | None,
    dosed: int,
    review_rules: ReviewRules,
    scheduling_rules: SchedulingRules,
) -> CourseStatus:
    """Baseline, latest, change and verdict. Induction counts as complete once the course left
    induction or had the protocol's number of doses (8 esketamine, 6 IV by default)."""
    count = induction_count(course.modality, scheduling_rules)
    complete = course.phase != CoursePhase.INDUCTION or dosed >= count
    ordered = sorted(scores)
    baseline = baseline_score(ordered, first_dose_at)
    latest = ordered[-1] if ordered else None
    outcome = course_outcome(
        baseline[1] if baseline else None, latest[1] if latest else None, complete, review_rules
    )
    return CourseStatus(
        outcome,
        latest[0] if latest else None,
        complete,
        dosed,
        count,
        tuple(ordered),
        baseline[0] if baseline else None,
    )
