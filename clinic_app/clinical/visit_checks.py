"""Whether requested visits fit the clinic calendar: the one check that planning, booking, make-up
visits and moves all run, so a move is held to the same rules as a booking.

Pure: the clinic's rules, its chairs, the visits already booked and the requested visits in;
per requested visit its first blocking problem, plus warnings, out. Each rule looks at one
requested visit and returns a Finding or None; `RULES` lists them in the order a problem is
reported. Times are aware datetimes; a visit's calendar day and clinic hours are read on its
own site's clock (`Visit.tz`, else the calendar's zone), durations in elapsed time (see
`clinic_app.clinical.series` for the sources of the numbers).

Refused: a time in the past; a closed day (weekday, public holiday, closed date); a visit
outside clinic hours or whose esketamine observation (label: at least 2 h after the dose) would
end after closing; an unknown chair; a chair or the patient already booked at that time; two
doses on one calendar day or closer than the minimum gap; a visit out of order within its
series; more esketamine doses in one ISO week than the induction's twice-weekly limit (label).
Warned: doses under the clinic's spacing hours apart (48 h by default); a series whose visits
are not all at one site (the patient travels, and each site's chairs, staff and stock expect the
visit), named by site and visit number. Rules on the whole series (`SERIES_RULES`) see every
requested visit at once and only warn.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from clinic_app.clinical.series import SchedulingRules, Severity, day_label, spacing_findings
from clinic_app.dates import format_local


@dataclass(frozen=True)
class Visit:
    """A booked or requested visit: aware start and end, its chair, and what it is.

    `own`: the patient's own visit (requested visits always are; booked ones of other patients
    matter only for their chairs). `series` and `sequence` place it in its series.
    """

    start: datetime
    end: datetime
    chair_id: int | None
    dosing: bool = True
    esketamine: bool = False
    own: bool = True
    series: str | None = None
    sequence: int | None = None
    tz: ZoneInfo | None = None  # its site's clock (None: the calendar's)


@dataclass(frozen=True)
class Calendar:
    """The clinic as the check sees it: its rules and zone, the time now, the bookable chairs
    (id -> name), the visits that stand (those being moved left out) and each chair's site
    (chair id -> site name, every chair, for the series' sites)."""

    rules: SchedulingRules
    tz: ZoneInfo
    now: datetime
    chairs: Mapping[int, str]
    booked: Sequence[Visit] = ()
    chair_sites: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    blocking: bool = True


@dataclass
class Result:
    """Per requested visit (by position) its problem as (code, message), and the warnings.

    Codes: past, closed, hours, chair, patient, same_day, order, week."""

    problems: dict[int, tuple[str, str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


Rule = Callable[[Calendar, Sequence[Visit], int], Finding | None]
SeriesRule = Callable[[Calendar, Sequence[Visit]], list[Finding]]


def check(calendar: Calendar, requested: Sequence[Visit]) -> Result:
    """Run every rule on every requested visit; the first blocking finding is its problem.
    Then the rules on the whole series, which only warn."""
    result = Result()
    for index in range(len(requested)):
        for rule in RULES:
            finding = rule(calendar, requested, index)
            if finding is None:
                continue
            if finding.blocking:
                result.problems[index] = (finding.code, finding.message)
                break
            result.warnings.append(finding.message)
    for series_rule in SERIES_RULES:
        result.warnings.extend(f.message for f in series_rule(calendar, requested))
    return result


# --- helpers -----------------------------------------------------------------------------------


def _hhmm(moment: datetime, tz: ZoneInfo) -> str:
    return format_local(moment.astimezone(tz), "time")


def _day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def _tz(calendar: Calendar, visit: Visit) -> ZoneInfo:
    """The clock a visit is read on: its site's, else the calendar's."""
    return visit.tz or calendar.tz


def _on_day(calendar: Calendar, visit: Visit) -> date:
    """The visit's calendar day on its own clock."""
    return _day(visit.start, _tz(calendar, visit))


def _label(calendar: Calendar, visit: Visit) -> str:
    return day_label(_on_day(calendar, visit))


def _overlap(a: Visit, b: Visit) -> bool:
    return a.start < b.end and b.start < a.end


def _opening(calendar: Calendar, visit: Visit) -> tuple[datetime, datetime]:
    """Opening and closing on the visit's day, on its clock."""
    rules, tz, day = calendar.rules, _tz(calendar, visit), _on_day(calendar, visit)
    opens = datetime.combine(day, rules.opening_time, tzinfo=tz).astimezone(UTC)
    closes = datetime.combine(day, rules.closing_time, tzinfo=tz).astimezone(UTC)
    return opens, closes


def _own_doses(calendar: Calendar) -> list[Visit]:
    return [v for v in calendar.booked if v.own and v.dosing]


# --- the rules, in the order a problem is reported ---------------------------------------------


def past(calendar: Calendar, requested: Sequence[Visit], index: int) -> Finding | None:
    visit = requested[index]
    if visit.start > calendar.now:
        return None
    when = f"{_label(calendar, visit)} {_hhmm(visit.start, _tz(calendar, visit))}"
    return Finding("past", f"{when} has already passed.")


def closed(calendar: Calendar, requested: Sequence[Visit], index: int) -> Finding | None:
    day = _on_day(calendar, requested[index])
    if calendar.rules.is_open(day):
        return None
    closure = calendar.rules.closure(day)
    why = f" ({closure})" if closure else ""
    return Finding("closed", f"The clinic is closed on {day_label(day)}{why}.")


def hours(calendar: Calendar, requested: Sequence[Visit], index: int) -> Finding | None:
    visit = requested[index]
    opens, closes = _opening(calendar, visit)
    if opens <= visit.start and visit.end <= closes:
        return None
    rules, tz = calendar.rules, _tz(calendar, visit)
    minutes = int((visit.end - visit.start).total_seconds() // 60)
    latest = closes - timedelta(minutes=minutes)
    return Finding(
        "hours",
        f"Outside clinic hours ({rules.opening_time:%H:%M}–{rules.closing_time:%H:%M}): a "
        f"{minutes}-minute visit must start between {rules.opening_time:%H:%M} and "
        f"{_hhmm(latest, tz)}.",
    )


def observation(calendar: Calendar, requested: Sequence[Visit], index: int) -> Finding | None:
    """An esketamine dose is observed for at least the clinic's minutes after dosing, whatever
    the visit's booked length (a visit booked before the observation setting grew keeps its
    old length)."""
    visit = requested[index]
    if not (visit.dosing and visit.esketamine):
        return None
    rules = calendar.rules
    ends = visit.start + timedelta(
        minutes=rules.esketamine_dosing_minutes + rules.esketamine_min_observation_minutes
    )
    closes = _opening(calendar, visit)[1]
    if ends <= closes:
        return None
    return Finding(
        "hours",
        f"The {rules.esketamine_min_observation_minutes}-minute observation would end at "
        f"{_hhmm(ends, _tz(calendar, visit))}, after closing at {rules.closing_time:%H:%M}.",
    )


def chair_known(calendar: Calendar, requested: Sequence[Visit], index: int) -> Finding | None:
    chair = requested[index].chair_id
    if chair is None or chair in calendar.chairs:
        return None
    return Finding("chair", "Choose one of the clinic's chairs.")


def dose_that_day(calendar: Calendar, requested: Sequence[Visit], index: int) -> Finding | None:
    visit = requested[index]
    if not visit.dosing:
        return None
    day = _on_day(calendar, visit)
    if any(_on_day(calendar, v) == day for v in _own_doses(calendar)):
        return Finding(
            "same_day",
            f"The patient already has a visit on {day_label(day)}; never two doses in one day.",
        )
    return None


def patient_busy(calendar: Calendar, requested: Sequence[Visit], index: int) -> Finding | None:
    visit = requested[index]
    busy = next((v for v in calendar.booked if v.own and _overlap(v, visit)), None)
    if busy is None:
        return None
    tz = _tz(calendar, visit)
    return Finding(
        "patient",
        f"The patient already has a visit {_hhmm(busy.start, tz)}–{_hhmm(busy.end, tz)} on "
        f"{_label(calendar, visit)}.",
    )


def same_day_requested(
    calendar: Calendar, requested: Sequence[Visit], index: int
) -> Finding | None:
    visit = requested[index]
    day = _on_day(calendar, visit)
    twin = next((j for j in range(index) if _on_day(calendar, requested[j]) == day), None)
    if twin is None:
        return None
    never = "; never two doses in one day" if visit.dosing else ""
    return Finding("same_day", f"Visit {twin + 1} is also on {day_label(day)}{never}.")


def _chair_name(calendar: Calendar, visit: Visit) -> str:
    return calendar.chairs.get(visit.chair_id or 0, "The chair")


def chair_taken(calendar: Calendar, requested: Sequence[Visit], index: int) -> Finding | None:
    visit = requested[index]
    if visit.chair_id is None:
        return None
    taken = next(
        (v for v in calendar.booked if v.chair_id == visit.chair_id and _overlap(v, visit)), None
    )
    if taken is None:
        return None
    tz = _tz(calendar, visit)
    return Finding(
        "chair",
        f"{_chair_name(calendar, visit)} is booked {_hhmm(taken.start, tz)}–"
        f"{_hhmm(taken.end, tz)} on {_label(calendar, visit)}.",
    )


def chair_held(calendar: Calendar, requested: Sequence[Visit], index: int) -> Finding | None:
    visit = requested[index]
    if visit.chair_id is None:
        return None
    earlier = next(
        (
            j
            for j in range(index)
            if requested[j].chair_id == visit.chair_id and _overlap(requested[j], visit)
        ),
        None,
    )
    if earlier is None:
        return None
    return Finding(
        "chair",
        f"{_chair_name(calendar, visit)} is already held for visit {earlier + 1} at that time.",
    )


def series_order(calendar: Calendar, requested: Sequence[Visit], index: int) -> Finding | None:
    """Visit n of a series comes after every lower-numbered visit and before every higher one."""
    visit = requested[index]
    if visit.series is None or visit.sequence is None:
        return None
    others = [v for v in calendar.booked if v.own and v.series == visit.series] + [
        v for j, v in enumerate(requested) if j != index and v.series == visit.series
    ]
    for other in sorted(others, key=lambda v: v.start):
        if other.sequence is None or other.sequence == visit.sequence:
            continue
        wrong = (other.sequence < visit.sequence and other.start >= visit.start) or (
            other.sequence > visit.sequence and other.start <= visit.start
        )
        if wrong:
            side = "after" if other.sequence < visit.sequence else "before"
            return Finding(
                "order",
                f"Visit {visit.sequence} must come {side} visit {other.sequence} of its series "
                f"({_label(calendar, other)} {_hhmm(other.start, _tz(calendar, other))}).",
            )
    return None


def _week(day: date) -> tuple[int, int]:
    return day.isocalendar()[:2]


def esketamine_week(calendar: Calendar, requested: Sequence[Visit], index: int) -> Finding | None:
    """At most `esketamine_doses_per_week` esketamine doses in one ISO week (Monday-Sunday)."""
    visit = requested[index]
    if not (visit.dosing and visit.esketamine):
        return None
    day = _on_day(calendar, visit)
    week = _week(day)
    booked = [v for v in _own_doses(calendar) if v.esketamine]
    earlier = [v for v in requested[: index + 1] if v.dosing and v.esketamine]
    count = sum(_week(_on_day(calendar, v)) == week for v in booked + earlier)
    limit = calendar.rules.esketamine_doses_per_week
    if count <= limit:
        return None
    monday = day - timedelta(days=day.weekday())
    return Finding(
        "week",
        f"Esketamine is at most {limit} doses a week; the week of {day_label(monday)} would "
        f"have {count}.",
    )


def _gap(calendar: Calendar, first: Visit | None, second: Visit | None) -> Finding | None:
    """Two doses closer than the minimum gap (refused) or under the spacing hours (warned)."""
    if first is None or second is None:
        return None
    starts = [v.start.astimezone(_tz(calendar, v)) for v in (first, second)]
    for finding in spacing_findings(starts, calendar.rules):  # each day on its own clock
        if finding.code == "same_day":
            continue  # refused by the same-day rules with a clearer message
        if finding.severity == Severity.ERROR:
            return Finding("same_day", finding.message + ".")
        return Finding("spacing", finding.message, blocking=False)
    return None


def spacing_before(calendar: Calendar, requested: Sequence[Visit], index: int) -> Finding | None:
    """Against the dose just before it, booked or requested."""
    visit = requested[index]
    if not visit.dosing:
        return None
    doses = _own_doses(calendar) + [v for j, v in enumerate(requested) if j != index and v.dosing]
    before = max((v for v in doses if v.start < visit.start), key=lambda v: v.start, default=None)
    return _gap(calendar, before, visit)


def spacing_after(calendar: Calendar, requested: Sequence[Visit], index: int) -> Finding | None:
    """Against the dose just after it when that one is booked (a requested one checks its own
    previous dose)."""
    visit = requested[index]
    if not visit.dosing:
        return None
    booked = _own_doses(calendar)
    doses = booked + [v for j, v in enumerate(requested) if j != index and v.dosing]
    after = min((v for v in doses if v.start > visit.start), key=lambda v: v.start, default=None)
    return _gap(calendar, visit, after) if any(after is v for v in booked) else None


RULES: tuple[Rule, ...] = (
    past,
    closed,
    hours,
    observation,
    chair_known,
    dose_that_day,
    patient_busy,
    same_day_requested,
    chair_taken,
    chair_held,
    series_order,
    esketamine_week,
    spacing_before,
    spacing_after,
)


# --- rules on the whole series (warnings) ------------------------------------------------------


def _site_of(calendar: Calendar, visit: Visit) -> str | None:
    return calendar.chair_sites.get(visit.chair_id) if visit.chair_id is not None else None


def _series_members(
    calendar: Calendar, requested: Sequence[Visit], series: str | None
) -> list[tuple[int | None, str]]:
    """The series' visits in time order with their sites: the requested ones of `series` (None:
    the visits being booked as a new series) and the patient's booked ones of it."""
    booked = [v for v in calendar.booked if series is not None and v.own and v.series == series]
    visits = sorted(booked + [v for v in requested if v.series == series], key=lambda v: v.start)
    return [(v.sequence, site) for v in visits if (site := _site_of(calendar, v)) is not None]


def _visits_at(numbers: list[int | None], site: str) -> str:
    """ "visits 3 and 5 are at X" (a visit without a number is the new one)."""
    names = [str(n) for n in sorted(n for n in numbers if n is not None)]
    named = f"visit{'s' if len(names) > 1 else ''} " + _and(names) if names else ""
    parts = [named] if named else []
    if None in numbers:
        parts.append("the new visit")
    verb = "are" if len(numbers) > 1 else "is"
    return f"{_and(parts)} {verb} at {site}"


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def series_sites(calendar: Calendar, requested: Sequence[Visit]) -> list[Finding]:
    """A series whose visits are not all at one site: the sites with fewer of its visits are
    named with their visits, the site of most visits (of the first, on a tie) is "the others"."""
    findings = []
    for series in dict.fromkeys(v.series for v in requested):
        members = _series_members(calendar, requested, series)
        by_site: dict[str, list[int | None]] = {}
        for number, site in members:
            by_site.setdefault(site, []).append(number)
        if len(by_site) < 2:
            continue
        main = max(by_site, key=lambda site: len(by_site[site]))  # the first on a tie
        others = "the other" if len(by_site[main]) == 1 else "the others"
        named = [_visits_at(numbers, site) for site, numbers in by_site.items() if site != main]
        message = "; ".join(named) + f"; {others} at {main}."
        findings.append(Finding("sites", message[0].upper() + message[1:], blocking=False))
    return findings


SERIES_RULES: tuple[SeriesRule, ...] = (series_sites,)
