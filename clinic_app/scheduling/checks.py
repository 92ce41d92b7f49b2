"""Checking requested visits against the calendar, for booking, make-up visits and moves alike.

`check_visits` loads what stands on the calendar around the requested visits and hands it to
the pure `clinic_app.clinical.visit_checks.check`, so every path that puts a visit on the
calendar runs the same rules. The database refuses double bookings too (exclusion constraints
on PostgreSQL, triggers on SQLite), so two desks booking the same chair at the same moment
cannot both succeed: the loser's flush raises IntegrityError, which `flush_bookings` turns into
the same Conflict a pre-check would have raised.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from clinic_app.clinical import visit_checks
from clinic_app.clinical.codes import AppointmentStatus, Modality, VisitKind
from clinic_app.clinical.series import SchedulingRules, Slot, find_slot
from clinic_app.clinical.visit_checks import Result as Check
from clinic_app.clock import utcnow
from clinic_app.dates import format_local
from clinic_app.errors import Conflict
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair, Site, TreatmentCourse
from clinic_app.settings import clinic_timezone, scheduling_rules

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
# The week on either side that the esketamine twice-a-week rule and spacing look at.
CONTEXT = timedelta(days=8)

# How many make-up times the front desk is offered for a missed induction visit.
MAKEUP_CHOICES = 3


@dataclass(frozen=True)
class VisitRequest:
    """One visit as the front desk entered it: a clinic-local date and time and a chair."""

    day: date
    start: time
    chair_id: int | None


@dataclass(frozen=True)
class VisitKindInfo:
    """What the requested visits are: dosing or not, esketamine or not, the id of the series
    they continue (None: not in a series, or a new one) and each visit's number in its series
    (None: unnumbered), which the order and site checks name."""

    dosing: bool = True
    esketamine: bool = False
    series_id: str | None = None
    sequences: tuple[int | None, ...] = ()


@dataclass(frozen=True)
class Booked:
    """Visits booked or moved, with the calendar's warnings the front desk should read."""

    visits: list[Appointment]
    warnings: list[str]


def local(moment: datetime, zone: ZoneInfo | None = None) -> datetime:
    """`moment` on the wall clock of `zone` (a site's), by default the clinic's."""
    return moment.astimezone(zone or clinic_timezone())


def aware(moment: datetime) -> datetime:
    """Aggregates come back naive on SQLite; the database stores UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def utc(day: date, at: time, zone: ZoneInfo | None = None) -> datetime:
    """A wall-clock time at `zone` (a site's, by default the clinic's) as UTC."""
    return datetime.combine(day, at, tzinfo=zone or clinic_timezone()).astimezone(UTC)


def site_zone(site: Site | None) -> ZoneInfo:
    """The zone a site's visits are booked and shown in (the clinic's without a site)."""
    return ZoneInfo(site.timezone) if site is not None else clinic_timezone()


class Zones:
    """Each chair's site zone, loaded in one statement: a visit's date and time are entered and
    read on its site's wall clock; a visit without a chair uses `default`."""

    def __init__(
        self, default: ZoneInfo | None = None, rows: Iterable[tuple[int, str]] | None = None
    ) -> None:
        if rows is None:
            rows = db.session.execute(select(Chair.id, Site.timezone).join(Chair.site)).all()
        self.by_chair = {row[0]: ZoneInfo(row[1]) for row in rows}
        self.default = default or clinic_timezone()

    def of(self, chair_id: int | None) -> ZoneInfo:
        return self.by_chair.get(chair_id, self.default) if chair_id else self.default

    def utc(self, request: "VisitRequest") -> datetime:
        return utc(request.day, request.start, self.of(request.chair_id))

    def local(self, appointment: Appointment) -> datetime:
        return appointment.starts_at.astimezone(self.of(appointment.chair_id))


def minutes_of(appointment: Appointment) -> int:
    return int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)


def block_minutes(course: TreatmentCourse | None, rules: SchedulingRules) -> int:
    """Chair time for one visit of `course`: the protocol block, IV adjusted to its minutes."""
    if course is None:
        return 60
    modality = Modality(course.modality)
    minutes = rules.block_minutes(modality)
    if modality == Modality.IV_KETAMINE and course.iv_minutes:
        minutes += course.iv_minutes - rules.iv_default_minutes
    return minutes


def chair_ids(site_id: int | None = None) -> list[int]:
    """The active chairs, of one site when `site_id` is given."""
    query = select(Chair.id).where(Chair.active).order_by(Chair.id)
    if site_id is not None:
        query = query.where(Chair.site_id == site_id)
    return list(db.session.scalars(query))


def _standing(patient_id: int, spans, chairs: set[int], series: str | None, excluded: set[int]):
    """Visits that stand near the requested ones: the patient's own, those of the wanted
    chairs, and every visit of the series, each with its course's modality."""
    window_start = min(s for s, _ in spans) - CONTEXT
    window_end = max(e for _, e in spans) + CONTEXT
    near = (Appointment.starts_at < window_end) & (Appointment.ends_at > window_start)
    whose = or_(Appointment.patient_id == patient_id, Appointment.chair_id.in_(chairs))
    wanted = near & whose
    if series is not None:
        wanted = or_(wanted, Appointment.series_id == series)
    query = (
        select(Appointment, TreatmentCourse.modality)
        .outerjoin(TreatmentCourse, TreatmentCourse.id == Appointment.course_id)
        .where(Appointment.status.not_in(FREEING), wanted)
    )
    if excluded:
        query = query.where(Appointment.id.not_in(excluded))
    return db.session.execute(query).all()


def check_visits(
    patient_id: int,
    requests: Sequence[VisitRequest],
    durations: Sequence[int],
    *,
    exclude_ids: Iterable[int] = (),
    kind: VisitKindInfo = VisitKindInfo(),
    zone: ZoneInfo | None = None,
) -> Check:
    """Every reason the calendar refuses these visits, and the warnings (see `visit_checks`).
    `exclude_ids` are the visits being moved. Each visit's date and time are on its chair's site
    clock (`zone`, by default the clinic's, for a visit without a chair), and the rules read
    each visit's day and clinic hours on that clock."""
    rules = scheduling_rules()
    rows = db.session.execute(
        select(
            Chair.id,
            Chair.name,
            Chair.active,
            Chair.site_id,
            Site.timezone,
            Site.name.label("site"),
        ).join(Chair.site)
    ).all()
    chairs = {r.id: r.name for r in rows if r.active}
    sites = {r.id: r.site_id for r in rows}
    zones = Zones(zone, [(r.id, r.timezone) for r in rows])
    sequences = kind.sequences or (None,) * len(requests)
    wanted = [
        visit_checks.Visit(
            zones.utc(req),
            zones.utc(req) + timedelta(minutes=minutes),
            req.chair_id,
            dosing=kind.dosing,
            esketamine=kind.esketamine,
            series=kind.series_id,
            sequence=number,
            tz=zones.of(req.chair_id),
        )
        for req, minutes, number in zip(requests, durations, sequences, strict=True)
    ]
    if not wanted:
        return Check()
    booked = _booked(patient_id, wanted, requests, kind.series_id, set(exclude_ids), zones)
    tz = zones.of(requests[0].chair_id)
    calendar = visit_checks.Calendar(
        rules, tz, utcnow(), chairs, booked, chair_sites={r.id: r.site for r in rows}
    )
    result = visit_checks.check(calendar, wanted)
    for index, (code, message) in list(result.problems.items()):
        if code in MOVABLE_IN_DAY:
            chair_id = requests[index].chair_id
            where = (sites.get(chair_id) if chair_id else None, zones.of(chair_id))
            hint = _suggestion(patient_id, requests[index], durations[index], chairs, rules, where)
            result.problems[index] = (code, f"{message}{hint}")
    return result


def _booked(
    patient_id: int,
    wanted: list[visit_checks.Visit],
    requests: Sequence[VisitRequest],
    series: str | None,
    excluded: set[int],
    zones: Zones,
) -> list[visit_checks.Visit]:
    """The standing visits near the wanted ones, as the pure checks see them."""
    standing = _standing(
        patient_id,
        [(v.start, v.end) for v in wanted],
        {r.chair_id for r in requests if r.chair_id is not None},
        series,
        excluded,
    )
    return [
        visit_checks.Visit(
            a.starts_at,
            a.ends_at,
            a.chair_id,
            dosing=a.visit_kind in DOSING_KINDS,
            esketamine=modality == Modality.ESKETAMINE_NASAL,
            own=a.patient_id == patient_id,
            series=a.series_id,
            sequence=a.sequence_no,
            tz=zones.of(a.chair_id),
        )
        for a, modality in standing
    ]


# Problems a free chair or another time that day solves.
MOVABLE_IN_DAY = ("chair", "patient", "hours")


def _suggestion(
    patient_id: int,
    req: VisitRequest,
    minutes: int,
    chairs: dict[int, str],
    rules: SchedulingRules,
    where: tuple[int | None, ZoneInfo],
) -> str:
    """The nearest free chair and time that day at the visit's site, so the front desk has an
    alternative to offer next to a chair, patient or hours problem ("" when none is free)."""
    site_id, zone = where
    slot = free_slot(patient_id, req.day, req.start, minutes, rules, site_id, zone)
    if slot is None:
        return ""
    name = chairs.get(slot.chair_id, "a chair")
    return f" Nearest free: {name} at {format_local(slot.start.astimezone(zone), 'time')}."


def kind_of(appointment: Appointment) -> VisitKindInfo:
    """The check's view of an existing visit (for its make-up or a move)."""
    course = appointment.course
    return VisitKindInfo(
        dosing=appointment.visit_kind in DOSING_KINDS,
        esketamine=course is not None and course.modality == Modality.ESKETAMINE_NASAL,
        series_id=appointment.series_id,
    )


def refuse(check: Check, what: str) -> None:
    """Raise a Conflict listing every refused visit, when there is one."""
    if not check.ok:
        count = len(check.problems)
        raise Conflict(
            f"{what}: {count} visit{'s' if count != 1 else ''} cannot be booked as entered. "
            "Nothing was saved.",
            check.problems,
        )


def flush_bookings() -> None:
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


# --- what stands on the calendar -----------------------------------------------------------------


def busy_between(
    patient_id: int, first: date, last: date, zone: ZoneInfo | None = None
) -> tuple[list[tuple[int, datetime, datetime]], list[tuple[datetime, datetime]]]:
    """Chair bookings and the patient's own bookings between two days on `zone`'s clock."""
    start = utc(first, time.min, zone)
    end = utc(last + timedelta(days=1), time.min, zone)
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


def dose_days(patient_id: int, first: date, last: date, zone: ZoneInfo | None = None) -> set[date]:
    """Days (on `zone`'s clock) from `first` to `last` on which the patient has a dosing visit
    that stands."""
    starts = db.session.scalars(
        select(Appointment.starts_at).where(
            Appointment.patient_id == patient_id,
            Appointment.visit_kind.in_(DOSING_KINDS),
            Appointment.status.not_in(FREEING),
            Appointment.starts_at >= utc(first, time.min, zone),
            Appointment.starts_at < utc(last + timedelta(days=1), time.min, zone),
        )
    )
    return {local(start, zone).date() for start in starts}


def free_slot(
    patient_id: int,
    day: date,
    near: time,
    minutes: int,
    rules: SchedulingRules,
    site_id: int | None = None,
    zone: ZoneInfo | None = None,
):
    """The free chair slot on `day` nearest `near` for the patient, among the chairs of
    `site_id` (every active chair without one) on `zone`'s clock, or None."""
    zone = zone or clinic_timezone()
    busy, own = busy_between(patient_id, day, day, zone)
    return find_slot(day, near, minutes, chair_ids(site_id), busy, own, zone, rules)


def free_slots(
    patient_id: int,
    day: date,
    near: time,
    minutes: int,
    rules: SchedulingRules,
    site: Site | None = None,
    count: int = MAKEUP_CHOICES,
) -> tuple[Slot, ...]:
    """Up to `count` different free starts on `day` for the patient at `site` (its chairs and
    clock): the one nearest `near` first, then the nearest to the opening, midday and closing,
    in time order."""
    zone = site_zone(site)
    busy, own = busy_between(patient_id, day, day, zone)
    chairs = chair_ids(site.id if site is not None else None)
    opening, closing = rules.opening_time, rules.closing_time
    midday = time((opening.hour + closing.hour) // 2, 0)
    found: dict[datetime, Slot] = {}
    for wanted in (near, opening, midday, closing):
        slot = find_slot(day, wanted, minutes, chairs, busy, own, zone, rules)
        if slot is not None and slot.start not in found:
            found[slot.start] = slot
    slots = list(found.values())
    return tuple(slots[:1] + sorted(slots[1:], key=lambda slot: slot.start))[:count]
