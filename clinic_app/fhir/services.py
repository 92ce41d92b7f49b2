"""The one-patient export: the chart as a FHIR collection Bundle, audited naming the patient."""

from flask import current_app

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, require_role
from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.fhir.charts import load_charts, load_sites, load_staff, site_zones
from clinic_app.fhir.people import location, practitioner
from clinic_app.fhir.resources import bundle, chart_resources
from clinic_app.models import User
from clinic_app.settings import clinic_timezone


def patient_bundle(user: User, patient_id: int) -> dict | None:
    """The patient's whole chart as a Bundle (None for no such patient), with the staff and
    sites it references; one audit row. Clinicians only."""
    require_role(user, *CLINICAL)
    charts = load_charts([patient_id])
    if not charts:
        return None
    chart = charts[0]
    base = current_app.config["FHIR_BASE_URL"]
    zone = clinic_timezone()
    resources = list(chart_resources(chart, base, site_zones(), zone))
    resources.extend(practitioner(row) for row in load_staff(chart.practitioner_ids()))
    resources.extend(location(row) for row in load_sites(chart.site_ids()))
    audit.record(
        user, "fhir.export", chart.patient, patient_id=patient_id, resources=len(resources)
    )
    db.session.flush()
    return bundle(resources, base, f"patient-{patient_id}-export", utcnow(), zone)
