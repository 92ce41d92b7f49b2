"""The clinic's named date and time formats: CLDR patterns, English names, a 24-hour clock.

Pages show them through the Jinja filters in `clinic_app/templating.py` (Flask-Babel, in the
page's time zone); code that builds a message without a page (rule and booking messages) uses
`format_local` on a value already in the zone it means.
"""

from datetime import date, datetime, time
from functools import lru_cache

from babel import dates

# A US clinic's words (month and day names), but every time on the clinic's 24-hour clock.
LOCALE = "en"

FORMATS = {
    "time": "HH:mm",  # 14:05
    "short_date": "EEE d MMM",  # Sun 6 Dec: a day in the calendar's weeks, a visit in a series
    "date": "d MMM y",  # 6 Dec 2026: a record's date (birth, consent, a course's start)
    "long_date": "EEE d MMM y",  # Sun 6 Dec 2026: a calendar page's or a visit's day, the handout
    "datetime": "d MMM y HH:mm",  # 6 Dec 2026 14:05: when something happened or was recorded
    "day_month": "d MMM",  # 6 Dec: a chart's day ticks
    "month_year": "MMM y",  # Dec 2026: a chart's month ticks over a long span
    "form_date": "MM/dd/yyyy",  # 12/06/2026: the US paper forms' own format (REMS monitoring form)
}


def format_local(value: date | time, name: str) -> str:
    """`value` in the named format, in the zone it carries (no conversion)."""
    pattern = FORMATS[name]
    if isinstance(value, datetime):
        # No named format shows a zone, so the wall-clock reading alone decides the text.
        return _format_wall_clock(value.replace(tzinfo=None), pattern)
    if isinstance(value, time):
        return _format_time(value, pattern)
    return _format_date(value, pattern)


# Pages show the same days and times request after request, and Babel takes ~20 µs for each.
@lru_cache(maxsize=8192)
def _format_wall_clock(value: datetime, pattern: str) -> str:
    return dates.format_datetime(value, pattern, locale=LOCALE)


@lru_cache(maxsize=4096)
def _format_date(value: date, pattern: str) -> str:
    return dates.format_date(value, pattern, locale=LOCALE)


@lru_cache(maxsize=4096)
def _format_time(value: time, pattern: str) -> str:
    return dates.format_time(value, pattern, locale=LOCALE)
