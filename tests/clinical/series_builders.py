"""Small builders for the series-planner tests: clinic-local times and bookings."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from clinic_app.clinical.series import SchedulingRules

LA = ZoneInfo("America/Los_Angeles")
UTC_ZONE = ZoneInfo("UTC")
# The planner's mechanics without the default public holidays; holiday tests say which they use.
RULES = SchedulingRules(holiday_country="", holiday_subdivision="")
# Monday 2 March 2026; the US spring-forward is Sunday 8 March, fall-back Sunday 1 November.
MON = date(2026, 3, 2)
SPRING_FORWARD = date(2026, 3, 8)
FALL_BACK = date(2026, 11, 1)


def day(offset: int, start: date = MON) -> date:
    """`start` plus `offset` days (MON + 3 is Thursday 5 March 2026)."""
    return start + timedelta(days=offset)


def local(on: date, hour: int, minute: int = 0, tz: ZoneInfo = LA) -> datetime:
    """A clinic wall-clock time on `on`."""
    return datetime.combine(on, time(hour, minute), tzinfo=tz)


def booking(chair: int, on: date, start: str, end: str, tz: ZoneInfo = LA):
    """(chair, start, end) with times given as "HH:MM" local."""
    return (chair, _at(on, start, tz), _at(on, end, tz))


def patient_booking(on: date, start: str, end: str, tz: ZoneInfo = LA):
    """(start, end) of the patient's own booking, times "HH:MM" local."""
    return (_at(on, start, tz), _at(on, end, tz))


def whole_day(chair: int, on: date):
    """A booking that fills `chair` for the whole clinic day."""
    return booking(chair, on, "00:00", "23:59")


def _at(on: date, hhmm: str, tz: ZoneInfo) -> datetime:
    return datetime.combine(on, time.fromisoformat(hhmm), tzinfo=tz)
