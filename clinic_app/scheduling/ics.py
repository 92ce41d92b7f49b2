"""The patient's handout: visit instructions and an iCalendar (.ics) file of upcoming visits.

Only what the patient already knows goes in: the visit time, that it is a ketamine clinic visit,
fasting and no-driving instructions. No doses, no clinical detail. Events carry the clinic's time
zone (TZID plus a VTIMEZONE), so a 09:00 visit stays 09:00 across a daylight-saving change.

Instructions: esketamine: no food for 2 hours and no liquids for 30 minutes before the dose
(SPRAVATO medication guide), no driving until the next day after a restful sleep (label §17); IV
ketamine: food per the clinic's setting (default 4 hours), no driving for 24 hours (clinic
practice).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta

from icalendar import Calendar, Event

from clinic_app.clinical.codes import Modality
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clock import utcnow
from clinic_app.models import Appointment
from clinic_app.settings import clinic_timezone

SUMMARY = "Ketamine clinic visit"
PRODID = "-//Ketamine Clinic//Visit schedule//EN"


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


def build_calendar(
    visits: Sequence[Appointment], rules: ClinicalRules, domain: str = "ketamine-clinic.local"
) -> bytes:
    """An iCalendar file with one VEVENT per visit (UID per appointment) in the clinic's zone."""
    tz = clinic_timezone()
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    stamp = utcnow().astimezone(UTC)
    for visit in visits:
        event = Event()
        event.add("uid", f"appointment-{visit.id}@{domain}")
        event.add("dtstamp", stamp)
        event.add("dtstart", visit.starts_at.astimezone(tz))
        event.add("dtend", visit.ends_at.astimezone(tz))
        event.add("summary", SUMMARY)
        guide = instructions(_modality(visit), rules)
        if guide is not None:
            event.add("description", " ".join(guide.lines))
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    if visits:
        first = min(v.starts_at for v in visits).astimezone(tz).date()
        last = max(v.ends_at for v in visits).astimezone(tz).date()
        calendar.add_missing_timezones(
            first_date=first - timedelta(days=366), last_date=last + timedelta(days=366)
        )
    return calendar.to_ical()
