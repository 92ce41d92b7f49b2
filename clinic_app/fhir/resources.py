"""A patient's chart as FHIR resources, and the one-patient collection Bundle."""

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from clinic_app.fhir.adverse_events import adverse_event
from clinic_app.fhir.charts import Chart, session_site
from clinic_app.fhir.common import Visit, timestamp
from clinic_app.fhir.courses import care_plan, episode_of_care
from clinic_app.fhir.encounters import encounter
from clinic_app.fhir.medication import administration
from clinic_app.fhir.people import patient
from clinic_app.fhir.scales import assessment_resources
from clinic_app.fhir.vitals import body_weight, reading_observations


def chart_resources(
    chart: Chart, base: str, zones: dict[int, ZoneInfo], clinic_zone: ZoneInfo
) -> Iterator[dict]:
    """Every resource of one chart but the Practitioners and Locations it references; times in
    the zone of each session's site (`zones`), else the clinic's."""
    yield patient(chart.patient, base)
    for course in chart.courses:
        yield episode_of_care(course)
        yield care_plan(course)
    visits: dict[int | None, Visit] = {}
    for row in chart.sessions:
        site_id = session_site(row)
        zone = zones[site_id] if site_id is not None else clinic_zone
        visit = Visit(row.id, row.patient_id, row.is_locked, zone)
        visits[row.id] = visit
        yield encounter(row, visit, site_id)
        if row.weight_kg is not None:
            yield body_weight(row, visit, row.weight_kg)
        for reading in row.vitals:
            yield from reading_observations(reading, visit)
        given = administration(row, visit)
        if given is not None:
            yield given
        for event in row.adverse_events:
            yield adverse_event(event, visit, row.dose_started_at is not None)
    for scale in chart.assessments:
        visit = visits.get(scale.session_id) or Visit(None, scale.patient_id, True, clinic_zone)
        yield from assessment_resources(scale, visit, base)


def bundle(resources: list[dict], base: str, bundle_id: str, now: datetime, zone: ZoneInfo) -> dict:
    """A `collection` Bundle; each entry's fullUrl is `base`/Type/id, so the resources'
    relative references resolve to entries of the same Bundle."""
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "type": "collection",
        "timestamp": timestamp(now, zone),
        "entry": [
            {"fullUrl": f"{base}/{item['resourceType']}/{item['id']}", "resource": item}
            for item in resources
        ],
    }
