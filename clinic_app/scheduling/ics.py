"""The patient's handout: visit instructions and an iCalendar (.ics) file of upcoming visits.

Only what the patient already knows goes in: the visit time and place, fasting and no-driving
instructions. No doses, no clinical detail. The event title is the clinic's name (or the
title the clinic sets), never the treatment, because a shared calendar shows titles to anyone
who glances at it. Visits not yet confirmed are TENTATIVE. Each event carries its site's time zone
(TZID plus a VTIMEZONE per zone), so a 09:00 visit stays 09:00 across a daylight-saving change,
and is placed at its site's address.

Instructions: esketamine: no food for 2 hours and no liquids for 30 minutes before the dose
(SPRAVATO medication guide), no driving until the next day after a restful sleep (label §17); IV
ketamine: food per the clinic's setting (default 4 hours), no driving for 24 hours (clinic
practice).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from clinic_app.clinical.codes import AppointmentStatus, Modality
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.series import SchedulingRules
from clinic_app.clock import utcnow
from clinic_app.models import Appointment, Site
from clinic_app.settings import clinic_timezone

PRODID = "-//Clinic//Visit schedule//EN"


@dataclass(frozen=True)
class Instructions:
    title: str
    fasting: str
    driving: str

    @property
    def lines(self) -> list[str]:
        return [self.fasting, self.driving]


def instructions(modality: str | None, rules: ClinicalRules) -> Instructions | None:
    """What the patient must do before and after a visit of this treatment (None: a consult)."""
    if modality == Modality.ESKETAMINE_NASAL:
        return Instructions(
            "Nasal spray treatment visits",
            f"Do not eat for {rules.esketamine_fast_food_hours} hours and do not drink anything "
            f"for {rules.esketamine_fast_liquid_minutes} minutes before your visit.",
            "Do not drive or operate machinery until the next day, after a restful sleep. "
            "Bring an adult to drive you home.",
        )
    if modality == Modality.IV_KETAMINE:
        hours = rules.iv_fast_food_hours
        return Instructions(
            "Infusion visits",
            f"Do not eat for {hours} hour{'s' if hours != 1 else ''} before your visit.",
            "Do not drive or operate machinery for 24 hours after your infusion. "
            "Bring an adult to drive you home.",
        )
    return None


def _modality(appointment: Appointment) -> str | None:
    return appointment.course.modality if appointment.course else None


def location(rules: SchedulingRules, site: Site | None = None) -> str:
    """Where a visit is, as the handout and the calendar file show it: the site's name and
    address, else (no site, or no address recorded for it) the clinic's."""
    if site is not None and site.address:
        return ", ".join(part for part in (site.name, site.address) if part)
    return ", ".join(part for part in (rules.clinic_name, rules.clinic_address) if part)


def phone(rules: SchedulingRules, site: Site | None = None) -> str:
    """The number to call about a visit, as the handout and the calendar file show it: the
    site's, else the clinic's (either may be blank)."""
    return (site.phone if site is not None else "") or rules.clinic_phone


def build_calendar(
    visits: Sequence[Appointment],
    rules: ClinicalRules,
    clinic: SchedulingRules,
    domain: str = "clinic.local",
) -> bytes:
    """An iCalendar file with one VEVENT per visit (UID per appointment) in its site's zone,
    titled with the clinic's name and placed at its site. Load each visit's chair and site."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    stamp = utcnow().astimezone(UTC)
    for visit in visits:
        site = visit.site
        tz = ZoneInfo(site.timezone) if site is not None else clinic_timezone()
        event = Event()
        event.add("uid", f"appointment-{visit.id}@{domain}")
        event.add("dtstamp", stamp)
        event.add("dtstart", visit.starts_at.astimezone(tz))
        event.add("dtend", visit.ends_at.astimezone(tz))
        event.add("summary", clinic.calendar_title or clinic.clinic_name)
        event.add("location", location(clinic, site))
        guide = instructions(_modality(visit), rules)
        lines = guide.lines if guide is not None else []
        number = phone(clinic, site)
        if number:
            lines = [*lines, f"Clinic phone: {number}."]
        if lines:
            event.add("description", " ".join(lines))
        confirmed = visit.status != AppointmentStatus.SCHEDULED
        event.add("status", "CONFIRMED" if confirmed else "TENTATIVE")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    if visits:
        first = min(v.starts_at for v in visits).date()
        last = max(v.ends_at for v in visits).date()
        calendar.add_missing_timezones(
            first_date=first - timedelta(days=366), last_date=last + timedelta(days=366)
        )
    return calendar.to_ical()
