"""The treatment-session services as views, other packages and tests call them
(`services.add_vitals(...)`). Each takes the acting user, enforces the rules, audits and flushes;
the caller commits. They live in the module named for the step they chart: `chart` (check-in,
pre-dose, vitals, overrides, scales), `dose_steps`, `adverse_events` and `closing` (not dosed,
discharge, signature, addenda)."""

from clinic_app.treatments.adverse_events import (
    add_adverse_event,
    clear_adverse_event,
    edit_adverse_event,
    resolve_adverse_event,
)
from clinic_app.treatments.chart import (
    add_assessment,
    add_vitals,
    override_contraindication,
    override_discharge,
    override_hold,
    record_predose,
    start_session,
)
from clinic_app.treatments.closing import (
    add_addendum,
    content_hash,
    discharge,
    end_not_dosed,
    sign,
)
from clinic_app.treatments.dose_steps import (
    add_device,
    end_infusion,
    pause_infusion,
    record_dose,
    resume_infusion,
)
from clinic_app.treatments.guards import pregnancy_relevant

__all__ = [
    "add_addendum",
    "add_adverse_event",
    "add_assessment",
    "add_device",
    "add_vitals",
    "clear_adverse_event",
    "content_hash",
    "discharge",
    "edit_adverse_event",
    "end_infusion",
    "end_not_dosed",
    "override_contraindication",
    "override_discharge",
    "override_hold",
    "pause_infusion",
    "pregnancy_relevant",
    "record_dose",
    "record_predose",
    "resolve_adverse_event",
    "resume_infusion",
    "sign",
    "start_session",
]
