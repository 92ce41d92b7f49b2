"""Planning and booking: propose a series from a course, book it, book a make-up visit.

Each function takes the acting user, checks the role, applies the rules of
`clinic_app.clinical.series` (which plans) and `checks.check_visits` (which refuses or warns),
audits and flushes; the view commits once.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlalchemy import func, select

from clinic_app import audit
from clinic_app.auth.permissions import require_role
from clinic_app.clinical.codes import (
    AppointmentStatus,
    DriverStatus,
    Indication,
    Modality,
    Role,
    VisitKind,
)
from clinic_app.clinical.series import (
    ProposedVisit,
    SchedulingError,
    SchedulingRules,
    induction_plan,
    maintenance_plan,
    propose_series,
)
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.models import Appointment, Patient, Site, TreatmentCourse, User
from clinic_app.scheduling.checks import (
    ATTENDED,
    DOSING_KINDS,
    FREEING,
    Booked,
    Conflict,
    VisitKindInfo,
    VisitRequest,
    Zones,
    aware,
    block_minutes,
    busy_between,
    chair_ids,
    check_visits,
    dose_days,
    flush_bookings,
    kind_of,
    local,
    minutes_of,
    refuse,
    site_zone,
)
from clinic_app.settings import clinic_today, scheduling_rules


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
    site: Site
    interval_days: int | None = None


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


def _require_course(patient: Patient, course: TreatmentCourse) -> None:
    if course.patient_id != patient.id or not course.is_active:
        raise RuleViolation("Choose one of the patient's active courses.", "course_id")


def course_history(course: TreatmentCourse) -> tuple[date | None, int, int]:
    """(last attended visit's clinic date, induction visits attended, maintenance attended)."""
    rows = db.session.execute(
        select(Appointment.starts_at, Appointment.visit_kind).where(
            Appointment.course_id == course.id, Appointment.status.in_(ATTENDED)
        )
    ).all()
    last = max((local(r.starts_at).date() for r in rows), default=None)
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
    last = local(rows[-1].starts_at).date() if rows else None
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


def last_standing_dose(course: TreatmentCourse) -> date | None:
    """The clinic date of the course's latest dosing visit attended or still booked."""
    latest = db.session.scalar(
        select(func.max(Appointment.starts_at)).where(
            Appointment.course_id == course.id,
            Appointment.visit_kind.in_(DOSING_KINDS),
            Appointment.status.not_in(FREEING),
        )
    )
    return local(aware(latest)).date() if latest is not None else None


def default_first_date(course: TreatmentCourse, kind: VisitKind, rules: SchedulingRules) -> date:
    """Tomorrow for an induction; for maintenance the due date after the last visit attended or
    booked (so a new phase never runs into the visits of the one before), not before tomorrow."""
    tomorrow = clinic_today() + timedelta(days=1)
    if kind != VisitKind.MAINTENANCE:
        return tomorrow
    last = last_standing_dose(course)
    if last is None:
        return tomorrow
    _, _, maintenance = course_history(course)
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


def _first_preferred(first_date: date, weekdays: Sequence[int], rules: SchedulingRules) -> date:
    """The first open day on or after `first_date` on a preferred weekday (any, without)."""
    for offset in range(7):
        day = first_date + timedelta(days=offset)
        if (not weekdays or day.weekday() in weekdays) and rules.is_open(day):
            return day
    return first_date


def _maintenance_dates(
    course: TreatmentCourse,
    first_date: date,
    count: int,
    weekdays: Sequence[int],
    rules: SchedulingRules,
) -> list[date]:
    """`count` maintenance dates at the course's interval, the first on or after `first_date`
    (and on a preferred weekday when there are any) and after the last visit attended or
    booked."""
    _, _, done = course_history(course)
    step = first_maintenance_step(course, done, rules)
    last = last_standing_dose(course)
    if last is not None:
        first_date = max(first_date, last + timedelta(days=step))
    first_date = _first_preferred(first_date, weekdays, rules)
    modality = Modality(course.modality)
    interval = maintenance_interval(course, rules)
    weekly = _weekly_first(course, done, rules)
    base = first_date - timedelta(days=step)
    for _ in range(7):
        dates = maintenance_plan(modality, base, interval, count, rules, weekly_first=weekly)
        if dates and dates[0] >= first_date:
            return dates
        base += timedelta(days=1)
    raise SchedulingError("No open day near the requested first visit.")


def _week_of(day: date) -> tuple[int, int]:
    return day.isocalendar()[:2]


def _induction_dates(
    course: TreatmentCourse, first_date: date, weekdays: Sequence[int], rules: SchedulingRules
) -> list[date]:
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
        if _week_of(first_date) == _week_of(last_held):
            # The plan fills a week from empty; continuing, that week already holds a dose.
            first_date += timedelta(days=7 - first_date.weekday())
    modality = Modality(course.modality)
    plan = induction_plan(modality, Indication(course.indication), first_date, weekdays, rules)
    return plan[:remaining]


def _plan_dates(
    course: TreatmentCourse,
    visit_kind: VisitKind,
    first_date: date,
    weekdays: Sequence[int],
    count: int | None,
    rules: SchedulingRules,
) -> list[date]:
    try:
        if visit_kind == VisitKind.INDUCTION:
            return _induction_dates(course, first_date, weekdays, rules)
        if visit_kind == VisitKind.MAINTENANCE:
            if not count:
                raise RuleViolation("How many maintenance visits?", "count")
            return _maintenance_dates(course, first_date, count, weekdays, rules)
    except SchedulingError as error:
        raise RuleViolation(str(error), "first_date") from None
    raise RuleViolation("Plan induction or maintenance visits.", "visit_kind")


def _row(visit: ProposedVisit, preferred_time: time) -> ProposalRow:
    """A proposed visit as the booking form shows it: its slot, its alternative, or its target
    date with no chair."""
    note = visit.conflict.message if visit.conflict else ""
    if visit.ok and visit.start is not None:
        start = visit.start
        return ProposalRow(
            visit.sequence, visit.target_date, start.date(), start.time(), visit.chair_id
        )
    if visit.alternative is not None:
        slot = visit.alternative
        return ProposalRow(
            visit.sequence,
            visit.target_date,
            slot.start.date(),
            slot.start.time(),
            slot.chair_id,
            note,
            True,
        )
    return ProposalRow(
        visit.sequence, visit.target_date, visit.target_date, preferred_time, None, note
    )


def rems_warning(patient: Patient, course: TreatmentCourse) -> str:
    """The esketamine REMS needs the patient enrolled before the first dose (label): say so at
    booking rather than at the chair."""
    if course.modality != Modality.ESKETAMINE_NASAL or patient.rems_enrolled:
        return ""
    return (
        f"{patient.full_name} is not enrolled in the esketamine REMS: enrol the patient before "
        "the first visit, or the nurse cannot dose."
    )


def default_site(patient: Patient) -> Site | None:
    """Where a patient's series is booked unless the front desk picks another: the usual site,
    else the first active site by name."""
    if patient.usual_site is not None and patient.usual_site.active:
        return patient.usual_site
    return db.session.scalar(select(Site).where(Site.active).order_by(Site.name).limit(1))


def propose(
    actor: User,
    patient: Patient,
    course: TreatmentCourse,
    kind: str,
    first_date: date,
    preferred_time: time,
    weekdays: Sequence[int],
    count: int | None,
    site: Site | None = None,
) -> Proposal:
    """Every visit of an induction series (by protocol) or of `count` maintenance visits, each
    in a free chair of `site` near the preferred time on the site's clock; conflicted visits
    carry an alternative. The proposal then runs the booking check, so it shows what booking
    would refuse."""
    require_role(actor, Role.FRONT_DESK)
    _require_course(patient, course)
    site = site or default_site(patient)
    if site is None:
        raise RuleViolation("The clinic has no active site to book at.", "site_id")
    if not site.active:
        raise RuleViolation(f"{site.name} is no longer active: pick another site.", "site_id")
    rules = scheduling_rules()
    visit_kind = VisitKind(kind)
    if first_date <= clinic_today():
        raise RuleViolation("Plan from tomorrow on.", "first_date")
    dates = _plan_dates(course, visit_kind, first_date, weekdays, count, rules)
    duration = block_minutes(course, rules)
    chairs = chair_ids(site.id)
    if not chairs:
        raise RuleViolation(f"{site.name} has no active chairs to book.", "site_id")
    zone = site_zone(site)
    window = (
        dates[0] - timedelta(days=1),
        dates[-1] + timedelta(days=rules.alternative_window_days + 1),
    )
    busy, own = busy_between(patient.id, *window, zone)
    proposed = propose_series(
        dates,
        preferred_time,
        Modality(course.modality),
        chairs,
        busy,
        own,
        zone,
        rules,
        duration_minutes=duration,
        dose_days=dose_days(patient.id, *window, zone),
    )
    rows = [_row(visit, preferred_time) for visit in proposed]
    check = check_series(patient, course, visit_kind, rows, duration)
    for index, (_, message) in check.problems.items():
        if not rows[index].conflict:
            rows[index].conflict = message
    warnings = [w for w in (rems_warning(patient, course),) if w] + check.warnings
    interval = maintenance_interval(course, rules) if visit_kind == VisitKind.MAINTENANCE else None
    return Proposal(visit_kind, course, rows, duration, warnings, site, interval)


def check_series(
    patient: Patient,
    course: TreatmentCourse,
    visit_kind: VisitKind,
    requests: Sequence[VisitRequest | ProposalRow],
    minutes: int,
):
    """The booking check for a series as entered (in the order entered), numbered as booking
    would number it."""
    series_id, offset = continued_series(course, visit_kind)
    order = sorted(range(len(requests)), key=lambda i: (requests[i].day, requests[i].start))
    numbers = [0] * len(requests)
    for number, index in enumerate(order, start=offset + 1):
        numbers[index] = number
    kind = VisitKindInfo(
        dosing=True,
        esketamine=course.modality == Modality.ESKETAMINE_NASAL,
        series_id=series_id,
        sequences=tuple(numbers),
    )
    return check_visits(
        patient.id,
        [VisitRequest(r.day, r.start, r.chair_id) for r in requests],
        [minutes] * len(requests),
        kind=kind,
    )


# --- booking ---------------------------------------------------------------------------------


def _new_visit(
    patient: Patient,
    course: TreatmentCourse,
    kind: VisitKind,
    req: VisitRequest,
    minutes: int,
    driver: tuple[str, str],
    series_id: str,
    number: int,
    zones: Zones,
) -> Appointment:
    start = zones.utc(req)
    return Appointment(
        patient_id=patient.id,
        course_id=course.id,
        chair_id=req.chair_id,
        series_id=series_id,
        sequence_no=number,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        visit_kind=kind.value,
        status=AppointmentStatus.SCHEDULED.value,
        driver_name=driver[0],
        driver_phone=driver[1],
        driver_status=DriverStatus.UNCONFIRMED.value,
    )


def book_series(
    actor: User,
    patient: Patient,
    course: TreatmentCourse,
    kind: str,
    requests: Sequence[VisitRequest],
    driver_name: str = "",
    driver_phone: str = "",
) -> Booked:
    """Book every visit in one go under a new series id, or nothing. Raises Conflict with the
    problem of each refused visit; warns about spacing and a missing REMS enrolment."""
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
    check = check_series(patient, course, visit_kind, requests, minutes)
    refuse(check, "Not booked")
    series_id, offset = continued_series(course, visit_kind)
    series_id = series_id or str(uuid.uuid4())
    zones = Zones()
    ordered = sorted(requests, key=zones.utc)
    driver = (
        (driver_name or patient.driver_name or "").strip(),
        (driver_phone or patient.driver_phone or "").strip(),
    )
    appointments = [
        _new_visit(patient, course, visit_kind, req, minutes, driver, series_id, number, zones)
        for number, req in enumerate(ordered, start=offset + 1)
    ]
    db.session.add_all(appointments)
    flush_bookings()
    audit.record(
        actor,
        "schedule.book",
        appointments[0],
        patient_id=patient.id,
        series_id=series_id,
        visits=len(appointments),
        kind=visit_kind.value,
    )
    warnings = [w for w in (rems_warning(patient, course),) if w] + check.warnings
    return Booked(appointments, warnings)


def book_consult(
    actor: User, patient: Patient, request: VisitRequest, minutes: int, driver_name: str = ""
) -> Booked:
    """A consult or intake visit: no course needed (a new patient is seen before the
    psychiatrist prescribes one), no dose, the same calendar check as any booking."""
    require_role(actor, Role.FRONT_DESK)
    zones = Zones(site_zone(patient.usual_site))
    check = check_visits(
        patient.id, [request], [minutes], kind=VisitKindInfo(dosing=False), zone=zones.default
    )
    refuse(check, "Not booked")
    starts = zones.utc(request)
    visit = Appointment(
        patient_id=patient.id,
        course_id=None,
        chair_id=request.chair_id,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=minutes),
        visit_kind=VisitKind.CONSULT.value,
        status=AppointmentStatus.SCHEDULED.value,
        driver_name=(driver_name or patient.driver_name or "").strip(),
        driver_phone=(patient.driver_phone or "").strip(),
        driver_status=DriverStatus.UNCONFIRMED.value,
    )
    db.session.add(visit)
    flush_bookings()
    audit.record(
        actor, "schedule.book", visit, patient_id=patient.id, visits=1, kind=visit.visit_kind
    )
    return Booked([visit], check.warnings)


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


def book_makeup(actor: User, missed: Appointment, day: date, start: time, chair_id: int) -> Booked:
    """Book the make-up visit for a missed induction visit: same series and visit number."""
    require_role(actor, Role.FRONT_DESK)
    if not makeup_eligible(missed):
        raise RuleViolation("This visit has no make-up to book (already rebooked or not missed).")
    minutes = minutes_of(missed)
    request = VisitRequest(day, start, chair_id)
    check = check_visits(missed.patient_id, [request], [minutes], kind=kind_of(missed))
    refuse(check, "Make-up not booked")
    starts = Zones().utc(request)
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
    flush_bookings()
    audit.record(actor, "schedule.makeup", makeup, patient_id=missed.patient_id, replaces=missed.id)
    return Booked([makeup], check.warnings)
