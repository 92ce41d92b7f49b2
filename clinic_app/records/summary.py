"""The treatment summary a referral letter or a prior-authorisation renewal attaches: one
patient's courses with their response status, the doses given, PHQ-9 and GAD-7, BP peaks,
adverse events and the current plan, over a date range.

Built from the timeline's loader and builder (review/timeline*.py), so it costs the timeline's
fixed number of statements plus one for the booked visits. Course statuses (baseline, response,
remission) come from the whole history: a range that starts mid-course keeps its baseline, and
the summary says when that baseline was given and that it falls outside the range; the range's
PHQ-9 chart draws that same baseline."""

from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from clinic_app.clinical.codes import CoursePhase
from clinic_app.clinical.review import ReviewRules
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.series import SchedulingRules
from clinic_app.clock import utcnow
from clinic_app.models import Appointment, Patient
from clinic_app.review.course_status import local_end, local_start
from clinic_app.review.timeline import load_history
from clinic_app.review.timeline_build import (
    CourseView,
    Paging,
    Rules,
    SessionLine,
    Timeline,
    build_timeline,
)
from clinic_app.scheduling.queries import upcoming_visits
from clinic_app.scheduling.site_days import session_site

ACTIVE = (CoursePhase.INDUCTION, CoursePhase.MAINTENANCE)


@dataclass(frozen=True)
class DateRange:
    """Clinic-local days, both ends included; None leaves that end open."""

    first: date | None = None
    last: date | None = None

    def holds(self, moment: datetime, zone: ZoneInfo) -> bool:
        after = self.first is None or moment >= local_start(self.first, zone)
        return after and (self.last is None or moment <= local_end(self.last, zone))


@dataclass
class Summary:
    whole: Timeline  # course statuses and decisions over the whole history
    ranged: Timeline  # charts and tables of the range
    period: DateRange
    sessions: list[SessionLine]  # the range's sessions, oldest first, with their records
    upcoming: list[Appointment]
    clinic_zone: str  # for rows without a site

    @property
    def zones(self) -> list[str]:
        """The zones the range's rows are shown in: each session's site's, each scale's."""
        sites = (session_site(line.treatment) for line in self.sessions)
        zones = {site.timezone if site is not None else self.clinic_zone for site in sites}
        zones |= {a.zone or self.clinic_zone for a in [*self.ranged.phq9, *self.ranged.gad7]}
        return sorted(zones) or [self.clinic_zone]

    def baseline_outside(self, view: CourseView) -> str | None:
        """Whether the course's baseline PHQ-9 was given "before" or "after" the period (on the
        clinic's dates, as the period is); None when within it or when there is none."""
        at = view.status.baseline_at
        if at is None:
            return None
        zone = ZoneInfo(self.clinic_zone)
        if self.period.first is not None and at < local_start(self.period.first, zone):
            return "before"
        if self.period.last is not None and at > local_end(self.period.last, zone):
            return "after"
        return None

    @property
    def spans_zones(self) -> bool:
        """True when rows of several zones share the document (each then names its site)."""
        return len(self.zones) > 1

    @property
    def patient(self) -> Patient:
        return self.whole.patient

    @property
    def courses(self) -> list[tuple[CourseView, CourseView]]:
        """Each course that has sessions in the range or is still active: (whole, ranged)."""
        in_range = {line.course_id for line in self.sessions}
        return [
            (whole, ranged)
            for whole, ranged in zip(self.whole.courses, self.ranged.courses, strict=True)
            if whole.course.id in in_range or whole.course.phase in ACTIVE
        ]

    @property
    def plan(self) -> list[CourseView]:
        """The courses under way (the current plan)."""
        return [cv for cv in self.whole.courses if cv.course.phase in ACTIVE]

    @property
    def doses(self) -> list[SessionLine]:
        return [line for line in self.sessions if line.treatment.dose_mg is not None]


def load_summary(
    patient_id: int,
    period: DateRange,
    clinical: ClinicalRules,
    review: ReviewRules,
    scheduling: SchedulingRules,
    zone: ZoneInfo,
) -> Summary | None:
    """The summary of one patient over `period` (None for an unknown patient)."""
    rules = Rules(clinical, review, scheduling, zone, utcnow())
    history = load_history(
        patient_id, rules, lambda rows: [r.id for r in rows if period.holds(r.started_at, zone)]
    )
    if history is None:
        return None
    kept = set(history.treatments)
    ranged = replace(
        history,
        sessions=[s for s in history.sessions if s.id in kept],
        scales=[a for a in history.scales if period.holds(a.administered_at, zone)],
    )
    everything = Paging(1, 1, max(1, len(history.sessions)))
    whole = build_timeline(history, everything, rules)
    # The range's chart compares against each course's baseline, not the range's first score.
    baselines = {view.course.id: view.status.baseline for view in whole.courses}
    ranged_timeline = build_timeline(ranged, everything, rules, baselines)
    return Summary(
        whole=whole,
        ranged=ranged_timeline,
        period=period,
        sessions=list(reversed(ranged_timeline.sessions)),
        upcoming=upcoming_visits(patient_id),
        clinic_zone=zone.key,
    )
