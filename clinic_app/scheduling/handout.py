"""What the patient's handout of upcoming visits shows: the page and its PDF twin
(clinic_app/records) render it from the same context."""

from typing import Any

from clinic_app.models import Patient
from clinic_app.scheduling import ics, queries
from clinic_app.settings import clinic_timezone, clinical_rules, scheduling_rules
from clinic_app.site_scope import show_site_times


def handout_context(person: Patient) -> dict[str, Any]:
    """The upcoming visits with when the driver collects the patient, the fasting and
    no-driving instructions of each treatment among them, and the contact details (address and
    phone) of the site: of each visit's site when they span several, the patient's usual site
    when none is booked at a site, else the clinic's; every time on its site's clock. Shows the
    page on the site's clock when the visits are at one site."""
    visits = queries.upcoming_visits(person.id)
    sites = list({v.site.id: v.site for v in visits if v.site is not None}.values())
    site = sites[0] if len(sites) == 1 else None
    if site is not None:
        show_site_times(site)
    rules = clinical_rules()
    guides = []
    for modality in dict.fromkeys(v.course.modality for v in visits if v.course):
        guide = ics.instructions(modality, rules)
        if guide is not None:
            guides.append(guide)
    clinic = scheduling_rules()
    usual = person.usual_site
    if not sites and usual is not None and usual.active:
        site = usual  # nothing booked at a site yet: the patient's usual site to call
    return {
        "patient": person,
        "visits": queries.cards(visits),
        "guides": guides,
        "zones": sorted({s.timezone for s in sites}) or [clinic_timezone().key],
        "site": site,
        "sites": sites,
        "several": len(sites) > 1,
        "clinic": clinic,
        "location": ics.location(clinic),
        "phone": ics.phone(clinic, site),
        "phones": {s.id: ics.phone(clinic, s) for s in sites},
        "ready": queries.ready_times(visits, clinic),
    }
