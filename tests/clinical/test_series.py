"""The series planner: rules, induction and maintenance dates, chair slots, proposals, spacing,
missed doses, maintenance due and late cancellation."""

import dataclasses
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic_app.clinical.codes import Indication, Modality
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.series import (
    MaintenanceStatus,
    MissedDoseOffer,
    SchedulingError,
    SchedulingRules,
    Severity,
    Slot,
    find_slot,
    induction_plan,
    is_late_cancellation,
    maintenance_due,
    maintenance_plan,
    offer_after_missed,
    propose_series,
    spacing_findings,
)
from tests.clinical.series_builders import (
    FALL_BACK,
    LA,
    MON,
    RULES,
    SPRING_FORWARD,
    booking,
    day,
    local,
    patient_booking,
    whole_day,
)

ESK = Modality.ESKETAMINE_NASAL
IV = Modality.IV_KETAMINE
TRD = Indication.TRD
NINE = time(9, 0)
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)


def days(*offsets: int, start: date = MON) -> list[date]:
    return [day(o, start) for o in offsets]


def plan(modality=ESK, first=MON, preferred=None, rules=RULES, indication=TRD):
    return induction_plan(modality, indication, first, preferred, rules)


def slot(on=MON, preferred=NINE, minutes=150, chairs=(1,), busy=(), patient=(), rules=RULES):
    return find_slot(on, preferred, minutes, list(chairs), list(busy), list(patient), LA, rules)


def propose(dates, modality=ESK, chairs=(1,), busy=(), patient=(), rules=RULES, at=NINE, tz=LA):
    return propose_series(dates, at, modality, list(chairs), list(busy), list(patient), tz, rules)


def closed(*dates: date) -> SchedulingRules:
    return dataclasses.replace(RULES, closed_dates=frozenset(dates))


# --- SchedulingRules ----------------------------------------------------------------------------


def test_defaults_are_the_design_numbers():
    r = SchedulingRules()
    assert r.open_weekdays == (0, 1, 2, 3, 4)
    assert (r.opening_time, r.closing_time) == (time(8), time(18))
    assert r.closed_dates == frozenset()
    assert r.slot_minutes == 15
    assert (
        r.esketamine_dosing_minutes,
        r.esketamine_min_observation_minutes,
        r.esketamine_turnover_minutes,
    ) == (15, 120, 15)
    assert (
        r.iv_setup_minutes,
        r.iv_default_minutes,
        r.iv_recovery_minutes,
        r.iv_turnover_minutes,
    ) == (15, 40, 30, 10)
    assert (r.min_dose_gap_days, r.warn_spacing_hours, r.warn_spacing_days) == (1, 48, 2)
    assert r.late_cancel_hours == 24
    assert r.maintenance_due_horizon_days == 14
    assert (r.esketamine_induction_weeks, r.esketamine_doses_per_week) == (4, 2)
    assert r.esketamine_induction_count == 8
    assert (r.esketamine_default_weekdays, r.esketamine_alternate_weekdays) == ((0, 3), (1, 4))
    assert r.esketamine_weekly_maintenance_doses == 4
    assert (r.esketamine_maintenance_min_days, r.esketamine_maintenance_max_days) == (7, 14)
    assert r.iv_induction_count == 6
    assert (r.iv_induction_target_days, r.iv_induction_max_days) == (14, 21)
    assert r.iv_default_weekdays == (0, 2, 4)
    assert (
        r.iv_maintenance_min_days,
        r.iv_maintenance_interval_days,
        r.iv_maintenance_max_days,
    ) == (14, 28, 42)


def test_block_minutes_add_up_per_modality():
    assert RULES.block_minutes(ESK) == 150
    assert RULES.block_minutes(IV) == 95


def test_chair_minutes_shared_with_clinical_rules_follow_the_same_setting():
    stored = {"iv_default_minutes": "60", "esketamine_min_observation_minutes": 150}
    assert SchedulingRules.with_overrides(stored).block_minutes(IV) == 115
    assert SchedulingRules.with_overrides(stored).block_minutes(ESK) == 180
    assert ClinicalRules.with_overrides(stored).iv_default_minutes == 60
    assert ClinicalRules.with_overrides(stored).esketamine_min_observation_minutes == 150
    shared = {f.name for f in dataclasses.fields(SchedulingRules)} & {
        f.name for f in dataclasses.fields(ClinicalRules)
    }
    assert shared == {
        "esketamine_min_observation_minutes",
        "iv_default_minutes",
        "iv_recovery_minutes",
    }
    for name in shared:
        assert getattr(SchedulingRules(), name) == getattr(ClinicalRules(), name)


def test_rules_are_frozen_and_hashable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RULES.slot_minutes = 30  # type: ignore[misc]
    assert hash(closed(MON)) == hash(closed(MON))


def test_no_overrides_gives_defaults():
    assert SchedulingRules.with_overrides({}) == SchedulingRules()


def test_overrides_parse_stored_text_and_ignore_unknown_keys():
    rules = SchedulingRules.with_overrides(
        {
            "opening_time": "07:30",
            "closing_time": "19:00",
            "open_weekdays": "mon, tue,wed,thu,fri,sat",
            "closed_dates": "2026-12-25, 2027-01-01",
            "esketamine_default_weekdays": [1, "fri"],
            "late_cancel_hours": "48",
            "slot_minutes": 10.0,
            "timezone": "America/Los_Angeles",
            "hold_systolic": 150,
        }
    )
    assert (rules.opening_time, rules.closing_time) == (time(7, 30), time(19))
    assert rules.open_weekdays == (0, 1, 2, 3, 4, 5)
    assert rules.closed_dates == frozenset({date(2026, 12, 25), date(2027, 1, 1)})
    assert rules.esketamine_default_weekdays == (1, 4)
    assert (rules.late_cancel_hours, rules.slot_minutes) == (48, 10)
    assert type(rules.slot_minutes) is int
    assert rules.iv_induction_count == 6


def test_overrides_take_lists_of_dates_and_weekday_numbers():
    rules = SchedulingRules.with_overrides(
        {"closed_dates": ["2026-03-05", date(2026, 3, 6)], "open_weekdays": [4, 0, 0]}
    )
    assert rules.closed_dates == frozenset({day(3), day(4)})
    assert rules.open_weekdays == (0, 4)


@pytest.mark.parametrize(
    "stored",
    [
        {"open_weekdays": ""},
        {"open_weekdays": "7"},
        {"open_weekdays": "someday"},
        {"opening_time": "18:00"},
        {"opening_time": "late"},
        {"closed_dates": "25/12/2026"},
        {"slot_minutes": 0},
        {"iv_maintenance_min_days": 50},
        {"iv_induction_target_days": 28},
        {"late_cancel_hours": "soon"},
    ],
)
def test_invalid_settings_raise(stored):
    with pytest.raises(ValueError):
        SchedulingRules.with_overrides(stored)


def test_closed_dates_refuse_datetimes():
    with pytest.raises(ValueError):
        SchedulingRules(closed_dates=frozenset({datetime(2026, 3, 2, 9)}))


def test_is_open_needs_an_open_weekday_and_no_closure():
    rules = closed(day(3))
    assert rules.is_open(MON)
    assert not rules.is_open(day(3))
    assert not rules.is_open(day(5))  # Saturday
    assert SchedulingRules(open_weekdays=EVERY_DAY).is_open(day(5))


# --- induction_plan: esketamine -----------------------------------------------------------------


def test_esketamine_monday_start_is_mon_thu_for_four_weeks():
    assert plan() == days(0, 3, 7, 10, 14, 17, 21, 24)


@pytest.mark.parametrize("indication", list(Indication))
def test_esketamine_schedule_is_the_same_for_every_indication(indication):
    assert plan(indication=indication) == days(0, 3, 7, 10, 14, 17, 21, 24)


def test_esketamine_tuesday_start_is_tue_fri():
    assert plan(first=day(1)) == days(1, 4, 8, 11, 15, 18, 22, 25)


def test_esketamine_wednesday_start_keeps_48h_in_week_one():
    assert plan(first=day(2)) == days(2, 4, 7, 10, 14, 17, 21, 24)


def test_esketamine_thursday_start_keeps_two_in_week_one_even_a_day_apart():
    assert plan(first=day(3)) == days(3, 4, 7, 10, 14, 17, 21, 24)


def test_esketamine_friday_start_has_one_dose_in_week_one_and_runs_into_week_five():
    assert plan(first=day(4)) == days(4, 8, 11, 15, 18, 22, 25, 29)


def test_esketamine_weekend_start_moves_to_monday():
    assert plan(first=day(5)) == days(7, 10, 14, 17, 21, 24, 28, 31)


def test_esketamine_closed_first_date_moves_to_next_open_day():
    assert plan(first=MON, rules=closed(MON)) == days(1, 4, 8, 11, 15, 18, 22, 25)


def test_esketamine_preferred_days_are_used():
    assert plan(preferred=[1, 3]) == days(1, 3, 8, 10, 15, 17, 22, 24)


def test_esketamine_preferred_day_names_are_accepted():
    assert plan(preferred=["tue", "thu"]) == plan(preferred=[1, 3])


def test_esketamine_closed_preferred_day_moves_to_nearest_day_keeping_48h():
    # Thursday 12 March closed: Wednesday and Friday are both a day away; Friday spaces evenly.
    assert plan(preferred=[0, 3], rules=closed(day(10))) == days(0, 3, 7, 11, 14, 17, 21, 24)


def test_esketamine_single_preferred_day_gets_a_partner_two_days_away():
    assert plan(preferred=[2]) == days(0, 2, 7, 9, 14, 16, 21, 23)


def test_esketamine_three_preferred_days_pick_the_evenly_spaced_pair():
    assert plan(preferred=[0, 2, 4]) == days(0, 4, 7, 11, 14, 18, 21, 25)


def test_esketamine_consecutive_preferred_days_are_honoured():
    assert plan(preferred=[0, 1]) == days(0, 1, 7, 8, 14, 15, 21, 22)


def test_esketamine_week_with_one_open_day_takes_one_dose_and_the_series_runs_on():
    # Second week closed Monday to Thursday: only Friday 13 March remains.
    rules = closed(day(7), day(8), day(9), day(10))
    assert plan(rules=rules) == days(0, 3, 11, 14, 17, 21, 24, 28)


def test_esketamine_fully_closed_week_is_skipped():
    rules = closed(*days(7, 8, 9, 10, 11))
    assert plan(rules=rules) == days(0, 3, 14, 17, 21, 24, 28, 31)


def test_esketamine_weekend_clinic_can_use_weekend_preferences():
    rules = SchedulingRules(open_weekdays=EVERY_DAY)
    assert plan(preferred=[5, 6], rules=rules)[:4] == days(5, 6, 12, 13)


def test_preferred_weekday_out_of_range_raises():
    with pytest.raises(ValueError):
        plan(preferred=[7])


def test_no_open_day_within_a_year_raises():
    rules = SchedulingRules(open_weekdays=(0,), closed_dates=frozenset(days(*range(0, 400, 7))))
    with pytest.raises(SchedulingError):
        plan(rules=rules)
    with pytest.raises(SchedulingError):
        plan(IV, rules=rules)


# --- induction_plan: IV -------------------------------------------------------------------------


def test_iv_monday_start_is_mon_wed_fri_for_two_weeks():
    assert plan(IV) == days(0, 2, 4, 7, 9, 11)


def test_iv_tuesday_start_begins_that_day():
    assert plan(IV, first=day(1)) == days(1, 4, 7, 9, 11, 14)


def test_iv_wednesday_start():
    assert plan(IV, first=day(2)) == days(2, 4, 7, 9, 11, 14)


def test_iv_preferred_tue_thu_takes_three_weeks():
    dates = plan(IV, preferred=[1, 3])
    assert dates == days(1, 3, 8, 10, 15, 17)
    assert (dates[-1] - dates[0]).days + 1 == 17


def test_iv_closed_wednesday_keeps_the_start_and_spacing():
    assert plan(IV, rules=closed(day(2))) == days(0, 4, 7, 9, 11, 14)


def test_iv_single_preferred_day_fills_in_with_other_days():
    dates = plan(IV, preferred=[4])
    assert dates == days(0, 4, 7, 11, 14, 18)
    assert sum(d.weekday() == 4 for d in dates) == 3


def test_iv_extends_past_21_days_only_when_closures_leave_too_few_open_days():
    rules = closed(*days(*range(7, 21)))
    dates = plan(IV, rules=rules)
    assert len(dates) == 6
    assert all(rules.is_open(d) for d in dates)
    assert (dates[-1] - dates[0]).days + 1 > 21
    assert dates == days(0, 2, 4, 21, 23, 25)


# --- maintenance_plan ---------------------------------------------------------------------------


def test_esketamine_maintenance_is_weekly_four_times_then_every_interval():
    last = day(24)  # Thursday 26 March, the 8th induction dose
    assert maintenance_plan(ESK, last, 14, 6, RULES) == days(31, 38, 45, 52, 66, 80)
    assert maintenance_plan(ESK, last, 7, 6, RULES) == days(31, 38, 45, 52, 59, 66)


def test_esketamine_maintenance_past_week_eight_skips_the_weekly_run():
    assert maintenance_plan(ESK, MON, 14, 3, RULES, weekly_first=0) == days(14, 28, 42)


def test_esketamine_maintenance_count_below_weekly_run():
    assert maintenance_plan(ESK, MON, 14, 2, RULES) == days(7, 14)


@pytest.mark.parametrize("interval", [6, 15, 21])
def test_esketamine_maintenance_interval_outside_label_range_raises(interval):
    with pytest.raises(SchedulingError, match="7 to 14 days"):
        maintenance_plan(ESK, MON, interval, 4, RULES)


def test_iv_maintenance_every_interval():
    assert maintenance_plan(IV, day(11), 28, 3, RULES) == days(39, 67, 95)


@pytest.mark.parametrize("interval, ok", [(13, False), (14, True), (42, True), (43, False)])
def test_iv_maintenance_interval_range_boundaries(interval, ok):
    if ok:
        assert len(maintenance_plan(IV, MON, interval, 2, RULES)) == 2
    else:
        with pytest.raises(SchedulingError, match="14 to 42 days"):
            maintenance_plan(IV, MON, interval, 2, RULES)


def test_maintenance_holiday_moves_one_visit_to_nearest_open_day_and_keeps_the_rhythm():
    # Friday 10 April closed: Thursday 9 April is nearer than Monday 13 April.
    assert maintenance_plan(IV, day(11), 28, 3, closed(day(39))) == days(38, 67, 95)


def test_maintenance_tie_between_neighbours_goes_to_the_earlier_day():
    # Nominal Wednesday 1 April closed: Tuesday and Thursday are both a day away.
    assert maintenance_plan(IV, day(2), 28, 1, closed(day(30))) == days(29)


def test_maintenance_weekend_target_moves_to_nearest_weekday():
    # Friday 6 March + 30 days = Sunday 5 April -> Monday 6 April (Friday is two days back).
    assert maintenance_plan(IV, day(4), 30, 1, RULES) == days(35)


def test_maintenance_never_lands_on_or_before_the_previous_dose():
    # Tue 3 to Sun 15 March closed: the first weekly dose cannot go back to Monday 2 March (the
    # last dose), so it moves forward to Mon 16; the second, due that same day, to Tue 17.
    rules = closed(*days(*range(1, 14)))
    assert maintenance_plan(ESK, MON, 7, 2, rules) == days(14, 15)


def test_maintenance_zero_count_is_empty_and_negative_raises():
    assert maintenance_plan(IV, MON, 28, 0, RULES) == []
    with pytest.raises(ValueError):
        maintenance_plan(IV, MON, 28, -1, RULES)


# --- find_slot ----------------------------------------------------------------------------------


def test_empty_calendar_gives_the_preferred_time_on_the_first_chair():
    found = slot(chairs=(1, 2))
    assert found == Slot(1, local(MON, 9), local(MON, 11, 30))
    assert found.start.tzinfo is LA


def test_before_opening_moves_to_opening_time():
    assert slot(preferred=time(6, 0)).start == local(MON, 8)


@pytest.mark.parametrize(
    "modality, latest", [(ESK, time(15, 30)), (IV, time(16, 15))], ids=["esketamine", "iv"]
)
def test_whole_block_must_end_by_closing(modality, latest):
    found = slot(preferred=time(17, 45), minutes=RULES.block_minutes(modality))
    assert found.start.time() == latest
    assert found.end <= local(MON, 18)
    assert found.end + timedelta(minutes=15) > local(MON, 18)


def test_block_as_long_as_the_day_fits_once_and_one_minute_more_never():
    assert slot(minutes=600).start == local(MON, 8)
    assert slot(minutes=600).end == local(MON, 18)
    assert slot(minutes=601) is None


@pytest.mark.parametrize(
    "preferred, start", [(time(9, 7), time(9, 0)), (time(9, 8), time(9, 15))], ids=["down", "up"]
)
def test_start_snaps_to_the_nearest_grid_time(preferred, start):
    assert slot(preferred=preferred).start.time() == start


def test_grid_is_aligned_to_the_clock_when_opening_is_not():
    rules = SchedulingRules(opening_time=time(8, 10))
    assert slot(preferred=time(8, 0), rules=rules).start.time() == time(8, 15)


def test_equal_distance_prefers_the_earlier_start():
    busy = [booking(1, MON, "09:00", "09:15")]
    assert slot(minutes=15, busy=busy).start.time() == time(8, 45)


def test_back_to_back_bookings_do_not_conflict():
    busy = [booking(1, MON, "08:00", "09:00"), booking(1, MON, "11:30", "14:00")]
    assert slot(busy=busy).start == local(MON, 9)


def test_overlap_by_a_minute_conflicts():
    busy = [booking(1, MON, "08:00", "09:01")]
    assert slot(busy=busy).start == local(MON, 9, 15)


def test_chair_order_breaks_ties():
    assert slot(chairs=(3, 1, 2)).chair_id == 3
    assert slot(chairs=(3, 1, 2), busy=[booking(3, MON, "09:00", "10:00")]).chair_id == 1


def test_busy_chair_gives_way_to_a_free_one_at_the_preferred_time():
    busy = [booking(1, MON, "08:00", "12:00")]
    assert slot(chairs=(1, 2), busy=busy) == Slot(2, local(MON, 9), local(MON, 11, 30))


def test_all_chairs_busy_in_the_morning_moves_to_the_first_free_time():
    busy = [booking(1, MON, "08:00", "11:30"), booking(2, MON, "08:00", "12:00")]
    assert slot(chairs=(1, 2), busy=busy) == Slot(1, local(MON, 11, 30), local(MON, 14))


def test_full_chairs_give_no_slot():
    busy = [whole_day(1, MON), whole_day(2, MON)]
    assert slot(chairs=(1, 2), busy=busy) is None


def test_no_chairs_give_no_slot():
    assert slot(chairs=()) is None


def test_bookings_on_other_days_and_other_chairs_are_ignored():
    busy = [whole_day(1, day(1)), whole_day(2, MON)]
    assert slot(busy=busy).start == local(MON, 9)


def test_patient_booked_elsewhere_that_morning_moves_the_slot():
    patient = [patient_booking(MON, "09:00", "10:00")]
    assert slot(patient=patient) == Slot(1, local(MON, 10), local(MON, 12, 30))


def test_patient_booked_all_day_gives_no_slot():
    assert slot(patient=[patient_booking(MON, "07:00", "19:00")]) is None


@pytest.mark.parametrize("on", [day(5), day(6)], ids=["saturday", "sunday"])
def test_closed_weekday_gives_no_slot(on):
    assert slot(on=on) is None


def test_closed_date_gives_no_slot():
    assert slot(rules=closed(MON)) is None


def test_bookings_in_utc_are_compared_as_instants():
    # 17:00-19:30 UTC is 09:00-11:30 in Los Angeles on 2 March (UTC-8).
    busy = [(1, datetime(2026, 3, 2, 17, tzinfo=UTC), datetime(2026, 3, 2, 19, 30, tzinfo=UTC))]
    assert slot(busy=busy).start == local(MON, 11, 30)


def test_naive_booking_times_are_refused():
    with pytest.raises(ValueError):
        slot(busy=[(1, datetime(2026, 3, 2, 9), datetime(2026, 3, 2, 10))])
    with pytest.raises(ValueError):
        slot(patient=[(datetime(2026, 3, 2, 9), datetime(2026, 3, 2, 10))])


def test_non_positive_duration_is_refused():
    with pytest.raises(ValueError):
        slot(minutes=0)


# --- propose_series -----------------------------------------------------------------------------


def test_free_calendar_books_every_visit_at_the_preferred_time():
    visits = propose(plan())
    assert [v.sequence for v in visits] == list(range(1, 9))
    assert [v.target_date for v in visits] == plan()
    assert all(v.ok and v.alternative is None for v in visits)
    assert [v.start for v in visits] == [local(d, 9) for d in plan()]
    assert all(v.end - v.start == timedelta(minutes=150) and v.chair_id == 1 for v in visits)


def test_iv_series_uses_the_iv_block():
    visits = propose(plan(IV), modality=IV)
    assert {v.end.time() for v in visits} == {time(10, 35)}


def test_duration_override_for_a_longer_infusion():
    dates = plan(IV)[:1]
    visits = propose_series(dates, NINE, IV, [1], [], [], LA, RULES, duration_minutes=115)
    assert visits[0].end == local(MON, 10, 55)


def test_full_day_gives_a_conflict_and_the_next_day_keeping_the_rhythm():
    visits = propose(days(0, 3, 7), busy=[whole_day(1, day(3))])
    second = visits[1]
    assert not second.ok
    assert (second.start, second.end, second.chair_id) == (None, None, None)
    assert second.conflict.code == "no_chair"
    assert second.conflict.message == "No free chair on Thu 5 Mar within clinic hours"
    assert second.alternative == Slot(1, local(day(4), 9), local(day(4), 11, 30))
    assert visits[2].ok and visits[2].start == local(day(7), 9)


def test_closed_date_gives_a_conflict_with_an_alternative():
    visits = propose(days(0, 3, 7), rules=closed(day(3)))
    assert visits[1].conflict.code == "closed"
    assert visits[1].conflict.message == "Clinic closed on Thu 5 Mar"
    assert visits[1].alternative.start == local(day(4), 9)


def test_alternative_prefers_48h_from_both_neighbours():
    # A repeated Monday: Tuesday is a day after visit 1, Wednesday keeps 48 h on both sides.
    visits = propose(days(0, 0, 4), IV)
    assert visits[1].alternative.start.date() == day(2)


def test_alternative_falls_back_to_a_day_apart_when_nothing_keeps_48h():
    visits = propose(days(0, 1, 3), IV, busy=[whole_day(1, day(1))])
    assert visits[1].alternative.start.date() == day(2)


def test_alternative_skips_days_whose_chairs_are_full():
    visits = propose(days(0, 2, 7), busy=[whole_day(1, day(2)), whole_day(1, day(3))])
    assert visits[1].alternative.start.date() == day(4)


def test_no_day_before_the_next_visit_keeps_the_visit_with_its_conflict():
    visits = propose(days(0, 2, 3), busy=[whole_day(1, day(2))])
    assert len(visits) == 3
    assert visits[1].alternative is None
    assert visits[1].conflict.message == (
        "No free chair on Wed 4 Mar within clinic hours; no other day fits before visit 3"
    )
    assert visits[2].ok


def test_last_visit_alternative_is_searched_within_the_window():
    visits = propose(days(0, 3), busy=[whole_day(1, d) for d in days(*range(3, 17))])
    assert visits[1].alternative.start.date() == day(17)
    visits = propose(days(0, 3), busy=[whole_day(1, d) for d in days(*range(3, 18))])
    assert visits[1].alternative is None
    assert visits[1].conflict.message.endswith("; no other day fits")


def test_patient_booked_elsewhere_at_every_free_time():
    visits = propose(days(0, 3), patient=[patient_booking(day(3), "07:00", "19:00")])
    assert visits[1].conflict.code == "patient_busy"
    assert visits[1].conflict.message == (
        "Patient is booked elsewhere at every free chair time on Thu 5 Mar"
    )
    assert visits[1].alternative.start.date() == day(4)


def test_patient_booked_elsewhere_in_the_morning_books_after_it():
    visits = propose(days(0), patient=[patient_booking(MON, "08:30", "10:00")])
    assert visits[0].start == local(MON, 10)


def test_repeated_date_gets_a_same_day_conflict_and_another_day():
    visits = propose(days(0, 0, 7))
    assert visits[0].ok
    assert visits[1].conflict.code == "same_day"
    assert visits[1].conflict.message == "Visit 1 is already on Mon 2 Mar"
    assert visits[1].alternative.start.date() == day(2)


def test_a_day_with_another_dose_of_the_patient_gets_a_same_day_conflict_and_another_day():
    # The patient's other dose on Wednesday is at 14:00, so a 09:00 slot would not overlap it.
    visits = propose_series(days(0, 2, 7), NINE, IV, [1], [], [], LA, RULES, dose_days={day(2)})
    assert visits[0].ok and visits[2].ok
    assert visits[1].conflict.code == "same_day"
    assert visits[1].conflict.message == "The patient already has a dosing visit on Wed 4 Mar"
    assert visits[1].alternative.start.date() == day(3)


def test_other_doses_count_toward_the_esketamine_week():
    # Tue 3 is full and moves; with the patient's other doses on Mon 2 and Thu 5 the week
    # already holds two, so no day of it is offered.
    busy = [whole_day(1, day(1))]
    alone = propose_series(days(1, 7), NINE, ESK, [1], busy, [], LA, RULES)
    assert alone[0].alternative.start.date() == day(2)
    others = {day(0), day(3)}
    visits = propose_series(days(1, 7), NINE, ESK, [1], busy, [], LA, RULES, dose_days=others)
    assert visits[0].alternative is None


def test_dates_are_sorted_into_sequence():
    visits = propose(days(7, 0, 3))
    assert [v.target_date for v in visits] == days(0, 3, 7)


def test_minimum_gap_setting_flags_a_date_too_close_to_the_previous_visit():
    rules = SchedulingRules(min_dose_gap_days=2)
    visits = propose(days(0, 1, 7), rules=rules)
    assert visits[1].conflict.code == "too_close"
    assert visits[1].conflict.message == "Tue 3 Mar is less than 2 days after visit 1"
    assert visits[1].alternative.start.date() == day(2)


def test_esketamine_alternative_in_the_same_week_keeps_it_to_two_doses():
    # Mon 2, Tue 3 (full), Thu 5 are already three targets in one week; esketamine gets no
    # alternative inside it, IV gets Wednesday.
    busy = [whole_day(1, day(1))]
    assert propose(days(0, 1, 3), ESK, busy=busy)[1].alternative is None
    assert propose(days(0, 1, 3), IV, busy=busy)[1].alternative.start.date() == day(2)


def test_esketamine_alternative_never_makes_three_doses_in_a_week():
    rules = SchedulingRules(open_weekdays=EVERY_DAY)
    dates = days(7, 8, 13)  # Mon 9, Tue 10 (full), Sun 15: the week already holds two
    busy = [whole_day(1, day(8))]
    assert propose(dates, ESK, busy=busy, rules=rules)[1].alternative is None
    assert propose(dates, IV, busy=busy, rules=rules)[1].alternative.start.date() == day(9)


def test_two_visits_on_one_day_never_take_two_free_chairs():
    visits = propose(days(0, 0), chairs=(1, 2))
    assert visits[0].start == local(MON, 9) and visits[0].chair_id == 1
    assert (visits[1].start, visits[1].chair_id) == (None, None)
    assert visits[1].conflict.code == "same_day"
    assert visits[1].alternative == Slot(1, local(day(2), 9), local(day(2), 11, 30))


# --- daylight saving ----------------------------------------------------------------------------


def test_visits_keep_local_time_across_spring_forward():
    dates = plan(first=SPRING_FORWARD - timedelta(days=6))  # Monday 2 March
    visits = propose(dates)
    assert [v.start.time() for v in visits] == [NINE] * 8
    offsets = [v.start.utcoffset() for v in visits]
    assert offsets[:2] == [timedelta(hours=-8)] * 2
    assert offsets[2:] == [timedelta(hours=-7)] * 6
    assert visits[2].start.astimezone(UTC) == datetime(2026, 3, 9, 16, tzinfo=UTC)


def test_visits_keep_local_time_across_fall_back():
    dates = plan(first=FALL_BACK - timedelta(days=6))  # Monday 26 October
    visits = propose(dates)
    assert [v.start.time() for v in visits] == [NINE] * 8
    assert visits[1].start.astimezone(UTC) == datetime(2026, 10, 29, 16, tzinfo=UTC)
    assert visits[2].start.astimezone(UTC) == datetime(2026, 11, 2, 17, tzinfo=UTC)
    assert all(v.end - v.start == timedelta(minutes=150) for v in visits)


def test_busy_booking_after_spring_forward_is_read_in_the_new_offset():
    # 16:00 UTC on Monday 9 March is 09:00 PDT (it would be 08:00 at the winter offset).
    busy = [(1, datetime(2026, 3, 9, 16, tzinfo=UTC), datetime(2026, 3, 9, 18, 30, tzinfo=UTC))]
    assert propose(days(7), busy=busy)[0].start == local(day(7), 11, 30)


def test_weekend_clinic_on_the_switch_day_keeps_wall_clock_and_real_length():
    rules = SchedulingRules(open_weekdays=EVERY_DAY)
    found = slot(on=SPRING_FORWARD, rules=rules)
    assert found.start == local(SPRING_FORWARD, 9)
    assert found.end.astimezone(UTC) - found.start.astimezone(UTC) == timedelta(minutes=150)


# --- spacing_findings ---------------------------------------------------------------------------


def test_two_doses_on_one_day_is_an_error():
    findings = spacing_findings([local(MON, 9), local(MON, 15)], RULES)
    assert [(f.code, f.severity) for f in findings] == [("same_day", Severity.ERROR)]
    assert findings[0].message == "Two doses on Mon 2 Mar"
    assert findings[0].times == (local(MON, 9), local(MON, 15))


@pytest.mark.parametrize(
    "gap, warned",
    [
        (timedelta(hours=47, minutes=59), True),
        (timedelta(hours=48), False),
        (timedelta(hours=24), True),
        (timedelta(hours=72), False),
    ],
)
def test_warning_under_48_hours(gap, warned):
    findings = spacing_findings([local(MON, 9), local(MON, 9) + gap], RULES)
    assert [f.severity for f in findings] == ([Severity.WARNING] if warned else [])


def test_warning_message_states_the_gap():
    findings = spacing_findings([local(MON, 9), local(day(2), 8, 59)], RULES)
    assert findings[0].code == "short_interval"
    assert findings[0].message == (
        "Doses 47 h 59 min apart (Mon 2 Mar 09:00 and Wed 4 Mar 08:59); the clinic warns under 48 h"
    )


def test_late_evening_and_early_morning_are_different_days():
    findings = spacing_findings([local(MON, 23), local(day(1), 1)], RULES)
    assert [(f.code, f.severity) for f in findings] == [("short_interval", Severity.WARNING)]


def test_calendar_day_is_taken_in_the_clinic_zone():
    # 07:00 and 17:00 UTC on 3 March: one UTC day, but 23:00 on the 2nd and 09:00 on the 3rd in LA.
    times = [datetime(2026, 3, 3, 7, tzinfo=UTC), datetime(2026, 3, 3, 17, tzinfo=UTC)]
    assert spacing_findings(times, RULES)[0].code == "same_day"
    findings = spacing_findings(times, RULES, tz=LA)
    assert [f.code for f in findings] == ["short_interval"]
    assert findings[0].times[0] == local(MON, 23)


def test_spacing_counts_elapsed_hours_across_daylight_saving():
    spring = [local(day(5), 9), local(day(7), 9)]  # Sat 7 -> Mon 9 March: 47 h
    fall = [local(date(2026, 10, 31), 9), local(date(2026, 11, 2), 9)]  # 49 h
    assert [f.code for f in spacing_findings(spring, RULES)] == ["short_interval"]
    assert spacing_findings(fall, RULES) == []


def test_doses_are_compared_in_time_order():
    findings = spacing_findings([local(day(7), 9), local(MON, 9), local(MON, 14)], RULES)
    assert [f.code for f in findings] == ["same_day"]


def test_three_doses_on_one_day_give_two_errors():
    findings = spacing_findings([local(MON, 8), local(MON, 11), local(MON, 15)], RULES)
    assert [f.code for f in findings] == ["same_day", "same_day"]


def test_minimum_gap_setting_makes_next_day_an_error():
    rules = SchedulingRules(min_dose_gap_days=2)
    findings = spacing_findings([local(MON, 9), local(day(1), 9)], rules)
    assert [(f.code, f.severity) for f in findings] == [("too_close", Severity.ERROR)]
    assert findings[0].message == "Doses on Mon 2 Mar and Tue 3 Mar are less than 2 days apart"


def test_no_findings_for_none_or_one_dose():
    assert spacing_findings([], RULES) == []
    assert spacing_findings([local(MON, 9)], RULES) == []


def test_warning_threshold_is_a_setting():
    rules = SchedulingRules(warn_spacing_hours=72)
    assert len(spacing_findings([local(MON, 9), local(day(2), 9)], rules)) == 1


# --- offer_after_missed -------------------------------------------------------------------------

ESK_PLAN = days(0, 3, 7, 10, 14, 17, 21, 24)
IV_PLAN = days(0, 2, 4, 7, 9, 11)


def test_missed_thursday_is_offered_friday_before_monday():
    offer = offer_after_missed(ESK, ESK_PLAN, day(3), day(3), RULES)
    assert offer == MissedDoseOffer(day(4), extends_series=False)


def test_missed_dose_offer_starts_after_today():
    assert offer_after_missed(ESK, ESK_PLAN, day(3), day(4), RULES).extends_series
    assert offer_after_missed(ESK, ESK_PLAN, day(3), day(4), RULES).day == day(28)


def test_missed_monday_offered_midweek_even_a_day_before_the_next_visit():
    offer = offer_after_missed(ESK, ESK_PLAN, day(7), day(8), RULES)
    assert offer == MissedDoseOffer(day(9), extends_series=False)


def test_dose_moved_past_the_series_end_keeps_48h_after_the_last_visit():
    # Every-day clinic; Wed 4 missed, noticed Thursday, Friday is the next visit: Sat 14 is a
    # day after the last visit (Fri 13), Sun 15 keeps 48 h.
    rules = SchedulingRules(open_weekdays=EVERY_DAY)
    offer = offer_after_missed(IV, IV_PLAN, day(2), day(3), rules)
    assert offer == MissedDoseOffer(day(13), extends_series=True)


def test_missed_dose_skips_closed_days():
    offer = offer_after_missed(ESK, ESK_PLAN, day(3), day(3), closed(day(4)))
    assert offer == MissedDoseOffer(day(28), extends_series=True)


def test_missed_dose_with_no_day_before_the_next_visit_goes_after_the_last():
    # IV Wed 4 missed, noticed Thursday; Friday is the next visit -> after Fri 13, keeping 48 h.
    offer = offer_after_missed(IV, IV_PLAN, day(2), day(3), RULES)
    assert offer == MissedDoseOffer(day(14), extends_series=True)


def test_esketamine_make_up_day_never_gives_a_week_three_doses():
    # Every-day clinic; Mon 9 missed, noticed Thu 12 (the next visit) -> after the series' end.
    # Esketamine: the last week (Mon 23, Thu 26) already has two, so Monday 30 March.
    # IV has no weekly limit: Saturday 28 March, 48 h after Thursday 26.
    rules = SchedulingRules(open_weekdays=EVERY_DAY)
    offer = offer_after_missed(ESK, ESK_PLAN, day(7), day(10), rules)
    assert offer == MissedDoseOffer(day(28), extends_series=True)
    iv_offer = offer_after_missed(IV, ESK_PLAN, day(7), day(10), rules)
    assert iv_offer == MissedDoseOffer(day(26), extends_series=True)


def test_missed_last_visit_is_offered_the_next_open_day_keeping_48h():
    offer = offer_after_missed(ESK, ESK_PLAN, day(24), day(24), RULES)
    assert offer == MissedDoseOffer(day(25), extends_series=False)


def test_missed_day_the_next_day_when_nothing_else_fits():
    offer = offer_after_missed(IV, IV_PLAN, MON, MON, RULES)
    assert offer == MissedDoseOffer(day(1), extends_series=False)


def test_cancelling_ahead_offers_days_after_the_missed_date():
    offer = offer_after_missed(ESK, ESK_PLAN, day(7), day(1), RULES)
    assert offer == MissedDoseOffer(day(8), extends_series=False)


def test_single_visit_series():
    assert offer_after_missed(IV, [MON], MON, MON, RULES) == MissedDoseOffer(day(1), False)


def test_missed_date_must_be_a_visit():
    with pytest.raises(SchedulingError):
        offer_after_missed(ESK, ESK_PLAN, day(1), day(1), RULES)


# --- maintenance_due ----------------------------------------------------------------------------

LAST = MON
DUE = day(28)


@pytest.mark.parametrize(
    "today, status",
    [
        (DUE - timedelta(days=15), MaintenanceStatus.NOT_DUE),
        (DUE - timedelta(days=14), MaintenanceStatus.DUE),
        (DUE, MaintenanceStatus.DUE),
        (DUE + timedelta(days=1), MaintenanceStatus.OVERDUE),
    ],
)
def test_maintenance_due_boundaries(today, status):
    assert maintenance_due(LAST, 28, None, today, RULES) is status


@pytest.mark.parametrize("booked_offset", [0, 1, 30])
def test_future_or_today_booking_is_booked_even_when_overdue(booked_offset):
    today = DUE + timedelta(days=3)
    booked = today + timedelta(days=booked_offset)
    assert maintenance_due(LAST, 28, booked, today, RULES) is MaintenanceStatus.BOOKED


def test_booking_in_the_past_is_ignored():
    today = DUE + timedelta(days=3)
    assert maintenance_due(LAST, 28, DUE, today, RULES) is MaintenanceStatus.OVERDUE


def test_maintenance_horizon_is_a_setting():
    rules = SchedulingRules(maintenance_due_horizon_days=7)
    assert maintenance_due(LAST, 28, None, DUE - timedelta(days=8), rules) is (
        MaintenanceStatus.NOT_DUE
    )
    assert maintenance_due(LAST, 28, None, DUE - timedelta(days=7), rules) is MaintenanceStatus.DUE


# --- is_late_cancellation -----------------------------------------------------------------------

START = local(day(7), 9)


@pytest.mark.parametrize(
    "before, late",
    [
        (timedelta(hours=24), False),
        (timedelta(hours=23, minutes=59, seconds=59), True),
        (timedelta(hours=48), False),
        (timedelta(0), True),
        (timedelta(hours=-1), True),
    ],
)
def test_late_cancellation_under_24_hours(before, late):
    assert is_late_cancellation(START, START - before, RULES) is late


def test_late_cancellation_counts_elapsed_hours_across_daylight_saving():
    # Sat 7 March 11:30 PST to Sun 8 March 12:00 PDT: 24.5 h on the wall clock, 23.5 h elapsed.
    starts = local(SPRING_FORWARD, 12)
    assert is_late_cancellation(starts, local(day(5), 11, 30), RULES) is True
    assert is_late_cancellation(starts, local(day(5), 11, 0), RULES) is False


def test_late_cancellation_window_is_a_setting_and_times_must_be_aware():
    assert is_late_cancellation(START, START - timedelta(hours=30), RULES) is False
    rules = SchedulingRules(late_cancel_hours=48)
    assert is_late_cancellation(START, START - timedelta(hours=30), rules) is True
    with pytest.raises(ValueError):
        is_late_cancellation(START.replace(tzinfo=None), START, RULES)


# --- properties ---------------------------------------------------------------------------------

first_dates = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))
weekday_sets = st.lists(st.integers(0, 6), max_size=4, unique=True)
open_day_sets = st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True)
closure_offsets = st.lists(st.integers(0, 60), max_size=12, unique=True)


def _rules(open_days, first, offsets) -> SchedulingRules:
    return SchedulingRules(
        open_weekdays=tuple(open_days),
        closed_dates=frozenset(first + timedelta(days=o) for o in offsets),
    )


def _first_open(first: date, rules: SchedulingRules) -> date:
    while not rules.is_open(first):
        first += timedelta(days=1)
    return first


@settings(max_examples=150)
@given(
    modality=st.sampled_from(list(Modality)),
    indication=st.sampled_from(list(Indication)),
    first=first_dates,
    preferred=weekday_sets,
    open_days=open_day_sets,
    offsets=closure_offsets,
)
def test_induction_plans_keep_the_protocol(
    modality, indication, first, preferred, open_days, offsets
):
    rules = _rules(open_days, first, offsets)
    dates = induction_plan(modality, indication, first, preferred, rules)
    start = _first_open(first, rules)
    count = rules.esketamine_induction_count if modality == ESK else rules.iv_induction_count
    assert len(dates) == count
    assert dates == sorted(set(dates)), "two doses on one day or out of order"
    assert all(rules.is_open(d) for d in dates)
    assert dates[0] >= start
    weeks = [d.isocalendar()[:2] for d in dates]
    if modality == ESK:
        assert max(weeks.count(w) for w in weeks) <= 2
        monday = start - timedelta(days=start.weekday())
        week_days = [[monday + timedelta(days=7 * w + k) for k in range(7)] for w in range(4)]
        usable = [[d for d in wk if d >= start and rules.is_open(d)] for wk in week_days]
        if all(len(u) >= 2 for u in usable):
            assert [weeks.count(wk[0].isocalendar()[:2]) for wk in week_days] == [2, 2, 2, 2]
            assert dates[-1] <= week_days[3][-1]
    else:
        assert (dates[0] - start).days < 7
        window = [start + timedelta(days=k) for k in range(rules.iv_induction_max_days)]
        if sum(rules.is_open(d) for d in window) >= count:
            assert (dates[-1] - dates[0]).days + 1 <= 21


@given(
    modality=st.sampled_from(list(Modality)),
    first=first_dates,
    preferred=weekday_sets,
    offsets=closure_offsets,
)
def test_induction_plans_at_one_time_never_give_spacing_errors(modality, first, preferred, offsets):
    rules = _rules(range(5), first, offsets)
    dates = induction_plan(modality, TRD, first, preferred, rules)
    findings = spacing_findings([local(d, 9) for d in dates], rules)
    assert all(f.severity is Severity.WARNING for f in findings)


grid_times = st.integers(0, 7 * 24 * 4 - 1)


@st.composite
def calendars(draw):
    """Chairs, existing chair bookings and the patient's own bookings over two weeks."""
    chairs = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3, unique=True))
    busy = []
    for _ in range(draw(st.integers(0, 25))):
        on = day(draw(st.integers(0, 20)))
        start = draw(st.integers(7 * 4, 18 * 4)) * 15
        length = draw(st.integers(1, 40)) * 15
        begins = local(on, start // 60, start % 60)
        busy.append((draw(st.sampled_from(chairs)), begins, begins + timedelta(minutes=length)))
    patient = []
    for _ in range(draw(st.integers(0, 5))):
        on = day(draw(st.integers(0, 20)))
        start = draw(st.integers(7 * 4, 18 * 4)) * 15
        begins = local(on, start // 60, start % 60)
        patient.append((begins, begins + timedelta(minutes=draw(st.integers(1, 16)) * 15)))
    return chairs, busy, patient


def _overlap(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1]


@settings(max_examples=150)
@given(
    modality=st.sampled_from(list(Modality)),
    offsets=st.lists(st.integers(0, 20), min_size=1, max_size=8),
    preferred_minute=st.integers(6 * 4, 19 * 4).map(lambda q: q * 15),
    calendar=calendars(),
    closures=st.lists(st.integers(0, 20), max_size=4),
)
def test_proposals_never_double_book_and_are_deterministic(
    modality, offsets, preferred_minute, calendar, closures
):
    chairs, busy, patient = calendar
    rules = closed(*days(*closures))
    at = time(preferred_minute // 60, preferred_minute % 60)
    dates = days(*offsets)
    args = (dates, at, modality, chairs, busy, patient, LA, rules)
    visits = propose_series(*args)
    assert visits == propose_series(*args)
    assert [v.sequence for v in visits] == list(range(1, len(dates) + 1))
    assert [v.target_date for v in visits] == sorted(dates)
    held = []
    for v in visits:
        if v.ok:
            assert v.alternative is None and v.start.date() == v.target_date
            held.append(Slot(v.chair_id, v.start, v.end))
        else:
            assert v.conflict.message and v.start is None and v.chair_id is None
            if v.alternative is not None:
                assert v.alternative.start.date() > v.target_date
                held.append(v.alternative)
    length = timedelta(minutes=rules.block_minutes(modality))
    assert len({s.start.date() for s in held}) == len(held), "two visits on one day"
    for s in held:
        assert s.chair_id in chairs
        assert s.start.tzinfo is LA and rules.is_open(s.start.date())
        assert local(s.start.date(), 8) <= s.start and s.end <= local(s.start.date(), 18)
        assert s.start.minute % 15 == 0
        assert s.end - s.start == length
        span = (s.start, s.end)
        assert not any(c == s.chair_id and _overlap(span, (b, e)) for c, b, e in busy)
        assert not any(_overlap(span, p) for p in patient)
    for a, b in zip(held, held[1:], strict=False):
        assert not _overlap((a.start, a.end), (b.start, b.end))


@given(
    first=st.one_of(
        st.dates(min_value=date(2026, 2, 16), max_value=date(2026, 3, 8)),
        st.dates(min_value=date(2026, 10, 12), max_value=date(2026, 11, 1)),
    ),
    modality=st.sampled_from(list(Modality)),
    preferred_minute=st.integers(8 * 4, 15 * 4).map(lambda q: q * 15),
)
def test_visits_keep_their_local_time_across_daylight_saving(first, modality, preferred_minute):
    at = time(preferred_minute // 60, preferred_minute % 60)
    dates = induction_plan(modality, TRD, first, None, RULES)
    visits = propose_series(dates, at, modality, [1], [], [], LA, RULES)
    assert all(v.ok for v in visits)
    assert [v.start.time() for v in visits] == [at] * len(dates)
    length = timedelta(minutes=RULES.block_minutes(modality))
    assert all(v.end.astimezone(UTC) - v.start.astimezone(UTC) == length for v in visits)
    offsets = {v.start.utcoffset() for v in visits}
    if dates[0] < SPRING_FORWARD < dates[-1] or dates[0] < FALL_BACK < dates[-1]:
        assert offsets == {timedelta(hours=-8), timedelta(hours=-7)}


@given(
    times=st.lists(
        st.datetimes(
            min_value=datetime(2026, 3, 1), max_value=datetime(2026, 3, 20), timezones=st.just(LA)
        ),
        max_size=6,
    )
)
def test_spacing_findings_flag_exactly_the_close_pairs(times):
    ordered = sorted(times, key=lambda t: t.astimezone(UTC))
    expected = []
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a.date() == b.date():
            expected.append("same_day")
        elif b.astimezone(UTC) - a.astimezone(UTC) < timedelta(hours=48):
            expected.append("short_interval")
    assert [f.code for f in spacing_findings(times, RULES)] == expected


@given(
    modality=st.sampled_from(list(Modality)),
    last=first_dates,
    count=st.integers(0, 10),
    data=st.data(),
    offsets=closure_offsets,
)
def test_maintenance_dates_are_open_increasing_and_complete(modality, last, count, data, offsets):
    rules = _rules(range(5), last, offsets)
    low, high = (7, 14) if modality == ESK else (14, 42)
    interval = data.draw(st.integers(low, high))
    dates = maintenance_plan(modality, last, interval, count, rules)
    assert len(dates) == count
    assert all(rules.is_open(d) for d in dates)
    assert [last, *dates] == sorted(set([last, *dates]))


@given(
    starts=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(LA)
    ),
    minutes_before=st.integers(-48 * 60, 96 * 60),
    later=st.integers(0, 48 * 60),
)
def test_late_cancellation_is_elapsed_time_and_monotonic(starts, minutes_before, later):
    # Elapsed arithmetic in UTC (aware arithmetic in one zone would be wall-clock arithmetic).
    cancelled = (starts.astimezone(UTC) - timedelta(minutes=minutes_before)).astimezone(LA)
    late = is_late_cancellation(starts, cancelled, RULES)
    assert late is (minutes_before < 24 * 60)
    if late:
        assert is_late_cancellation(starts, cancelled + timedelta(minutes=later), RULES)
