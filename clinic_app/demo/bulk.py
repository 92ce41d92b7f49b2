"""A large synthetic clinic history for benchmarks and load tests.

`flask --app wsgi demo-data --patients N` calls `generate()`: N patients over up to ~2 years at
three or more sites (each with its chairs and staff; the demo logins work at all of them), each
patient with one or two treatment courses (IV ketamine and esketamine), ~30 signed
(mostly co-signed) sessions with ~10 vitals readings, a PHQ-9, a MOAA/S and (esketamine) a CADSS-6
each, occasional adverse events and alerts, a completed appointment per session with a chair, a
few cancellations, today's clinic day timed from `clock.utcnow()` (waiting, in a chair, discharged)
and the appointments of this week and next. Three extra patients have exactly 15, 150 and 600
sessions for timeline scaling measurements (`TIMELINE_MRNS`).

How it stays fast: everything is planned in Python first (visit days per patient, then chairs per
site and day, allocated greedily so no chair is double-booked), ids are allocated in Python, and
rows go in with SQLAlchemy Core executemany in chunks; PostgreSQL sequences are moved past the
new ids with setval afterwards. No audit rows are written for the history. `check_invariants()`
verifies the result (no double booking, one session per patient and day, complete closed
sessions, signature hashes, sequences).

`add_patients()` inserts patients only (no history), for patient-search scaling measurements.
"""

import math
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from heapq import heappop, heappush
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

import click
from sqlalchemy import Table, func, select, text
from sqlalchemy.engine import Connection

from clinic_app.clinical.codes import (
    ADVERSE_EVENT_KINDS,
    AlertKind,
    AppointmentStatus,
    CoursePhase,
    DriverStatus,
    Indication,
    Modality,
    Role,
    SessionStatus,
    VisitKind,
    VitalsPhase,
)
from clinic_app.clinical.dosing import pump_rate_for
from clinic_app.clinical.scores import CADSS6, MOAAS, PHQ9, score
from clinic_app.clinical.series import SchedulingRules
from clinic_app.clock import utcnow
from clinic_app.demo.bulk_stock import generate_stock, ledger_problems
from clinic_app.extensions import db
from clinic_app.models import (
    AdverseEvent,
    Appointment,
    Assessment,
    Chair,
    ClinicalAlert,
    DeviceAdministration,
    Patient,
    SessionReview,
    Site,
    TreatmentCourse,
    TreatmentSession,
    User,
    VitalsReading,
    user_sites,
)
from clinic_app.review.stored import store_missing
from clinic_app.settings import clinic_timezone, scheduling_rules
from clinic_app.treatments.closing import content_hash

SEED = 20261127
MRN_PREFIX = "BK-"
# Patients with exactly this many past sessions, for the timeline growth measurement.
TIMELINE_MRNS = {15: "BK-T000015", 150: "BK-T000150", 600: "BK-T000600"}
# The bulk staff accounts are fictional demo accounts, like the small demo's.
BULK_STAFF_PASSWORD = "bulk-staff-demo-pass"  # nosec B105
PATIENTS_PER_SITE = 700
MIN_SITES = 3
HISTORY_DAYS = 730
# The default clinic calendar (open weekdays, public holidays): no demo visit on a closed day.
CALENDAR = SchedulingRules()
FLUSH_ROWS = 40_000


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SITE_NAMES = (
    "Northgate",
    "Riverside",
    "Lakeview",
    "Hillcrest",
    "Bayside",
    "Cedar Park",
    "Westfield",
    "Eastbrook",
)
# Patients' streets: obviously fictional names on each site's town and ZIP code.
STREETS = ("Example St", "Sample Ave", "Placeholder Rd", "Fictional Way", "Demo Ln")
FEMALE = _words(
    "Maria Olivia Emma Ava Sophia Isabella Mia Charlotte Amelia Harper Evelyn Abigail Emily "
    "Elizabeth Sofia Avery Ella Scarlett Grace Chloe Victoria Riley Aria Lily Aubrey Zoey "
    "Penelope Layla Nora Hannah Priya Aisha Elena Nadia Mei Yuki Fatima Grace Ana Lucia Rosa "
    "Carmen Julia Sara Leah Ruth Diane Karen Linda Susan Janet Megan Rachel Laura Teresa"
)
MALE = _words(
    "James Robert John Michael David William Richard Joseph Thomas Charles Daniel Matthew "
    "Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald "
    "Jason Edward Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott "
    "Brandon Benjamin Samuel Marcus Luis Carlos Jose Ahmed Omar Wei Hiroshi Arjun Dmitri Tunde"
)
SURNAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips "
    "Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook "
    "Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward "
    "Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez "
    "Castillo Sanders Patel Myers Long Ross Foster Jimenez Okafor Natarajan Petrova Rossi "
    "Schultz Haddad Whitfield Hargreaves Bello Nakamura Tanaka Chen Wang Singh Kowalski Novak "
    "Johansson Larsen Murray Quinn O'Brien Sullivan McCarthy Byrne Fischer Weber Becker Costa"
)
SYLLABLES = _words(
    "al an ar ba be bri ca cor da del dor el en fa fer ga gil ha hal in ka kel la lin lo ma mar "
    "mel mo na nor o pa per ra ren ro sa sel ta ter tor va vel wa wen ya zen"
)
RELATIONSHIPS = ("Spouse", "Partner", "Sister", "Brother", "Mother", "Father", "Friend", "Son")
ALLERGIES = ("NKDA", "NKDA", "NKDA", "Penicillin", "Sulfa drugs", "Latex", "Codeine", "Aspirin")
ESKETAMINE_LOTS = ("SPR24K117", "SPR24M031", "SPR25A204", "SPR25C118", "SPR26A009")
KETAMINE_LOTS = ("KET-23B04", "KET-24C19", "KET-24F07", "KET-25A11", "KET-26B02")
PUMP_CONCENTRATION_MG_PER_ML = Decimal("1.00")  # ketamine diluted to 1 mg/mL for the pump
AE_KINDS = (
    ("nausea", 30),
    ("dizziness", 20),
    ("dissociation", 12),
    ("hypertension", 12),
    ("headache", 10),
    ("anxiety", 8),
    ("vomiting", 6),
    ("sedation", 2),
)
AE_INTERVENTIONS = (
    "Rested with eyes closed; settled without medication.",
    "Ondansetron 4 mg; no further symptoms after 20 minutes.",
    "Reassurance and dimmed lights; resolved before discharge.",
    "Rechecked at 10 and 20 min; psychiatrist notified; no medication needed.",
)
CANCEL_REASONS = (
    "No driver available; rebooked.",
    "Ate within the fasting window.",
    "Unwell (cold); rebooked.",
    "Work conflict.",
)


@dataclass
class CoursePlan:
    modality: Modality
    indication: Indication
    plan_mg: int | None
    iv_mg_per_kg: Decimal | None
    started_on: date
    phase: CoursePhase = CoursePhase.INDUCTION
    ended_on: date | None = None
    stop_reason: str = ""
    interval_days: int | None = None
    series_id: str = ""
    id: int = 0


UNTIMED = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class VisitPlan:
    course: int  # index into the patient's courses
    number: int  # 1-based within the course
    kind: VisitKind
    day: date
    start: datetime = UNTIMED  # UTC; set by _time_visits
    minutes: int = 0
    status: AppointmentStatus = AppointmentStatus.COMPLETED
    chair: int | None = None  # chair index within the site
    cancelled: bool = False


@dataclass
class PatientPlan:
    index: int
    site: int
    sex: str
    first: str
    last: str
    dob: date
    weight: Decimal
    bp: tuple[int, int, int]
    phq: tuple[int, int]
    item9_sessions: int
    driver: tuple[str, str]
    mrn: str = ""
    courses: list[CoursePlan] = field(default_factory=list)
    visits: list[VisitPlan] = field(default_factory=list)
    consult: datetime | None = None
    id: int = 0


@dataclass
class Staff:
    """Ids of the accounts the generated rows point to, per site."""

    nurses: list[list[int]]
    psychiatrists: list[list[int]]
    front_desk: list[list[int]]


class _Ids:
    """Explicit primary keys, allocated in Python from each table's current maximum."""

    def __init__(self, connection: Connection, tables: Iterable[Table]):
        self.next = {t.name: (connection.scalar(select(func.max(t.c.id))) or 0) + 1 for t in tables}

    def take(self, table: Table, count: int = 1) -> int:
        first = self.next[table.name]
        self.next[table.name] = first + count
        return first


class _Clock:
    """Clinic-local wall-clock times to UTC and back."""

    def __init__(self, zone: ZoneInfo):
        self.zone = zone

    def at(self, day: date, minute_of_day: int) -> datetime:
        local = datetime.combine(day, time(minute_of_day // 60, minute_of_day % 60), self.zone)
        return local.astimezone(UTC)

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()


def _weekday_on_or_before(day: date) -> date:
    """The latest open clinic day on or before `day` (weekends and public holidays closed)."""
    while not CALENDAR.is_open(day):
        day -= timedelta(days=1)
    return day


def _weekday_on_or_after(day: date) -> date:
    """The first open clinic day on or after `day`."""
    while not CALENDAR.is_open(day):
        day += timedelta(days=1)
    return day


def _add_weekdays(day: date, count: int) -> date:
    """`count` weekdays after `day` (before it when negative); keeps weekly visits on their
    weekday and spreads visits evenly over Monday to Friday."""
    step = timedelta(days=1 if count > 0 else -1)
    for _ in range(abs(count)):
        day += step
        while not CALENDAR.is_open(day):
            day += step
    return day


def _induction_size(rules: SchedulingRules, modality: Modality) -> int:
    """Visits in an induction series, from the clinic's scheduling rules."""
    if modality == Modality.ESKETAMINE_NASAL:
        return rules.esketamine_induction_count
    return rules.iv_induction_count


def _induction_gaps(rules: SchedulingRules, modality: Modality) -> tuple[int, ...]:
    """Weekdays from each of the series' default induction weekdays to the next, round the week:
    esketamine Mon/Thu gives (3, 2), IV Mon/Wed/Fri (2, 2, 1) with the default rules."""
    weekdays = (
        rules.esketamine_default_weekdays
        if modality == Modality.ESKETAMINE_NASAL
        else rules.iv_default_weekdays
    )
    gaps = []
    for index, weekday in enumerate(weekdays):
        following = weekdays[(index + 1) % len(weekdays)]
        days = (following - weekday - 1) % 7 + 1
        weekdays_passed = sum(1 for step in range(1, days + 1) if (weekday + step) % 7 < 5)
        gaps.append(max(1, weekdays_passed))
    return tuple(gaps)


def _minute_of_day(at: time) -> int:
    return at.hour * 60 + at.minute


def _maintenance_gap(course: "CoursePlan", rng: random.Random) -> int:
    """The course's interval in weekdays, give or take one."""
    return max(2, round((course.interval_days or 7) * 5 / 7) + rng.choice((-1, 0, 0, 0, 1)))


def _minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


def _surname(rng: random.Random) -> str:
    """A common surname most of the time, otherwise a made-up one (a long tail for search)."""
    if rng.random() < 0.6:
        return rng.choice(SURNAMES)
    parts = [rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))]
    return "".join(parts).capitalize()


# ---------------------------------------------------------------------------------------------
# Planning: patients, courses and visit days
# ---------------------------------------------------------------------------------------------


def _plan_patient(rng: random.Random, index: int, sites: int, today: date) -> PatientPlan:
    sex = "female" if rng.random() < 0.58 else ("male" if rng.random() < 0.97 else "other")
    first = rng.choice(FEMALE if sex == "female" else MALE)
    age_days = rng.randint(19 * 365, 78 * 365)
    systolic = rng.randint(104, 142)
    baseline = rng.randint(14, 26)
    # About half respond (>= 50 % drop from baseline), some of them into remission.
    drop = rng.uniform(0.5, 0.9) if rng.random() < 0.55 else rng.uniform(0.05, 0.45)
    return PatientPlan(
        index=index,
        site=index % sites,
        sex=sex,
        first=first,
        last=_surname(rng),
        dob=today - timedelta(days=age_days),
        weight=Decimal(rng.randint(480, 1250)) / 10,
        bp=(systolic, rng.randint(62, min(92, systolic - 25)), rng.randint(58, 92)),
        phq=(baseline, round(baseline * (1 - drop))),
        item9_sessions=rng.choice((0,) * 30 + (1, 2, 3)),
        driver=(f"{rng.choice(FEMALE + MALE)} {_surname(rng)}", rng.choice(RELATIONSHIPS)),
    )


def _new_course(rng: random.Random, modality: Modality, started_on: date) -> CoursePlan:
    if modality == Modality.ESKETAMINE_NASAL:
        indication = Indication.MDSI if rng.random() < 0.12 else Indication.TRD
        plan = 84 if rng.random() < 0.7 else 56
        course = CoursePlan(modality, indication, plan, None, started_on)
        course.interval_days = rng.choice((7, 7, 14))
    else:
        course = CoursePlan(modality, Indication.TRD, None, Decimal("0.50"), started_on)
        course.interval_days = rng.choice((14, 21, 28, 28))
    course.series_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return course


def _course_days(
    rng: random.Random, course: CoursePlan, count: int, last_day: date, rules: SchedulingRules
) -> list[tuple[date, VisitKind]]:
    """`count` weekday visit days ending on `last_day`, oldest first, never two on one day."""
    induction = _induction_size(rules, course.modality)
    gaps = _induction_gaps(rules, course.modality)
    kinds = [VisitKind.INDUCTION] * min(count, induction)
    kinds += [VisitKind.MAINTENANCE] * (count - len(kinds))
    kinds.reverse()  # newest first while walking backwards
    days: list[tuple[date, VisitKind]] = []
    day = _weekday_on_or_before(last_day)
    for position, kind in enumerate(kinds):
        if position:
            if kinds[position - 1] == VisitKind.MAINTENANCE:
                gap = _maintenance_gap(course, rng)
            else:
                gap = gaps[position % len(gaps)]
            day = _add_weekdays(day, -gap)
        days.append((day, kind))
    return days[::-1]


def _schedule_history(
    rng: random.Random,
    plan: PatientPlan,
    sessions: int,
    today: date,
    rules: SchedulingRules,
    active: bool,
) -> None:
    """Courses and past visit days; active patients continue into today and the next weeks."""
    first_modality = Modality.ESKETAMINE_NASAL if rng.random() < 0.55 else Modality.IV_KETAMINE
    two_courses = sessions >= 16 and rng.random() < 0.15
    split = [sessions] if not two_courses else [sessions // 2, sessions - sessions // 2]
    modalities = [first_modality]
    if two_courses:
        modalities.insert(
            0,
            Modality.IV_KETAMINE
            if first_modality == Modality.ESKETAMINE_NASAL
            else Modality.ESKETAMINE_NASAL,
        )
    # Plan the newest course first, backwards from its last visit.
    if active:
        last_day = _add_weekdays(today, -rng.randint(1, 5))
    else:
        last_day = _add_weekdays(today, -rng.randint(15, HISTORY_DAYS * 5 // 14))
    segments: list[tuple[CoursePlan, list[tuple[date, VisitKind]]]] = []
    for number, (modality, count) in enumerate(zip(modalities[::-1], split[::-1], strict=True)):
        course = _new_course(rng, modality, last_day)
        days = _course_days(rng, course, count, last_day, rules)
        while days and (today - days[0][0]).days > HISTORY_DAYS:
            days.pop(0)  # keep the history within ~2 years
        if not days:
            break
        course.started_on = days[0][0] - timedelta(days=rng.randint(0, 3))
        newest = number == 0
        if newest and active:
            course.phase = (
                CoursePhase.INDUCTION
                if len(days) < _induction_size(rules, modality)
                else CoursePhase.MAINTENANCE
            )
        elif rng.random() < 0.2:
            course.phase, course.ended_on = CoursePhase.STOPPED, days[-1][0]
            course.stop_reason = rng.choice(
                ("No response after induction.", "Patient preference.", "Blood pressure.")
            )
        else:
            course.phase, course.ended_on = CoursePhase.COMPLETED, days[-1][0]
        segments.append((course, days))
        last_day = _add_weekdays(days[0][0], -rng.randint(20, 55))
    segments.reverse()
    for course_index, (course, days) in enumerate(segments):
        plan.courses.append(course)
        for number, (day, kind) in enumerate(days, start=1):
            plan.visits.append(VisitPlan(course_index, number, kind, day))


def _future_visits(
    rng: random.Random, plan: PatientPlan, today: date, horizon: date, rules: SchedulingRules
) -> None:
    """The active course's next visits from today until `horizon` (inclusive)."""
    if not plan.courses or not plan.courses[-1].phase.active:
        return
    course_index = len(plan.courses) - 1
    course = plan.courses[-1]
    last = plan.visits[-1]
    number, day = last.number, last.day
    induction = _induction_size(rules, course.modality)
    gaps = _induction_gaps(rules, course.modality)
    while True:
        gap = gaps[number % len(gaps)] if number < induction else _maintenance_gap(course, rng)
        # A visit due by today lands today (also on a weekend: the Today board is never empty).
        due = _add_weekdays(day, gap)
        day = today if due <= today else due
        if day > horizon:
            return
        number += 1
        kind = VisitKind.INDUCTION if number <= induction else VisitKind.MAINTENANCE
        plan.visits.append(VisitPlan(course_index, number, kind, day))


def _heavy_patient(
    rng: random.Random, plan: PatientPlan, sessions: int, today: date, rules: SchedulingRules
) -> None:
    """A long-treated patient: courses of up to 100 sessions, alternating modality, a visit every
    weekday (600) or twice a week (150 and fewer), ending last week."""
    every = 1 if sessions > 300 else 3
    day = _weekday_on_or_before(today - timedelta(days=7))
    days: list[date] = []
    while len(days) < sessions:
        days.append(day)
        day = _weekday_on_or_before(
            day - timedelta(days=every + (len(days) % 2 if every > 1 else 0))
        )
    days.reverse()
    modality = Modality.ESKETAMINE_NASAL
    for start in range(0, sessions, 100):
        chunk = days[start : start + 100]
        course = _new_course(rng, modality, chunk[0])
        course.phase, course.ended_on = CoursePhase.COMPLETED, chunk[-1]
        plan.courses.append(course)
        for number, visit_day in enumerate(chunk, start=1):
            kind = (
                VisitKind.INDUCTION
                if number <= _induction_size(rules, modality)
                else VisitKind.MAINTENANCE
            )
            plan.visits.append(VisitPlan(len(plan.courses) - 1, number, kind, visit_day))
        modality = (
            Modality.IV_KETAMINE
            if modality == Modality.ESKETAMINE_NASAL
            else Modality.ESKETAMINE_NASAL
        )
    plan.courses[-1].phase, plan.courses[-1].ended_on = CoursePhase.MAINTENANCE, None


def _time_visits(
    rng: random.Random,
    plan: PatientPlan,
    clock: _Clock,
    today: date,
    now: datetime,
    rules: SchedulingRules,
) -> None:
    """Start times: the patient's usual slot (+- an hour) in clinic hours; today's visits are
    spread around now so the Today board shows every state."""
    usual = rng.randint(0, 26) * 15  # minutes after opening
    opening = _minute_of_day(rules.opening_time)
    for visit in plan.visits:
        course = plan.courses[visit.course]
        visit.minutes = rules.block_minutes(course.modality)
        latest = _minute_of_day(rules.closing_time) - visit.minutes
        if visit.day == today:
            local_now = now.astimezone(clock.zone)
            minute = local_now.hour * 60 + local_now.minute + rng.randint(-66, 60) * 5
            minute = max(0, min(minute - minute % 5, 24 * 60 - visit.minutes - 5))
        else:
            minute = opening + usual + rng.choice((-60, -30, -15, 0, 0, 0, 15, 30, 60))
            minute = max(opening, min(minute, latest))
        visit.start = clock.at(visit.day, minute)


def _cancellations(rng: random.Random, plan: PatientPlan, today: date) -> list[VisitPlan]:
    """A cancelled or missed visit on the weekday before ~5 % of past visits (no chair)."""
    taken = {v.day for v in plan.visits}
    extra = []
    for visit in plan.visits:
        if visit.day >= today or visit.day.weekday() == 0 or rng.random() >= 0.05:
            continue
        day = visit.day - timedelta(days=1)
        if day in taken:
            continue
        taken.add(day)
        status = AppointmentStatus.NO_SHOW if rng.random() < 0.25 else AppointmentStatus.CANCELLED
        cancelled = VisitPlan(
            visit.course,
            visit.number,
            visit.kind,
            day,
            visit.start - timedelta(days=1),
            visit.minutes,
            status=status,
            cancelled=True,
        )
        extra.append(cancelled)
    return extra


def _allocate_chairs(plans: list[PatientPlan], sites: int) -> list[int]:
    """Greedy interval partitioning per site and day: each visit takes the lowest-numbered chair
    free at its start. Returns the number of chairs each site needs."""
    by_day: dict[tuple[int, date], list[VisitPlan]] = defaultdict(list)
    for plan in plans:
        for visit in plan.visits:
            if not visit.cancelled:
                by_day[(plan.site, visit.day)].append(visit)
    needed = [0] * sites
    for (site, _), visits in by_day.items():
        visits.sort(key=lambda v: v.start)
        busy: list[tuple[datetime, int]] = []  # (ends, chair)
        free: list[int] = []
        chairs = 0
        for visit in visits:
            while busy and busy[0][0] <= visit.start:
                heappush(free, heappop(busy)[1])
            if free:
                chair = heappop(free)
            else:
                chair, chairs = chairs, chairs + 1
            visit.chair = chair
            heappush(busy, (visit.start + _minutes(visit.minutes), chair))
        needed[site] = max(needed[site], chairs)
    return needed


# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------


# The clinic's history, in foreign-key order (staff and chairs are written before it).
HISTORY_TABLES = (
    Patient.__table__,
    TreatmentCourse.__table__,
    Appointment.__table__,
    TreatmentSession.__table__,
    DeviceAdministration.__table__,
    VitalsReading.__table__,
    Assessment.__table__,
    AdverseEvent.__table__,
    ClinicalAlert.__table__,
)


class _Rows:
    """Row dicts per table, flushed with executemany in foreign-key order."""

    ORDER = HISTORY_TABLES

    def __init__(self, connection: Connection):
        self.connection = connection
        self.rows: dict[str, list[dict]] = {t.name: [] for t in self.ORDER}
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, table: Table, row: dict) -> None:
        self.rows[table.name].append(row)

    def size(self) -> int:
        return sum(len(r) for r in self.rows.values())

    def flush(self) -> None:
        for table in self.ORDER:
            rows = self.rows[table.name]
            if rows:
                self.connection.execute(table.insert(), rows)
                self.counts[table.name] += len(rows)
                rows.clear()


@dataclass
class _Context:
    rng: random.Random
    ids: _Ids
    rows: _Rows
    staff: Staff
    site_ids: list[int]
    chair_ids: list[list[int]]
    clock: _Clock
    now: datetime
    today: date


def _phq_items(rng: random.Random, total: int, item9: int) -> list[int]:
    items = [0] * 8
    remaining = max(0, min(total - item9, 24))
    while remaining:
        slot = rng.randrange(8)
        if items[slot] < 3:
            items[slot] += 1
            remaining -= 1
    return items + [item9]


def _phq_total(plan: PatientPlan, position: int, count: int, rng: random.Random) -> int:
    first, last = plan.phq
    x = position / max(count - 1, 1)
    value = first + (last - first) * (1 - (1 - x) ** 2) + rng.choice((-2, -1, 0, 0, 1, 2))
    return max(0, min(27, round(value)))


def _emit_patient(ctx: _Context, plan: PatientPlan) -> None:
    psychiatrist = _emit_patient_row(ctx, plan)
    _emit_courses(ctx, plan, psychiatrist)
    _emit_visits(ctx, plan)
    if plan.consult is not None:
        _emit_consult(ctx, plan)


def _emit_patient_row(ctx: _Context, plan: PatientPlan) -> int:
    """The patient's row; returns the id of the psychiatrist who screened them."""
    rng, ids, rows = ctx.rng, ctx.ids, ctx.rows
    plan.id = ids.take(Patient.__table__)
    plan.mrn = plan.mrn or f"{MRN_PREFIX}{plan.id:07d}"
    first_visit = min((v.day for v in plan.visits), default=ctx.today)
    consent = first_visit - timedelta(days=rng.randint(7, 21))
    esketamine = any(c.modality == Modality.ESKETAMINE_NASAL for c in plan.courses)
    contraindications = ["uncontrolled_hypertension"] if plan.bp[0] > 138 else []
    registered = datetime.combine(consent, time(17, 0), UTC)
    psychiatrist = ctx.staff.psychiatrists[plan.site][plan.index % 2]
    rows.add(
        Patient.__table__,
        {
            "id": plan.id,
            "mrn": plan.mrn,
            "first_name": plan.first,
            "last_name": plan.last,
            "date_of_birth": plan.dob,
            "sex": plan.sex,
            "phone": f"555-{plan.id % 10000:04d}",
            "email": f"{plan.first}.{plan.last}.{plan.id}@example.com".lower().replace("'", ""),
            "address_line1": f"{555 + plan.id % 9000} {STREETS[plan.id % len(STREETS)]}",
            "address_line2": f"Apt {plan.id % 40 + 1}" if plan.id % 3 == 0 else "",
            "city": _site_name(plan.site),
            "state": "CA",
            "zip_code": _site_zip(plan.site),
            "allergies": rng.choice(ALLERGIES),
            "weight_kg": plan.weight,
            "driver_name": plan.driver[0],
            "driver_phone": f"555-{(plan.id + 5000) % 10000:04d}",
            "driver_relationship": plan.driver[1],
            "consent_date": consent if plan.courses else None,
            "contraindications": contraindications,
            "failed_trials": rng.choice((2, 2, 3, 3, 4, 5, 6)),
            "medication_classes": ["antidepressant"]
            + (["benzodiazepine"] if rng.random() < 0.2 else []),
            "rems_enrolled_on": consent if esketamine else None,
            # The psychiatrist screens at the intake consult.
            "screened_at": registered,
            "screened_by_id": psychiatrist,
            "preferred_weekdays": [],
            "preferred_time": None,
            "usual_site_id": ctx.site_ids[plan.site],
            "created_at": registered,
            "updated_at": registered,
            "version_id": 1,
        },
    )
    return psychiatrist


def _emit_courses(ctx: _Context, plan: PatientPlan, psychiatrist: int) -> None:
    for course in plan.courses:
        course.id = ctx.ids.take(TreatmentCourse.__table__)
        esk = course.modality == Modality.ESKETAMINE_NASAL
        ctx.rows.add(
            TreatmentCourse.__table__,
            {
                "id": course.id,
                "patient_id": plan.id,
                "modality": course.modality.value,
                "indication": course.indication.value,
                "prescriber_id": psychiatrist,
                "iv_mg_per_kg": None if esk else course.iv_mg_per_kg,
                "iv_minutes": None if esk else 40,
                "esketamine_dose_mg": course.plan_mg if esk else None,
                "phase": course.phase.value,
                "stop_reason": course.stop_reason,
                "started_on": course.started_on,
                "ended_on": course.ended_on,
                "maintenance_interval_days": course.interval_days,
                "created_at": datetime.combine(course.started_on, time(16, 0), UTC),
            },
        )


def _emit_visits(ctx: _Context, plan: PatientPlan) -> None:
    """Each planned visit's appointment, and the session of each one held so far."""
    doses: dict[int, int] = defaultdict(int)
    sessions_total = sum(1 for v in plan.visits if v.day <= ctx.today and not v.cancelled)
    position = 0
    for visit in sorted(plan.visits, key=lambda v: v.start):
        course = plan.courses[visit.course]
        appointment = _emit_appointment(ctx, plan, course, visit)
        if visit.cancelled or visit.day > ctx.today:
            continue
        session_start = visit.start + _minutes(ctx.rng.randint(0, 6))
        if session_start > ctx.now:
            continue  # today, not started yet
        _emit_session(
            ctx, plan, course, appointment, session_start, (position, sessions_total), doses
        )
        position += 1


def _appointment_row(
    ctx: _Context,
    plan: PatientPlan,
    course_id: int | None,
    start: datetime,
    minutes: int,
    kind: str,
    status: str,
    chair_id: int | None,
) -> dict:
    return {
        "id": ctx.ids.take(Appointment.__table__),
        "patient_id": plan.id,
        "course_id": course_id,
        "chair_id": chair_id,
        "series_id": None,
        "sequence_no": None,
        "starts_at": start,
        "ends_at": start + _minutes(minutes),
        "visit_kind": kind,
        "status": status,
        "driver_name": plan.driver[0],
        "driver_phone": f"555-{(plan.id + 5000) % 10000:04d}",
        "driver_status": DriverStatus.UNCONFIRMED,
        "driver_confirmed_at": None,
        "driver_confirmed_by_id": None,
        "cancel_reason": "",
        "cancelled_at": None,
        "cancelled_by_id": None,
        "late_cancellation": False,
        "created_at": min(start - timedelta(days=ctx.rng.randint(5, 21)), ctx.now),
    }


def _emit_appointment(
    ctx: _Context, plan: PatientPlan, course: CoursePlan, visit: VisitPlan
) -> dict:
    rng, now = ctx.rng, ctx.now
    desk = ctx.staff.front_desk[plan.site][visit.number % len(ctx.staff.front_desk[plan.site])]
    chair_id = None if visit.chair is None else ctx.chair_ids[plan.site][visit.chair]
    status = visit.status
    if not visit.cancelled and visit.start + _minutes(visit.minutes) > now - timedelta(hours=12):
        # Today and later: the state follows the clock (a session row may move it on below).
        status = (
            AppointmentStatus.CONFIRMED
            if rng.random() < 0.5 and visit.start - now < timedelta(days=3)
            else AppointmentStatus.SCHEDULED
        )
        if visit.start <= now:
            status = AppointmentStatus.CHECKED_IN
    row = _appointment_row(
        ctx, plan, course.id, visit.start, visit.minutes, visit.kind.value, status, chair_id
    )
    if visit.kind == VisitKind.INDUCTION:
        row["series_id"] = course.series_id
    row["sequence_no"] = visit.number
    confirm_at = visit.start - timedelta(hours=rng.randint(16, 30))
    if confirm_at <= now and (visit.start <= now + timedelta(days=1) or rng.random() < 0.3):
        row.update(
            driver_status=DriverStatus.CONFIRMED,
            driver_confirmed_at=confirm_at,
            driver_confirmed_by_id=desk,
        )
    if visit.cancelled:
        late = rng.random() < 0.5 or status == AppointmentStatus.NO_SHOW
        row.update(
            cancel_reason=rng.choice(CANCEL_REASONS),
            cancelled_at=visit.start - timedelta(hours=rng.randint(2, 20) if late else 48),
            cancelled_by_id=desk,
            late_cancellation=late,
        )
        if status == AppointmentStatus.NO_SHOW:
            row.update(cancel_reason="Did not attend.", cancelled_at=visit.start + _minutes(30))
    ctx.rows.add(Appointment.__table__, row)
    return row


def _emit_consult(ctx: _Context, plan: PatientPlan) -> None:
    assert plan.consult is not None
    row = _appointment_row(
        ctx,
        plan,
        None,
        plan.consult,
        60,
        VisitKind.CONSULT,
        AppointmentStatus.SCHEDULED,
        None,
    )
    ctx.rows.add(Appointment.__table__, row)


def _vital(
    ctx: _Context,
    session_id: int,
    plan: PatientPlan,
    nurse: int,
    taken_at: datetime,
    phase: str,
    rise: int,
    readings: list,
) -> None:
    rng = ctx.rng
    systolic = plan.bp[0] + rise + rng.randint(-5, 5)
    diastolic = min(plan.bp[1] + rise // 2 + rng.randint(-4, 4), systolic - 20)
    heart_rate = plan.bp[2] + rise // 3 + rng.randint(-5, 5)
    spo2 = rng.choice((95, 96, 97, 97, 98, 98, 99, 99))
    resp_rate = rng.randint(12, 18)
    row = {
        "id": ctx.ids.take(VitalsReading.__table__),
        "session_id": session_id,
        "taken_at": taken_at,
        "phase": phase,
        "systolic": systolic,
        "diastolic": diastolic,
        "heart_rate": heart_rate,
        "spo2": spo2,
        "resp_rate": resp_rate,
        "recorded_by_id": nurse,
        "created_at": taken_at + _minutes(1),
    }
    ctx.rows.add(VitalsReading.__table__, row)
    readings.append(row)


def _assessment(
    ctx: _Context,
    plan: PatientPlan,
    session_id: int,
    nurse: int,
    instrument: Any,
    items: list[int],
    at: datetime,
    assessments: list,
) -> dict:
    total, band = score(instrument, items)
    row = {
        "id": ctx.ids.take(Assessment.__table__),
        "patient_id": plan.id,
        "session_id": session_id,
        "instrument": instrument.code,
        "items": items,
        "total": total,
        "band": band,
        "administered_at": at,
        "recorded_by_id": nurse,
        "created_at": at + _minutes(1),
    }
    ctx.rows.add(Assessment.__table__, row)
    assessments.append(row)
    return row


# BP rise (systolic) over pre-dose at 15-minute steps after the first esketamine device.
ESKETAMINE_RISE = (8, 15, 18, 12, 8, 5, 3, 1)


# A session's columns before anything is checked, dosed or signed.
UNSTARTED_SESSION: dict[str, Any] = {
    "status": SessionStatus.IN_PROGRESS,
    "predose_checked_at": None,
    "identity_confirmed": False,
    "consent_confirmed": False,
    "fasting_confirmed": False,
    "pregnancy_status": "",
    "medications_reviewed": False,
    "rems_confirmed": False,
    "driver_confirmed": False,
    "nasal_spray_checked": False,
    "prescriber_on_site": False,
    "oximeter_available": False,
    "weight_kg": None,
    "dose_mg": None,
    "dose_mg_per_kg": None,
    "planned_minutes": None,
    "devices_used": None,
    "lot_number": "",
    "dose_started_at": None,
    "infusion_ended_at": None,
    "pump_concentration_mg_per_ml": None,
    "pump_rate_ml_per_hour": None,
    "infused_volume_ml": None,
    "discharged_at": None,
    "discharged_with": "",
    "discharged_by_id": None,
    "escort_kind": "",
    "escort_phone": "",
    "escort_relationship": "",
    "dissociation_attested": False,
    "not_dosed_at": None,
    "not_dosed_reason": "",
    "not_dosed_note": "",
    "not_dosed_by_id": None,
    "signed_by_id": None,
    "signed_at": None,
    "signature_hash": "",
    "cosigned_by_id": None,
    "cosigned_at": None,
    "cosignature_hash": "",
    "cosign_note": "",
    "version_id": 1,
}


def _session_row(
    ctx: _Context,
    plan: PatientPlan,
    course: CoursePlan,
    appointment: dict,
    started_at: datetime,
    nurse: int,
) -> dict[str, Any]:
    """A just-started session: nothing checked, dosed or signed yet."""
    return {
        "id": ctx.ids.take(TreatmentSession.__table__),
        "appointment_id": appointment["id"],
        "patient_id": plan.id,
        "course_id": course.id,
        "modality": course.modality.value,
        "nurse_id": nurse,
        "psychiatrist_id": ctx.staff.psychiatrists[plan.site][plan.index % 2],
        "started_at": started_at,
        "driver_name": appointment["driver_name"],
        "driver_phone": appointment["driver_phone"],
        **UNSTARTED_SESSION,
    }


@dataclass
class _Chart:
    """One session being charted up to `now`: its row and the rows that hang on it."""

    ctx: _Context
    plan: PatientPlan
    row: dict[str, Any]
    nurse: int
    readings: list[dict] = field(default_factory=list)
    devices: list[dict] = field(default_factory=list)
    assessments: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.row["id"]

    def happened(self, moment: datetime) -> bool:
        return moment <= self.ctx.now

    def vital(self, taken_at: datetime, phase: VitalsPhase, rise: int) -> None:
        _vital(self.ctx, self.id, self.plan, self.nurse, taken_at, phase.value, rise, self.readings)

    def assessment(self, instrument: Any, items: list[int], at: datetime) -> dict:
        return _assessment(
            self.ctx, self.plan, self.id, self.nurse, instrument, items, at, self.assessments
        )


def _emit_session(
    ctx: _Context,
    plan: PatientPlan,
    course: CoursePlan,
    appointment: dict,
    started_at: datetime,
    place: tuple[int, int],
    doses: dict[int, int],
) -> None:
    """Chart one session; a session still running at `now` is charted up to now only.
    `place` is (position of this session in the patient's history, number of sessions)."""
    nurses = ctx.staff.nurses[plan.site]
    nurse = nurses[(plan.index + appointment["sequence_no"]) % len(nurses)]
    chart = _Chart(
        ctx, plan, _session_row(ctx, plan, course, appointment, started_at, nurse), nurse
    )
    ctx.rows.add(TreatmentSession.__table__, chart.row)
    appointment["status"] = AppointmentStatus.IN_TREATMENT
    _chart_predose(chart, course, started_at, place)
    dose_at = started_at + _minutes(13 + ctx.rng.randint(1, 3))
    if chart.happened(dose_at):
        chart.row["dose_started_at"] = dose_at
        if course.modality == Modality.ESKETAMINE_NASAL:
            last_at, scales = _chart_esketamine(chart, course, dose_at, doses)
        else:
            last_at, scales = _chart_iv(chart, course, dose_at)
        for instrument, minutes, items in scales:
            if chart.happened(dose_at + _minutes(minutes)):
                chart.assessment(instrument, items, dose_at + _minutes(minutes))
        _chart_adverse_event(chart, dose_at)
        if chart.happened(last_at):
            _chart_discharge(chart, appointment, last_at)
    _finish(ctx, chart.row, chart.readings, chart.assessments, chart.events, chart.devices, plan)


def _chart_predose(
    chart: _Chart, course: CoursePlan, started_at: datetime, place: tuple[int, int]
) -> None:
    """The PHQ-9 (an item-9 alert when it scores), the checklist and two pre-dose readings."""
    ctx, plan, rng = chart.ctx, chart.plan, chart.ctx.rng
    position, count = place
    phq_at = started_at + _minutes(2)
    item9 = rng.randint(1, 2) if position < plan.item9_sessions else 0
    if chart.happened(phq_at):
        total = _phq_total(plan, position, count, rng)
        phq = chart.assessment(PHQ9, _phq_items(rng, total, item9), phq_at)
        if item9:
            detail = {"item9": item9, "total": phq["total"], "assessment_id": phq["id"]}
            _alert(ctx, plan, chart.id, AlertKind.PHQ9_ITEM9, phq_at, detail)
    checked_at = started_at + _minutes(6)
    if chart.happened(checked_at):
        esk = course.modality == Modality.ESKETAMINE_NASAL
        chart.row.update(
            predose_checked_at=checked_at,
            identity_confirmed=True,
            consent_confirmed=True,
            fasting_confirmed=True,
            medications_reviewed=True,
            driver_confirmed=True,
            prescriber_on_site=True,
            oximeter_available=True,
            nasal_spray_checked=esk,
            rems_confirmed=esk,
            pregnancy_status="not_applicable"
            if plan.sex == "male" or (ctx.today - plan.dob).days > 50 * 365
            else "not_pregnant",
        )
    for minutes in (9, 12):
        if chart.happened(started_at + _minutes(minutes)):
            chart.vital(started_at + _minutes(minutes), VitalsPhase.PRE_DOSE, 0)


Scales = tuple[tuple[Any, float, list[int]], ...]


def _chart_esketamine(
    chart: _Chart, course: CoursePlan, dose_at: datetime, doses: dict[int, int]
) -> tuple[datetime, Scales]:
    """Devices 5 minutes apart and the BP rise; returns the last reading's time and the scales
    (instrument, minutes after the dose, items)."""
    ctx, rng = chart.ctx, chart.ctx.rng
    dose = 56 if course.indication == Indication.TRD and doses[course.id] < 2 else course.plan_mg
    assert dose is not None
    doses[course.id] += 1
    chart.row.update(
        dose_mg=Decimal(dose).quantize(Decimal("0.1")),
        devices_used=dose // 28,
        lot_number=rng.choice(ESKETAMINE_LOTS),
    )
    for number in range(1, dose // 28 + 1):
        given_at = dose_at + _minutes(5 * (number - 1))
        if chart.happened(given_at):
            device = {
                "id": ctx.ids.take(DeviceAdministration.__table__),
                "session_id": chart.id,
                "device_number": number,
                "given_at": given_at,
                "lot_number": chart.row["lot_number"],
                "complete": True,
                "note": "",
                "recorded_by_id": chart.nurse,
                "created_at": given_at + _minutes(1),
            }
            ctx.rows.add(DeviceAdministration.__table__, device)
            chart.devices.append(device)
    for step, rise in enumerate(ESKETAMINE_RISE, start=1):
        taken_at = dose_at + _minutes(15 * step + rng.randint(-1, 1))
        if chart.happened(taken_at):
            chart.vital(taken_at, VitalsPhase.POST_DOSE, rise + rng.randint(-3, 3))
    last_at = dose_at + _minutes(122 + rng.randint(0, 4))
    scales = (
        (MOAAS, 30, [rng.choice((5, 5, 5, 4))]),
        (CADSS6, 45, [rng.choice((0, 1, 1, 2, 2, 3)) for _ in range(6)]),
    )
    return last_at, scales


def _chart_iv(chart: _Chart, course: CoursePlan, dose_at: datetime) -> tuple[datetime, Scales]:
    """A 40-minute infusion at the pump rate, intra- and post-infusion readings; returns the last
    reading's time and the scales (instrument, minutes after the dose, items)."""
    rng = chart.ctx.rng
    assert course.iv_mg_per_kg is not None
    weight = (chart.plan.weight + Decimal(rng.randint(-8, 8)) / 10).quantize(Decimal("0.1"))
    dose = (weight * course.iv_mg_per_kg).quantize(Decimal("0.1"), ROUND_HALF_UP)
    chart.row.update(
        weight_kg=weight,
        dose_mg=dose,
        dose_mg_per_kg=course.iv_mg_per_kg,
        planned_minutes=40,
        lot_number=rng.choice(KETAMINE_LOTS),
        pump_concentration_mg_per_ml=PUMP_CONCENTRATION_MG_PER_ML,
        pump_rate_ml_per_hour=pump_rate_for(dose, 40, PUMP_CONCENTRATION_MG_PER_ML),
    )
    infusion_end = dose_at + _minutes(40 + rng.randint(0, 8))
    for step in range(1, 6):
        taken_at = dose_at + _minutes(8 * step)
        if chart.happened(taken_at) and taken_at < infusion_end:
            chart.vital(taken_at, VitalsPhase.INTRA, rng.randint(6, 14))
    if chart.happened(infusion_end):
        chart.row["infusion_ended_at"] = infusion_end
        chart.row["infused_volume_ml"] = (dose / PUMP_CONCENTRATION_MG_PER_ML).quantize(
            Decimal("0.1")
        )
    for step in (10, 20):
        taken_at = infusion_end + _minutes(step)
        if chart.happened(taken_at):
            chart.vital(taken_at, VitalsPhase.POST_DOSE, max(0, 8 - 4 * step // 10))
    last_at = infusion_end + _minutes(30 + rng.randint(0, 3))
    scales = (
        (MOAAS, 20, [rng.choice((5, 5, 4))]),
        (
            CADSS6,
            (infusion_end - dose_at).total_seconds() / 60 + 5,
            [rng.choice((0, 1, 1, 2)) for _ in range(6)],
        ),
    )
    return last_at, scales


def _chart_adverse_event(chart: _Chart, dose_at: datetime) -> None:
    """An adverse event in ~4 % of sessions; a serious one raises an alert."""
    ctx, rng = chart.ctx, chart.ctx.rng
    if rng.random() >= 0.04:
        return
    kind = rng.choices([k for k, _ in AE_KINDS], [w for _, w in AE_KINDS])[0]
    severity = rng.choices(("mild", "moderate", "severe"), (75, 22, 3))[0]
    onset = dose_at + _minutes(rng.randint(10, 60))
    if not chart.happened(onset):
        return
    serious = severity == "severe" and rng.random() < 0.3
    resolved_at = onset + _minutes(20)
    resolved = chart.happened(resolved_at)
    event = {
        "id": ctx.ids.take(AdverseEvent.__table__),
        "session_id": chart.id,
        "kind": kind,
        "severity": severity,
        "onset_at": onset,
        # A severe event is serious, and a serious one (like "Other") needs the nurse's words.
        "description": _event_description(kind, onset - dose_at) if severity == "severe" else "",
        "intervention": rng.choice(AE_INTERVENTIONS),
        "resolved": resolved,
        "resolved_at": resolved_at if resolved else None,
        "resolved_by_id": chart.nurse if resolved else None,
        "cleared_at": None,
        "cleared_by_id": None,
        "clear_note": "",
        "serious": serious,
        "recorded_by_id": chart.nurse,
        "created_at": onset + _minutes(2),
    }
    ctx.rows.add(AdverseEvent.__table__, event)
    chart.events.append(event)
    if serious:
        detail = {"kind": kind, "severity": severity, "adverse_event_id": event["id"]}
        _alert(ctx, chart.plan, chart.id, AlertKind.SERIOUS_AE, onset, detail)


def _event_description(kind: str, after: timedelta) -> str:
    label = ADVERSE_EVENT_KINDS[kind].lower()
    return f"Marked {label} from {int(after.total_seconds() // 60)} min after the dose."


def _chart_discharge(chart: _Chart, appointment: dict, last_at: datetime) -> None:
    """The last reading, discharge with the confirmed driver, then signature and co-signature
    as far as they have happened."""
    rng, row = chart.ctx.rng, chart.row
    chart.vital(last_at, VitalsPhase.POST_DOSE, 0)
    discharged_at = last_at + _minutes(rng.randint(3, 8))
    if not chart.happened(discharged_at):
        return
    row.update(
        status=SessionStatus.DISCHARGED,
        discharged_at=discharged_at,
        discharged_with=row["driver_name"],
        escort_kind="confirmed_driver",
        escort_phone=row["driver_phone"],
        discharged_by_id=chart.nurse,
    )
    appointment["status"] = AppointmentStatus.COMPLETED
    signed_at = discharged_at + _minutes(rng.randint(5, 25))
    if not chart.happened(signed_at):
        return
    row.update(status=SessionStatus.SIGNED, signed_by_id=chart.nurse, signed_at=signed_at)
    cosigned_at = signed_at + timedelta(hours=rng.randint(18, 72))
    if chart.happened(cosigned_at):
        row.update(
            status=SessionStatus.COSIGNED,
            cosigned_by_id=row["psychiatrist_id"],
            cosigned_at=cosigned_at,
        )


def _alert(
    ctx: _Context,
    plan: PatientPlan,
    session_id: int,
    kind: AlertKind,
    at: datetime,
    detail: dict,
) -> None:
    acknowledged = at + timedelta(hours=ctx.rng.randint(1, 20))
    done = acknowledged <= ctx.now
    ctx.rows.add(
        ClinicalAlert.__table__,
        {
            "id": ctx.ids.take(ClinicalAlert.__table__),
            "kind": kind.value,
            "patient_id": plan.id,
            "session_id": session_id,
            "appointment_id": None,
            "raised_at": at,
            "detail": detail,
            "acknowledged_at": acknowledged if done else None,
            "acknowledged_by_id": ctx.staff.psychiatrists[plan.site][0] if done else None,
            "acknowledge_note": "",
        },
    )


def _finish(
    ctx: _Context,
    row: dict,
    readings: list[dict],
    assessments: list[dict],
    events: list[dict],
    devices: list[dict],
    plan: PatientPlan,
) -> None:
    """Signature hashes, computed by the app's own function over the rows as they will load."""
    if row["signed_at"] is None:
        return
    # A stand-in with the attributes content_hash reads, built from the rows not yet inserted.
    session = SimpleNamespace(
        **row,
        vitals=[SimpleNamespace(**r) for r in sorted(readings, key=lambda r: r["taken_at"])],
        assessments=[
            SimpleNamespace(**a) for a in sorted(assessments, key=lambda a: a["administered_at"])
        ],
        adverse_events=[SimpleNamespace(**e) for e in events],
        overrides=[],
        infusion_pauses=[],
        devices=[SimpleNamespace(**d) for d in devices],
    )
    digest = content_hash(cast(TreatmentSession, session))
    row["signature_hash"] = digest
    if row["cosigned_at"] is not None:
        row["cosignature_hash"] = digest


# ---------------------------------------------------------------------------------------------
# Staff and chairs
# ---------------------------------------------------------------------------------------------


def _staff(
    connection: Connection, ids: _Ids, site_ids: list[int], echo: Callable[[str], None]
) -> Staff:
    """The small demo's accounts (created if missing) at every site, plus nurses, psychiatrists
    and front desk per site working there, all sharing BULK_STAFF_PASSWORD (one argon2 hash,
    computed once)."""
    demo = _demo_logins()
    ids.next[User.__table__.name] = (db.session.scalar(select(func.max(User.id))) or 0) + 1
    staff, rows = _site_staff(ids, len(site_ids), demo)
    if rows:
        connection.execute(User.__table__.insert(), rows)
    memberships = _memberships(staff, {row["id"] for row in rows}, site_ids, demo)
    if memberships:
        connection.execute(user_sites.insert(), memberships)
    echo(f"  staff: {len(rows)} accounts added (password {BULK_STAFF_PASSWORD!r})")
    return staff


def _demo_logins() -> dict[str, int]:
    """Creates the small demo's accounts that are missing; every username's user id."""
    from clinic_app.auth.services import create_user
    from clinic_app.demo.clinic import DEMO_LOGINS

    for login in DEMO_LOGINS:
        if db.session.scalar(select(User.id).where(User.username == login.username)) is None:
            create_user(
                None,
                login.username,
                login.full_name,
                login.role,
                login.password,
                login.credentials,
            )
    db.session.flush()
    return {
        username: user_id
        for username, user_id in db.session.execute(select(User.username, User.id))
    }


def _site_staff(ids: _Ids, sites: int, demo: dict[str, int]) -> tuple[Staff, list[dict]]:
    """Each site's nurses, psychiatrists and front desk, and the rows of the accounts to add."""
    from clinic_app.auth.passwords import hash_password

    password_hash = hash_password(BULK_STAFF_PASSWORD)
    staff = Staff([], [], [])
    rows = []
    per_site = (
        (Role.NURSE, 8, "RN", staff.nurses),
        (Role.PSYCHIATRIST, 2, "MD", staff.psychiatrists),
        (Role.FRONT_DESK, 3, "", staff.front_desk),
    )
    for site in range(sites):
        slug = _site_name(site).lower().replace(" ", "")
        for role, count, credentials, into in per_site:
            at_site = []
            for k in range(1, count + 1):
                username = f"{slug}-{role.value.replace('_', '')}-{k}"
                user_id = demo.get(username)
                if user_id is None:
                    user_id = ids.take(User.__table__)
                    rows.append(
                        {
                            "id": user_id,
                            "username": username,
                            "full_name": f"{_site_name(site)} {role.label} {k}",
                            "credentials": credentials,
                            "role": role.value,
                            "active": True,
                            "password_hash": password_hash,
                            "created_at": utcnow(),
                            "failed_logins": 0,
                            "totp_secret_encrypted": "",
                        }
                    )
                at_site.append(user_id)
            into.append(at_site)
    return staff, rows


def _memberships(
    staff: Staff, new_ids: set[int], site_ids: list[int], demo: dict[str, int]
) -> list[dict[str, int]]:
    """The site memberships to add: each new account at its site, each demo login at all."""
    from clinic_app.demo.clinic import DEMO_LOGINS

    memberships = [
        {"user_id": user_id, "site_id": site_ids[site]}
        for per_role in (staff.nurses, staff.psychiatrists, staff.front_desk)
        for site, users in enumerate(per_role)
        for user_id in users
        if user_id in new_ids
    ]
    already = {
        (user_id, site_id)
        for user_id, site_id in db.session.execute(
            select(user_sites.c.user_id, user_sites.c.site_id)
        )
    }
    return memberships + [
        {"user_id": demo[login.username], "site_id": site_id}
        for login in DEMO_LOGINS
        for site_id in site_ids
        if (demo[login.username], site_id) not in already
    ]


def _site_name(site: int) -> str:
    base = SITE_NAMES[site % len(SITE_NAMES)]
    return base if site < len(SITE_NAMES) else f"{base} {site // len(SITE_NAMES) + 1}"


def _site_code(site: int) -> str:
    """NORTHGATE, CEDARPARK, then NORTHGATE-2…: at most 12 characters."""
    base = SITE_NAMES[site % len(SITE_NAMES)].upper().replace(" ", "")[:9]
    return base if site < len(SITE_NAMES) else f"{base}-{site // len(SITE_NAMES) + 1}"


def _site_zip(site: int) -> str:
    return f"{90001 + site:05d}"


def _sites(count: int, zone: ZoneInfo) -> list[int]:
    """Ids of the bulk sites (created when missing), all in the clinic's zone: the history's
    wall-clock times are planned in it."""
    site_ids = []
    for site in range(count):
        row = db.session.scalar(select(Site).where(Site.code == _site_code(site)))
        if row is None:
            row = Site(
                name=f"{_site_name(site)} Clinic",
                code=_site_code(site),
                address_line1=f"{100 + site} Main St",
                city=_site_name(site),
                state="CA",
                zip_code=_site_zip(site),
                timezone=zone.key,
            )
            db.session.add(row)
            db.session.flush()
        site_ids.append(row.id)
    return site_ids


def _chairs(
    connection: Connection, ids: _Ids, needed: list[int], site_ids: list[int]
) -> list[list[int]]:
    rows, chair_ids = [], []
    for site, count in enumerate(needed):
        chairs_here = []
        for k in range(1, count + 1):
            chair_id = ids.take(Chair.__table__)
            rows.append(
                {
                    "id": chair_id,
                    "site_id": site_ids[site],
                    "name": f"{_site_name(site)} chair {k:02d}",
                    "active": True,
                }
            )
            chairs_here.append(chair_id)
        chair_ids.append(chairs_here)
    if rows:
        connection.execute(Chair.__table__.insert(), rows)
    return chair_ids


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------

BULK_TABLES = (User.__table__, Chair.__table__, *HISTORY_TABLES)


def _echo(progress: bool) -> Callable[[str], None]:
    return click.echo if progress else (lambda message: None)


def _plan_patients(
    rng: random.Random,
    patients: int,
    sites: int,
    timeline_patients: Iterable[int],
    clock: _Clock,
    now: datetime,
) -> list[PatientPlan]:
    """Every patient's visits, timed: the bulk ones, then the timeline's heavy patients."""
    rules = scheduling_rules()
    today = clock.local_day(now)
    horizon = today + timedelta(days=13 - today.weekday())  # Sunday of next week
    plans: list[PatientPlan] = []
    for index in range(patients):
        plan = _plan_patient(rng, index, sites, today)
        if rng.random() < 0.02:
            plan.consult = clock.at(
                _weekday_on_or_after(today + timedelta(days=rng.randint(1, 9))),
                (9 + rng.randint(0, 7)) * 60,
            )
        else:
            sessions = max(3, min(64, round(rng.gauss(33, 10))))
            _schedule_history(rng, plan, sessions, today, rules, active=rng.random() < 0.4)
            _future_visits(rng, plan, today, horizon, rules)
        plans.append(plan)
    for sessions in sorted(timeline_patients):
        plan = _plan_patient(rng, len(plans), sites, today)
        plan.site, plan.mrn, plan.item9_sessions = (
            0,
            TIMELINE_MRNS.get(sessions, f"BK-T{sessions:06d}"),
            0,
        )
        _heavy_patient(rng, plan, sessions, today, rules)
        plans.append(plan)
    for plan in plans:
        _time_visits(rng, plan, clock, today, now, rules)
        plan.visits.extend(_cancellations(rng, plan, today))
    return plans


def _insert_history(ctx: _Context, plans: list[PatientPlan], progress: bool) -> None:
    """Every plan's rows, flushed in batches of FLUSH_ROWS (with a progress bar if asked)."""
    if progress:
        with click.progressbar(plans, label="Inserting history", show_pos=True) as bar:
            for plan in bar:
                _emit_patient(ctx, plan)
                if ctx.rows.size() >= FLUSH_ROWS:
                    ctx.rows.flush()
    else:
        for plan in plans:
            _emit_patient(ctx, plan)
            if ctx.rows.size() >= FLUSH_ROWS:
                ctx.rows.flush()
    ctx.rows.flush()


def generate(
    patients: int,
    *,
    seed: int = SEED,
    timeline_patients: Iterable[int] = tuple(TIMELINE_MRNS),
    progress: bool = True,
) -> dict[str, int]:
    """Insert the large history in the current transaction (the caller commits); row counts.

    Raises RuntimeError when bulk patients are already present (run it once per database).
    """
    echo = _echo(progress)
    if db.session.scalar(select(func.count()).where(Patient.mrn.like(f"{MRN_PREFIX}%"))):
        raise RuntimeError("Bulk demo patients are already loaded in this database.")
    rng = random.Random(seed)
    now = utcnow().replace(second=0, microsecond=0)
    clock = _Clock(clinic_timezone())
    today = clock.local_day(now)
    sites = max(MIN_SITES, math.ceil(patients / PATIENTS_PER_SITE))
    connection = db.session.connection()
    ids = _Ids(connection, BULK_TABLES)

    echo(f"Planning {patients} patients at {sites} site(s)...")
    plans = _plan_patients(rng, patients, sites, timeline_patients, clock, now)
    needed = _allocate_chairs(plans, sites)
    echo(f"  chairs per site (greedy, no chair double-booked): {needed}")

    site_ids = _sites(sites, clock.zone)
    staff = _staff(connection, ids, site_ids, echo)
    chair_ids = _chairs(connection, ids, needed, site_ids)
    rows = _Rows(connection)
    ctx = _Context(rng, ids, rows, staff, site_ids, chair_ids, clock, now, today)
    _insert_history(ctx, plans, progress)
    advance_sequences(BULK_TABLES)
    echo("Storing the review flags and peaks of signed sessions, as signing does...")
    store_missing()
    analyze((*BULK_TABLES, SessionReview.__table__))
    counts = {"sites": sites, "chairs": sum(needed)}
    counts.update(rows.counts)
    counts.update(generate_stock())
    return counts


def add_patients(count: int, *, seed: int = SEED + 1, batch: int = 20_000) -> int:
    """Insert `count` registered, unscreened patients without history (patient-search
    scaling). Returns the count."""
    rng = random.Random(seed)
    connection = db.session.connection()
    ids = _Ids(connection, [Patient.__table__])
    today = date.today()
    rows: list[dict] = []
    created = datetime.now(UTC).replace(microsecond=0)
    for _ in range(count):
        plan = _plan_patient(rng, 0, 1, today)
        patient_id = ids.take(Patient.__table__)
        rows.append(
            {
                "id": patient_id,
                "mrn": f"BS-{patient_id:07d}",
                "first_name": plan.first,
                "last_name": plan.last,
                "date_of_birth": plan.dob,
                "sex": plan.sex,
                "phone": f"555-{patient_id % 10000:04d}",
                "email": "",
                "allergies": "",
                "weight_kg": None,
                "driver_name": plan.driver[0],
                "driver_phone": "",
                "driver_relationship": plan.driver[1],
                # Registered by the front desk, not screened yet.
                "consent_date": None,
                "contraindications": [],
                "failed_trials": 0,
                "medication_classes": [],
                "rems_enrolled_on": None,
                "screened_at": None,
                "screened_by_id": None,
                "preferred_weekdays": [],
                "preferred_time": None,
                "created_at": created,
                "updated_at": created,
                "version_id": 1,
            }
        )
        if len(rows) >= batch:
            connection.execute(Patient.__table__.insert(), rows)
            rows.clear()
    if rows:
        connection.execute(Patient.__table__.insert(), rows)
    advance_sequences([Patient.__table__])
    analyze([Patient.__table__])
    return count


def advance_sequences(tables: Iterable[Table]) -> None:
    """PostgreSQL: move each id sequence past the explicitly inserted ids (no-op elsewhere)."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        connection.execute(
            text(
                # Table names come from the model metadata, not from input.
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # nosec B608
                f"coalesce((SELECT max(id) FROM {table.name}), 1), "
                f"(SELECT max(id) FROM {table.name}) IS NOT NULL)"
            )
        )


def analyze(tables: Iterable[Table]) -> None:
    """PostgreSQL: refresh the planner statistics of the loaded tables. Autovacuum would do it
    a minute later, if it is on (it is off on some servers); until then the planner has no row
    counts and picks sequential scans (the timeline's vitals query: 44 ms instead of 0.1 ms)."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("ANALYZE " + ", ".join(t.name for t in tables)))


# ---------------------------------------------------------------------------------------------
# Invariants
# ---------------------------------------------------------------------------------------------


# Invariants that are one count of violating rows each, in the order they are reported.
_COUNTED_INVARIANTS = (
    (
        "closed sessions have dose, discharge, vitals and a PHQ-9",
        "SELECT count(*) FROM treatment_sessions s WHERE s.status <> 'in_progress' "
        "AND (s.discharged_at IS NULL OR s.dose_started_at IS NULL "
        "OR NOT EXISTS (SELECT 1 FROM vitals_readings v WHERE v.session_id = s.id) "
        "OR NOT EXISTS (SELECT 1 FROM assessments a WHERE a.session_id = s.id "
        "AND a.instrument = 'phq9'))",
    ),
    (
        "every clinical screen names who screened, and when",
        "SELECT count(*) FROM patients WHERE (screened_at IS NULL) <> (screened_by_id IS NULL)",
    ),
    (
        "vitals within their session",
        "SELECT count(*) FROM vitals_readings v"
        " JOIN treatment_sessions s ON s.id = v.session_id WHERE s.status <> 'in_progress'"
        " AND (v.taken_at < s.started_at OR v.taken_at > s.discharged_at)",
    ),
    (
        "session, course and appointment agree",
        "SELECT count(*) FROM treatment_sessions s"
        " JOIN treatment_courses c ON c.id = s.course_id"
        " LEFT JOIN appointments a ON a.id = s.appointment_id"
        " WHERE c.patient_id <> s.patient_id"
        " OR c.modality <> s.modality OR (a.id IS NOT NULL AND (a.patient_id <> s.patient_id"
        " OR a.status NOT IN ('in_treatment', 'completed')))",
    ),
    (
        "every completed appointment has its session",
        "SELECT count(*) FROM appointments a WHERE a.status = 'completed' AND NOT EXISTS "
        "(SELECT 1 FROM treatment_sessions s WHERE s.appointment_id = a.id)",
    ),
    (
        "serious, severe and 'other' adverse events are described",
        "SELECT count(*) FROM adverse_events WHERE description = '' "
        "AND (serious OR severity = 'severe' OR kind = 'other')",
    ),
    (
        "signatures complete and in order",
        "SELECT count(*) FROM treatment_sessions WHERE status IN ('signed', 'cosigned') "
        "AND (length(signature_hash) <> 64 OR signed_at < discharged_at "
        "OR (status = 'cosigned' AND cosigned_at < signed_at))",
    ),
)


def check_invariants(sample: int = 25) -> list[tuple[str, bool, str]]:
    """(name, holds, detail) for each invariant of the generated data; reads only."""
    session = db.session
    results: list[tuple[str, bool, str]] = []

    def check(name: str, problems: int, detail: str = "") -> None:
        results.append((name, problems == 0, detail or f"{problems} violation(s)"))

    active = "status NOT IN ('cancelled', 'no_show')"
    for column in ("chair_id", "patient_id"):
        overlaps = session.scalar(
            text(
                f"SELECT count(*) FROM (SELECT starts_at, lag(ends_at) OVER "  # nosec B608
                f"(PARTITION BY {column} ORDER BY starts_at) AS prev_end FROM appointments "
                f"WHERE {active} AND {column} IS NOT NULL) AS t WHERE prev_end > starts_at"
            )
        )
        check(f"no {column.removesuffix('_id')} double-booked", overlaps)
    check("at most one session per patient and clinic day", _same_day_sessions())
    for name, query in _COUNTED_INVARIANTS:
        check(name, session.scalar(text(query)))
    bad_hash, sampled = _bad_signature_hashes(sample)
    check("signature hash matches the stored content", bad_hash, f"{sampled} sampled")
    if session.get_bind().dialect.name == "postgresql":
        check("sequences ahead of the ids", _sequences_behind())
    check("stock ledger adds up to every container's balance", ledger_problems())
    return results


def _same_day_sessions() -> int:
    """Sessions that are a patient's second (or later) on one clinic day."""
    zone = clinic_timezone()
    seen: set[tuple[int, date]] = set()
    same_day = 0
    for patient_id, started_at in db.session.execute(
        select(TreatmentSession.patient_id, TreatmentSession.started_at)
    ):
        key = (patient_id, started_at.astimezone(zone).date())
        same_day += key in seen
        seen.add(key)
    return same_day


def _bad_signature_hashes(sample: int) -> tuple[int, int]:
    """(mismatches, sessions checked) of the content hash on the latest co-signed sessions."""
    from sqlalchemy.orm import selectinload

    rows = db.session.scalars(
        select(TreatmentSession)
        .where(TreatmentSession.status == SessionStatus.COSIGNED)
        .order_by(TreatmentSession.id.desc())
        .limit(sample)
        .options(
            selectinload(TreatmentSession.vitals),
            selectinload(TreatmentSession.assessments),
            selectinload(TreatmentSession.adverse_events),
            selectinload(TreatmentSession.overrides),
            selectinload(TreatmentSession.infusion_pauses),
            selectinload(TreatmentSession.devices),
        )
    ).all()
    return sum(content_hash(t) != t.signature_hash for t in rows), len(rows)


def _sequences_behind() -> int:
    """PostgreSQL: bulk tables whose id sequence is behind their highest id."""
    behind = 0
    for table in BULK_TABLES:
        last, highest = db.session.execute(
            text(
                f"SELECT (SELECT last_value FROM {_sequence(table.name)}), "  # nosec B608
                f"(SELECT coalesce(max(id), 0) FROM {table.name})"
            )
        ).one()
        behind += last < highest
    return behind


def _sequence(table: str) -> str:
    name = db.session.scalar(text(f"SELECT pg_get_serial_sequence('{table}', 'id')"))
    return str(name)


def run_command(patients: int, echo: Callable[[str], None] = click.echo) -> None:
    """The body of `demo-data --patients N` (after the small demo, when the database was empty)."""
    import time as _time

    started = _time.perf_counter()
    try:
        counts = generate(patients)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    elapsed = _time.perf_counter() - started
    echo(
        f"Loaded {patients} bulk patients in {elapsed:.0f} s: "
        + ", ".join(f"{n} {name}" for name, n in counts.items() if n)
        + "."
    )
    results = check_invariants()
    failed = [r for r in results if not r[1]]
    for name, holds, detail in results:
        echo(f"  {'ok  ' if holds else 'FAIL'} {name} ({detail})")
    if failed:
        raise click.ClickException(f"{len(failed)} invariant(s) do not hold.")
    echo(
        f"Bulk staff log in as e.g. {_site_name(0).lower()}-nurse-1 / {BULK_STAFF_PASSWORD}; "
        f"timeline patients: {', '.join(TIMELINE_MRNS.values())}."
    )
