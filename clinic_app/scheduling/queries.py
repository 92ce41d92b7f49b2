"""Loading what the schedule pages show, each page in a fixed number of statements.

The calendar shows names, times, chairs, visit kinds, statuses and drivers: never doses, vitals
or notes (the front desk's view; README, "Where each role starts"). The listing pages show the
sites of a `SiteScope`; each visit's times are on its site's clock (its chair's site).
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager, joinedload

from clinic_app.clinical.attendance import DRIVER_LABELS
from clinic_app.clinical.codes import (
    AppointmentStatus,
    CoursePhase,
    DriverStatus,
    Modality,
    VisitKind,
)
from clinic_app.clinical.series import (
    MaintenanceStatus,
    SchedulingError,
    SchedulingRules,
    Slot,
    day_label,
    maintenance_due,
    offer_after_missed,
)
from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import (
    Appointment,
    Chair,
    Patient,
    Site,
    TreatmentCourse,
    TreatmentSession,
)
from clinic_app.scheduling import booking, site_days
from clinic_app.scheduling.checks import (
    ATTENDED,
    CHANGEABLE,
    FREEING,
    aware,
    free_slots,
    site_zone,
)
from clinic_app.scheduling.checks import block_minutes as booking_minutes
from clinic_app.settings import clinic_timezone, clinic_today, day_bounds_utc, scheduling_rules
from clinic_app.site_scope import SiteScope

MODALITY_SHORT = {Modality.ESKETAMINE_NASAL: "Esketamine", Modality.IV_KETAMINE: "IV"}
STATUS_LABELS = {
    "scheduled": "Scheduled",
    "confirmed": "Confirmed",
    "checked_in": "Checked in",
    "in_treatment": "In treatment",
    "completed": "Completed",
    "not_dosed": "Not dosed",
    "cancelled": "Cancelled",
    "no_show": "No-show",
}


@dataclass
class Card:
    """One visit as the calendar shows it."""

    appointment: Appointment
    start: datetime  # on its site's clock
    end: datetime
    total: int | None = None  # visits in its series

    @property
    def id(self) -> int:
        return self.appointment.id

    # Dates and times of day on the visit's own site clock, which the page filters show as
    # they are: a page spanning sites shows each visit at its site's time.
    @property
    def day(self) -> date:
        return self.start.date()

    @property
    def start_time(self) -> time:
        return self.start.time()

    @property
    def end_time(self) -> time:
        return self.end.time()

    @property
    def site(self) -> Site | None:
        return self.appointment.site

    @property
    def patient(self) -> Patient:
        return self.appointment.patient

    @property
    def kind(self) -> str:
        """ "Induction 3/8", "Maintenance 2/4" or "Consult"."""
        a = self.appointment
        label = a.visit_kind.capitalize()
        if a.sequence_no and self.total:
            return f"{label} {a.sequence_no}/{self.total}"
        return label

    @property
    def modality(self) -> str:
        course = self.appointment.course
        return MODALITY_SHORT.get(course.modality, "") if course else ""

    @property
    def status(self) -> str:
        return self.appointment.status

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.appointment.status, self.appointment.status)

    @property
    def driver(self) -> str:
        return self.appointment.driver_status

    @property
    def driver_label(self) -> str:
        return DRIVER_LABELS.get(DriverStatus(self.appointment.driver_status), "")

    @property
    def freed(self) -> bool:
        return self.appointment.status in FREEING

    @property
    def chair_name(self) -> str:
        return self.appointment.chair.name if self.appointment.chair else "No chair"

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


def _options():
    return (
        joinedload(Appointment.patient),
        joinedload(Appointment.course),
        joinedload(Appointment.chair).joinedload(Chair.site),
    )


def series_totals(appointments: Iterable[Appointment]) -> dict[str, int]:
    """Visits in each series (its highest visit number), in one statement."""
    ids = {a.series_id for a in appointments if a.series_id}
    if not ids:
        return {}
    rows = db.session.execute(
        select(Appointment.series_id, func.max(Appointment.sequence_no))
        .where(Appointment.series_id.in_(ids))
        .group_by(Appointment.series_id)
    )
    return {series_id: total for series_id, total in rows if series_id and total}


def _total(appointment: Appointment, totals: dict[str, int], rules: SchedulingRules) -> int | None:
    """Visits in the appointment's series: an induction counts the protocol's visits even while
    only some are booked ("Induction 4/8", not "4/4")."""
    if not appointment.series_id:
        return None
    booked = totals.get(appointment.series_id)
    course = appointment.course
    if appointment.visit_kind != VisitKind.INDUCTION or course is None or booked is None:
        return booked
    return max(booked, booking.induction_count(course, rules))


def visit_zone(appointment: Appointment, default: ZoneInfo | None = None) -> ZoneInfo:
    """The zone of the visit's site (its chair's); `default` or the clinic's without a chair.
    Load the chair and its site with the visit."""
    site = appointment.site
    return site_zone(site) if site is not None else default or clinic_timezone()


def cards(appointments: Sequence[Appointment]) -> list[Card]:
    """The visits as the calendar shows them, each on its own site's clock."""
    totals = series_totals(appointments)
    rules = scheduling_rules()
    default = clinic_timezone()
    result = []
    for a in appointments:
        tz = visit_zone(a, default)
        start, end = a.starts_at.astimezone(tz), a.ends_at.astimezone(tz)
        result.append(Card(a, start, end, _total(a, totals, rules)))
    return result


def _card_options():
    """Only what a calendar card shows of the patient and course: a week holds hundreds of
    visits, and whole patient rows (with their JSON columns) cost more than the page itself."""
    return (
        joinedload(Appointment.patient).load_only(Patient.first_name, Patient.last_name),
        joinedload(Appointment.course).load_only(TreatmentCourse.modality),
        joinedload(Appointment.chair).joinedload(Chair.site),
    )


def appointments_between(
    start: datetime,
    end: datetime,
    cards_only: bool = False,
    site_ids: tuple[int, ...] | None = None,
) -> list[Appointment]:
    """Every visit starting in [start, end) (at `site_ids`, when given), with patient, course
    and chair (with only what a calendar card shows of them when `cards_only`)."""
    query = select(Appointment).where(Appointment.starts_at >= start, Appointment.starts_at < end)
    if site_ids is not None:
        query = query.where(site_days.at_sites(site_ids))
    return list(
        db.session.scalars(
            query.options(*(_card_options() if cards_only else _options())).order_by(
                Appointment.starts_at, Appointment.id
            )
        ).unique()
    )


def scoped_cards(
    first: date, scope: SiteScope, days: int = 1, cards_only: bool = False
) -> list[Card]:
    """The visits of `days` days from `first` at the scope's sites, each day read on the
    visit's own site clock."""
    start, end = site_days.day_window(first, scope, days)
    visits = appointments_between(start, end, cards_only, scope.site_ids)
    last = first + timedelta(days=days)
    return [card for card in cards(visits) if first <= card.day < last]


# --- the chair calendar --------------------------------------------------------------------------


@dataclass
class Column:
    chair: Chair | None
    lanes: int = 1  # side-by-side sub-columns, so overlapping visits each sit at their start
    with_site: bool = False  # several sites on the page: name the chair's site

    @property
    def label(self) -> str:
        if self.chair is None:
            return "No chair"
        return f"{self.chair.name} · {self.chair.site.code}" if self.with_site else self.chair.name

    @property
    def key(self) -> int | None:
        return self.chair.id if self.chair else None


@dataclass
class Cell:
    """A grid cell: free, covered by a visit above it, or a visit spanning `rowspan` slots."""

    kind: str  # "free", "covered", "visits"
    rowspan: int = 1
    cards: list[Card] = field(default_factory=list)


FREE = Cell("free")
COVERED = Cell("covered")


@dataclass
class GridRow:
    minute: int
    cells: list[Cell]

    @property
    def label(self) -> str:
        return f"{self.minute // 60:02d}:{self.minute % 60:02d}"

    @property
    def on_the_hour(self) -> bool:
        return self.minute % 60 == 0


@dataclass
class DayGrid:
    """One site's part of the day (the whole day on a one-site page): its chairs' columns and
    the rows of its clock. `site` None: the one site of the page, or visits without a site."""

    site: Site | None
    zone: ZoneInfo
    columns: list[Column]
    rows: list[GridRow]
    day: date

    @property
    def heading(self) -> str:
        """ "Midtown (NYC) · America/New_York (EDT)": whose clock the rows are on."""
        noon = datetime.combine(self.day, time(12), tzinfo=self.zone)
        where = self.site.label if self.site is not None else "No site"
        return f"{where} · {self.zone.key} ({noon.tzname()})"


@dataclass
class DayView:
    day: date
    open: bool
    closed_reason: str
    grids: list[DayGrid]
    freed: list[Card]
    count: int
    by_site: bool = False  # a section per site, each on its own clock, headed by its site


@dataclass
class WeekDay:
    day: date
    open: bool
    closed_reason: str
    cells: list[list[Card]]

    @property
    def label(self) -> str:
        return day_label(self.day)

    @property
    def count(self) -> int:
        return sum(len(c) for c in self.cells)


@dataclass
class WeekView:
    monday: date
    days: list[WeekDay]
    columns: list[Column]
    freed: list[Card]
    count: int


def closed_reason(day: date, rules: SchedulingRules) -> str:
    if rules.is_open(day):
        return ""
    if day in rules.closed_dates:
        return "Holiday: clinic closed"
    closure = rules.closure(day)
    return f"{closure}: clinic closed" if closure else "Clinic closed"


def _columns(chairs: Sequence[Chair], visits: Sequence[Card]) -> list[Column]:
    used = {c.appointment.chair_id for c in visits}
    several = len({c.site_id for c in chairs}) > 1
    columns = [Column(c, with_site=several) for c in chairs if c.active or c.id in used]
    if None in used:
        columns.append(Column(None))
    return columns


def _chairs(site_ids: tuple[int, ...]) -> list[Chair]:
    """The chairs of these sites, site by site (by name), with their site."""
    return list(
        db.session.scalars(
            select(Chair)
            .join(Chair.site)
            .where(Chair.site_id.in_(site_ids))
            .options(contains_eager(Chair.site))
            .order_by(Site.name, Chair.id)
        )
    )


def _minute(moment: datetime, day: date, end: bool = False) -> int:
    if moment.date() < day:
        return 0
    if moment.date() > day:
        return 24 * 60
    return moment.hour * 60 + moment.minute + (1 if end and moment.second else 0)


def _grid_bounds(day: date, active: Sequence[Card], rules: SchedulingRules) -> tuple[int, int]:
    """First and last minute of the grid: clinic hours, widened to show any visit outside."""
    slot = rules.slot_minutes
    first = rules.opening_time.hour * 60 + rules.opening_time.minute
    last = rules.closing_time.hour * 60 + rules.closing_time.minute
    for card in active:
        first = min(first, _minute(card.start, day))
        last = max(last, _minute(card.end, day, end=True))
    return first // slot * slot, min(24 * 60, math.ceil(last / slot) * slot)


def _lanes(placed: list[tuple[int, int, Card]]) -> list[list[tuple[int, int, Card]]]:
    """Visits of one chair in lanes: each lane holds visits whose rows do not overlap, so every
    visit starts in its own start row (back-to-back visits sharing a slot go side by side)."""
    lanes: list[list[tuple[int, int, Card]]] = []
    for top, bottom, card in sorted(placed, key=lambda p: (p[0], p[2].start)):
        lane = next((ln for ln in lanes if ln[-1][1] <= top), None)
        if lane is None:
            lanes.append([(top, bottom, card)])
        else:
            lane.append((top, bottom, card))
    return lanes or [[]]


def _grid(
    day: date, chairs: Sequence[Chair], active: Sequence[Card], rules: SchedulingRules
) -> tuple[list[Column], list[GridRow]]:
    """One column per chair (split into lanes where visits overlap in time), one row per
    calendar slot of the cards' clock; each visit sits in the row of its start and spans the
    rows to its end."""
    columns = _columns(chairs, active)
    slot = rules.slot_minutes
    first, last = _grid_bounds(day, active, rules)
    count = max(1, (last - first) // slot)
    index = {column.key: i for i, column in enumerate(columns)}
    placed: list[list[tuple[int, int, Card]]] = [[] for _ in columns]
    for card in active:
        top = min(count - 1, max(0, (_minute(card.start, day) - first) // slot))
        bottom = min(count, max(top + 1, math.ceil((_minute(card.end, day, True) - first) / slot)))
        placed[index[card.appointment.chair_id]].append((top, bottom, card))
    grid: list[list[Cell]] = [[] for _ in range(count)]
    for column, visits in zip(columns, placed, strict=True):
        lanes = _lanes(visits)
        column.lanes = len(lanes)
        for lane in lanes:
            cells = [FREE] * count
            for top, bottom, card in lane:
                cells[top] = Cell("visits", bottom - top, [card])
                for row in range(top + 1, bottom):
                    cells[row] = COVERED
            for row in range(count):
                grid[row].append(cells[row])
    return columns, [GridRow(first + r * slot, grid[r]) for r in range(count)]


def _site_id_of(card: Card, shown: set[int]) -> int | None:
    """The section a visit goes in: its chair's site, else its patient's usual site when shown
    (as `site_days.at_sites` chose it), else None."""
    site = card.site
    if site is not None:
        return site.id
    usual = card.patient.usual_site_id
    return usual if usual in shown else None


# One site's part of the day: its site, clock, chairs and visits.
DayPart = tuple[Site | None, ZoneInfo, Sequence[Chair], list[Card]]


def _by_site(scope: SiteScope, chairs: Sequence[Chair], active: Sequence[Card]) -> list[DayPart]:
    """The day split by site (the scope's sites by name, then visits without a site), each
    part's visits on its site's clock; sites without chairs or visits are left out."""
    shown = {site.id for site in scope.choices}
    parts: dict[int | None, list[Card]] = {}
    for card in active:
        parts.setdefault(_site_id_of(card, shown), []).append(card)
    result: list[DayPart] = []
    for site in scope.choices:
        zone = site_zone(site)
        own = [c for c in chairs if c.site_id == site.id]
        cards_here = [_on_clock(card, zone) for card in parts.get(site.id, [])]
        if own or cards_here:
            result.append((site, zone, own, cards_here))
    if parts.get(None):
        result.append((None, clinic_timezone(), [], parts[None]))
    return result


def _on_clock(card: Card, zone: ZoneInfo) -> Card:
    """The card on `zone`'s clock (a visit without a chair was read on the clinic's)."""
    if card.start.tzinfo == zone:
        return card
    return replace(card, start=card.start.astimezone(zone), end=card.end.astimezone(zone))


def day_view(day: date, rules: SchedulingRules, scope: SiteScope) -> DayView:
    """The day at the scope's sites as a chair grid; a page spanning sites has one grid per
    site, each on its own clock (a 09:00 visit in New York and one in Los Angeles are not at
    the same moment, so they do not share a time axis)."""
    all_cards = scoped_cards(day, scope)
    active = [c for c in all_cards if not c.freed]
    chairs = _chairs(scope.site_ids)
    if scope.spans_sites:
        parts = _by_site(scope, chairs, active)
    else:
        parts = [(None, site_days.page_zone(scope), chairs, active)]
    grids = [
        DayGrid(site, zone, *_grid(day, own, cards_here, rules), day)
        for site, zone, own, cards_here in parts
    ]
    return DayView(
        day,
        rules.is_open(day),
        closed_reason(day, rules),
        grids,
        [c for c in all_cards if c.freed],
        len(active),
        by_site=scope.spans_sites,
    )


def week_view(day: date, rules: SchedulingRules, scope: SiteScope) -> WeekView:
    """The week (Monday to Sunday) around `day` at the scope's sites: one row per day, one
    column per chair."""
    monday = day - timedelta(days=day.weekday())
    all_cards = scoped_cards(monday, scope, days=7, cards_only=True)
    active = [c for c in all_cards if not c.freed]
    columns = _columns(_chairs(scope.site_ids), active)
    index = {column.key: i for i, column in enumerate(columns)}
    days = []
    for offset in range(7):
        current = monday + timedelta(days=offset)
        todays = [c for c in active if c.start.date() == current]
        if current.weekday() not in rules.open_weekdays and not todays:
            continue
        cells: list[list[Card]] = [[] for _ in columns]
        for card in todays:
            cells[index[card.appointment.chair_id]].append(card)
        days.append(WeekDay(current, rules.is_open(current), closed_reason(current, rules), cells))
    return WeekView(monday, days, columns, [c for c in all_cards if c.freed], len(active))


# --- one patient's schedule ----------------------------------------------------------------------


@dataclass
class PatientSchedule:
    upcoming: list[Card]
    past: list[Card]
    late_cancellations: int
    cancellations: int
    no_shows: int


def patient_schedule(patient_id: int) -> PatientSchedule:
    rows = list(
        db.session.scalars(
            select(Appointment)
            .where(Appointment.patient_id == patient_id)
            .options(
                joinedload(Appointment.course),
                joinedload(Appointment.chair).joinedload(Chair.site),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        ).unique()
    )
    now = utcnow()
    all_cards = cards(rows)
    upcoming = [
        c
        for c in all_cards
        if c.appointment.ends_at >= now and not c.freed and c.status != AppointmentStatus.COMPLETED
    ]
    upcoming_ids = {c.id for c in upcoming}
    past = [c for c in reversed(all_cards) if c.id not in upcoming_ids]
    return PatientSchedule(
        upcoming=upcoming,
        past=past,
        late_cancellations=sum(a.late_cancellation for a in rows),
        cancellations=sum(a.status == AppointmentStatus.CANCELLED for a in rows),
        no_shows=sum(a.status == AppointmentStatus.NO_SHOW for a in rows),
    )


def upcoming_visits(patient_id: int) -> list[Appointment]:
    """Booked visits from now on, for the handout and the calendar file."""
    return list(
        db.session.scalars(
            select(Appointment)
            .where(
                Appointment.patient_id == patient_id,
                Appointment.ends_at >= utcnow(),
                Appointment.status.in_(CHANGEABLE + (AppointmentStatus.CHECKED_IN,)),
            )
            .options(
                joinedload(Appointment.course),
                joinedload(Appointment.chair).joinedload(Chair.site),
            )
            .order_by(Appointment.starts_at)
        ).unique()
    )


def ready_times(visits: Sequence[Appointment], rules: SchedulingRules) -> dict[int, datetime]:
    """When each visit's patient may be collected (on its site's clock): the end of the
    expected observation or recovery; a consult's end."""
    ready = {}
    for visit in visits:
        end = visit.ends_at
        if visit.course is not None and visit.visit_kind != VisitKind.CONSULT:
            turnover = rules.turnover_minutes(Modality(visit.course.modality))
            minutes = booking_minutes(visit.course, rules) - turnover
            end = visit.starts_at + timedelta(minutes=minutes)
        ready[visit.id] = end.astimezone(visit_zone(visit))
    return ready


def active_courses(patient_id: int) -> list[TreatmentCourse]:
    return list(
        db.session.scalars(
            select(TreatmentCourse)
            .where(
                TreatmentCourse.patient_id == patient_id,
                TreatmentCourse.phase.in_([CoursePhase.INDUCTION, CoursePhase.MAINTENANCE]),
            )
            .order_by(TreatmentCourse.started_on.desc())
        )
    )


def series_cards(series_id: str) -> list[Card]:
    """Every visit of one series, in time order."""
    rows = db.session.scalars(
        select(Appointment)
        .where(Appointment.series_id == series_id)
        .options(joinedload(Appointment.chair).joinedload(Chair.site))
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()
    return cards(rows)


def load_appointment(appointment_id: int) -> Appointment | None:
    return db.session.scalar(
        select(Appointment).where(Appointment.id == appointment_id).options(*_options())
    )


# --- driver calls ------------------------------------------------------------------------------


def next_clinic_day(after: date, rules: SchedulingRules) -> date:
    day = after + timedelta(days=1)
    for _ in range(366):
        if rules.is_open(day):
            return day
        day += timedelta(days=1)
    return after + timedelta(days=1)


def driver_calls(day: date, scope: SiteScope) -> list[Card]:
    """The visits of one clinic day at the scope's sites whose driver the front desk calls
    about, by start time."""
    calls = CHANGEABLE + (AppointmentStatus.CHECKED_IN,)
    return [card for card in scoped_cards(day, scope) if card.status in calls]


def rems_to_chase(today: date, scope: SiteScope) -> list[tuple[Patient, datetime]]:
    """Patients booked for esketamine at the scope's sites from `today` on who are not enrolled
    in the REMS, with their first such visit (on the page's clock), soonest first: the
    paperwork the front desk chases before the nurse can dose."""
    start = site_days.day_window(today, scope)[0]
    rows = db.session.execute(
        select(Patient, func.min(Appointment.starts_at))
        .join(Appointment, Appointment.patient_id == Patient.id)
        .join(TreatmentCourse, TreatmentCourse.id == Appointment.course_id)
        .where(
            Patient.rems_enrolled_on.is_(None),
            TreatmentCourse.modality == Modality.ESKETAMINE_NASAL.value,
            Appointment.status.in_(CHANGEABLE),
            Appointment.starts_at >= start,
            site_days.at_sites(scope.site_ids),
        )
        .group_by(Patient.id)
        .order_by(func.min(Appointment.starts_at))
    ).all()
    return [(patient, aware(first)) for patient, first in rows]


# --- maintenance due -----------------------------------------------------------------------------


@dataclass
class DueRow:
    course: TreatmentCourse
    last_visit: date
    due: date
    status: MaintenanceStatus
    days: int  # days until due (negative: overdue)

    @property
    def patient(self) -> Patient:
        return self.course.patient

    @property
    def modality(self) -> str:
        return MODALITY_SHORT.get(self.course.modality, "")


def _course_history(today: date):
    """Per course: attended visits by kind (count, latest start), the latest walk-in session,
    and the first visit booked from `today` on; three grouped statements."""
    attended = {
        (course_id, kind): (count, last)
        for course_id, kind, count, last in db.session.execute(
            select(
                Appointment.course_id,
                Appointment.visit_kind,
                func.count(),
                func.max(Appointment.starts_at),
            )
            .where(Appointment.status.in_(ATTENDED), Appointment.course_id.is_not(None))
            .group_by(Appointment.course_id, Appointment.visit_kind)
        )
    }
    walk_ins = dict(
        db.session.execute(
            select(TreatmentSession.course_id, func.max(TreatmentSession.started_at))
            .where(TreatmentSession.appointment_id.is_(None))
            .group_by(TreatmentSession.course_id)
        ).all()
    )
    booked = dict(
        db.session.execute(
            select(Appointment.course_id, func.min(Appointment.starts_at))
            .where(
                Appointment.status.in_(CHANGEABLE),
                Appointment.starts_at >= day_bounds_utc(today)[0],
                Appointment.course_id.is_not(None),
            )
            .group_by(Appointment.course_id)
        ).all()
    )
    return attended, walk_ins, booked


def maintenance_worklist(today: date, rules: SchedulingRules, scope: SiteScope) -> list[DueRow]:
    """Patients of the scope's sites (by usual site; those with none on every site's list)
    whose next maintenance visit is due within the look-ahead (default 14 days) and not booked,
    and overdue ones: courses in maintenance, and induction courses whose induction visits are
    all done. Overdue first, then by due date."""
    usual = site_days.usual_at(scope.site_ids)
    courses = list(
        db.session.scalars(
            select(TreatmentCourse)
            .join(TreatmentCourse.patient)
            .where(
                TreatmentCourse.phase.in_([CoursePhase.INDUCTION, CoursePhase.MAINTENANCE]), usual
            )
            .options(contains_eager(TreatmentCourse.patient).joinedload(Patient.usual_site))
        )
    )
    if not courses:
        return []
    attended, walk_ins, booked = _course_history(today)
    tz = clinic_timezone()
    rows = []
    for course in courses:
        induction, last_induction = attended.get((course.id, VisitKind.INDUCTION.value), (0, None))
        maintenance, last_maintenance = attended.get(
            (course.id, VisitKind.MAINTENANCE.value), (0, None)
        )
        if course.phase == CoursePhase.INDUCTION and induction < booking.induction_count(
            course, rules
        ):
            continue
        moments = [m for m in (last_induction, last_maintenance, walk_ins.get(course.id)) if m]
        if not moments:
            continue
        last = max(aware(m) for m in moments).astimezone(tz).date()
        step = booking.first_maintenance_step(course, maintenance, rules)
        next_booked = booked.get(course.id)
        next_day = aware(next_booked).astimezone(tz).date() if next_booked else None
        status = maintenance_due(last, step, next_day, today, rules)
        if status in (MaintenanceStatus.DUE, MaintenanceStatus.OVERDUE):
            due = last + timedelta(days=step)
            rows.append(DueRow(course, last, due, status, (due - today).days))
    rows.sort(key=lambda r: (r.status != MaintenanceStatus.OVERDUE, r.due, r.patient.last_name))
    return rows


# --- make-up offer -------------------------------------------------------------------------------


@dataclass
class MakeupOffer:
    """The day that keeps the series' rhythm and the free slots offered that day: the one nearest
    the missed visit's time first, then others spread over the day."""

    day: date
    extends_series: bool
    slots: tuple[Slot, ...]

    @property
    def slot(self) -> Slot | None:
        """The slot nearest the missed visit's time (the one offered first)."""
        return self.slots[0] if self.slots else None

    @property
    def label(self) -> str:
        return day_label(self.day)


def makeup_offer(appointment: Appointment, rules: SchedulingRules) -> MakeupOffer | None:
    """The next valid day for a missed induction visit (keeping the series' rhythm) and the
    free chair nearest its old time that day."""
    if not booking.makeup_eligible(appointment) or appointment.course is None:
        return None
    site = appointment.site
    tz = site_zone(site)
    series = db.session.scalars(
        select(Appointment).where(
            Appointment.series_id == appointment.series_id,
            Appointment.status.not_in(FREEING),
        )
    ).all()
    missed = appointment.starts_at.astimezone(tz)
    dates = [a.starts_at.astimezone(tz).date() for a in series] + [missed.date()]
    try:
        offer = offer_after_missed(
            appointment.course.modality, dates, missed.date(), clinic_today(), rules
        )
    except SchedulingError:
        return None
    minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    near = missed.time().replace(second=0, microsecond=0)
    slots = free_slots(appointment.patient_id, offer.day, near, minutes, rules, site)
    return MakeupOffer(offer.day, offer.extends_series, slots)
