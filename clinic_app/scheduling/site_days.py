"""Days and visits of the sites a scoped page shows (see `clinic_app.site_scope`).

A page about one site reads its day on that site's clock. "All sites" shows the same calendar
date at every site, each on its own clock: the window covers the earliest midnight to the latest
end of day among the sites' zones, and each visit is kept when its date on its own site's clock
is the day shown.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, or_, select

from clinic_app.clock import utcnow
from clinic_app.models import Appointment, Chair, Patient, Site, TreatmentSession
from clinic_app.settings import clinic_timezone, page_timezone
from clinic_app.site_scope import SiteScope


def page_zone(scope: SiteScope) -> ZoneInfo:
    """The zone the page reads "today" in: the site's, or the clinic's for all sites."""
    return ZoneInfo(scope.site.timezone) if scope.site is not None else clinic_timezone()


def today(scope: SiteScope) -> date:
    return utcnow().astimezone(page_zone(scope)).date()


def zones(scope: SiteScope) -> tuple[ZoneInfo, ...]:
    """The distinct zones of the sites shown (no statement: the scope holds its sites)."""
    shown = (scope.site,) if scope.site is not None else scope.choices
    return tuple(ZoneInfo(name) for name in sorted({site.timezone for site in shown}))


def mixed_zones(scope: SiteScope) -> bool:
    """True when the page shows sites in different zones (it then says whose time is shown)."""
    return len(zones(scope)) > 1


def day_window(day: date, scope: SiteScope, days: int = 1) -> tuple[datetime, datetime]:
    """UTC [start, end) covering `days` days from `day` at every site shown."""
    starts, ends = [], []
    for zone in zones(scope) or (clinic_timezone(),):
        starts.append(datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC))
        end = datetime.combine(day + timedelta(days=days), time.min, tzinfo=zone)
        ends.append(end.astimezone(UTC))
    return min(starts), max(ends)


def usual_at(site_ids: tuple[int, ...]) -> ColumnElement[bool]:
    """Patients who usually attend these sites, or have no usual site (shown everywhere rather
    than nowhere)."""
    return or_(Patient.usual_site_id.in_(site_ids), Patient.usual_site_id.is_(None))


def at_sites(site_ids: tuple[int, ...]) -> ColumnElement[bool]:
    """Visits at these sites: by the chair's site; a visit without a chair (a consult room) by
    the patient's usual site."""
    return or_(
        Appointment.chair_id.in_(select(Chair.id).where(Chair.site_id.in_(site_ids))),
        and_(
            Appointment.chair_id.is_(None),
            Appointment.patient_id.in_(select(Patient.id).where(usual_at(site_ids))),
        ),
    )


# --- pages spanning sites (review queue, patient timeline) ---------------------------------------


def session_site(treatment: TreatmentSession) -> Site | None:
    """Where a session took place: its appointment's chair's site (None for a walk-in). Load
    the appointment, chair and site with the session."""
    return treatment.appointment.site if treatment.appointment is not None else None


def on_site_clock(moment: datetime, site: Site | None) -> datetime:
    """`moment` on its site's clock (on the page's without a site). Pages show it split, with
    the date and time filters, which show a date and a time of day as they are."""
    zone = site.timezone if site is not None else page_timezone()
    return moment.astimezone(ZoneInfo(zone))


def zones_differ(treatments: Iterable[TreatmentSession]) -> bool:
    """True when these sessions took place in more than one time zone."""
    return len({site.timezone for t in treatments if (site := session_site(t))}) > 1
