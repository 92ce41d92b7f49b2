"""Clinic settings as the app uses them: clinical rules and the clinic's time zone."""

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TypeVar
from zoneinfo import ZoneInfo

from flask import g, has_app_context
from sqlalchemy import select

from clinic_app.clinical.ledger import StockRules
from clinic_app.clinical.review import ReviewRules
from clinic_app.clinical.rules import TIMEZONE, ClinicalRules, ClinicSettings, setting
from clinic_app.clinical.series import SchedulingRules
from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import ClinicSetting


@dataclass(frozen=True)
class ClinicProfile(ClinicSettings):
    """Settings about the clinic itself rather than a clinical or scheduling rule."""

    # Default for a US west-coast clinic (see the README's configuration); any IANA zone works.
    timezone: str = setting("America/Los_Angeles", "Clinic time zone", "hours", kind=TIMEZONE)


_Settings = TypeVar("_Settings", bound=ClinicSettings)


def _stored() -> dict:
    if has_app_context() and "clinic_settings" in g:
        return g.clinic_settings
    values = {row.key: row.value for row in db.session.scalars(select(ClinicSetting))}
    if has_app_context():
        g.clinic_settings = values
    return values


def _applied(cls: type[_Settings]) -> _Settings:
    """`cls` with the stored overrides, built once per request: pages ask many times."""
    stored = _stored()
    if not has_app_context():
        return cls.with_overrides(stored)
    # Keyed to the stored values' dict, so dropping g.clinic_settings rebuilds these too.
    source, built = g.get("clinic_rules", (None, {}))
    if source is not stored:
        built = {}
        g.clinic_rules = (stored, built)
    if cls not in built:
        built[cls] = cls.with_overrides(stored)
    return built[cls]


def clinical_rules() -> ClinicalRules:
    """The rule thresholds with this clinic's overrides applied (loaded once per request)."""
    return _applied(ClinicalRules)


def scheduling_rules() -> SchedulingRules:
    """Clinic hours, closed days, chair blocks and series spacing, with overrides applied."""
    return _applied(SchedulingRules)


def review_rules() -> ReviewRules:
    """Response, remission and review-queue thresholds, with overrides applied."""
    return _applied(ReviewRules)


def stock_rules() -> StockRules:
    """Expiry warnings, theft/loss deadlines and record retention, with overrides applied."""
    return StockRules.with_overrides(_stored())


def clinic_timezone() -> ZoneInfo:
    """The IANA zone the clinic shows times in."""
    return ZoneInfo(_applied(ClinicProfile).timezone)


def page_timezone() -> str:
    """Flask-Babel's time-zone selector: the IANA zone this page shows times in.

    A view that shows another place's times (a site's, say) sets `g.page_timezone` before the
    page formats anything (Flask-Babel keeps the first answer for the request); otherwise the
    clinic's zone.
    """
    return g.get("page_timezone") or _applied(ClinicProfile).timezone


def local_now() -> datetime:
    return utcnow().astimezone(clinic_timezone())


def clinic_today() -> date:
    return local_now().date()


def day_bounds_utc(day: date) -> tuple[datetime, datetime]:
    """UTC start and end of a clinic-local calendar day."""
    zone = clinic_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day, time.max, tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def local_to_utc(day: date, at: time) -> datetime:
    """A clinic-local wall-clock time on `day` as UTC."""
    return datetime.combine(day, at, tzinfo=clinic_timezone()).astimezone(ZoneInfo("UTC"))
