"""The front desk's calendar work: propose and book a series, move, cancel, no-show, make-up
visits and driver calls.

Each function takes the acting user, checks the role, applies the rules of
`clinic_app.clinical.series` (which decides), audits and flushes; the view commits once. The
database refuses double bookings too (exclusion constraints on PostgreSQL, triggers on SQLite),
so two desks booking the same chair at the same moment cannot both succeed: the loser's flush
raises IntegrityError, which becomes the same Conflict a pre-check would have raised.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from clinic_app import audit
from clinic_app.auth.permissions import require_role
from clinic_app.clinical.codes import (
    AlertKind,
    AppointmentStatus,
    DriverStatus,
    Indication,
    Modality,
    Role,
    VisitKind,
)
from clinic_app.clinical.review import missed_in_a_row
from clinic_app.clinical.series import (
    SchedulingError,
    SchedulingRules,
    Severity,
    induction_plan,
    is_late_cancellation,
    maintenance_plan,
    propose_series,
    spacing_findings,
)
from clinic_app.clock import utcnow
from clinic_app.dates import format_local
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.models import (
    Appointment,
    Chair,
    ClinicalAlert,
    Patient,
    TreatmentCourse,
    User,
)
from clinic_app.settings import clinic_timezone, clinic_today, review_rules, scheduling_rules

# Statuses that free the chair and the patient (the database constraints ignore them too).
FREEING = (AppointmentStatus.CANCELLED.value, AppointmentStatus.NO_SHOW.value)
# Statuses the front desk may still move, cancel or mark as a no-show.
CHANGEABLE = (AppointmentStatus.SCHEDULED.value, AppointmentStatus.CONFIRMED.value)
# Statuses that mean the patient came.
ATTENDED = (
    AppointmentStatus.CHECKED_IN.value,
    AppointmentStatus.IN_TREATMENT.value,
    AppointmentStatus.COMPLETED.value,
)
DOSING_KINDS = (VisitKind.INDUCTION.value, VisitKind.MAINTENANCE.value)

# Reasons the front desk picks from; "other" needs words. Stored as the label (plus the words).
CANCEL_REASONS = {
    "ate": "Ate within the fasting window",
    "no_driver": "No driver",
    "unwell": "Patient unwell",
    "patient_request": "Patient request or schedule conflict",
    "clinic": "Clinic cancelled (staff, chair or closure)",
    "other": "Other",
}
NO_SHOW_REASONS = {
    "no_contact": "Did not arrive, no contact",
    "ate": "Ate within the fasting window",
    "no_driver": "No driver",
    "unwell": "Patient unwell",
    "other": "Other",
}
DRIVER_STATUS_LABELS = {
    DriverStatus.UNCONFIRMED.value: "Not confirmed",
    DriverStatus.CONFIRMED.value: "Confirmed",
    DriverStatus.UNREACHABLE.value: "Could not reach",
    DriverStatus.NO_DRIVER.value: "No driver",
}
SCOPES = ("this", "following")


class Conflict(RuleViolation):
    """A booking or move the calendar refuses.

    `problems` maps a visit's position in the request to (code, message); codes are past,
    closed, hours, chair, patient, same_day, database.
    """

    def __init__(
        self,
        message: str,
        problems: dict[int, tuple[str, str]] | None = None,
        field: str | None = None,
    ):
        super().__init__(message, field)
        self.problems = problems or {}


@dataclass(frozen=True)
class VisitRequest:
    """One visit as the front desk entered it: a clinic-local date and time and a chair."""

    day: date
    start: time
    chair_id: int | None


@dataclass
class Check:
    """What the calendar says about requested visits: blocking problems and warnings."""

    problems: dict[int, tuple[str, str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ProposalRow:
    """One visit of a proposal as the booking form is filled in."""

    sequence: int
    target: date
    day: date
    start: time
    chair_id: int | None
    conflict: str = ""
    alternative: bool = False


@dataclass
class Proposal:
    kind: VisitKind
    course: TreatmentCourse
    rows: list[ProposalRow]
    duration_minutes: int
    warnings: list[str]
    interval_days: int | None = None


# --- labels and small helpers ----------------------------------------------------------------


def day_label(day: date) -> str:
    """ "Tue 3 Mar": the clinic's short date."""
    return format_local(day, "short_date")


def _hhmm(moment: datetime | time) -> str:
    return format_local(moment, "time")


def reason_text(code: str, other: str, reasons: dict[str, str]) -> str:
    """The stored wording of a reason: its label, or "Other: <words>"."""
    if code not in reasons:
        raise RuleViolation("Choose a reason from the list.", "reason")
    if code == "other":
        words = (other or "").strip()
        if not words:
            raise RuleViolation("Say what the other reason is.", "other")
        return f"Other: {words}"[:200]
    return reasons[code]


def block_minutes(course: TreatmentCourse | None, rules: SchedulingRules) -> int:
    """Chair time for one visit of `course`: the protocol block, IV adjusted to its minutes."""
    if course is None:
        return 60
    modality = Modality(course.modality)
    minutes = rules.block_minutes(modality)
    if modality == Modality.IV_KETAMINE and course.iv_minutes:
        minutes += course.iv_minutes - rules.iv_default_minutes
    return minutes


def maintenance_interval(course: TreatmentCourse, rules: SchedulingRules) -> int:
    """The prescribed interval, else the modality default: IV every 28 days; esketamine weekly
    (the label's weeks 5-8; less often only when the psychiatrist prescribes it)."""
    if course.maintenance_interval_days:
        return course.maintenance_interval_days
    if course.modality == Modality.IV_KETAMINE:
        return rules.iv_maintenance_interval_days
    return rules.esketamine_maintenance_min_days


def induction_count(course: TreatmentCourse, rules: SchedulingRules) -> int:
    if course.modality == Modality.IV_KETAMINE:
        return rules.iv_induction_count
    return rules.esketamine_induction_count


def _local(moment: datetime) -> datetime:
    return moment.astimezone(clinic_timezone())


def _utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=clinic_timezone()).astimezone(UTC)


def _require_course(patient: Patient, course: TreatmentCourse) -> None:
    if course.patient_id != patient.id or not course.is_active:
        raise RuleViolation("Choose one of the patient's active courses.", "course_id")


def _require_changeable(appointment: Appointment) -> None:
    if appointment.status not in CHANGEABLE:
        raise RuleViolation(
            f"This visit is {appointment.status.replace('_', ' ')}; it can no longer be changed."
        )


def _flush_bookings() -> None:
    """Flush new or moved visits; a double booking the database refuses becomes a Conflict."""
    try:
        db.session.flush()
    except IntegrityError as error:
        text = str(error.orig)
        if "chair_not_double_booked" in text:
            message = (
                "Someone else booked this chair at that time a moment ago. Nothing was saved; "
                "choose another time or chair."
            )
        elif "patient_not_double_booked" in text:
            message = (
                "The patient was booked at that time a moment ago. Nothing was saved; "
                "choose another time."
            )
        else:
            raise
        raise Conflict(message, {0: ("database", message)}) from None


# --- checking requested visits against the calendar --------------------------------------------


def check_visits(
    patient_id: int,
    requests: Sequence[VisitRequest],
    durations: Sequence[int],
    *,
    exclude_ids: Iterable[int] = (),
    dosing: bool = True,
) -> Check:
    """Every reason the calendar refuses these visits, and spacing warnings.

    Refused: a time in the past, a closed day, a visit not ending within clinic hours, a chair
    taken (by another booking or by another requested visit), the patient booked at an
    overlapping time, and (dosing visits) two doses on one clinic day. Warned: doses under the
    clinic's spacing hours apart (`spacing_findings`). `exclude_ids` are the visits being moved.
    """
    rules = scheduling_rules()
    tz = clinic_timezone()
    now = utcnow()
    chairs = {c.id: c for c in db.session.scalars(select(Chair))}
    check = Check()
    spans: list[tuple[datetime, datetime]] = []
    for index, (req, minutes) in enumerate(zip(requests, durations, strict=True)):
        start = _utc(req.day, req.start)
        end = start + timedelta(minutes=minutes)
        spans.append((start, end))
        label = day_label(req.day)
        opening = datetime.combine(req.day, rules.opening_time, tzinfo=tz)
        closing = datetime.combine(req.day, rules.closing_time, tzinfo=tz)
        latest = (closing.astimezone(UTC) - timedelta(minutes=minutes)).astimezone(tz)
        chair = chairs.get(req.chair_id) if req.chair_id is not None else None
        if start <= now:
            check.problems[index] = ("past", f"{label} {_hhmm(req.start)} has already passed.")
        elif not rules.is_open(req.day):
            why = " (holiday)" if req.day in rules.closed_dates else ""
            check.problems[index] = ("closed", f"The clinic is closed on {label}{why}.")
        elif start < opening.astimezone(UTC) or end > closing.astimezone(UTC):
            check.problems[index] = (
                "hours",
                f"Outside clinic hours ({_hhmm(rules.opening_time)}–"
                f"{_hhmm(rules.closing_time)}): a {minutes}-minute visit must start between "
                f"{_hhmm(rules.opening_time)} and {_hhmm(latest)}.",
            )
        elif req.chair_id is not None and (chair is None or not chair.active):
            check.problems[index] = ("chair", "Choose one of the clinic's chairs.")
    if not spans:
        return check
    excluded = set(exclude_ids)
    margin = timedelta(hours=rules.warn_spacing_hours)
    window_start = min(s for s, _ in spans) - margin
    window_end = max(e for _, e in spans) + margin
    wanted = {r.chair_id for r in requests if r.chair_id is not None}
    query = select(Appointment).where(
        Appointment.status.not_in(FREEING),
        Appointment.starts_at < window_end,
        Appointment.ends_at > window_start,
        or_(Appointment.patient_id == patient_id, Appointment.chair_id.in_(wanted)),
    )
    if excluded:
        query = query.where(Appointment.id.not_in(excluded))
    existing = list(db.session.scalars(query))
    own = [a for a in existing if a.patient_id == patient_id]
    own_doses = [a for a in own if a.visit_kind in DOSING_KINDS]

    local_days = [req.day for req in requests]
    for index, (req, (start, end)) in enumerate(zip(requests, spans, strict=True)):
        if index in check.problems:
            continue
        label = day_label(req.day)
        busy = next((a for a in own if a.starts_at < end and start < a.ends_at), None)
        same_day = next((a for a in own_doses if _local(a.starts_at).date() == req.day), None)
        twin = next((j for j in range(index) if local_days[j] == req.day), None)
        taken = earlier = None
        if req.chair_id is not None:
            taken = next(
                (
                    a
                    for a in existing
                    if a.chair_id == req.chair_id and a.starts_at < end and start < a.ends_at
                ),
                None,
            )
            earlier = next(
                (
                    j
                    for j in range(index)
                    if requests[j].chair_id == req.chair_id
                    and spans[j][0] < end
                    and start < spans[j][1]
                ),
                None,
            )
        chair_name = chairs[req.chair_id].name if req.chair_id in chairs else "The chair"
        if dosing and same_day is not None:
            check.problems[index] = (
                "same_day",
                f"The patient already has a visit on {label}; never two doses in one day.",
            )
        elif busy is not None:
            check.problems[index] = (
                "patient",
                f"The patient already has a visit {_hhmm(_local(busy.starts_at))}–"
                f"{_hhmm(_local(busy.ends_at))} on {label}.",
            )
        elif twin is not None:
            check.problems[index] = (
                "same_day",
                f"Visit {twin + 1} is also on {label}; never two doses in one day."
                if dosing
                else f"Visit {twin + 1} is also on {label}.",
            )
        elif taken is not None:
            check.problems[index] = (
                "chair",
                f"{chair_name} is booked {_hhmm(_local(taken.starts_at))}–"
                f"{_hhmm(_local(taken.ends_at))} on {label}.",
            )
        elif earlier is not None:
            check.problems[index] = (
                "chair",
                f"{chair_name} is already held for visit {earlier + 1} at that time.",
            )
    if dosing:
        _spacing(check, requests, spans, own_doses, tz, rules)
    return check


def _spacing(
    check: Check,
    requests: Sequence[VisitRequest],
    spans: Sequence[tuple[datetime, datetime]],
    own_doses: Sequence[Appointment],
    tz,
    rules: SchedulingRules,
) -> None:
    """Doses closer than the minimum gap (errors) and under the warning hours (warnings), for
    pairs that involve a requested visit. Same-day pairs are already refused above."""
    requested: dict[datetime, int] = {}
    for index, (start, _) in enumerate(spans):
        requested.setdefault(start, index)
    times = [start for start, _ in spans] + [a.starts_at for a in own_doses]
    for finding in spacing_findings(times, rules, tz):
        first, second = (moment.astimezone(UTC) for moment in finding.times)
        involved = [requested[t] for t in (second, first) if t in requested]
        if not involved:
            continue
        if finding.severity == Severity.ERROR:
            index = involved[0]
            if finding.code != "same_day" and index not in check.problems:
                check.problems[index] = ("same_day", finding.message + ".")
        else:
            check.warnings.append(finding.message)


def _refuse(check: Check, what: str) -> None:
    if not check.ok:
        count = len(check.problems)
        raise Conflict(
            f"{what}: {count} visit{'s' if count != 1 else ''} cannot be booked as entered. "
            "Nothing was saved.",
            check.problems,
        )


# --- proposing a series --------------------------------------------------------------------------


def chair_ids() -> list[int]:
    return list(db.session.scalars(select(Chair.id).where(Chair.active).order_by(Chair.id)))


def busy_between(
    patient_id: int, first: date, last: date
) -> tuple[list[tuple[int, datetime, datetime]], list[tuple[datetime, datetime]]]:
    """Chair bookings and the patient's own bookings between two clinic days."""
    start = _utc(first, time.min)
    end = _utc(last + timedelta(days=1), time.min)
    rows = db.session.execute(
        select(
            Appointment.chair_id, Appointment.patient_id, Appointment.starts_at, Appointment.ends_at
        ).where(
            Appointment.status.not_in(FREEING),
            Appointment.starts_at < end,
            Appointment.ends_at > start,
        )
    ).all()
    chairs = [(r.chair_id, r.starts_at, r.ends_at) for r in rows if r.chair_id is not None]
    own = [(r.starts_at, r.ends_at) for r in rows if r.patient_id == patient_id]
    return chairs, own


def dose_days(patient_id: int, first: date, last: date) -> set[date]:
    """Clinic days from `first` to `last` on which the patient has a dosing visit that stands."""
    starts = db.session.scalars(
        select(Appointment.starts_at).where(
            Appointment.patient_id == patient_id,
            Appointment.visit_kind.in_(DOSING_KINDS),
            Appointment.status.not_in(FREEING),
            Appointment.starts_at >= _utc(first, time.min),
            Appointment.starts_at < _utc(last + timedelta(days=1), time.min),
        )
    )
    return {_local(start).date() for start in starts}


def course_history(course: TreatmentCourse) -> tuple[date | None, int, int]:
    """(last attended visit's clinic date, induction visits attended, maintenance attended)."""
    rows = db.session.execute(
        select(Appointment.starts_at, Appointment.visit_kind).where(
            Appointment.course_id == course.id, Appointment.status.in_(ATTENDED)
        )
    ).all()
    last = max((_local(r.starts_at).date() for r in rows), default=None)
    induction = sum(r.visit_kind == VisitKind.INDUCTION for r in rows)
    maintenance = sum(r.visit_kind == VisitKind.MAINTENANCE for r in rows)
    return last, induction, maintenance


def induction_progress(course: TreatmentCourse) -> tuple[int, date | None, Appointment | None]:
    """Induction visits of the course attended or still booked, the clinic date of the latest,
    and the latest such visit that belongs to a series (new visits continue that series)."""
    rows = list(
        db.session.scalars(
            select(Appointment)
            .where(
                Appointment.course_id == course.id,
                Appointment.visit_kind == VisitKind.INDUCTION.value,
                Appointment.status.not_in(FREEING),
            )
            .order_by(Appointment.starts_at)
        )
    )
    last = _local(rows[-1].starts_at).date() if rows else None
    in_series = [r for r in rows if r.series_id]
    return len(rows), last, in_series[-1] if in_series else None


def continued_series(course: TreatmentCourse, kind: VisitKind) -> tuple[str | None, int]:
    """(series id, last visit number) that new induction visits continue; (None, 0) when they
    start a series of their own (always so for maintenance)."""
    if kind != VisitKind.INDUCTION:
        return None, 0
    _, _, latest = induction_progress(course)
    if latest is None:
        return None, 0
    last = db.session.scalar(
        select(func.max(Appointment.sequence_no)).where(
            Appointment.series_id == latest.series_id, Appointment.status.not_in(FREEING)
        )
    )
    return latest.series_id, last or 0


def default_kind(course: TreatmentCourse, rules: SchedulingRules) -> VisitKind:
    """Maintenance once the course is in maintenance or its induction visits are all done."""
    if course.phase == "maintenance":
        return VisitKind.MAINTENANCE
    held, _, _ = induction_progress(course)
    if held >= induction_count(course, rules):
        return VisitKind.MAINTENANCE
    return VisitKind.INDUCTION


def default_first_date(course: TreatmentCourse, kind: VisitKind, rules: SchedulingRules) -> date:
    """Tomorrow for an induction; the due date (not before tomorrow) for maintenance."""
    tomorrow = clinic_today() + timedelta(days=1)
    if kind != VisitKind.MAINTENANCE:
        return tomorrow
    last, _, maintenance = course_history(course)
    if last is None:
        return tomorrow
    step = first_maintenance_step(course, maintenance, rules)
    return max(tomorrow, last + timedelta(days=step))


def _weekly_first(course: TreatmentCourse, maintenance_done: int, rules: SchedulingRules) -> int:
    """Esketamine weeks 5-8 are weekly: how many of those weekly doses remain."""
    if course.modality != Modality.ESKETAMINE_NASAL:
        return 0
    return max(0, rules.esketamine_weekly_maintenance_doses - maintenance_done)


def first_maintenance_step(
    course: TreatmentCourse, maintenance_done: int, rules: SchedulingRules
) -> int:
    if _weekly_first(course, maintenance_done, rules) > 0:
        return 7
    return maintenance_interval(course, rules)


def _maintenance_dates(
    course: TreatmentCourse, first_date: date, count: int, rules: SchedulingRules
) -> list[date]:
    """`count` maintenance dates, the first on or after `first_date`, at the course's interval."""
    _, _, done = course_history(course)
    modality = Modality(course.modality)
    interval = maintenance_interval(course, rules)
    weekly = _weekly_first(course, done, rules)
    base = first_date - timedelta(days=first_maintenance_step(course, done, rules))
    for _ in range(7):
        dates = maintenance_plan(modality, base, interval, count, rules, weekly_first=weekly)
        if dates and dates[0] >= first_date:
            return dates
        base += timedelta(days=1)
    raise SchedulingError("No open day near the requested first visit.")


def propose(
    actor: User,
    patient: Patient,
    course: TreatmentCourse,
    kind: str,
    first_date: date,
    preferred_time: time,
    weekdays: Sequence[int],
    count: int | None,
) -> Proposal:
    """Every visit of an induction series (by protocol) or of `count` maintenance visits, each
    in a free chair near the preferred time; conflicted visits carry an alternative."""
    require_role(actor, Role.FRONT_DESK)
    _require_course(patient, course)
    rules = scheduling_rules()
    tz = clinic_timezone()
    visit_kind = VisitKind(kind)
    modality = Modality(course.modality)
    if first_date <= clinic_today():
        raise RuleViolation("Plan from tomorrow on.", "first_date")
    try:
        if visit_kind == VisitKind.INDUCTION:
            held, last_held, _ = induction_progress(course)
            remaining = induction_count(course, rules) - held
            if remaining <= 0:
                raise RuleViolation(
                    "The induction visits of this course are all attended or booked; plan "
                    "maintenance visits instead.",
                    "visit_kind",
                )
            if last_held is not None:
                first_date = max(first_date, last_held + timedelta(days=1))
            dates = induction_plan(
                modality, Indication(course.indication), first_date, weekdays, rules
            )[:remaining]
        elif visit_kind == VisitKind.MAINTENANCE:
            if not count:
                raise RuleViolation("How many maintenance visits?", "count")
            dates = _maintenance_dates(course, first_date, count, rules)
        else:
            raise RuleViolation("Plan induction or maintenance visits.", "visit_kind")
    except SchedulingError as error:
        raise RuleViolation(str(error), "first_date") from None
    duration = block_minutes(course, rules)
    chairs = chair_ids()
    if not chairs:
        raise RuleViolation("The clinic has no active chairs to book.")
    window = (
        dates[0] - timedelta(days=1),
        dates[-1] + timedelta(days=rules.alternative_window_days + 1),
    )
    busy, own = busy_between(patient.id, *window)
    proposed = propose_series(
        dates,
        preferred_time,
        modality,
        chairs,
        busy,
        own,
        tz,
        rules,
        duration_minutes=duration,
        dose_days=dose_days(patient.id, *window),
    )
    rows = []
    for visit in proposed:
        if visit.ok:
            assert visit.start is not None
            rows.append(
                ProposalRow(
                    visit.sequence,
                    visit.target_date,
                    visit.start.date(),
                    visit.start.time(),
                    visit.chair_id,
                )
            )
        elif visit.alternative is not None:
            slot = visit.alternative
            rows.append(
                ProposalRow(
                    visit.sequence,
                    visit.target_date,
                    slot.start.date(),
                    slot.start.time(),
                    slot.chair_id,
                    visit.conflict.message if visit.conflict else "",
                    True,
                )
            )
        else:
            rows.append(
                ProposalRow(
                    visit.sequence,
                    visit.target_date,
                    visit.target_date,
                    preferred_time,
                    None,
                    visit.conflict.message if visit.conflict else "",
                )
            )
    check = check_visits(
        patient.id,
        [VisitRequest(r.day, r.start, r.chair_id) for r in rows],
        [duration] * len(rows),
    )
    return Proposal(
        visit_kind,
        course,
        rows,
        duration,
        check.warnings,
        maintenance_interval(course, rules) if visit_kind == VisitKind.MAINTENANCE else None,
    )


# --- booking ---------------------------------------------------------------------------------


def book_series(
    actor: User,
    patient: Patient,
    course: TreatmentCourse,
    kind: str,
    requests: Sequence[VisitRequest],
    driver_name: str = "",
    driver_phone: str = "",
) -> list[Appointment]:
    """Book every visit in one go under a new series id, or nothing. Raises Conflict with the
    problem of each refused visit."""
    require_role(actor, Role.FRONT_DESK)
    _require_course(patient, course)
    visit_kind = VisitKind(kind)
    if visit_kind not in (VisitKind.INDUCTION, VisitKind.MAINTENANCE):
        raise RuleViolation("Book induction or maintenance visits.")
    if not requests:
        raise RuleViolation("There are no visits to book.")
    if any(r.chair_id is None for r in requests):
        raise Conflict(
            "Choose a chair for every visit.",
            {i: ("chair", "Choose a chair.") for i, r in enumerate(requests) if r.chair_id is None},
        )
    rules = scheduling_rules()
    minutes = block_minutes(course, rules)
    _refuse(check_visits(patient.id, requests, [minutes] * len(requests)), "Not booked")
    series_id, offset = continued_series(course, visit_kind)
    series_id = series_id or str(uuid.uuid4())
    ordered = sorted(requests, key=lambda r: (r.day, r.start))
    appointments = []
    for sequence, req in enumerate(ordered, start=offset + 1):
        start = _utc(req.day, req.start)
        appointments.append(
            Appointment(
                patient_id=patient.id,
                course_id=course.id,
                chair_id=req.chair_id,
                series_id=series_id,
                sequence_no=sequence,
                starts_at=start,
                ends_at=start + timedelta(minutes=minutes),
                visit_kind=visit_kind.value,
                status=AppointmentStatus.SCHEDULED.value,
                driver_name=(driver_name or patient.driver_name or "").strip(),
                driver_phone=(driver_phone or patient.driver_phone or "").strip(),
                driver_status=DriverStatus.UNCONFIRMED.value,
            )
        )
    db.session.add_all(appointments)
    _flush_bookings()
    audit.record(
        actor,
        "schedule.book",
        appointments[0],
        patient_id=patient.id,
        series_id=series_id,
        visits=len(appointments),
        kind=visit_kind.value,
    )
    return appointments


# --- moving ----------------------------------------------------------------------------------


def following(appointment: Appointment) -> list[Appointment]:
    """The later visits of the same series that can still change, in time order."""
    if not appointment.series_id:
        return []
    return list(
        db.session.scalars(
            select(Appointment)
            .where(
                Appointment.series_id == appointment.series_id,
                Appointment.id != appointment.id,
                Appointment.starts_at > appointment.starts_at,
                Appointment.status.in_(CHANGEABLE),
            )
            .order_by(Appointment.starts_at)
        )
    )


def move(
    actor: User,
    appointment: Appointment,
    day: date,
    start: time,
    chair_id: int | None,
    scope: str = "this",
) -> list[Appointment]:
    """Move a visit (and with scope "following" the later visits of its series by the same
    number of days and minutes). A later visit whose chair is taken at its new time gets
    another free chair. Everything moves or nothing; the driver must be confirmed again."""
    require_role(actor, Role.FRONT_DESK)
    _require_changeable(appointment)
    if scope not in SCOPES:
        raise RuleViolation("Choose which visits to move.", "scope")
    old = _local(appointment.starts_at)
    targets = [appointment] + (following(appointment) if scope == "following" else [])
    new_chair = chair_id if chair_id is not None else appointment.chair_id
    if (day, start, new_chair) == (old.date(), old.time().replace(second=0), appointment.chair_id):
        raise RuleViolation("Choose a new date, time or chair.", "day")
    shift = datetime.combine(day, start) - datetime.combine(old.date(), old.time())
    requests = [VisitRequest(day, start, new_chair)]
    for later in targets[1:]:
        moved = datetime.combine(_local(later.starts_at).date(), _local(later.starts_at).time())
        moved += shift
        requests.append(VisitRequest(moved.date(), moved.time(), later.chair_id))
    durations = [int((t.ends_at - t.starts_at).total_seconds() // 60) for t in targets]
    dosing = appointment.visit_kind in DOSING_KINDS
    exclude = [t.id for t in targets]
    check = check_visits(
        appointment.patient_id, requests, durations, exclude_ids=exclude, dosing=dosing
    )
    if any(code == "chair" and i > 0 for i, (code, _) in check.problems.items()):
        requests = _other_chairs(appointment.patient_id, requests, durations, check, exclude)
        check = check_visits(
            appointment.patient_id, requests, durations, exclude_ids=exclude, dosing=dosing
        )
    if not check.ok:
        messages = [
            message
            if i == 0
            else f"Visit on {day_label(_local(targets[i].starts_at).date())}: {message}"
            for i, (_, message) in sorted(check.problems.items())
        ]
        raise Conflict("Not moved. " + " ".join(messages), check.problems)
    # Apply in an order that never overlaps a visit's own old slot (the database checks each
    # row as it is written): latest first when moving later, earliest first when earlier.
    pairs = list(zip(targets, requests, durations, strict=True))
    if shift > timedelta(0):
        pairs.reverse()
    for target, req, minutes in pairs:
        starts = _utc(req.day, req.start)
        if starts != target.starts_at:
            target.driver_status = DriverStatus.UNCONFIRMED.value
            target.driver_confirmed_at = None
            target.driver_confirmed_by_id = None
            target.status = AppointmentStatus.SCHEDULED.value
        target.starts_at = starts
        target.ends_at = starts + timedelta(minutes=minutes)
        target.chair_id = req.chair_id
        _flush_bookings()
    audit.record(
        actor,
        "schedule.move",
        appointment,
        patient_id=appointment.patient_id,
        scope=scope,
        visits=len(targets),
    )
    return targets


def _other_chairs(
    patient_id: int,
    requests: list[VisitRequest],
    durations: list[int],
    check: Check,
    exclude: list[int],
) -> list[VisitRequest]:
    """For later visits whose chair is taken, the first other chair free at the same time."""
    fixed = list(requests)
    for index, (code, _) in check.problems.items():
        if code != "chair" or index == 0:
            continue
        for chair in chair_ids():
            if chair == requests[index].chair_id:
                continue
            trial = (
                fixed[:index]
                + [VisitRequest(requests[index].day, requests[index].start, chair)]
                + fixed[index + 1 :]
            )
            probe = check_visits(patient_id, trial, durations, exclude_ids=exclude)
            if index not in probe.problems:
                fixed = trial
                break
    return fixed


# --- cancelling and no-shows ----------------------------------------------------------------


def cancel(
    actor: User, appointment: Appointment, reason: str, other: str = "", scope: str = "this"
) -> list[Appointment]:
    """Cancel a visit (or it and the later visits of its series) with a reason. Less than
    `late_cancel_hours` before the start counts as a late cancellation."""
    require_role(actor, Role.FRONT_DESK)
    _require_changeable(appointment)
    if scope not in SCOPES:
        raise RuleViolation("Choose which visits to cancel.", "scope")
    text = reason_text(reason, other, CANCEL_REASONS)
    rules = scheduling_rules()
    now = utcnow()
    targets = [appointment] + (following(appointment) if scope == "following" else [])
    for target in targets:
        target.status = AppointmentStatus.CANCELLED.value
        target.cancel_reason = text
        target.cancelled_at = now
        target.cancelled_by_id = actor.id
        target.late_cancellation = is_late_cancellation(target.starts_at, now, rules)
    db.session.flush()
    audit.record(
        actor,
        "schedule.cancel",
        appointment,
        patient_id=appointment.patient_id,
        reason=reason,
        scope=scope,
        visits=len(targets),
        late=sum(t.late_cancellation for t in targets),
    )
    _missed_induction_alert(actor, targets)
    return targets


def mark_no_show(
    actor: User, appointment: Appointment, reason: str, other: str = ""
) -> Appointment:
    """The patient did not come: a no-show with a reason, once the start time has passed."""
    require_role(actor, Role.FRONT_DESK)
    _require_changeable(appointment)
    text = reason_text(reason, other, NO_SHOW_REASONS)
    now = utcnow()
    if appointment.starts_at > now:
        raise RuleViolation(
            "A visit becomes a no-show only once its start time has passed; cancel it instead."
        )
    appointment.status = AppointmentStatus.NO_SHOW.value
    appointment.cancel_reason = text
    appointment.cancelled_at = now
    appointment.cancelled_by_id = actor.id
    db.session.flush()
    audit.record(
        actor, "schedule.no_show", appointment, patient_id=appointment.patient_id, reason=reason
    )
    _missed_induction_alert(actor, [appointment])
    return appointment


def _missed_induction_alert(actor: User, changed: Sequence[Appointment]) -> ClinicalAlert | None:
    """Raise the psychiatrist's alert when these misses make the run of missed induction
    visits reach the clinic's line (default 2 in a row). One alert per run."""
    induction = [a for a in changed if a.visit_kind == VisitKind.INDUCTION and a.course_id]
    if not induction:
        return None
    changed_ids = {a.id for a in induction}
    latest = max(a.starts_at for a in induction)
    rows = list(
        db.session.scalars(
            select(Appointment)
            .where(
                Appointment.course_id == induction[0].course_id,
                Appointment.visit_kind == VisitKind.INDUCTION.value,
                Appointment.starts_at <= latest,
            )
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )
    line = review_rules().missed_induction_alert_count
    statuses: list[str] = []
    for row in rows:
        statuses.append(row.status)
        run = missed_in_a_row(statuses)
        if row.id not in changed_ids or run != line:
            continue
        known = db.session.scalar(
            select(ClinicalAlert.id).where(
                ClinicalAlert.appointment_id == row.id,
                ClinicalAlert.kind == AlertKind.MISSED_INDUCTION.value,
            )
        )
        if known is not None:
            return None
        alert = ClinicalAlert(
            kind=AlertKind.MISSED_INDUCTION.value,
            patient_id=row.patient_id,
            appointment_id=row.id,
            raised_at=utcnow(),
            detail={"missed": run},
        )
        db.session.add(alert)
        db.session.flush()
        audit.record(
            actor, "alert.raise", alert, patient_id=row.patient_id, kind=alert.kind, missed=run
        )
        return alert
    return None


# --- make-up visits --------------------------------------------------------------------------


def makeup_eligible(appointment: Appointment) -> bool:
    """A missed induction visit of an active course that has no replacement booked yet."""
    if (
        appointment.status not in FREEING
        or appointment.visit_kind != VisitKind.INDUCTION
        or appointment.series_id is None
        or appointment.course is None
        or not appointment.course.is_active
    ):
        return False
    replacement = db.session.scalar(
        select(Appointment.id).where(
            Appointment.series_id == appointment.series_id,
            Appointment.sequence_no == appointment.sequence_no,
            Appointment.id != appointment.id,
            Appointment.status.not_in(FREEING),
        )
    )
    return replacement is None


def book_makeup(
    actor: User, missed: Appointment, day: date, start: time, chair_id: int
) -> Appointment:
    """Book the make-up visit for a missed induction visit: same series and visit number."""
    require_role(actor, Role.FRONT_DESK)
    if not makeup_eligible(missed):
        raise RuleViolation("This visit has no make-up to book (already rebooked or not missed).")
    minutes = int((missed.ends_at - missed.starts_at).total_seconds() // 60)
    request = VisitRequest(day, start, chair_id)
    _refuse(check_visits(missed.patient_id, [request], [minutes]), "Make-up not booked")
    starts = _utc(day, start)
    makeup = Appointment(
        patient_id=missed.patient_id,
        course_id=missed.course_id,
        chair_id=chair_id,
        series_id=missed.series_id,
        sequence_no=missed.sequence_no,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=minutes),
        visit_kind=missed.visit_kind,
        status=AppointmentStatus.SCHEDULED.value,
        driver_name=missed.driver_name,
        driver_phone=missed.driver_phone,
        driver_status=DriverStatus.UNCONFIRMED.value,
    )
    db.session.add(makeup)
    _flush_bookings()
    audit.record(actor, "schedule.makeup", makeup, patient_id=missed.patient_id, replaces=missed.id)
    return makeup


# --- drivers ---------------------------------------------------------------------------------


def set_driver_status(
    actor: User,
    appointment: Appointment,
    status: str,
    driver_name: str | None = None,
    driver_phone: str | None = None,
) -> Appointment:
    """Record the front desk's driver call: confirmed (the visit is then confirmed too), could
    not reach, or no driver. A name and phone given replace the booked ones."""
    require_role(actor, Role.FRONT_DESK)
    if appointment.status not in CHANGEABLE + (AppointmentStatus.CHECKED_IN.value,):
        raise RuleViolation("This visit is over or cancelled; its driver no longer changes.")
    try:
        value = DriverStatus(status)
    except ValueError:
        raise RuleViolation("Choose what the call found.", "driver_status") from None
    if value == DriverStatus.UNCONFIRMED:
        raise RuleViolation("Choose what the call found.", "driver_status")
    if driver_name and driver_name.strip():
        appointment.driver_name = driver_name.strip()
    if driver_phone and driver_phone.strip():
        appointment.driver_phone = driver_phone.strip()
    if value == DriverStatus.CONFIRMED:
        if not appointment.driver_name.strip():
            raise RuleViolation("Name the driver before confirming.", "driver_name")
        appointment.driver_confirmed_at = utcnow()
        appointment.driver_confirmed_by_id = actor.id
        if appointment.status == AppointmentStatus.SCHEDULED:
            appointment.status = AppointmentStatus.CONFIRMED.value
    else:
        appointment.driver_confirmed_at = None
        appointment.driver_confirmed_by_id = None
        if appointment.status == AppointmentStatus.CONFIRMED:
            appointment.status = AppointmentStatus.SCHEDULED.value
    appointment.driver_status = value.value
    db.session.flush()
    audit.record(
        actor,
        "schedule.driver",
        appointment,
        patient_id=appointment.patient_id,
        driver_status=value.value,
    )
    return appointment


# --- reads that are audited ------------------------------------------------------------------

VIEWERS = (Role.FRONT_DESK, Role.NURSE, Role.PSYCHIATRIST)


def record_view(actor: User, action: str, entity, patient_id: int) -> None:
    """Audit a schedule read of one patient (schedule page, handout, .ics download)."""
    require_role(actor, *VIEWERS)
    audit.record(actor, action, entity, patient_id=patient_id)
