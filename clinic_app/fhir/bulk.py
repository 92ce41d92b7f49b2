"""The whole-clinic export in the style of FHIR Bulk Data: one NDJSON file per resource type,
written 0600. Patients are taken in keyset-paginated batches, each loaded with a fixed number
of statements and let go before the next, so memory stays flat however large the history."""

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from time import perf_counter
from typing import IO

from flask import current_app
from sqlalchemy import Select, or_, select

from clinic_app import audit
from clinic_app.extensions import db
from clinic_app.fhir.charts import load_charts, load_sites, load_staff, site_zones
from clinic_app.fhir.people import location, practitioner
from clinic_app.fhir.resources import chart_resources
from clinic_app.files import create_private, make_directories
from clinic_app.models import Appointment, Assessment, Chair, Patient, Site, TreatmentSession
from clinic_app.settings import clinic_timezone

BATCH = 50  # patients per batch: ~15,000 vitals rows on a long history
RESOURCE_TYPES = (
    "Patient",
    "Practitioner",
    "Location",
    "EpisodeOfCare",
    "CarePlan",
    "Encounter",
    "Observation",
    "QuestionnaireResponse",
    "MedicationAdministration",
    "AdverseEvent",
)


@dataclass
class ExportResult:
    """What an export wrote: resources and seconds (mapping and writing) per type, seconds spent
    loading rows, and patients exported."""

    patients: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    load_seconds: float = 0.0

    @property
    def resources(self) -> int:
        return sum(self.counts.values())


class _Files:
    """One open NDJSON file per resource type, each created owner-only before it is written."""

    def __init__(self, directory: Path):
        make_directories(directory)
        self.handles: dict[str, IO[str]] = {}
        for name in RESOURCE_TYPES:
            path = directory / f"{name}.ndjson"
            create_private(path)
            self.handles[name] = path.open("w", encoding="utf-8")

    def write(self, resource: dict) -> None:
        line = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
        self.handles[resource["resourceType"]].write(line + "\n")

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


def patients_query(since: datetime | None, site: Site | None) -> Select:
    """The ids of the patients to export: with `site`, those with a session at that site (a
    visit's site is its chair's); with `since`, those changed or seen from then on."""
    query = select(Patient.id)
    if site is not None:
        at_site = (
            select(TreatmentSession.patient_id)
            .join(Appointment, TreatmentSession.appointment_id == Appointment.id)
            .join(Chair, Appointment.chair_id == Chair.id)
            .where(Chair.site_id == site.id)
        )
        query = query.where(Patient.id.in_(at_site))
    if since is not None:
        query = query.where(
            or_(
                Patient.updated_at >= since,
                Patient.id.in_(
                    select(TreatmentSession.patient_id).where(TreatmentSession.started_at >= since)
                ),
                Patient.id.in_(
                    select(Assessment.patient_id).where(Assessment.administered_at >= since)
                ),
            )
        )
    return query


def export(
    directory: Path,
    since: datetime | None = None,
    site: Site | None = None,
    progress: Callable[[int], None] = lambda done: None,
    batch: int = BATCH,
) -> ExportResult:
    """Write the export to `directory` (created 0700 if missing; every type's file is rewritten,
    so no file of an earlier export is left behind) and add one audit row. `progress` is called
    with the number of patients of each batch done. The caller commits."""
    base = current_app.config["FHIR_BASE_URL"]
    zones, clinic_zone = site_zones(), clinic_timezone()
    query = patients_query(since, site).order_by(Patient.id).limit(batch)
    result = ExportResult()
    staff: set[int] = set()
    files = _Files(directory)
    try:
        last = 0
        while ids := list(db.session.scalars(query.where(Patient.id > last))):
            started = perf_counter()
            charts = load_charts(ids, since)
            clock = perf_counter()
            result.load_seconds += clock - started
            for chart in charts:
                staff.update(chart.practitioner_ids())
                for resource in chart_resources(chart, base, zones, clinic_zone):
                    files.write(resource)
                    now = perf_counter()
                    result.counts[resource["resourceType"]] += 1
                    result.seconds[resource["resourceType"]] += now - clock
                    clock = now
            result.patients += len(ids)
            last = ids[-1]
            db.session.expunge_all()  # the batch's rows are written: let them go
            progress(len(ids))
        for shared in [*map(practitioner, load_staff(staff)), *map(location, load_sites())]:
            files.write(shared)
            result.counts[shared["resourceType"]] += 1
    finally:
        files.close()
    audit.record(
        None,
        "fhir.bulk_export",
        patients=result.patients,
        resources=result.resources,
        site=site.code if site is not None else "",
        since=since.isoformat() if since is not None else "",
    )
    db.session.flush()
    return result
