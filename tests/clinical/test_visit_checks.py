"""The one calendar check behind planning, booking, make-ups and moves: each rule, and the
property that no sequence of plans and moves it accepts yields two doses on one day, an
esketamine week with more than two doses, or a visit on a closed day."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from clinic_app.clinical.codes import Indication, Modality
from clinic_app.clinical.series import SchedulingRules, induction_plan, propose_series
from clinic_app.clinical.visit_checks import Calendar, Visit, check
from tests.clinical.series_builders import LA, MON, RULES, local

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
CHAIRS = {1: "Chair 1", 2: "Chair 2"}


def visit(on: date, hour: int = 9, minute: int = 0, minutes: int = 150, chair=1, **kw) -> Visit:
    start = local(on, hour, minute)
    return Visit(start, start + timedelta(minutes=minutes), chair, **kw)


def esk(on: date, hour: int = 9, **kw) -> Visit:
    return visit(on, hour, esketamine=True, **kw)


def run(*requested: Visit, booked=(), rules: SchedulingRules = RULES, now=NOW):
    return check(Calendar(rules, LA, now, CHAIRS, list(booked)), list(requested))


def codes(result) -> dict[int, str]:
    return {i: code for i, (code, _) in result.problems.items()}


# --- one rule at a time ---------------------------------------------------------------------


def test_a_free_visit_in_hours_passes():
    assert run(esk(MON)).ok


def test_past_closed_hours_and_unknown_chair():
    assert codes(run(esk(MON), now=local(MON, 10))) == {0: "past"}
    assert codes(run(esk(MON + timedelta(days=5)))) == {0: "closed"}
    assert codes(run(esk(MON, 16))) == {0: "hours"}
    assert codes(run(esk(MON, chair=9))) == {0: "chair"}


def test_a_public_holiday_is_closed_and_named():
    christmas = date(2026, 12, 25)
    result = run(esk(christmas), rules=SchedulingRules())
    assert result.problems == {0: ("closed", "The clinic is closed on Fri 25 Dec (Christmas Day).")}
    assert run(esk(christmas)).ok  # the test rules have no public holidays


def test_esketamine_observation_must_end_by_closing_whatever_the_booked_length():
    rules = replace(RULES, esketamine_min_observation_minutes=180)
    short = esk(MON, 15, minutes=150)
    assert codes(run(short, rules=rules)) == {0: "hours"}
    assert "observation would end at 18:15" in run(short, rules=rules).problems[0][1]
    # Not a dose, or not esketamine: only the visit's own length counts.
    assert run(visit(MON, 15, minutes=150, dosing=False), rules=rules).ok
    assert run(visit(MON, 15, minutes=150), rules=rules).ok


def test_never_two_doses_a_day_booked_or_requested():
    booked = [esk(MON, 8, chair=2)]
    assert codes(run(esk(MON, 14), booked=booked)) == {0: "same_day"}
    assert codes(run(esk(MON), esk(MON, 13, chair=2))) == {1: "same_day"}
    # A consult the same day is fine when it does not overlap.
    assert run(visit(MON, 14, minutes=30, dosing=False), booked=booked).ok


def test_chair_and_patient_overlaps():
    other = [esk(MON, 9, own=False)]
    assert codes(run(esk(MON, 10), booked=other)) == {0: "chair"}
    assert run(esk(MON, 10, chair=2), booked=other).ok
    consult = [visit(MON, 10, minutes=60, chair=2, dosing=False)]
    assert codes(run(esk(MON, 9), booked=consult)) == {0: "patient"}
    assert codes(run(esk(MON), esk(MON + timedelta(days=3)), visit(MON, 10, dosing=False))) == {
        2: "same_day"
    }


def test_order_within_a_series():
    booked = [esk(MON + timedelta(days=3), series="s", sequence=2)]
    assert codes(run(esk(MON + timedelta(days=7), series="s", sequence=1), booked=booked)) == {
        0: "order"
    }
    assert run(esk(MON, series="s", sequence=1), booked=booked).ok
    assert codes(run(esk(MON, series="s", sequence=3), booked=booked)) == {0: "order"}


def test_at_most_two_esketamine_doses_in_an_iso_week():
    booked = [esk(MON), esk(MON + timedelta(days=2))]
    friday = esk(MON + timedelta(days=4))
    result = run(friday, booked=booked)
    assert result.problems == {
        0: ("week", "Esketamine is at most 2 doses a week; the week of Mon 2 Mar would have 3.")
    }
    # The next Monday is another week; IV has no weekly limit.
    assert run(esk(MON + timedelta(days=7)), booked=booked).ok
    iv = [visit(MON), visit(MON + timedelta(days=2))]
    assert run(visit(MON + timedelta(days=4)), booked=iv).ok


def test_spacing_under_48_hours_warns_and_the_minimum_gap_refuses():
    booked = [esk(MON)]
    result = run(esk(MON + timedelta(days=1), 10), booked=booked)
    assert result.ok
    assert result.warnings == [
        "Doses 25 h 00 min apart (Mon 2 Mar 09:00 and Tue 3 Mar 10:00); the clinic warns under 48 h"
    ]
    # The following booked dose is checked too, and each pair is reported once.
    later = run(
        esk(MON - timedelta(days=1), 8),
        booked=[esk(MON)],
        rules=replace(RULES, open_weekdays=(0, 1, 2, 3, 4, 5, 6)),
    )
    assert len(later.warnings) == 1
    gap = replace(RULES, min_dose_gap_days=2)
    assert codes(run(esk(MON + timedelta(days=1)), booked=booked, rules=gap)) == {0: "same_day"}


def test_only_the_first_problem_of_a_visit_is_reported():
    result = run(esk(MON + timedelta(days=5), 20), now=NOW)
    assert codes(result) == {0: "closed"}


# --- a series over several sites (warned) -----------------------------------------------------

SITES = {1: "Downtown LA", 2: "Downtown LA", 3: "Midtown Manhattan", 4: "Brooklyn"}
ALL_CHAIRS = {**CHAIRS, 3: "NY 1", 4: "BK 1"}


def run_at_sites(*requested: Visit, booked=()):
    calendar = Calendar(RULES, LA, NOW, ALL_CHAIRS, list(booked), chair_sites=SITES)
    return check(calendar, list(requested))


def _series(chairs: list[int], **kw) -> list[Visit]:
    """One visit a week on the given chairs, numbered from 1."""
    return [
        esk(MON + timedelta(days=7 * n), chair=chair, sequence=n + 1, **kw)
        for n, chair in enumerate(chairs)
    ]


def test_a_series_at_one_site_has_no_site_warning():
    result = run_at_sites(*_series([1, 2, 1, 2]))
    assert result.ok and result.warnings == []


def test_a_series_that_alternates_sites_is_warned_naming_the_sites_and_visits():
    result = run_at_sites(*_series([1, 2, 3, 1, 3, 2]))
    assert result.ok
    assert result.warnings == [
        "Visits 3 and 5 are at Midtown Manhattan; the others at Downtown LA."
    ]
    three = run_at_sites(*_series([1, 3, 1, 4, 1]))
    assert three.warnings == [
        "Visit 2 is at Midtown Manhattan; visit 4 is at Brooklyn; the others at Downtown LA."
    ]


def test_moving_one_visit_of_a_booked_series_to_another_sites_chair_is_warned():
    booked = _series([1, 2, 1, 2], series="s")
    moved = replace(booked[1], chair_id=3)
    result = run_at_sites(moved, booked=[v for v in booked if v is not booked[1]])
    assert result.ok
    assert result.warnings == ["Visit 2 is at Midtown Manhattan; the others at Downtown LA."]
    # Back to its own site: no warning; other patients' visits and other series do not count.
    others = [esk(MON + timedelta(days=1), chair=3, own=False, series="s", sequence=9)]
    other_series = [esk(MON + timedelta(days=2), chair=3, series="t", sequence=1)]
    rest = [v for v in booked if v is not booked[1]] + others + other_series
    assert run_at_sites(booked[1], booked=rest).warnings == []


def test_the_site_warning_does_not_hide_a_refusal_and_counts_each_series_once():
    visits = _series([3, 1, 1])
    result = run_at_sites(replace(visits[0], chair_id=9), *visits[1:])
    assert codes(result) == {0: "chair"}
    assert result.warnings == []  # the unknown chair has no site
    two = run_at_sites(*_series([3, 1, 1]))
    assert two.warnings == ["Visit 1 is at Midtown Manhattan; the others at Downtown LA."]


def test_each_visit_is_read_on_its_own_sites_clock():
    """09:00 in New York is 06:00 in Los Angeles: on its own clock it is within hours."""
    ny = ZoneInfo("America/New_York")
    start = local(MON, 9, tz=ny)
    at_ny = Visit(start, start + timedelta(minutes=150), 3, esketamine=True, tz=ny)
    assert codes(run_at_sites(replace(at_ny, tz=None))) == {0: "hours"}
    assert run_at_sites(at_ny).ok
    # Its day is New York's: 23:30 in Los Angeles on Monday is Tuesday 02:30 in New York, so a
    # dose at 10:00 Los Angeles time on Tuesday is the same New York day (refused)...
    late = local(MON, 23, 30)
    booked = [Visit(late, late + timedelta(minutes=150), 3, esketamine=True, tz=ny)]
    tuesday = esk(MON + timedelta(days=1), 10)
    rules = replace(RULES, opening_time=time(0, 0), closing_time=time(23, 59))
    calendar = Calendar(rules, LA, NOW, ALL_CHAIRS, booked, chair_sites=SITES)
    assert codes(check(calendar, [tuesday])) == {0: "same_day"}
    # ...and read on Los Angeles' clock it would have been Monday.
    calendar = Calendar(rules, LA, NOW, ALL_CHAIRS, [replace(booked[0], tz=None)])
    assert check(calendar, [tuesday]).ok


# --- the property -----------------------------------------------------------------------------

START = date(2026, 12, 14)  # two weeks before Christmas, so runs cross the public holidays
HOLIDAY_RULES = SchedulingRules(closed_dates=frozenset({date(2026, 12, 31)}))
SOON = datetime(2026, 12, 10, tzinfo=UTC)

plans = st.tuples(
    st.just("plan"),
    st.integers(0, 40),  # first day offset
    st.sets(st.integers(0, 4), max_size=2),  # preferred weekdays
    st.sampled_from([8, 9, 10, 14]),  # hour
)
moves = st.tuples(
    st.just("move"),
    st.integers(0, 30),  # which booked visit (modulo)
    st.integers(-4, 4),  # days to shift
    st.sampled_from([8, 9, 11, 13, 15]),  # new hour
)


def _plan(booked: list[Visit], first: int, weekdays, hour: int, series: str) -> list[Visit]:
    dates = induction_plan(
        Modality.ESKETAMINE_NASAL,
        Indication.TRD,
        START + timedelta(days=first),
        weekdays,
        HOLIDAY_RULES,
    )
    busy = [(v.chair_id, v.start, v.end) for v in booked]
    own = [(v.start, v.end) for v in booked]
    proposed = propose_series(
        dates, time(hour), Modality.ESKETAMINE_NASAL, list(CHAIRS), busy, own, LA, HOLIDAY_RULES
    )
    requested = []
    for number, p in enumerate(proposed, start=1):
        slot = (p.start, p.end, p.chair_id) if p.ok else None
        if slot is None and p.alternative is not None:
            slot = (p.alternative.start, p.alternative.end, p.alternative.chair_id)
        if slot is not None:
            start, end, chair = slot
            requested.append(
                Visit(start, end, chair, esketamine=True, series=series, sequence=number)
            )
    return requested


def _moved(booked: list[Visit], pick: int, shift: int, hour: int) -> tuple[list[Visit], Visit]:
    target = booked[pick % len(booked)]
    day = target.start.astimezone(LA).date() + timedelta(days=shift)
    start = local(day, hour)
    rest = [v for v in booked if v is not target]
    return rest, replace(target, start=start, end=start + (target.end - target.start))


def _assert_calendar_sound(booked: list[Visit]) -> None:
    days = [v.start.astimezone(LA).date() for v in booked]
    assert len(days) == len(set(days)), "two doses on one day"
    weeks: dict[tuple[int, int], int] = {}
    for day in days:
        week = day.isocalendar()[:2]
        weeks[week] = weeks.get(week, 0) + 1
    assert max(weeks.values(), default=0) <= 2, "an esketamine week with more than two doses"
    assert all(HOLIDAY_RULES.is_open(day) for day in days), "a visit on a closed day"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(plans, moves), min_size=1, max_size=6))
def test_no_sequence_of_plans_and_moves_breaks_the_calendar(operations):
    booked: list[Visit] = []
    for number, operation in enumerate(operations):
        if operation[0] == "plan":
            requested = _plan(booked, *operation[1:], series=f"s{number}")
            rest = booked
        elif booked:
            rest, moved = _moved(booked, *operation[1:])
            requested = [moved]
        else:
            continue
        result = check(Calendar(HOLIDAY_RULES, LA, SOON, CHAIRS, rest), requested)
        if result.ok:
            booked = rest + requested
        _assert_calendar_sound(booked)
