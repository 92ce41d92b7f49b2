"""The clinic's named date and time formats: the pure formatter and the page filters, which show
a moment in the page's time zone (the clinic's, or one a view chose) across daylight saving."""

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import g, render_template_string
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic_app.dates import FORMATS, format_local
from clinic_app.extensions import db
from clinic_app.models import ClinicSetting

LA = ZoneInfo("America/Los_Angeles")  # the default clinic zone
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def show(value, name: str) -> str:
    """`value` through the page filter `local_<name>` (inside a request)."""
    return render_template_string(f"{{{{ value|local_{name} }}}}", value=value)


# --- the formats themselves ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("time", "14:05"),
        ("short_date", "Sun 6 Dec"),
        ("date", "6 Dec 2026"),
        ("long_date", "Sun 6 Dec 2026"),
        ("datetime", "6 Dec 2026 14:05"),
        ("day_month", "6 Dec"),
        ("month_year", "Dec 2026"),
    ],
)
def test_each_named_format(name, expected):
    assert format_local(datetime(2026, 12, 6, 14, 5, tzinfo=LA), name) == expected


def test_english_names_a_24_hour_clock_and_no_padding():
    assert format_local(date(2026, 9, 1), "long_date") == "Tue 1 Sep 2026"
    assert format_local(time(0, 5), "time") == "00:05"
    assert format_local(time(23, 59), "time") == "23:59"
    assert format_local(date(1980, 2, 29), "date") == "29 Feb 1980"


def test_the_pure_formatter_keeps_the_zone_it_is_given():
    moment = utc(2026, 3, 8, 7, 30)  # Saturday 23:30 in Los Angeles
    assert format_local(moment, "datetime") == "8 Mar 2026 07:30"
    assert format_local(moment.astimezone(LA), "datetime") == "7 Mar 2026 23:30"


# --- the page filters: clinic zone across daylight saving --------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Sunday 8 March 2026: Los Angeles springs forward, 02:00 PST becomes 03:00 PDT.
        (utc(2026, 3, 8, 9, 59), "8 Mar 2026 01:59"),
        (utc(2026, 3, 8, 10, 0), "8 Mar 2026 03:00"),
        (utc(2026, 3, 9, 17, 0), "9 Mar 2026 10:00"),
        # Sunday 1 November 2026: it falls back, so 01:30 happens twice (PDT, then PST).
        (utc(2026, 11, 1, 8, 30), "1 Nov 2026 01:30"),
        (utc(2026, 11, 1, 9, 30), "1 Nov 2026 01:30"),
        (utc(2026, 11, 1, 10, 0), "1 Nov 2026 02:00"),
        (utc(2026, 11, 2, 18, 0), "2 Nov 2026 10:00"),
    ],
)
def test_moments_show_in_the_clinic_zone_across_daylight_saving(app, moment, expected):
    with app.test_request_context():
        assert show(moment, "datetime") == expected
        assert show(moment, "time") == expected[-5:]


def test_the_day_is_the_clinic_day_not_the_utc_day(app):
    with app.test_request_context():
        # 07:30 UTC on Sunday 8 March is 23:30 on Saturday in Los Angeles (PST, UTC-8) ...
        assert show(utc(2026, 3, 8, 7, 30), "short_date") == "Sat 7 Mar"
        assert show(utc(2026, 3, 8, 7, 30), "long_date") == "Sat 7 Mar 2026"
        # ... and after the change to PDT (UTC-7) 06:30 UTC is 23:30 the evening before.
        assert show(utc(2026, 3, 10, 6, 30), "date") == "9 Mar 2026"
        assert show(utc(2026, 11, 2, 7, 30), "date") == "1 Nov 2026"  # 23:30 PST
        assert show(utc(2026, 11, 1, 6, 30), "date") == "31 Oct 2026"  # 23:30 PDT


def test_dates_times_of_day_and_nothing_are_shown_as_they_are(app):
    with app.test_request_context():
        g.page_timezone = "Asia/Tokyo"
        assert show(date(2026, 3, 8), "long_date") == "Sun 8 Mar 2026"
        assert show(time(8, 0), "time") == "08:00"
        assert show(None, "datetime") == ""


def test_a_naive_moment_is_taken_as_utc(app):
    with app.test_request_context():
        assert show(datetime(2026, 7, 1, 19, 5), "datetime") == "1 Jul 2026 12:05"


def test_a_moment_already_in_the_clinic_zone_is_shown_unchanged(app):
    with app.test_request_context():
        assert show(datetime(2026, 11, 1, 9, 0, tzinfo=LA), "datetime") == "1 Nov 2026 09:00"


# --- another zone: the clinic's setting, or the page's own -------------------------------------


def test_the_clinic_time_zone_setting_moves_every_format(app):
    with app.app_context():
        db.session.add(ClinicSetting(key="timezone", value="America/New_York"))
        db.session.commit()
    with app.test_request_context():
        # New York springs forward at 07:00 UTC on 8 March, three hours before Los Angeles.
        assert show(utc(2026, 3, 8, 6, 59), "datetime") == "8 Mar 2026 01:59"
        assert show(utc(2026, 3, 8, 7, 0), "datetime") == "8 Mar 2026 03:00"
        assert show(utc(2026, 3, 8, 4, 30), "short_date") == "Sat 7 Mar"


def test_a_page_zone_set_by_a_view_wins_over_the_clinic_zone(app):
    with app.test_request_context():
        g.page_timezone = "Europe/London"
        # London moves to BST on 29 March 2026 at 01:00 UTC, not on the US date.
        assert show(utc(2026, 3, 8, 10, 0), "datetime") == "8 Mar 2026 10:00"
        assert show(utc(2026, 3, 29, 0, 59), "datetime") == "29 Mar 2026 00:59"
        assert show(utc(2026, 3, 29, 1, 0), "datetime") == "29 Mar 2026 02:00"
        assert show(utc(2026, 3, 29, 23, 30), "long_date") == "Mon 30 Mar 2026"
    with app.test_request_context():
        assert show(utc(2026, 3, 29, 1, 0), "datetime") == "28 Mar 2026 18:00"  # the clinic's


# The app fixture only renders here; no example writes to the database.
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    moment=st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(["America/Los_Angeles", "America/New_York", "Europe/London"]),
)
def test_filters_agree_with_zoneinfo_at_every_moment(app, moment, zone):
    local = moment.astimezone(ZoneInfo(zone))
    with app.test_request_context():
        g.page_timezone = zone
        assert show(moment, "datetime") == f"{local.day} {local:%b %Y %H:%M}"
        assert show(moment, "short_date") == f"{local:%a} {local.day} {local:%b}"


# --- one set of formats in every template ------------------------------------------------------


def test_every_named_format_is_a_page_filter(app):
    assert {f"local_{name}" for name in FORMATS} <= set(app.jinja_env.filters)


def test_no_template_formats_a_date_by_hand():
    by_hand = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "strftime(" in line
    ]
    assert by_hand == []
