"""Jinja filters and globals: dates and times in the page's zone, durations, labels."""

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

import flask_babel
from flask import Flask, g

from clinic_app.auth.permissions import navigation
from clinic_app.clinical.codes import (
    ADVERSE_EVENT_KINDS,
    CONTRAINDICATIONS,
    MEDICATION_CLASSES,
    NOT_DOSED_REASONS,
)
from clinic_app.clinical.review import override_label
from clinic_app.clock import utcnow
from clinic_app.dates import FORMATS, format_local
from clinic_app.review.charts import marker_svg


def named_format(name: str) -> Callable[[date | time | None], str]:
    """The filter for one of the clinic's named formats (`clinic_app.dates.FORMATS`).

    A moment (an aware datetime; a naive one is taken as UTC) is shown in the page's time zone,
    Flask-Babel's answer for the request (see `settings.page_timezone`); a date or a time of
    day is shown as it is. Nothing (None) shows as "".
    """

    def show(value: date | time | None) -> str:
        if not value:
            return ""
        if isinstance(value, datetime):
            return _moment(value, _page_zone(), name)
        return format_local(value, name)

    return show


@lru_cache(maxsize=8192)
def _moment(value: datetime, zone: ZoneInfo, name: str) -> str:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return format_local(aware.astimezone(zone), name)


def _page_zone() -> ZoneInfo:
    # Flask-Babel answers with a pytz zone (once per request); the standard library's converts
    # far faster.
    zone = g.get("page_zone")
    if zone is None:
        zone = g.page_zone = ZoneInfo(str(flask_babel.get_timezone()))
    return zone


def minutes_between(start: datetime | None, end: datetime | None = None) -> int | None:
    if start is None:
        return None
    return int(((end or utcnow()) - start).total_seconds() // 60)


def _idle_seconds() -> dict:
    """Seconds until the idle sign-out, for the warning banner (None when not signed in)."""
    from flask_login import current_user

    from clinic_app.auth import sessions

    row = sessions.current() if current_user.is_authenticated else None
    return {"idle_seconds": sessions.seconds_left(row) if row is not None else None}


def _open_alert_count() -> int:
    """The psychiatrist's navigation badge: alerts waiting for action (one COUNT)."""
    from clinic_app.review.alerts import open_alert_count

    return open_alert_count()


def _rems_attention():
    """The REMS navigation badge: overdue forms and unreported serious adverse events at the
    user's sites (one statement)."""
    from flask_login import current_user

    from clinic_app.rems.board import attention

    return attention(current_user, utcnow())


def register(app: Flask) -> None:
    app.context_processor(_idle_seconds)
    app.add_template_global(_open_alert_count, "open_alert_count")
    app.add_template_global(_rems_attention, "rems_attention")
    app.add_template_global(navigation)
    for name in FORMATS:  # local_time, local_short_date, local_date, local_long_date, ...
        app.add_template_filter(named_format(name), f"local_{name}")
    app.add_template_filter(override_label)
    app.add_template_global(minutes_between)
    app.add_template_global(marker_svg)
    app.add_template_global(utcnow)
    app.jinja_env.globals.update(
        CONTRAINDICATIONS=CONTRAINDICATIONS,
        MEDICATION_CLASSES=MEDICATION_CLASSES,
        ADVERSE_EVENT_KINDS=ADVERSE_EVENT_KINDS,
        NOT_DOSED_REASONS=NOT_DOSED_REASONS,
    )
