"""The small demo clinic for development, loaded by `flask --app wsgi demo-data` (`command.py`).

Loads two sites (Los Angeles and New York), one account per role working at both, four chairs
in Los Angeles and two in New York, a dozen fictional patients with weeks of signed
treatment history, a live Today board in Los Angeles (patients waiting, in pre-dose, dosing,
observing and ready for discharge, all timed from `clock.utcnow()`), two first visits today in New
York, and the next two weeks of bookings. The command
refuses to run in production and loads nothing when any user already exists. Everything is
deterministic (a seeded random generator) apart from "now".
"""

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from clinic_app.auth.services import create_user
from clinic_app.clinical.codes import (
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
from clinic_app.clinical.dosing import ESKETAMINE_DEVICE_MG, iv_dose, pump_rate_for
from clinic_app.clinical.scores import CADSS6, INSTRUMENTS, MOAAS, PHQ9, score
from clinic_app.clinical.series import SchedulingRules
from clinic_app.clock import utcnow
from clinic_app.demo.rems import load_rems_demo
from clinic_app.extensions import db
from clinic_app.models import (
    AdverseEvent,
    Appointment,
    Assessment,
    Chair,
    DeviceAdministration,
    Patient,
    Site,
    TreatmentCourse,
    TreatmentSession,
    User,
    VitalsReading,
)
from clinic_app.patients.services import create_patient, open_course, record_screen
from clinic_app.review.stored import store_summaries
from clinic_app.settings import (
    clinic_timezone,
    clinic_today,
    clinical_rules,
    day_bounds_utc,
    local_to_utc,
)
from clinic_app.treatments.closing import content_hash
from clinic_app.treatments.guards import pregnancy_relevant

# ---------------------------------------------------------------------------------------------
# Data tables
# ---------------------------------------------------------------------------------------------


class DemoLogin(NamedTuple):
    username: str
    password: str
    role: Role
    full_name: str
    credentials: str


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("nurse", "nurse-demo-pass", Role.NURSE, "Nora Reyes", "RN"),
    DemoLogin("psychiatrist", "psych-demo-pass", Role.PSYCHIATRIST, "Dr. Samuel Okafor", "MD"),
    DemoLogin("frontdesk", "desk-demo-pass", Role.FRONT_DESK, "Frank Diaz", ""),
    DemoLogin("admin", "admin-demo-pass", Role.ADMIN, "Ada Admin", ""),
)

# Real towns near each site for the patients' fictional street addresses.
TOWNS = {
    "DTLA": (
        ("Pasadena", "CA", "91101"),
        ("Glendale", "CA", "91203"),
        ("Burbank", "CA", "91502"),
        ("Santa Monica", "CA", "90401"),
        ("Long Beach", "CA", "90802"),
    ),
    "NYC": (
        ("Brooklyn", "NY", "11201"),
        ("Hoboken", "NJ", "07030"),
        ("Jersey City", "NJ", "07302"),
        ("Astoria", "NY", "11102"),
    ),
}
# Fictional locations: 555-01xx phones, valid-looking but unissued DEA numbers and REMS IDs.
SITES = (
    {
        "name": "Downtown Los Angeles",
        "code": "DTLA",
        "address_line1": "1200 Wilshire Blvd",
        "address_line2": "Suite 300",
        "city": "Los Angeles",
        "state": "CA",
        "zip_code": "90017",
        "phone": "213-555-0140",
        "timezone": "America/Los_Angeles",
        "rems_certified": True,
        "rems_setting_id": "DEMO-HCS-0001",
        "dea_number": "FD3816242",
    },
    {
        "name": "Midtown Manhattan",
        "code": "NYC",
        "address_line1": "250 W 57th St",
        "address_line2": "Floor 9",
        "city": "New York",
        "state": "NY",
        "zip_code": "10107",
        "phone": "212-555-0160",
        "timezone": "America/New_York",
        "rems_certified": True,
        "rems_setting_id": "DEMO-HCS-0002",
        "dea_number": "BM4729159",
    },
)
# The history and today's board are at the first site; the second has its own chairs.
CHAIRS = ("Chair 1", "Chair 2", "Chair 3", "Chair 4")
OTHER_SITE_CHAIRS = ("Suite A", "Suite B")
SEED = 20240611

ESK, IV = Modality.ESKETAMINE_NASAL, Modality.IV_KETAMINE
TRD, MDSI = Indication.TRD, Indication.MDSI
IND, MAINT = CoursePhase.INDUCTION, CoursePhase.MAINTENANCE

# Booked chair time per visit, in minutes.
VISIT_MINUTES = {ESK: 150, IV: 120}
# The default clinic calendar (open weekdays, public holidays): no demo visit on a closed day.
CALENDAR = SchedulingRules()
# Days between visits, newest first: twice weekly esketamine, Mon/Wed/Fri-like IV induction.
INDUCTION_GAPS = {ESK: (3, 4), IV: (2, 2, 3)}
MAINTENANCE_GAP = {ESK: 7, IV: 21}
ESKETAMINE_LOTS = ("SPR24K117", "SPR24M031", "SPR25A204")
KETAMINE_LOTS = ("KET-23B04", "KET-24C19", "KET-24F07")
# Ketamine diluted to 1 mg/mL for the pump.
PUMP_CONCENTRATION_MG_PER_ML = Decimal("1.00")

# Today's board states (see _today_slot): waiting for a visit later today, waiting now, session
# started but no checklist, IV infusion running, esketamine observing, esketamine ready to leave.
LATER, NOW, PRE_DOSE = "later", "now", "pre_dose"
IV_DOSING, OBSERVING, READY = "iv_dosing", "observing", "ready"


@dataclass(frozen=True)
class PatientSpec:
    """One demo patient: demographics, course and the shape of their history."""

    mrn: str
    first: str
    last: str
    dob: date
    sex: str
    weight: str
    allergies: str
    driver: tuple[str, str]  # name, relationship
    failed_trials: int
    meds: tuple[str, ...]
    modality: Modality | None  # None: registered, consult booked, no course yet
    indication: Indication = TRD
    plan_mg: int | None = None  # esketamine dose the course prescribes now
    phase: CoursePhase = IND
    induction_done: int = 0  # past induction sessions
    maintenance_done: int = 0  # past maintenance sessions after those
    days_since_last: int = 3
    phq: tuple[int, int] = (20, 10)  # PHQ-9 at the first session -> at the latest
    item9: tuple[int, ...] = ()  # PHQ-9 item 9 answers at the first sessions (then 0)
    bp: tuple[int, int, int] = (120, 78, 72)  # usual pre-dose systolic, diastolic, heart rate
    today: str | None = None  # a board state from above
    next_in_days: int | None = None  # next booked visit
    contraindications: tuple[str, ...] = ()


# Twelve treated patients and one new referral. Counts are past sessions; `today` puts the
# patient on today's board in that state; `next_in_days` books the next visit.
# fmt: off
PATIENTS: tuple[PatientSpec, ...] = (
    PatientSpec("KC-10001", "Maria", "Alvarez", date(1988, 3, 14), "female", "68.4", "NKDA",
                ("Luis Alvarez", "Spouse"), 3, ("antidepressant",), ESK, TRD, 84, MAINT,
                induction_done=8, maintenance_done=2, days_since_last=7, phq=(22, 6),
                bp=(118, 76, 72), today=READY, next_in_days=7),
    PatientSpec("KC-10002", "James", "Whitfield", date(1957, 9, 2), "male", "88.2", "Penicillin",
                ("Carol Whitfield", "Spouse"), 4, ("antidepressant", "benzodiazepine"),
                IV, TRD, None, MAINT,
                induction_done=6, maintenance_done=1, days_since_last=21, phq=(20, 8),
                bp=(142, 84, 68), today=IV_DOSING),
    PatientSpec("KC-10003", "Priya", "Natarajan", date(1994, 11, 23), "female", "61.0",
                "Sulfa drugs", ("Arjun Natarajan", "Brother"), 2, ("antidepressant",),
                ESK, TRD, 84, IND,
                induction_done=5, days_since_last=3, phq=(19, 11),
                bp=(112, 72, 78), today=OBSERVING, next_in_days=3),
    PatientSpec("KC-10004", "Daniel", "Kim", date(1979, 6, 30), "male", "77.5", "NKDA",
                ("Grace Kim", "Spouse"), 3, ("antidepressant", "non_benzo_hypnotic"),
                IV, TRD, None, IND,
                induction_done=4, days_since_last=2, phq=(21, 12),
                bp=(126, 80, 74), today=PRE_DOSE, next_in_days=2),
    PatientSpec("KC-10005", "Aisha", "Bello", date(1990, 1, 8), "female", "72.3", "NKDA",
                ("Tunde Bello", "Father"), 1, ("antidepressant",), ESK, MDSI, 84, IND,
                induction_done=6, days_since_last=3, phq=(24, 10), item9=(2, 1, 1),
                bp=(116, 74, 84), today=NOW, next_in_days=4),
    PatientSpec("KC-10006", "Robert", "Hargreaves", date(1966, 12, 19), "male", "94.6", "Codeine",
                ("Susan Hargreaves", "Spouse"), 5, ("antidepressant",), IV, TRD, None, MAINT,
                induction_done=6, maintenance_done=1, days_since_last=21, phq=(23, 9),
                bp=(134, 86, 70), today=LATER),
    PatientSpec("KC-10007", "Elena", "Petrova", date(1983, 7, 27), "female", "58.9", "Latex",
                ("Mikhail Petrov", "Partner"), 4, ("antidepressant", "benzodiazepine"),
                ESK, TRD, 84, MAINT,
                induction_done=8, maintenance_done=1, days_since_last=6, phq=(21, 18),
                bp=(122, 78, 76), next_in_days=1),
    PatientSpec("KC-10008", "Marcus", "Johnson", date(1971, 2, 11), "male", "102.7", "NKDA",
                ("Denise Johnson", "Sister"), 3, ("antidepressant", "psychostimulant"),
                IV, TRD, None, MAINT,
                induction_done=6, maintenance_done=1, days_since_last=18, phq=(19, 7),
                bp=(130, 84, 80), next_in_days=5),
    PatientSpec("KC-10009", "Sofia", "Rossi", date(1998, 5, 5), "female", "55.2", "NKDA",
                ("Marco Rossi", "Brother"), 2, ("antidepressant",), IV, TRD, None, IND,
                induction_done=5, days_since_last=1, phq=(17, 9),
                bp=(108, 68, 82), next_in_days=2),
    PatientSpec("KC-10010", "Thomas", "Nguyen", date(1986, 10, 17), "male", "81.0", "Penicillin",
                ("Linh Nguyen", "Mother"), 2, ("antidepressant",), ESK, TRD, 84, IND,
                induction_done=3, days_since_last=2, phq=(20, 15),
                bp=(128, 82, 70), next_in_days=2),
    PatientSpec("KC-10011", "Hannah", "Schultz", date(1975, 8, 9), "female", "66.8", "NKDA",
                ("Eric Schultz", "Spouse"), 3, ("antidepressant",), ESK, TRD, 56, MAINT,
                induction_done=8, maintenance_done=2, days_since_last=4, phq=(18, 4),
                bp=(124, 80, 66), next_in_days=3),
    PatientSpec("KC-10012", "Walter", "Brooks", date(1952, 4, 21), "male", "79.4", "Aspirin",
                ("Dorothy Brooks", "Spouse"), 6, ("antidepressant",), IV, TRD, None, MAINT,
                induction_done=6, maintenance_done=1, days_since_last=10, phq=(19, 9),
                bp=(144, 82, 64), next_in_days=11),
    PatientSpec("KC-10013", "Nadia", "Haddad", date(1969, 2, 3), "female", "70.5", "NKDA",
                ("Samir Haddad", "Spouse"), 2, ("antidepressant",), None, next_in_days=2,
                contraindications=("uncontrolled_hypertension",)),
)
# fmt: on

# The New York site opened lately: two patients start their induction there today, at these
# times on New York's clock, one in each suite.
# fmt: off
NEW_YORK_PATIENTS: tuple[PatientSpec, ...] = (
    PatientSpec("KC-20001", "Olivia", "Brennan", date(1985, 4, 2), "female", "64.0", "NKDA",
                ("Sean Brennan", "Spouse"), 2, ("antidepressant",), ESK, TRD, 56, IND),
    PatientSpec("KC-20002", "Samuel", "Okafor", date(1977, 10, 15), "male", "83.5", "Latex",
                ("Ada Okafor", "Spouse"), 3, ("antidepressant",), IV, TRD, None, IND),
)
# fmt: on
NEW_YORK_TIMES = (time(10, 0), time(14, 0))


@dataclass(frozen=True)
class EventSpec:
    """An adverse event in one past session (1-based number within the course)."""

    kind: str
    severity: str
    minutes_after_dose: int
    intervention: str
    bp_spike: tuple[int, int] | None = None  # rise over pre-dose at the 40-min reading


# fmt: off
ADVERSE_EVENTS: dict[tuple[str, int], EventSpec] = {
    ("KC-10001", 3): EventSpec("nausea", "mild", 30,
                               "Rested with eyes closed; settled without medication."),
    ("KC-10009", 2): EventSpec("nausea", "mild", 25, "Ondansetron 4 mg IV; infusion continued."),
    ("KC-10010", 3): EventSpec("vomiting", "mild", 35,
                               "Ondansetron 4 mg ODT; no further emesis after 20 minutes."),
    ("KC-10011", 4): EventSpec("hypertension", "moderate", 40,
                               "Rechecked at 50 and 60 min; psychiatrist notified; "
                               "no medication needed.",
                               bp_spike=(44, 18)),
}
# fmt: on

# A day-of cancellation (no ride) the weekday before this (MRN, visit number).
CANCELLED_BEFORE = {("KC-10007", 9)}

# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------


@dataclass
class Demo:
    """What the builders share: staff, chairs, the seeded generator, the clock and bookings."""

    rng: random.Random
    now: datetime
    today: date
    nurse: User
    psychiatrist: User
    front_desk: User
    site: Site
    chairs: list[Chair]
    bookings: dict[date, list[tuple[Chair, datetime, datetime]]] = field(default_factory=dict)
    signed: list[TreatmentSession] = field(default_factory=list)


@dataclass
class Visit:
    """One dosing visit of a course: its appointment and what the session should show."""

    spec: PatientSpec
    patient: Patient
    course: TreatmentCourse
    appointment: Appointment
    number: int  # 1-based within the course
    dose_mg: int | None  # esketamine
    phq_total: int
    item9: int


def _minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


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


def _past_visit_days(spec: PatientSpec, today: date) -> list[tuple[date, VisitKind]]:
    """The patient's past visit days, oldest first, each strictly before `today` and on a weekday.

    Built backwards from the latest visit: maintenance visits at the maintenance interval, then
    the induction series at its twice- or three-times-weekly spacing (always >= 2 days apart).
    """
    assert spec.modality is not None
    kinds = [VisitKind.MAINTENANCE] * spec.maintenance_done
    kinds += [VisitKind.INDUCTION] * spec.induction_done
    induction_gaps = INDUCTION_GAPS[spec.modality]
    days: list[tuple[date, VisitKind]] = []
    day = _weekday_on_or_before(today - timedelta(days=spec.days_since_last))
    for index, kind in enumerate(kinds):
        if index:
            if kind == VisitKind.MAINTENANCE or kinds[index - 1] == VisitKind.MAINTENANCE:
                gap = MAINTENANCE_GAP[spec.modality]
            else:
                gap = induction_gaps[index % len(induction_gaps)]
            day = _weekday_on_or_before(day - timedelta(days=gap))
        days.append((day, kind))
    return days[::-1]


def _phq_totals(spec: PatientSpec, count: int, rng: random.Random) -> list[int]:
    """PHQ-9 totals over `count` sessions: fast early improvement toward the latest score."""
    first, last = spec.phq
    totals = []
    for index in range(count):
        x = index / max(count - 1, 1)
        value = first + (last - first) * (1 - (1 - x) ** 2)
        if 0 < index < count - 1:
            value += rng.choice((-1, 0, 0, 1))
        totals.append(max(0, min(27, round(value))))
    return totals


def _phq9_items(total: int, item9: int, rng: random.Random) -> list[int]:
    """Nine answers 0-3 adding up to `total`, with item 9 (self-harm) as given."""
    items = [0] * 8
    for _ in range(max(0, min(total - item9, 24))):
        items[rng.choice([i for i in range(8) if items[i] < 3])] += 1
    return items + [item9]


def _free_chair(demo: Demo, day: date, start: datetime, end: datetime) -> Chair | None:
    """The first chair with no booking overlapping `start`..`end`, or None."""
    taken = demo.bookings.get(day, [])
    return next(
        (
            chair
            for chair in demo.chairs
            if all(c is not chair or e <= start or s >= end for c, s, e in taken)
        ),
        None,
    )


def _next_opening(demo: Demo, day: date, start: datetime, minutes: int) -> tuple[datetime, Chair]:
    """The earliest time from `start` at which some chair is free for `minutes`, and that chair."""
    ends = sorted(e for _, _, e in demo.bookings.get(day, []) if e > start)
    for moment in (start, *ends):
        chair = _free_chair(demo, day, moment, moment + _minutes(minutes))
        if chair is not None:
            return moment, chair
    raise AssertionError("unreachable: every chair is free after its last booking")


def _book(demo: Demo, day: date, chair: Chair, start: datetime, minutes: int) -> Chair:
    demo.bookings.setdefault(day, []).append((chair, start, start + _minutes(minutes)))
    return chair


def _clinic_slot(demo: Demo, day: date, minutes: int) -> tuple[datetime, Chair]:
    """A start between 08:00 and 15:00 clinic time on `day` with a chair free for `minutes`."""
    for _ in range(40):
        quarter = demo.rng.randint(0, 28)
        start = local_to_utc(day, time(8 + quarter // 4, 15 * (quarter % 4)))
        chair = _free_chair(demo, day, start, start + _minutes(minutes))
        if chair is not None:
            return start, _book(demo, day, chair, start, minutes)
    start, chair = _next_opening(demo, day, local_to_utc(day, time(8, 0)), minutes)
    return start, _book(demo, day, chair, start, minutes)


def _esketamine_dose(spec: PatientSpec, earlier_doses: int) -> int | None:
    """TRD: 56 mg for the first two doses, then the prescribed dose; MDSI: the prescribed dose."""
    if spec.modality != ESK:
        return None
    assert spec.plan_mg is not None
    if spec.indication == TRD and earlier_doses < 2:
        return 56
    return spec.plan_mg


# ---------------------------------------------------------------------------------------------
# Staff, chairs, patients, courses
# ---------------------------------------------------------------------------------------------


def _create_staff() -> dict[str, User]:
    """One account per role, through the normal service (which audits)."""
    return {
        login.role: create_user(
            None, login.username, login.full_name, login.role, login.password, login.credentials
        )
        for login in DEMO_LOGINS
    }


def home_address(site_code: str, index: int) -> dict[str, str]:
    """A fictional 555 street address in a real town near the site."""
    city, state, zip_code = TOWNS[site_code][index % len(TOWNS[site_code])]
    return {
        "address_line1": f"{555 + 10 * index} {('Example St', 'Sample Ave')[index % 2]}",
        "address_line2": f"Apt {index}" if index % 3 == 0 else "",
        "city": city,
        "state": state,
        "zip_code": zip_code,
    }


def _register(
    demo: Demo, spec: PatientSpec, first_visit: date | None, site: Site | None = None
) -> Patient:
    """The front desk registers the patient, with a home near `site` (the demo's home site
    unless given), its usual site; the nurse records the clinical screen, with consent (and
    REMS) a week and a half before the first visit, or two days ago for a referral."""
    index = int(spec.mrn[-2:])
    site = site or demo.site
    consent = first_visit - timedelta(days=10) if first_visit else None
    patient = create_patient(
        demo.front_desk,
        {
            "mrn": spec.mrn,
            "first_name": spec.first,
            "last_name": spec.last,
            "date_of_birth": spec.dob,
            "sex": spec.sex,
            "phone": f"555-01{index:02d}",
            "email": f"{spec.first}.{spec.last}@example.com".lower(),
            "driver_name": spec.driver[0],
            "driver_phone": f"555-01{index + 50:02d}",
            "driver_relationship": spec.driver[1],
            **home_address(site.code, index),
        },
    )
    record_screen(
        demo.nurse,
        patient,
        {
            "allergies": spec.allergies,
            "contraindications": list(spec.contraindications),
            "medication_classes": list(spec.meds),
            "consent_date": consent,
            "rems_enrolled_on": consent if spec.modality == ESK else None,
            "failed_trials": spec.failed_trials,
            "weight_kg": Decimal(spec.weight),
        },
        patient.version_id,
    )
    patient.screened_at = local_to_utc(consent or demo.today - timedelta(days=2), time(10, 0))
    patient.usual_site = site
    return patient


def _open_course(
    demo: Demo, spec: PatientSpec, patient: Patient, started_on: date
) -> TreatmentCourse:
    """Prescribe the course; a TRD esketamine course opens at 56 mg, then carries today's plan."""
    assert spec.modality is not None and spec.plan_mg in (None, 56, 84)
    data: dict = {
        "modality": spec.modality.value,
        "indication": spec.indication.value,
        "started_on": started_on,
    }
    if spec.modality == IV:
        data.update(iv_mg_per_kg="0.50", iv_minutes=40)
    else:
        data["esketamine_dose_mg"] = 56 if spec.indication == TRD else spec.plan_mg
    course = open_course(demo.psychiatrist, patient, data)
    course.esketamine_dose_mg = spec.plan_mg
    course.phase = spec.phase
    return course


def _appointment(
    demo: Demo,
    patient: Patient,
    course: TreatmentCourse | None,
    start: datetime,
    minutes: int,
    kind: VisitKind,
    status: AppointmentStatus,
    *,
    chair: Chair | None = None,
    number: int | None = None,
    series_id: str | None = None,
    confirmed_at: datetime | None = None,
) -> Appointment:
    """A booking with the patient's default driver; `confirmed_at` is the front desk's call."""
    appointment = Appointment(
        patient=patient,
        course=course,
        chair=chair,
        series_id=series_id,
        sequence_no=number,
        starts_at=start,
        ends_at=start + _minutes(minutes),
        visit_kind=kind,
        status=status,
        driver_name=patient.driver_name,
        driver_phone=patient.driver_phone,
        driver_status=DriverStatus.CONFIRMED if confirmed_at else DriverStatus.UNCONFIRMED,
        driver_confirmed_at=confirmed_at,
        driver_confirmed_by_id=demo.front_desk.id if confirmed_at else None,
        created_at=min(start - timedelta(days=5), demo.now),
    )
    db.session.add(appointment)
    return appointment


# ---------------------------------------------------------------------------------------------
# Charting a session
# ---------------------------------------------------------------------------------------------


def _vitals(
    demo: Demo,
    treatment: TreatmentSession,
    spec: PatientSpec,
    taken_at: datetime,
    rise: tuple[int, int],
    phase: VitalsPhase,
) -> None:
    """A plausible reading `rise` (systolic, diastolic) above the patient's usual pressure."""
    rng = demo.rng
    systolic = spec.bp[0] + rise[0] + rng.randint(-4, 4)
    diastolic = min(spec.bp[1] + rise[1] + rng.randint(-3, 3), systolic - 20)
    heart_rate = spec.bp[2] + (rise[0] // 3) + rng.randint(-4, 4)
    treatment.vitals.append(
        VitalsReading(
            taken_at=taken_at,
            phase=phase,
            systolic=systolic,
            diastolic=diastolic,
            heart_rate=heart_rate,
            spo2=rng.choice((96, 97, 97, 98, 98, 99)),
            resp_rate=rng.randint(12, 18),
            recorded_by_id=demo.nurse.id,
            created_at=taken_at + _minutes(1),
        )
    )


def _assessment(
    demo: Demo,
    treatment: TreatmentSession,
    patient: Patient,
    code: str,
    items: list[int],
    at: datetime,
) -> None:
    total, band = score(INSTRUMENTS[code], items)
    treatment.assessments.append(
        Assessment(
            patient_id=patient.id,
            instrument=code,
            items=items,
            total=total,
            band=band,
            administered_at=at,
            recorded_by_id=demo.nurse.id,
            created_at=at + _minutes(1),
        )
    )


def _chart(
    demo: Demo, visit: Visit, started_at: datetime, upto: datetime | None
) -> TreatmentSession:
    """Chart one session that started at `started_at`.

    `upto` None charts it whole (discharged and signed); otherwise the session is in progress and
    only what happened by `upto` is recorded. The timeline: PHQ-9 at +2 min, checklist at +6,
    pre-dose vitals at +9, dose at +13..16; IV readings every 15 min until 30+ min after the
    infusion; esketamine readings at ~40, ~90 and ~120 min, discharge after 120 min.
    """
    rng, spec, patient, course = demo.rng, visit.spec, visit.patient, visit.course
    modality = course.modality

    def happened(moment: datetime) -> bool:
        return upto is None or moment <= upto

    treatment = TreatmentSession(
        appointment=visit.appointment,
        patient=patient,
        course=course,
        modality=modality,
        nurse_id=demo.nurse.id,
        psychiatrist_id=course.prescriber_id,
        started_at=started_at,
        driver_name=visit.appointment.driver_name,
        driver_phone=visit.appointment.driver_phone,
        status=SessionStatus.IN_PROGRESS,
    )
    db.session.add(treatment)
    phq_at = started_at + _minutes(2)
    if happened(phq_at):
        _assessment(
            demo,
            treatment,
            patient,
            PHQ9.code,
            _phq9_items(visit.phq_total, visit.item9, rng),
            phq_at,
        )
    checked_at = started_at + _minutes(6)
    if happened(checked_at):
        _check_predose(treatment, patient, checked_at)
    if happened(started_at + _minutes(9)):
        _vitals(demo, treatment, spec, started_at + _minutes(9), (0, 0), VitalsPhase.PRE_DOSE)
    dose_at = started_at + _minutes(13 + rng.randint(0, 3))
    if not happened(dose_at):
        return treatment
    treatment.dose_started_at = dose_at
    event = ADVERSE_EVENTS.get((spec.mrn, visit.number)) if upto is None else None
    if modality == IV:
        _dose_iv(demo, treatment, visit, upto)
    else:
        _dose_esketamine(demo, treatment, visit, event, upto)
    if event is not None:
        treatment.adverse_events.append(_resolved_event(demo, event, dose_at))
    if upto is None:
        _discharge_and_sign(demo, treatment, visit)
    return treatment


def _check_predose(treatment: TreatmentSession, patient: Patient, at: datetime) -> None:
    """The nurse's pre-dose checklist, every item confirmed."""
    treatment.predose_checked_at = at
    treatment.identity_confirmed = treatment.consent_confirmed = True
    treatment.fasting_confirmed = treatment.medications_reviewed = True
    treatment.driver_confirmed = True
    treatment.prescriber_on_site = treatment.oximeter_available = True
    treatment.rems_confirmed = treatment.nasal_spray_checked = treatment.modality == ESK
    treatment.pregnancy_status = "not_pregnant" if pregnancy_relevant(patient) else "not_applicable"


def _resolved_event(demo: Demo, event: EventSpec, dose_at: datetime) -> AdverseEvent:
    """A non-serious adverse event after the dose, resolved 20 minutes after its onset."""
    return AdverseEvent(
        kind=event.kind,
        severity=event.severity,
        onset_at=dose_at + _minutes(event.minutes_after_dose),
        intervention=event.intervention,
        resolved=True,
        resolved_at=dose_at + _minutes(event.minutes_after_dose + 20),
        resolved_by_id=demo.nurse.id,
        serious=False,
        recorded_by_id=demo.nurse.id,
        created_at=dose_at + _minutes(event.minutes_after_dose + 2),
    )


def _dose_iv(demo: Demo, treatment: TreatmentSession, visit: Visit, upto: datetime | None) -> None:
    """0.5 mg/kg of the weight taken that day over 40-48 min at 1 mg/mL; vitals every 15 min
    from infusion start to discharge."""
    rng, spec, course = demo.rng, visit.spec, visit.course
    assert treatment.dose_started_at is not None
    assert course.iv_mg_per_kg is not None and course.iv_minutes is not None
    dose_at = treatment.dose_started_at
    weight = (Decimal(spec.weight) + Decimal(rng.randint(-8, 8)) / 10).quantize(Decimal("0.1"))
    treatment.weight_kg = weight
    treatment.patient.weight_kg = weight
    dose = iv_dose(weight, Decimal(course.iv_mg_per_kg), course.iv_minutes)
    treatment.dose_mg, treatment.dose_mg_per_kg = (
        dose.dose_mg,
        dose.mg_per_kg.quantize(Decimal("0.01")),
    )
    treatment.planned_minutes = dose.minutes
    treatment.lot_number = rng.choice(KETAMINE_LOTS)
    treatment.pump_concentration_mg_per_ml = PUMP_CONCENTRATION_MG_PER_ML
    treatment.pump_rate_ml_per_hour = pump_rate_for(
        dose.dose_mg, dose.minutes, PUMP_CONCENTRATION_MG_PER_ML
    )
    infusion_end = dose_at + _minutes(dose.minutes + rng.randint(0, 8))
    checks = math.ceil(((infusion_end - dose_at).total_seconds() / 60 + 30) / 15)
    for k in range(1, checks + 1):
        taken_at = dose_at + _minutes(15 * k)
        if upto is not None and taken_at > upto:
            break
        during = taken_at <= infusion_end
        rise = (rng.randint(6, 14), rng.randint(3, 8)) if during else (max(0, 10 - 4 * (k - 3)), 2)
        _vitals(
            demo,
            treatment,
            spec,
            taken_at,
            rise,
            VitalsPhase.INTRA if during else VitalsPhase.POST_DOSE,
        )
    moaas_at = dose_at + _minutes(20)
    if upto is None or moaas_at <= upto:
        _assessment(
            demo, treatment, treatment.patient, MOAAS.code, [rng.choice((5, 5, 4))], moaas_at
        )
    if upto is None or infusion_end <= upto:
        treatment.infusion_ended_at = infusion_end
        treatment.infused_volume_ml = (dose.dose_mg / PUMP_CONCENTRATION_MG_PER_ML).quantize(
            Decimal("0.1")
        )
        _assessment(
            demo,
            treatment,
            treatment.patient,
            CADSS6.code,
            [rng.choice((0, 1))] + [0] * 5,
            infusion_end + _minutes(5),
        )
        _assessment(demo, treatment, treatment.patient, MOAAS.code, [5], infusion_end + _minutes(5))
    if upto is None:
        treatment.discharged_at = dose_at + _minutes(15 * checks + rng.randint(2, 6))


def _dose_esketamine(
    demo: Demo,
    treatment: TreatmentSession,
    visit: Visit,
    event: EventSpec | None,
    upto: datetime | None,
) -> None:
    """56 or 84 mg (28 mg a device); BP peaks near 40 min and settles by 2 hours."""
    rng, spec = demo.rng, visit.spec
    assert treatment.dose_started_at is not None and visit.dose_mg is not None
    dose_at = treatment.dose_started_at
    treatment.dose_mg = Decimal(visit.dose_mg).quantize(Decimal("0.1"))
    treatment.devices_used = visit.dose_mg // ESKETAMINE_DEVICE_MG
    treatment.lot_number = rng.choice(ESKETAMINE_LOTS)
    interval = clinical_rules().esketamine_device_interval_minutes
    for number in range(1, treatment.devices_used + 1):
        given_at = dose_at + _minutes(interval * (number - 1))
        if upto is not None and given_at > upto:
            break
        treatment.devices.append(
            DeviceAdministration(
                device_number=number,
                given_at=given_at,
                lot_number=treatment.lot_number,
                recorded_by_id=demo.nurse.id,
                created_at=given_at + _minutes(1),
            )
        )
    spike = event.bp_spike if event and event.bp_spike else None
    schedule = (
        (40 + rng.randint(-1, 2), spike or (rng.randint(10, 22), rng.randint(4, 10))),
        (90 + rng.randint(-2, 3), (16, 6) if spike else (rng.randint(3, 9), rng.randint(0, 5))),
        (118 + rng.randint(0, 3), (rng.randint(0, 5), rng.randint(0, 3))),
    )
    for minutes, rise in schedule:
        taken_at = dose_at + _minutes(minutes)
        if upto is not None and taken_at > upto:
            break
        _vitals(demo, treatment, spec, taken_at, rise, VitalsPhase.POST_DOSE)
    # Sedation and dissociation at the 40-minute check; resolved again before discharge.
    for code, minutes, items in (
        (MOAAS.code, 40, [rng.choice((5, 5, 5, 4))]),
        (CADSS6.code, 45, [rng.choice((0, 1, 1, 2, 2, 3)) for _ in range(6)]),
        (MOAAS.code, 112, [5]),
        (CADSS6.code, 112, [rng.choice((0, 1))] + [0] * 5),
    ):
        if upto is None or dose_at + _minutes(minutes) <= upto:
            _assessment(
                demo, treatment, treatment.patient, code, items, dose_at + _minutes(minutes)
            )
    if upto is None:
        last = treatment.vitals[-1].taken_at
        treatment.discharged_at = max(dose_at + _minutes(121), last + _minutes(3)) + _minutes(
            rng.randint(0, 6)
        )


def _discharge_and_sign(demo: Demo, treatment: TreatmentSession, visit: Visit) -> None:
    """Discharged home with the driver and signed by the nurse; older sessions also co-signed."""
    assert treatment.discharged_at is not None
    rng = demo.rng
    treatment.discharged_with = treatment.driver_name
    treatment.escort_kind = "confirmed_driver"
    treatment.escort_phone = treatment.driver_phone
    treatment.discharged_by_id = demo.nurse.id
    treatment.signed_by_id = demo.nurse.id
    treatment.signed_at = treatment.discharged_at + _minutes(rng.randint(5, 25))
    treatment.status = SessionStatus.SIGNED
    if (demo.today - treatment.discharged_at.astimezone(clinic_timezone()).date()).days >= 8:
        treatment.cosigned_by_id = demo.psychiatrist.id
        treatment.cosigned_at = treatment.signed_at + timedelta(days=1, minutes=rng.randint(0, 240))
        treatment.status = SessionStatus.COSIGNED
    visit.appointment.status = AppointmentStatus.COMPLETED
    demo.signed.append(treatment)


# ---------------------------------------------------------------------------------------------
# One patient's calendar: past, today, upcoming
# ---------------------------------------------------------------------------------------------


def _today_slot(
    demo: Demo, state: str, minutes: int
) -> tuple[datetime, datetime | None, Chair] | None:
    """(appointment start, session start or None, chair) for a board state, timed from now.

    A session's dose comes 13-16 min after its start, so the starts put it where the state needs
    it: pre-dose started 5 min ago; IV dose ~20 min ago; esketamine dose ~65 and ~125 min ago.
    A waiting patient takes the first chair that is free (the "now" patient may wait a few minutes
    for the chair of the patient being discharged). None when the state does not fit today: nothing
    is charted before clinic-local midnight and a waiting patient's visit must end by closing.
    """
    now = demo.now.replace(second=0, microsecond=0)
    day_start, day_end = day_bounds_utc(demo.today)
    if state in (LATER, NOW):
        wanted = now + _minutes(90) if state == LATER else now
        wanted -= _minutes(wanted.minute % 15 if state == LATER else wanted.minute % 5)
        if state == LATER:
            wanted += _minutes(15)
        start, chair = _next_opening(demo, demo.today, wanted, minutes)
        closing = local_to_utc(demo.today, CALENDAR.closing_time)
        if start < day_start or start + _minutes(minutes) > min(day_end, closing):
            return None
        return start, None, _book(demo, demo.today, chair, start, minutes)
    dose_ago = {PRE_DOSE: None, IV_DOSING: 20, OBSERVING: 65, READY: 125}[state]
    session_start = now - _minutes(5) if dose_ago is None else now - _minutes(dose_ago + 16)
    start = session_start - _minutes(5)
    if start < day_start:
        return None
    chair = _free_chair(demo, demo.today, start, start + _minutes(minutes)) or demo.chairs[0]
    return start, session_start, _book(demo, demo.today, chair, start, minutes)


@dataclass
class _CourseVisits:
    """Books one demo patient's visits of their course (induction visits share a series id)
    and hands out what each session should show."""

    demo: Demo
    spec: PatientSpec
    patient: Patient
    course: TreatmentCourse
    minutes: int
    phq: list[int]
    series_id: str
    doses: list[int] = field(default_factory=list)

    def book(
        self,
        start: datetime,
        kind: VisitKind,
        status: AppointmentStatus,
        chair: Chair,
        number: int,
        confirmed_at: datetime | None,
    ) -> Appointment:
        return _appointment(
            self.demo,
            self.patient,
            self.course,
            start,
            self.minutes,
            kind,
            status,
            chair=chair,
            number=number,
            series_id=self.series_id if kind == VisitKind.INDUCTION else None,
            confirmed_at=confirmed_at,
        )

    def visit(self, appointment: Appointment) -> Visit:
        spec = self.spec
        number = appointment.sequence_no or 0
        dose = _esketamine_dose(spec, len(self.doses))
        self.doses.extend([dose] if dose else [])
        item9 = spec.item9[number - 1] if number <= len(spec.item9) else 0
        return Visit(
            spec, self.patient, self.course, appointment, number, dose, self.phq[number - 1], item9
        )


def _build_patient(demo: Demo, spec: PatientSpec) -> None:
    """Register the patient, open the course and chart past, today's and the next visit."""
    if spec.modality is None:
        _register_for_consult(demo, spec)
        return
    rng = demo.rng
    past = _past_visit_days(spec, demo.today)
    patient = _register(demo, spec, past[0][0])
    course = _open_course(demo, spec, patient, past[0][0])
    minutes = VISIT_MINUTES[spec.modality]
    today_slot = _today_slot(demo, spec.today, minutes) if spec.today else None
    phq = _phq_totals(spec, len(past) + 1, rng)
    series_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    visits = _CourseVisits(demo, spec, patient, course, minutes, phq, series_id)
    _past_visits(visits, past)
    number = len(past)
    kind = VisitKind.MAINTENANCE if spec.phase == MAINT else VisitKind.INDUCTION
    if today_slot:
        number += 1
        _today_visit(visits, today_slot, kind, number)
    if spec.next_in_days:
        day = _weekday_on_or_after(demo.today + timedelta(days=spec.next_in_days))
        if (day - demo.today).days <= 14:
            start, chair = _clinic_slot(demo, day, minutes)
            visits.book(start, kind, AppointmentStatus.SCHEDULED, chair, number + 1, None)


def _past_visits(visits: _CourseVisits, past: list[tuple[date, VisitKind]]) -> None:
    """Each past visit booked, attended and charted whole; some with a cancellation before."""
    demo, spec = visits.demo, visits.spec
    for number, (day, kind) in enumerate(past, start=1):
        start, chair = _clinic_slot(demo, day, visits.minutes)
        appointment = visits.book(
            start, kind, AppointmentStatus.COMPLETED, chair, number, start - timedelta(hours=20)
        )
        _chart(demo, visits.visit(appointment), start + _minutes(demo.rng.randint(2, 8)), None)
        if (spec.mrn, number) in CANCELLED_BEFORE:
            _cancelled_before(
                demo, visits.patient, visits.course, day, {d for d, _ in past}, visits.minutes
            )


def _today_visit(
    visits: _CourseVisits,
    today_slot: tuple[datetime, datetime | None, Chair],
    kind: VisitKind,
    number: int,
) -> None:
    """Today's visit in the board state the spec asks for, charted up to now once started."""
    demo, spec = visits.demo, visits.spec
    start, session_start, chair = today_slot
    status: dict[str | None, AppointmentStatus] = {
        LATER: AppointmentStatus.SCHEDULED,
        NOW: AppointmentStatus.CHECKED_IN,
    }
    confirmed = None if spec.today == LATER else min(start, demo.now) - timedelta(hours=18)
    appointment = visits.book(
        start,
        kind,
        status.get(spec.today, AppointmentStatus.IN_TREATMENT),
        chair,
        number,
        confirmed,
    )
    if session_start is not None:
        _chart(demo, visits.visit(appointment), session_start, demo.now)


def _cancelled_before(
    demo: Demo,
    patient: Patient,
    course: TreatmentCourse,
    day: date,
    session_days: set[date],
    minutes: int,
) -> None:
    """A day-of cancellation (no ride) on a weekday before `day` with no session of its own."""
    cancelled = _weekday_on_or_before(day - timedelta(days=1))
    while cancelled in session_days:
        cancelled = _weekday_on_or_before(cancelled - timedelta(days=1))
    start = local_to_utc(cancelled, time(9, 30))
    appointment = _appointment(
        demo, patient, course, start, minutes, VisitKind.MAINTENANCE, AppointmentStatus.CANCELLED
    )
    appointment.cancel_reason = "No driver available; rebooked."


def _register_for_consult(demo: Demo, spec: PatientSpec) -> None:
    """A newly referred patient: registered, screen flagged, a consult booked, no course yet."""
    patient = _register(demo, spec, None)
    assert spec.next_in_days is not None
    day = _weekday_on_or_after(demo.today + timedelta(days=spec.next_in_days))
    start = local_to_utc(day, time(11, 0))
    _appointment(demo, patient, None, start, 60, VisitKind.CONSULT, AppointmentStatus.SCHEDULED)


def _new_york_today(demo: Demo, site: Site, suites: list[Chair]) -> None:
    """The New York patients' first induction visits, today on New York's clock (driver
    confirmed the day before)."""
    zone = ZoneInfo(site.timezone)
    today = demo.now.astimezone(zone).date()
    for spec, at, suite in zip(NEW_YORK_PATIENTS, NEW_YORK_TIMES, suites, strict=True):
        assert spec.modality is not None
        patient = _register(demo, spec, today, site)
        course = _open_course(demo, spec, patient, today)
        start = datetime.combine(today, at, tzinfo=zone).astimezone(UTC)
        _appointment(
            demo,
            patient,
            course,
            start,
            VISIT_MINUTES[spec.modality],
            VisitKind.INDUCTION,
            AppointmentStatus.CONFIRMED,
            chair=suite,
            number=1,
            series_id=str(uuid.uuid4()),
            confirmed_at=min(start - timedelta(days=1), demo.now),
        )


def _sign_all(demo: Demo) -> None:
    """Hash each signed session as it reads back from the database and store its review flags
    and peaks, like the sign service does."""
    db.session.flush()
    db.session.expire_all()
    for treatment in demo.signed:
        digest = content_hash(treatment)
        treatment.signature_hash = digest
        if treatment.status == SessionStatus.COSIGNED:
            treatment.cosignature_hash = digest
    db.session.flush()
    store_summaries(t.id for t in demo.signed)


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def load_demo_data() -> dict[str, int]:
    """Build the demo clinic in the current transaction (the caller commits); returns row counts."""
    certified_on = clinic_today() - timedelta(days=400)
    home, other = (Site(**fields, rems_certified_on=certified_on) for fields in SITES)
    chairs = [Chair(name=name, site=home) for name in CHAIRS]
    suites = [Chair(name=name, site=other) for name in OTHER_SITE_CHAIRS]
    db.session.add_all([home, other, *chairs, *suites])
    db.session.flush()
    staff = _create_staff()  # at every open site: both
    demo = Demo(
        rng=random.Random(SEED),
        now=utcnow(),
        today=clinic_today(),
        nurse=staff[Role.NURSE],
        psychiatrist=staff[Role.PSYCHIATRIST],
        front_desk=staff[Role.FRONT_DESK],
        site=home,
        chairs=chairs,
    )
    for spec in PATIENTS:
        _build_patient(demo, spec)
    _new_york_today(demo, other, suites)
    load_rems_demo(demo)
    _sign_all(demo)
    return _counts()


def _counts() -> dict[str, int]:
    """Rows per table for the summary line."""
    models = (
        Site,
        User,
        Patient,
        TreatmentCourse,
        Appointment,
        TreatmentSession,
        VitalsReading,
        Assessment,
        AdverseEvent,
    )
    count = select(func.count())
    return {m.__tablename__: db.session.scalar(count.select_from(m)) or 0 for m in models}
