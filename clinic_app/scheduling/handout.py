"""What the patient's handout of upcoming visits shows: the page and its PDF twin
(clinic_app/records) render it from the same context."""

from typing import Any

from clinic_app.models import Patient
from clinic_app.scheduling import ics, queries
from clinic_app.settings import clinic_timezone, clinical_rules, scheduling_rules


def handout_context(person: Patient) -> dict[str, Any]:
    """The upcoming visits with when the driver collects the patient, the fasting and
    no-driving instructions of each treatment among them, and the clinic's contact details."""
    visits = queries.upcoming_visits(person.id)
    rules = clinical_rules()
    guides = []
    for modality in dict.fromkeys(v.course.modality for v in visits if v.course):
        guide = ics.instructions(modality, rules)
        if guide is not None:
            guides.append(guide)
    clinic = scheduling_rules()
    return {
        "patient": person,
        "visits": queries.cards(visits),
        "guides": guides,
        "zone": clinic_timezone().key,
        "clinic": clinic,
        "location": ics.location(clinic),
        "ready": queries.ready_times(visits, clinic),
    }
