"""What a site needs to be saved: code, US address, time zone, REMS certification, DEA number."""

from dataclasses import replace
from datetime import date

import pytest

from clinic_app.clinical.sites import SiteDetails, site_problems

TODAY = date(2026, 12, 6)
GOOD = SiteDetails(
    name="Downtown LA",
    code="DTLA",
    address_line1="350 S Grand Ave",
    address_line2="",
    city="Los Angeles",
    state="CA",
    zip_code="90071",
    phone="",
    timezone="America/Los_Angeles",
    rems_certified=True,
    rems_setting_id="HCS-1",
    rems_certified_on=TODAY,
    dea_number="BJ1234563",
)


def test_a_complete_site_has_no_problems():
    assert site_problems(GOOD, TODAY) == {}
    assert site_problems(replace(GOOD, zip_code="90071-1234", code="NY-2"), TODAY) == {}


def test_an_uncertified_site_without_dea_number_is_fine():
    site = replace(
        GOOD, rems_certified=False, rems_setting_id="", rems_certified_on=None, dea_number=""
    )
    assert site_problems(site, TODAY) == {}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"code": ""}, "code"),
        ({"code": "A"}, "code"),
        ({"code": "ABCDEFGHIJKLM"}, "code"),
        ({"code": "dtla"}, "code"),  # the service upper-cases first
        ({"code": "-DT"}, "code"),
        ({"address_line1": ""}, "address_line1"),
        ({"city": ""}, "city"),
        ({"state": "Ca"}, "state"),
        ({"state": "XX"}, "state"),
        ({"zip_code": "900711"}, "zip_code"),
        ({"zip_code": "9007A"}, "zip_code"),
        ({"zip_code": "90071-123"}, "zip_code"),
        ({"zip_code": "00000"}, "zip_code"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": "Nowhere/City"}, "timezone"),
        ({"timezone": "../etc/passwd"}, "timezone"),
        ({"timezone": "Europe/London"}, "timezone"),
        ({"timezone": "America/Chicago"}, "timezone"),  # not California's
        ({"state": "IL", "timezone": "America/Los_Angeles"}, "timezone"),
        ({"rems_setting_id": ""}, "rems_setting_id"),
        ({"rems_certified_on": None}, "rems_certified_on"),
        ({"rems_certified_on": date(2026, 12, 7)}, "rems_certified_on"),
        ({"dea_number": "BJ1234560"}, "dea_number"),
    ],
)
def test_each_problem_names_its_field(change, field):
    assert list(site_problems(replace(GOOD, **change), TODAY)) == [field]


def test_a_site_keeps_a_zone_of_its_state():
    chicago = replace(GOOD, city="Chicago", state="IL", zip_code="60601")
    assert site_problems(replace(chicago, timezone="America/Chicago"), TODAY) == {}
    assert site_problems(replace(chicago, timezone="America/Los_Angeles"), TODAY) == {
        "timezone": "America/Los_Angeles is not a time zone of IL: choose America/Chicago."
    }
    el_paso = replace(GOOD, city="El Paso", state="TX", zip_code="79901")
    assert site_problems(replace(el_paso, timezone="America/Denver"), TODAY) == {}


def test_a_future_certification_date_is_refused_even_when_not_certified():
    site = replace(GOOD, rems_certified=False, rems_certified_on=date(2027, 1, 1))
    assert site_problems(site, TODAY) == {
        "rems_certified_on": "The certification date cannot be in the future."
    }
