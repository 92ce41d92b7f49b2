"""A site's time zone fits its state: every state, DC and territory has its zones, the states
that span two time zones have both, and a zone of another state is refused."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from clinic_app.clinical.addresses import US_STATES
from clinic_app.clinical.us_zones import STATE_ZONES, US_ZONES, zone_fit_problem, zones_of
from clinic_app.demo.clinic import SITES

SPANNING = ("AK", "FL", "ID", "IN", "KS", "KY", "MI", "ND", "NE", "OR", "SD", "TN", "TX")


def test_every_state_dc_and_territory_has_zones_and_only_those():
    assert sorted(STATE_ZONES) == sorted(US_STATES)
    assert all(STATE_ZONES[state] for state in US_STATES)


def test_the_zones_offered_are_real_and_each_is_some_states():
    for zone in US_ZONES:
        ZoneInfo(zone)
    used = {zone for zones in STATE_ZONES.values() for zone in zones}
    assert used == set(US_ZONES)


@pytest.mark.parametrize("state", SPANNING)
def test_a_state_across_two_time_zones_may_keep_either(state):
    winter = datetime(2026, 1, 15, 12)
    offsets = {ZoneInfo(zone).utcoffset(winter) for zone in zones_of(state)}
    assert len(offsets) >= 2


@pytest.mark.parametrize(
    ("state", "zone"),
    [
        ("CA", "America/Los_Angeles"),
        ("IL", "America/Chicago"),
        ("NY", "America/New_York"),
        ("IN", "America/Indiana/Indianapolis"),
        ("IN", "America/Chicago"),
        ("KY", "America/Kentucky/Louisville"),
        ("TN", "America/Chicago"),
        ("TX", "America/Denver"),
        ("MI", "America/Detroit"),
        ("ID", "America/Boise"),
        ("OR", "America/Boise"),
        ("AZ", "America/Phoenix"),
        ("AK", "America/Juneau"),
        ("HI", "Pacific/Honolulu"),
        ("PR", "America/Puerto_Rico"),
        ("VI", "America/Puerto_Rico"),
        ("GU", "Pacific/Guam"),
        ("MP", "Pacific/Guam"),
        ("AS", "Pacific/Pago_Pago"),
        ("DC", "America/New_York"),
    ],
)
def test_a_zone_of_the_state_fits(state, zone):
    assert zone_fit_problem(state, zone) is None


@pytest.mark.parametrize(
    ("state", "zone", "message"),
    [
        (
            "IL",
            "America/Los_Angeles",
            "America/Los_Angeles is not a time zone of IL: choose America/Chicago.",
        ),
        (
            "CA",
            "America/Denver",
            "America/Denver is not a time zone of CA: choose America/Los_Angeles.",
        ),
        (
            "FL",
            "America/Denver",
            "America/Denver is not a time zone of FL: choose one of "
            "America/New_York, America/Chicago.",
        ),
        ("NY", "America/Detroit", "not a time zone of NY"),
        ("AZ", "America/Los_Angeles", "not a time zone of AZ"),
        ("HI", "America/Adak", "not a time zone of HI"),
    ],
)
def test_a_zone_of_another_state_is_refused(state, zone, message):
    assert message in (zone_fit_problem(state, zone) or "")


@pytest.mark.parametrize("zone", ["Europe/London", "UTC", "US/Pacific", "America/Toronto"])
def test_only_us_zones_are_kept(zone):
    assert zone_fit_problem("NY", zone) == "Choose a US time zone from the list."


def test_a_code_that_names_no_state_is_left_to_the_state_check():
    assert zone_fit_problem("XX", "America/Chicago") is None


def test_the_demo_sites_keep_zones_of_their_states():
    assert [zone_fit_problem(site["state"], site["timezone"]) for site in SITES] == [None, None]
