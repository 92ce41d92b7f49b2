"""Jinja filters and globals: clinic-local times, durations, labels."""

from datetime import datetime

from flask import Flask

from clinic_app.auth.permissions import navigation
from clinic_app.clinical.codes import (
    ADVERSE_EVENT_KINDS,
    CONTRAINDICATIONS,
    MEDICATION_CLASSES,
    NOT_DOSED_REASONS,
)
from clinic_app.clinical.review import override_label
from clinic_app.clock import utcnow
from clinic_app.review.charts import marker_svg
from clinic_app.settings import clinic_timezone


def local_time(value: datetime | None) -> str:
    return value.astimezone(clinic_timezone()).strftime("%H:%M") if value else ""


def local_datetime(value: datetime | None) -> str:
    return value.astimezone(clinic_timezone()).strftime("%d %b %Y %H:%M") if value else ""


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


def register(app: Flask) -> None:
    app.context_processor(_idle_seconds)
    app.add_template_global(_open_alert_count, "open_alert_count")
    app.add_template_global(navigation)
    app.add_template_filter(local_time)
    app.add_template_filter(local_datetime)
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
