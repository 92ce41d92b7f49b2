"""The front desk's series planner: induction and maintenance dates, chair slots and spacing.

Pure rules: dates, times and existing bookings in; plans, slots and findings out. Times are aware
datetimes; local wall-clock times are built in the clinic's zone (`zoneinfo.ZoneInfo`) and every
comparison or duration is worked out in UTC, so a 09:00 visit stays 09:00 across a daylight-saving
change and "48 h" means 48 elapsed hours.

Sources ([D] = derived or a clinic default that the medical director signs off):
- Esketamine series, SPRAVATO US label dosing table (label §2; spravatohcp.com dosing and
  administration for TRD and MDSI): TRD induction twice weekly in weeks 1-4 (8 doses), once
  weekly in weeks 5-8, then every 2 weeks or once weekly; MDSI twice weekly for 4 weeks. The
  phase 3 trials dosed on days 1, 4, 8, 11, 15, 18, 22, 25 (3-4 days apart), hence the Mon/Thu
  and Tue/Fri default pairs [D].
- Spacing: the label sets no numeric minimum interval (the trials above dosed 3-4 days apart); the
  app rule [D] is never two doses on one calendar day and a warning when doses are < 48 h apart.
- IV induction: 6 infusions (Murrough et al., Biol Psychiatry 2013: 6 over 12 days, three times
  weekly; "Clinical effectiveness of intravenous racemic ketamine infusions in a large community
  sample", a chart review: 6 within 21 days; ORKA-1, McInnes et al., J Affect Disord 2022: 4-8 over
  7-28 days), hence Mon/Wed/Fri within a 14-day target and a 21-day limit. Maintenance every 2-6
  weeks, default 4 (clinic practice; CANMAT 2021 leaves maintenance case by case: not a guideline
  value).
- Chair time: esketamine observation >= 120 min from the first device (label boxed warning, REMS);
  IV 0.5 mg/kg over 40 min (Sanacora et al., JAMA Psychiatry 2017) and recovery 30 min (clinic
  practice: 20-60 min). Dosing, setup and turnover minutes are clinic defaults [D]. Field names
  shared with `ClinicalRules` (observation, infusion and recovery minutes) read the same clinic
  setting.
- Front desk: late cancellation < 24 h before the visit (OpenEMR's "Canceled < 24h" appointment
  status, its `apptstat` list); 15-minute calendar slots (OpenEMR's `calendar_interval` setting,
  5-60 min, in library/globals.inc.php); Mon-Fri 08:00-18:00, the 14-day maintenance look-ahead
  and the 14-day window for an alternative day are clinic defaults [D].
- Missed doses (JNJ Medical Connect, "Management of missed dose or reinitiation after SPRAVATO
  discontinuation"): in the first 4 weeks continue the current schedule, so a make-up day never
  breaks the twice-weekly limit.
"""

import math
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from itertools import combinations, pairwise
from zoneinfo import ZoneInfo

import holidays

from clinic_app.clinical.codes import Indication, Modality
from clinic_app.clinical.rules import (
    ClinicalRules,
    ClinicSettings,
    parse_dates,
    parse_weekdays,
    same_setting,
    setting,
)
from clinic_app.dates import format_local

# How far any search runs before giving up; a guard against a calendar with no open days, not a
# clinic setting.
SEARCH_LIMIT_DAYS = 366
DAY = timedelta(days=1)
WEEK_DAYS = 7


class SchedulingError(ValueError):
    """A plan the rules cannot make or accept; the message says why."""


@dataclass(frozen=True)
class SchedulingRules(ClinicSettings):
    """Every number the series planner uses; defaults are the sourced ones above.

    Weekdays are numbered as `date.weekday()`: Monday 0 ... Sunday 6.
    """

    # fmt: off
    # Clinic calendar [D]: open Mon-Fri 08:00-18:00 local, closed on public holidays and on the
    # dates the clinic adds; 15-minute slots (OpenEMR calendar interval).
    open_weekdays: tuple[int, ...] = setting((0, 1, 2, 3, 4), "Open on", "hours")
    opening_time: time = setting(time(8, 0), "Opens at", "hours")
    closing_time: time = setting(time(18, 0), "Closes at", "hours")
    closed_dates: frozenset[date] = setting(frozenset(), "Closed dates (holidays)", "hours")
    # Public holidays of the clinic's country and state or province (ISO 3166 codes, read by
    # the `holidays` package); the defaults match the default time zone, America/Los_Angeles.
    # An empty country: no public holidays, only `closed_dates`. For text, low-high is a length.
    holiday_country: str = setting(
        "US", "Public holidays of country (ISO code, blank: none)", "hours", 0, 2)
    holiday_subdivision: str = setting(
        "CA", "and state or province (ISO code)", "hours", 0, 3)
    # How the clinic names itself on the patient's handout and calendar file. The calendar
    # event's title stays neutral (no treatment named) for shared calendars; empty: the name.
    clinic_name: str = setting("Clinic", "Clinic name (handout, calendar)", "hours", 1, 80)
    clinic_address: str = setting("", "Clinic address", "hours", 0, 200)
    clinic_phone: str = setting("", "Clinic phone", "hours", 0, 32)
    calendar_title: str = setting(
        "", "Calendar event title (blank: the clinic name)", "hours", 0, 80)
    slot_minutes: int = setting(15, "Calendar slot", "hours", 5, 60, "min")
    # Esketamine chair block: devices and pre-dose checks [D] + observation >= 120 min from the
    # first device (label boxed warning / REMS) + chair turnover [D] = 150 min.
    esketamine_dosing_minutes: int = setting(
        15, "Esketamine block: checks and dosing", "blocks", 5, 60, "min")
    esketamine_min_observation_minutes: int = same_setting(
        ClinicalRules, "esketamine_min_observation_minutes")
    esketamine_turnover_minutes: int = setting(
        15, "Esketamine block: chair turnover", "blocks", 0, 60, "min")
    # IV chair block: line and pre-dose checks [D] + 40 min infusion (Sanacora 2017) + 30 min
    # recovery (clinic practice) + turnover [D] = 95 min.
    iv_setup_minutes: int = setting(15, "IV block: line and checks", "blocks", 0, 60, "min")
    iv_default_minutes: int = same_setting(ClinicalRules, "iv_default_minutes")
    iv_recovery_minutes: int = same_setting(ClinicalRules, "iv_recovery_minutes")
    iv_turnover_minutes: int = setting(10, "IV block: chair turnover", "blocks", 0, 60, "min")
    # Spacing (no minimum in the label) [D]: never two doses on one calendar day; warn under 48 h.
    min_dose_gap_days: int = setting(
        1, "Doses at least", "blocks", 1, 7, "calendar days apart")
    warn_spacing_hours: int = setting(
        48, "Warn when doses are closer than", "blocks", 24, 168, "h")
    # Front desk: late cancellation (OpenEMR "Canceled < 24h"); maintenance look-ahead and the
    # window searched for an alternative day [D].
    late_cancel_hours: int = setting(
        24, "Late cancellation: less than", "blocks", 0, 168, "h before")
    maintenance_due_horizon_days: int = setting(
        14, "Maintenance due look-ahead", "blocks", 1, 60, "days")
    alternative_window_days: int = setting(
        14, "Search for another day within", "blocks", 1, 60, "days")
    # Esketamine series (US label): twice weekly for 4 weeks, weekly in weeks 5-8, then weekly or
    # every 2 weeks. Default pairs 3-4 days apart like the trials' days 1, 4, 8, 11 [D].
    esketamine_induction_weeks: int = setting(
        4, "Esketamine induction", "series", 1, 8, "weeks")
    esketamine_doses_per_week: int = setting(
        2, "Esketamine induction doses a week", "series", 1, 3)
    esketamine_default_weekdays: tuple[int, ...] = setting(
        (0, 3), "Esketamine induction days", "series")
    esketamine_alternate_weekdays: tuple[int, ...] = setting(
        (1, 4), "Esketamine alternative days", "series")
    esketamine_weekly_maintenance_doses: int = setting(
        4, "Esketamine weekly doses after induction", "series", 0, 8)
    esketamine_maintenance_min_days: int = setting(
        7, "Esketamine maintenance every (least)", "series", 7, 28, "days")
    esketamine_maintenance_max_days: int = setting(
        14, "Esketamine maintenance every (most)", "series", 7, 28, "days")
    # IV series: 6 infusions, Mon/Wed/Fri, within 14 days where possible and never over 21
    # (Murrough 2013; chart review "6 within 21 days"); maintenance every 14-42 days, default 28.
    iv_induction_count: int = setting(6, "IV induction infusions", "series", 1, 12)
    iv_induction_target_days: int = setting(
        14, "IV induction within (target)", "series", 7, 28, "days")
    iv_induction_max_days: int = setting(
        21, "IV induction within (limit)", "series", 7, 42, "days")
    iv_default_weekdays: tuple[int, ...] = setting((0, 2, 4), "IV induction days", "series")
    iv_maintenance_interval_days: int = setting(
        28, "IV maintenance every (default)", "series", 7, 84, "days")
    iv_maintenance_min_days: int = setting(
        14, "IV maintenance every (least)", "series", 7, 84, "days")
    iv_maintenance_max_days: int = setting(
        42, "IV maintenance every (most)", "series", 7, 84, "days")
    # fmt: on

    def __post_init__(self) -> None:
        for name in (
            "open_weekdays",
            "esketamine_default_weekdays",
            "esketamine_alternate_weekdays",
            "iv_default_weekdays",
        ):
            object.__setattr__(self, name, parse_weekdays(getattr(self, name)))
        object.__setattr__(self, "closed_dates", parse_dates(self.closed_dates))
        if not self.open_weekdays:
            raise ValueError("The clinic must be open on at least one weekday.")
        region = holiday_region_error(self.holiday_country, self.holiday_subdivision)
        if region:
            raise ValueError(region)
        if self.opening_time >= self.closing_time:
            raise ValueError("Opening time must be before closing time.")
        for name in ("slot_minutes", "min_dose_gap_days", "esketamine_doses_per_week"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1.")
        if self.iv_induction_count < 1 or self.esketamine_induction_weeks < 1:
            raise ValueError("An induction needs at least one dose.")
        for low, high in (
            ("esketamine_maintenance_min_days", "esketamine_maintenance_max_days"),
            ("iv_maintenance_min_days", "iv_maintenance_max_days"),
            ("iv_induction_target_days", "iv_induction_max_days"),
        ):
            if not 1 <= getattr(self, low) <= getattr(self, high):
                raise ValueError(f"{low} must be between 1 and {high}.")

    @property
    def esketamine_induction_count(self) -> int:
        """Doses in an esketamine induction: twice weekly for 4 weeks = 8."""
        return self.esketamine_doses_per_week * self.esketamine_induction_weeks

    @property
    def warn_spacing_days(self) -> int:
        """Whole calendar days apart that keep same-time doses clear of the spacing warning."""
        return math.ceil(self.warn_spacing_hours / 24)

    def block_minutes(self, modality: Modality) -> int:
        """Chair time one visit takes, turnover included (esketamine 150, IV 95 by default)."""
        if modality == Modality.ESKETAMINE_NASAL:
            return (
                self.esketamine_dosing_minutes
                + self.esketamine_min_observation_minutes
                + self.esketamine_turnover_minutes
            )
        return (
            self.iv_setup_minutes
            + self.iv_default_minutes
            + self.iv_recovery_minutes
            + self.iv_turnover_minutes
        )

    def turnover_minutes(self, modality: Modality) -> int:
        """The end of a chair block that readies the chair: the patient has left by then."""
        if modality == Modality.ESKETAMINE_NASAL:
            return self.esketamine_turnover_minutes
        return self.iv_turnover_minutes

    def is_open(self, day: date) -> bool:
        """The clinic sees patients on `day`: an open weekday, not a public holiday and not one
        of the clinic's closed dates."""
        return day.weekday() in self.open_weekdays and self.closure(day) is None

    def closure(self, day: date) -> str | None:
        """Why the clinic is closed on `day` although it may be an open weekday: the public
        holiday's name, "holiday" for a date the clinic set, None when neither."""
        if day in self.closed_dates:
            return "holiday"
        if not self.holiday_country:
            return None
        return _public_holidays(self.holiday_country, self.holiday_subdivision, day.year).get(day)


@cache
def _public_holidays(country: str, subdivision: str, year: int) -> dict[date, str]:
    calendar = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    return dict(calendar.items())


@cache
def _supported_regions() -> dict[str, list[str]]:
    return holidays.list_supported_countries()


def holiday_region_error(country: str, subdivision: str) -> str:
    """Why these ISO codes name no public holiday calendar ("" when they do)."""
    if not country:
        return "A state or province needs its country." if subdivision else ""
    supported = _supported_regions()
    if country not in supported:
        return f"No public holiday calendar for country {country!r}."
    if subdivision and subdivision not in supported[country]:
        return f"{country} has no state or province {subdivision!r}."
    return ""


# --- Results ------------------------------------------------------------------------------------


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """A spacing problem between two doses: an error blocks, a warning asks for a second look."""

    code: str
    severity: Severity
    message: str
    times: tuple[datetime, datetime]


@dataclass(frozen=True)
class Slot:
    """A chair held from `start` to `end` (aware, clinic-local), turnover included."""

    chair_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Conflict:
    """Why a visit could not be booked on its target date.

    Codes: closed, no_chair, patient_busy, same_day, too_close.
    """

    code: str
    message: str


@dataclass(frozen=True)
class ProposedVisit:
    """One visit of a proposed series: booked (start, end, chair) or a conflict with an alternative.

    A conflicted visit keeps its place in the series; `alternative` is None only when no day in
    the search window fits (the conflict message then says so).
    """

    sequence: int
    target_date: date
    start: datetime | None
    end: datetime | None
    chair_id: int | None
    conflict: Conflict | None = None
    alternative: Slot | None = None

    @property
    def ok(self) -> bool:
        return self.conflict is None


class MaintenanceStatus(StrEnum):
    OVERDUE = "overdue"
    DUE = "due"
    BOOKED = "booked"
    NOT_DUE = "not_due"


@dataclass(frozen=True)
class MissedDoseOffer:
    """The day offered for a missed dose.

    `extends_series` is True when no day fitted before the following visit, so the make-up dose
    goes after the series' last visit.
    """

    day: date
    extends_series: bool


# Busy intervals as the callers pass them.
ChairBooking = tuple[int, datetime, datetime]
PatientBooking = tuple[datetime, datetime]


# --- 1. Induction dates -------------------------------------------------------------------------


def induction_plan(
    modality: Modality,
    indication: Indication,
    first_date: date,
    preferred_weekdays: Collection[int] | None,
    rules: SchedulingRules,
) -> list[date]:
    """Target dates of an induction series, first dose on or after `first_date`, open days only.

    Esketamine (TRD, MDSI and other indications alike: the label has one induction schedule):
    8 doses, two in each ISO week (Mon-Sun) from the week of the first open day, never two on
    one day. A week with fewer than two open days takes what it has and the rest run on into the
    following weeks, so the count never drops and no week holds more than two. Within a week
    the pair is chosen by, in order: fewest days off the preferred weekdays, fewest gaps under
    48 h (counting from the previous week's last dose), nearest substitute to the preferred day it
    replaces, most even spacing, earliest dates. Without preferred weekdays the default pair is
    Mon/Thu (Tue/Fri when the series starts on a Tuesday or Friday) and gaps under 48 h count
    before the weekdays.

    IV: 6 infusions, the first within a week of the first open day, all within 21 days (longer
    only when closures leave too few open days), chosen by, in order: fewest days off the
    preferred weekdays, fewest gaps under 48 h, earliest first dose, fewest days beyond the
    14-day target, most even spacing, earliest dates. Without preferred weekdays: fewest gaps
    under 48 h, earliest first dose, fewest days off Mon/Wed/Fri, then as above.
    """
    _ = indication  # one schedule per modality today; kept so callers state what they plan
    preferred = parse_weekdays(preferred_weekdays or ())
    start = _first_open_on_or_after(first_date, rules)
    if modality == Modality.ESKETAMINE_NASAL:
        return _esketamine_induction(start, preferred, rules)
    return _iv_induction(first_date, start, preferred, rules)


def _esketamine_induction(
    start: date, preferred: tuple[int, ...], rules: SchedulingRules
) -> list[date]:
    explicit = bool(preferred)
    if not explicit:
        alternate = rules.esketamine_alternate_weekdays
        default = rules.esketamine_default_weekdays
        use_alternate = start.weekday() in alternate and start.weekday() not in default
        preferred = alternate if use_alternate else default
    per_week = rules.esketamine_doses_per_week
    total = rules.esketamine_induction_count
    picks: list[date] = []
    monday = start - timedelta(days=start.weekday())
    while len(picks) < total:
        if (monday - start).days > SEARCH_LIMIT_DAYS:
            raise SchedulingError("Too few open days to plan the induction series.")
        week = [monday + k * DAY for k in range(WEEK_DAYS)]
        usable = [d for d in week if d >= start and rules.is_open(d)]
        prev = picks[-1] if picks else None
        quota = min(per_week, total - len(picks), len(usable))
        picks.extend(_best_week(week, usable, prev, quota, preferred, explicit, rules))
        monday += WEEK_DAYS * DAY
    return picks


def _best_week(
    week: list[date],
    usable: list[date],
    prev: date | None,
    quota: int,
    preferred: tuple[int, ...],
    explicit: bool,
    rules: SchedulingRules,
) -> tuple[date, ...]:
    """The best `quota` days of one week (fewer only when the minimum gap allows no more)."""
    anchors = [d for d in week if d.weekday() in preferred]
    per_week = rules.esketamine_doses_per_week

    def key(combo: tuple[date, ...]) -> tuple[int, int, int, int, tuple[date, ...]]:
        gaps = _gaps(prev, combo)
        off = sum(d.weekday() not in preferred for d in combo)
        warns = sum(g < rules.warn_spacing_days for g in gaps)
        shift = sum(
            min(abs((d - a).days) for a in anchors) for d in combo if d.weekday() not in preferred
        )
        uneven = sum(abs(per_week * g - WEEK_DAYS) for g in gaps)
        head = (off, warns) if explicit else (warns, off)
        return (*head, shift, uneven, combo)

    for size in range(quota, 0, -1):
        combos = [
            c
            for c in combinations(usable, size)
            if all(g >= rules.min_dose_gap_days for g in _gaps(prev, c))
        ]
        if combos:
            return min(combos, key=key)
    return ()


def _gaps(prev: date | None, combo: Sequence[date]) -> list[int]:
    days = ([prev] if prev is not None else []) + list(combo)
    return [(b - a).days for a, b in pairwise(days)]


def _iv_induction(
    first_date: date, start: date, preferred: tuple[int, ...], rules: SchedulingRules
) -> list[date]:
    explicit = bool(preferred)
    preferred = preferred or rules.iv_default_weekdays
    span = rules.iv_induction_max_days
    while span <= SEARCH_LIMIT_DAYS:
        best: tuple[int, int, int, int, int, tuple[date, ...]] | None = None
        for offset in range(WEEK_DAYS):
            first = start + offset * DAY
            if not rules.is_open(first):
                continue
            window = [first + k * DAY for k in range(span)]
            days = [d for d in window if rules.is_open(d)]
            for (a, b, uneven), path in _iv_paths_from(days, preferred, explicit, rules):
                over = max(0, (path[-1] - first).days + 1 - rules.iv_induction_target_days)
                delay = (first - first_date).days
                # a, b: (off-weekday days, gaps < 48 h) with a preference, else the reverse.
                head = (a, b, delay) if explicit else (a, delay, b)
                candidate = (*head, over, uneven, path)
                if best is None or candidate < best:
                    best = candidate
        if best is not None:
            return list(best[-1])
        span += WEEK_DAYS
    raise SchedulingError("Too few open days to plan the induction series.")


def _iv_paths_from(
    days: list[date], preferred: tuple[int, ...], explicit: bool, rules: SchedulingRules
) -> list[tuple[tuple[int, int, int], tuple[date, ...]]]:
    """For each possible last day, the best `iv_induction_count` days starting with days[0].

    A shortest path over the days: the costs add up along the path (days off the preferred
    weekdays, gaps under 48 h, unevenness), so the best path to each (length, last day) extends
    a best path to an earlier day. Ties go to the earliest dates.
    """
    count = rules.iv_induction_count
    target = rules.iv_induction_target_days

    def off(d: date) -> int:
        return int(d.weekday() not in preferred)

    def order(off_days: int, warns: int, uneven: int) -> tuple[int, int, int]:
        return (off_days, warns, uneven) if explicit else (warns, off_days, uneven)

    # layer[i] = (cost, path) of the best path of the current length ending at days[i].
    layer: dict[int, tuple[tuple[int, int, int], tuple[date, ...]]] = {
        0: (order(off(days[0]), 0, 0), (days[0],))
    }
    for _ in range(count - 1):
        following: dict[int, tuple[tuple[int, int, int], tuple[date, ...]]] = {}
        for i in range(1, len(days)):
            best = None
            for j, (cost, path) in layer.items():
                gap = (days[i] - days[j]).days
                if j >= i or gap < rules.min_dose_gap_days:
                    continue
                raw = (off(days[i]), int(gap < rules.warn_spacing_days), abs(count * gap - target))
                step = order(*raw)
                total = (cost[0] + step[0], cost[1] + step[1], cost[2] + step[2])
                candidate = (total, path + (days[i],))
                if best is None or candidate < best:
                    best = candidate
            if best is not None:
                following[i] = best
        layer = following
    return list(layer.values())


# --- 2. Maintenance dates -----------------------------------------------------------------------


def maintenance_plan(
    modality: Modality,
    last_dose_date: date,
    interval_days: int,
    count: int,
    rules: SchedulingRules,
    *,
    weekly_first: int | None = None,
) -> list[date]:
    """`count` maintenance dates after `last_dose_date`, each on an open day.

    Esketamine: first `weekly_first` doses once weekly (default 4 = label weeks 5-8; pass 0 once
    the patient is past week 8), then every `interval_days` (7-14; the label says weekly or every
    2 weeks). IV: every `interval_days` (14-42). The rhythm runs from the nominal dates, so a
    holiday moves one visit to the nearest open day (the earlier on a tie, never on or before the
    previous dose) without shifting the rest. Raises SchedulingError for an interval outside the
    clinic's range.
    """
    if count < 0:
        raise ValueError("count must not be negative.")
    if modality == Modality.ESKETAMINE_NASAL:
        low, high = rules.esketamine_maintenance_min_days, rules.esketamine_maintenance_max_days
        weekly = rules.esketamine_weekly_maintenance_doses if weekly_first is None else weekly_first
        weekly = max(0, min(weekly, count))
        steps = [WEEK_DAYS] * weekly + [interval_days] * (count - weekly)
    else:
        low, high = rules.iv_maintenance_min_days, rules.iv_maintenance_max_days
        steps = [interval_days] * count
    if not low <= interval_days <= high:
        raise SchedulingError(f"The maintenance interval must be {low} to {high} days.")
    dates: list[date] = []
    nominal = previous = last_dose_date
    for step in steps:
        nominal += step * DAY
        previous = _nearest_open(nominal, previous + rules.min_dose_gap_days * DAY, rules)
        dates.append(previous)
    return dates


def _nearest_open(target: date, not_before: date, rules: SchedulingRules) -> date:
    for distance in range(SEARCH_LIMIT_DAYS):
        for day in (target - distance * DAY, target + distance * DAY):
            if day >= not_before and rules.is_open(day):
                return day
    raise SchedulingError(f"No open day near {day_label(target)}.")


def _first_open_on_or_after(day: date, rules: SchedulingRules) -> date:
    for offset in range(SEARCH_LIMIT_DAYS):
        candidate = day + offset * DAY
        if rules.is_open(candidate):
            return candidate
    raise SchedulingError(f"No open day within a year of {day_label(day)}.")


# --- 3. One chair slot --------------------------------------------------------------------------


def find_slot(
    day: date,
    preferred_time: time,
    duration_minutes: int,
    chairs: Sequence[int],
    busy: Iterable[ChairBooking],
    patient_busy: Iterable[PatientBooking],
    tz: ZoneInfo,
    rules: SchedulingRules,
) -> Slot | None:
    """The free chair slot on `day` nearest `preferred_time`, or None.

    Starts are on the slot grid (multiples of `slot_minutes` past midnight, local) from opening;
    the whole block ends by closing. The slot must not overlap ([start, end) intervals) a booking
    of its chair in `busy` nor any of the patient's own bookings. Ties: the earlier start, then
    the chair listed first. None on a closed day or when nothing fits.
    """
    return _search_day(
        day,
        preferred_time,
        duration_minutes,
        chairs,
        _chair_intervals(busy),
        _patient_intervals(patient_busy),
        tz,
        rules,
    )[0]


def _search_day(
    day: date,
    preferred_time: time,
    duration_minutes: int,
    chairs: Sequence[int],
    busy: dict[int, list[tuple[datetime, datetime]]],
    patient_busy: list[tuple[datetime, datetime]],
    tz: ZoneInfo,
    rules: SchedulingRules,
) -> tuple[Slot | None, str]:
    """(slot, "") or (None, reason) with reason closed, no_chair or patient_busy."""
    if duration_minutes < 1:
        raise ValueError("duration_minutes must be at least 1.")
    if not rules.is_open(day):
        return None, "closed"
    length = timedelta(minutes=duration_minutes)
    closes = _local(day, rules.closing_time, tz).astimezone(UTC)
    wanted = _minutes(preferred_time)
    grid = rules.slot_minutes
    first = -(-_minutes(rules.opening_time) // grid) * grid
    starts = sorted(
        range(first, _minutes(rules.closing_time), grid), key=lambda m: (abs(m - wanted), m)
    )
    chair_free = False
    for minute in starts:
        start = _local(day, time(minute // 60, minute % 60), tz).astimezone(UTC)
        end = start + length
        if end > closes:
            continue
        for chair in chairs:
            if _overlaps(start, end, busy.get(chair, ())):
                continue
            chair_free = True
            if _overlaps(start, end, patient_busy):
                continue
            return Slot(chair, start.astimezone(tz), end.astimezone(tz)), ""
    return None, "patient_busy" if chair_free else "no_chair"


def _minutes(at: time) -> int:
    return at.hour * 60 + at.minute


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)


def _overlaps(
    start: datetime, end: datetime, intervals: Iterable[tuple[datetime, datetime]]
) -> bool:
    return any(start < other_end and other_start < end for other_start, other_end in intervals)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("Booking times must be timezone-aware.")
    return moment.astimezone(UTC)


def _chair_intervals(busy: Iterable[ChairBooking]) -> dict[int, list[tuple[datetime, datetime]]]:
    by_chair: dict[int, list[tuple[datetime, datetime]]] = {}
    for chair, start, end in busy:
        by_chair.setdefault(chair, []).append((_utc(start), _utc(end)))
    return by_chair


def _patient_intervals(patient_busy: Iterable[PatientBooking]) -> list[tuple[datetime, datetime]]:
    return [(_utc(start), _utc(end)) for start, end in patient_busy]


# --- 4. A whole series on the chair calendar ----------------------------------------------------


def propose_series(
    dates: Sequence[date],
    preferred_time: time,
    modality: Modality,
    chairs: Sequence[int],
    busy: Iterable[ChairBooking],
    patient_busy: Iterable[PatientBooking],
    tz: ZoneInfo,
    rules: SchedulingRules,
    *,
    duration_minutes: int | None = None,
    dose_days: Collection[date] = frozenset(),
) -> list[ProposedVisit]:
    """One proposed visit per date (sorted; sequence numbers from 1), never dropping one.

    Each visit gets the chair slot nearest `preferred_time` on its date (`find_slot`, a block of
    `rules.block_minutes(modality)` unless `duration_minutes` is given). When the date is closed,
    has no free chair, finds the patient booked at every free time, repeats the day of an
    earlier visit or is one of `dose_days` (clinic days on which the patient already has a dosing
    visit outside this series: never two doses in one day), the visit carries a Conflict and an
    `alternative`: the slot on the first later day, before the next visit's date (or within
    `alternative_window_days` for the last visit), that is open, holds no other dose of the
    patient, keeps the minimum gap to both neighbours
    (preferring >= 48 h) and, for esketamine, keeps each ISO week at two doses or fewer.
    Booked slots and alternatives are held for the later visits, so the proposal never books a
    chair or the patient twice.
    """
    length = duration_minutes if duration_minutes is not None else rules.block_minutes(modality)
    calendar = _HeldCalendar(
        _chair_intervals(busy), _patient_intervals(patient_busy), chairs, tz, rules
    )
    targets = sorted(dates)
    held: list[date] = []  # the day each processed visit ended up on (or its target, unmoved)

    def search(day: date) -> tuple[Slot | None, str]:
        return calendar.search(day, preferred_time, length)

    visits: list[ProposedVisit] = []
    for index, target in enumerate(targets):
        placed = _place(index, target, held, dose_days, search, rules)
        if isinstance(placed, Slot):
            calendar.hold(placed)
            held.append(target)
            visits.append(
                ProposedVisit(index + 1, target, placed.start, placed.end, placed.chair_id)
            )
            continue
        conflict, alternative = _move(
            index, targets, held, dose_days, placed, modality, search, rules
        )
        if alternative is None:
            held.append(target)
        else:
            calendar.hold(alternative)
            held.append(alternative.start.date())
        visits.append(ProposedVisit(index + 1, target, None, None, None, conflict, alternative))
    return visits


def _move(
    index: int,
    targets: Sequence[date],
    held: Sequence[date],
    dose_days: Collection[date],
    conflict: Conflict,
    modality: Modality,
    search: Callable[[date], tuple[Slot | None, str]],
    rules: SchedulingRules,
) -> tuple[Conflict, Slot | None]:
    """The conflict and the alternative slot for the visit that cannot stay on its date; the
    conflict says so when no other day fits."""
    target = targets[index]
    later = [d for d in targets[index + 1 :] if d > target]
    taken = [*held, *targets[index + 1 :], *sorted(dose_days)]
    alternative = _alternative(
        target,
        held[-1] if held else None,
        later[0] if later else None,
        taken,
        modality,
        search,
        rules,
    )
    if alternative is None:
        until = f" before visit {targets.index(later[0]) + 1}" if later else ""
        conflict = replace(conflict, message=f"{conflict.message}; no other day fits{until}")
    return conflict, alternative


@dataclass
class _HeldCalendar:
    """The chair and patient bookings a proposal searches, plus the slots it has held so far."""

    chair_busy: dict[int, list[tuple[datetime, datetime]]]
    own_busy: list[tuple[datetime, datetime]]
    chairs: Sequence[int]
    tz: ZoneInfo
    rules: SchedulingRules

    def search(self, day: date, preferred_time: time, length: int) -> tuple[Slot | None, str]:
        return _search_day(
            day,
            preferred_time,
            length,
            self.chairs,
            self.chair_busy,
            self.own_busy,
            self.tz,
            self.rules,
        )

    def hold(self, slot: Slot) -> None:
        interval = (slot.start.astimezone(UTC), slot.end.astimezone(UTC))
        self.chair_busy.setdefault(slot.chair_id, []).append(interval)
        self.own_busy.append(interval)


def _place(
    index: int,
    target: date,
    held: Sequence[date],
    dose_days: Collection[date],
    search: Callable[[date], tuple[Slot | None, str]],
    rules: SchedulingRules,
) -> Slot | Conflict:
    """The slot for the visit on its target date, or the conflict that keeps it off that day."""
    label = day_label(target)
    if target in held:
        other = held.index(target) + 1
        return Conflict("same_day", f"Visit {other} is already on {label}")
    if target in dose_days:
        return Conflict("same_day", f"The patient already has a dosing visit on {label}")
    if held and (target - held[-1]).days < rules.min_dose_gap_days:
        return Conflict(
            "too_close",
            f"{label} is less than {rules.min_dose_gap_days} days after visit {index}",
        )
    slot, reason = search(target)
    if slot is None:
        return Conflict(reason, _conflict_message(reason, label))
    return slot


def _conflict_message(reason: str, label: str) -> str:
    if reason == "closed":
        return f"Clinic closed on {label}"
    if reason == "patient_busy":
        return f"Patient is booked elsewhere at every free chair time on {label}"
    return f"No free chair on {label} within clinic hours"


def _alternative(
    target: date,
    previous: date | None,
    following: date | None,
    taken: Sequence[date],
    modality: Modality,
    search: Callable[[date], tuple[Slot | None, str]],
    rules: SchedulingRules,
) -> Slot | None:
    last = following - DAY if following else target + rules.alternative_window_days * DAY
    days = list(_days(target + DAY, last))
    for wanted_gap in (rules.warn_spacing_days, rules.min_dose_gap_days):
        for day in _rhythm_days(days, previous, following, taken, wanted_gap, modality, rules):
            slot, _ = search(day)
            if slot is not None:
                return slot
    return None


def _rhythm_days(
    days: Iterable[date],
    previous: date | None,
    following: date | None,
    taken: Sequence[date],
    gap: int,
    modality: Modality,
    rules: SchedulingRules,
) -> Iterator[date]:
    """Open days, in order, that hold no other dose and keep `gap` days to both neighbours."""
    gap = max(gap, rules.min_dose_gap_days)
    for day in days:
        if not rules.is_open(day) or day in taken:
            continue
        if previous is not None and (day - previous).days < gap:
            continue
        if following is not None and (following - day).days < gap:
            continue
        if modality == Modality.ESKETAMINE_NASAL and _week_count(day, taken) >= (
            rules.esketamine_doses_per_week
        ):
            continue
        yield day


def _week_count(day: date, taken: Iterable[date]) -> int:
    week = day.isocalendar()[:2]
    return sum(other.isocalendar()[:2] == week for other in taken)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += DAY


# --- 5. Spacing between doses -------------------------------------------------------------------


def spacing_findings(
    dose_times: Iterable[datetime], rules: SchedulingRules, tz: ZoneInfo | None = None
) -> list[Finding]:
    """Errors for doses on one local calendar day, warnings for doses under 48 h apart.

    Doses are compared in time order, each with the next. The calendar day is taken in `tz`
    (default: each time's own zone); hours are elapsed hours, so across a daylight-saving change
    09:00 to 09:00 two days later is 47 or 49 h.
    """
    times = sorted(dose_times, key=_utc)
    findings: list[Finding] = []
    for earlier, later in pairwise(times):
        first, second = _in_zone(earlier, tz), _in_zone(later, tz)
        days = (second.date() - first.date()).days
        pair = (first, second)
        if days < rules.min_dose_gap_days:
            if days == 0:
                message = f"Two doses on {day_label(first.date())}"
                findings.append(Finding("same_day", Severity.ERROR, message, pair))
            else:
                message = (
                    f"Doses on {day_label(first.date())} and {day_label(second.date())} are"
                    f" less than {rules.min_dose_gap_days} days apart"
                )
                findings.append(Finding("too_close", Severity.ERROR, message, pair))
            continue
        elapsed = _utc(later) - _utc(earlier)
        if elapsed < timedelta(hours=rules.warn_spacing_hours):
            hours, rest = divmod(int(elapsed.total_seconds()) // 60, 60)
            message = (
                f"Doses {hours} h {rest:02d} min apart ({_moment_label(first)} and"
                f" {_moment_label(second)}); the clinic warns under {rules.warn_spacing_hours} h"
            )
            findings.append(Finding("short_interval", Severity.WARNING, message, pair))
    return findings


def _in_zone(moment: datetime, tz: ZoneInfo | None) -> datetime:
    return moment.astimezone(tz) if tz is not None else moment


# --- 6. A missed induction dose -----------------------------------------------------------------


def offer_after_missed(
    modality: Modality,
    visit_dates: Sequence[date],
    missed_date: date,
    today: date,
    rules: SchedulingRules,
) -> MissedDoseOffer:
    """The day to offer for a missed dose, keeping the series' rhythm.

    The first open day after both the missed date and today that holds no other visit, comes
    before the following visit and keeps the minimum gap to both neighbours (preferring >= 48 h),
    and for esketamine leaves its ISO week at two doses or fewer. When no such day comes before
    the following visit, the dose goes after the series' last visit (`extends_series`). Raises
    SchedulingError when `missed_date` is not a visit of the series.
    """
    others = sorted(visit_dates)
    if missed_date not in others:
        raise SchedulingError(f"{day_label(missed_date)} is not a visit of this series.")
    others.remove(missed_date)
    previous = max((d for d in others if d < missed_date), default=None)
    following = min((d for d in others if d > missed_date), default=None)
    earliest = max(missed_date, today) + DAY
    if following is not None:
        window = list(_days(earliest, following - DAY))
    else:
        window = list(_days(earliest, earliest + rules.alternative_window_days * DAY))
    for gap in (rules.warn_spacing_days, rules.min_dose_gap_days):
        for day in _rhythm_days(window, previous, following, others, gap, modality, rules):
            return MissedDoseOffer(day, extends_series=False)
    last = others[-1] if others else missed_date
    start = max(earliest, last + DAY)
    tail = list(_days(start, start + SEARCH_LIMIT_DAYS * DAY))
    for gap in (rules.warn_spacing_days, rules.min_dose_gap_days):
        for day in _rhythm_days(tail, last, None, others, gap, modality, rules):
            return MissedDoseOffer(day, extends_series=True)
    raise SchedulingError("No open day to make up the missed dose.")


# --- 7. Maintenance due -------------------------------------------------------------------------


def maintenance_due(
    last_dose_date: date,
    interval_days: int,
    next_booked_date: date | None,
    today: date,
    rules: SchedulingRules,
) -> MaintenanceStatus:
    """Where a patient stands for the next maintenance dose (due = last dose + interval).

    booked: a visit is booked today or later (even when it falls after the due date);
    overdue: the due date has passed; due: it falls within the look-ahead (default 14 days,
    the due day itself included); not_due: later than that. A booking in the past is ignored.
    """
    if next_booked_date is not None and next_booked_date >= today:
        return MaintenanceStatus.BOOKED
    due = last_dose_date + interval_days * DAY
    if today > due:
        return MaintenanceStatus.OVERDUE
    if (due - today).days <= rules.maintenance_due_horizon_days:
        return MaintenanceStatus.DUE
    return MaintenanceStatus.NOT_DUE


# --- 8. Late cancellation -----------------------------------------------------------------------


def is_late_cancellation(
    starts_at: datetime, cancelled_at: datetime, rules: SchedulingRules
) -> bool:
    """Cancelled less than `late_cancel_hours` (24) elapsed hours before the start, or after it."""
    return _utc(starts_at) - _utc(cancelled_at) < timedelta(hours=rules.late_cancel_hours)


# --- Parsing and labels -------------------------------------------------------------------------


def day_label(day: date) -> str:
    """ "Tue 3 Mar": the clinic's short date."""
    return format_local(day, "short_date")


def _moment_label(moment: datetime) -> str:
    """ "Tue 3 Mar 09:00", in the zone `moment` carries."""
    return f"{format_local(moment, 'short_date')} {format_local(moment, 'time')}"
