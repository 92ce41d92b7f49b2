"""`flask --app wsgi fhir export DIR [--since DATE] [--site CODE]` on the demo clinic: one
owner-only NDJSON file per resource type, every line valid R4 (R4B models) and every reference
resolving across the files; filters; batches; an audit row."""

import json
import stat
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from clinic_app.demo.clinic import load_demo_data
from clinic_app.extensions import db
from clinic_app.fhir.bulk import export
from clinic_app.models import Appointment, Chair, Patient, Site, TreatmentSession
from tests.fhir.conformance import parse, problems
from tests.helpers import audit_rows, count_statements

FILES = {
    "Patient.ndjson",
    "Practitioner.ndjson",
    "Location.ndjson",
    "EpisodeOfCare.ndjson",
    "CarePlan.ndjson",
    "Encounter.ndjson",
    "Observation.ndjson",
    "QuestionnaireResponse.ndjson",
    "MedicationAdministration.ndjson",
    "AdverseEvent.ndjson",
}


@pytest.fixture
def demo(app):
    with app.app_context():
        load_demo_data()
        db.session.commit()


def _run(runner, *args: str):
    result = runner.invoke(args=["fhir", "export", *args])
    assert result.exit_code == 0, result.output
    return result


def _read(directory) -> dict[str, list[dict]]:
    return {
        path.name: [json.loads(line) for line in path.read_text().splitlines()]
        for path in directory.iterdir()
    }


def _all(files: dict[str, list[dict]]) -> list[dict]:
    return [resource for lines in files.values() for resource in lines]


def test_export_writes_valid_owner_only_ndjson_per_type(app, runner, demo, tmp_path):
    target = tmp_path / "export"
    result = _run(runner, str(target))
    assert "Exporting patients" in result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert {path.name for path in target.iterdir()} == FILES
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in target.iterdir())
    files = _read(target)
    resources = _all(files)
    for resource in resources:
        parse(resource)
    assert problems(resources) == []
    for name, lines in files.items():
        assert {line["resourceType"] for line in lines} == {name.removesuffix(".ndjson")}
    with app.app_context():
        patients = db.session.scalars(select(Patient.id)).all()
        sessions = db.session.scalars(select(TreatmentSession.id)).all()
    assert sorted(r["id"] for r in files["Patient.ndjson"]) == sorted(
        f"patient-{i}" for i in patients
    )
    assert len(files["Encounter.ndjson"]) == len(sessions)
    (row,) = audit_rows(app, "fhir.bulk_export")
    assert row.user_id is None
    assert row.detail["patients"] == len(patients)
    assert row.detail["resources"] == len(resources)


def test_an_export_over_an_earlier_one_leaves_nothing_of_it(runner, demo, tmp_path):
    stale = tmp_path / "Patient.ndjson"
    stale.write_text('{"resourceType": "Patient", "id": "gone"}\n')
    stale.chmod(0o644)
    _run(runner, str(tmp_path))
    assert stat.S_IMODE(stale.stat().st_mode) == 0o600
    assert "gone" not in {r["id"] for r in _read(tmp_path)["Patient.ndjson"]}


def test_site_limits_to_patients_with_a_session_there(app, runner, demo, tmp_path):
    with app.app_context():
        # One of the demo visits took place at the New York site.
        visit = db.session.scalars(
            select(Appointment).join(TreatmentSession).order_by(Appointment.id)
        ).first()
        visit.chair = db.session.scalars(select(Chair).join(Site).where(Site.code == "NYC")).first()
        db.session.commit()
        seen_there = {visit.patient_id}
    _run(runner, str(tmp_path), "--site", "nyc")
    files = _read(tmp_path)
    assert {r["id"] for r in files["Patient.ndjson"]} == {f"patient-{i}" for i in seen_there}
    assert problems(_all(files)) == []


def test_since_keeps_sessions_from_that_day_on(app, runner, demo, tmp_path):
    with app.app_context():
        first, last = (
            db.session.scalar(select(func(TreatmentSession.started_at)))
            for func in (db.func.min, db.func.max)
        )
    day = (first + (last - first) / 2).astimezone(ZoneInfo("America/Los_Angeles")).date()
    _run(runner, str(tmp_path), "--since", day.isoformat())
    files = _read(tmp_path)
    starts = [datetime.fromisoformat(r["period"]["start"]) for r in files["Encounter.ndjson"]]
    midnight = datetime.combine(day, time.min, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert starts and min(starts) >= midnight
    assert problems(_all(files)) == []
    (row,) = audit_rows(app, "fhir.bulk_export")
    assert row.detail["since"] == midnight.astimezone(UTC).isoformat()


def test_unknown_site_is_refused(runner, demo, tmp_path):
    result = runner.invoke(args=["fhir", "export", str(tmp_path), "--site", "NOPE"])
    assert result.exit_code != 0
    assert "No site has the code NOPE" in result.output
    assert list(tmp_path.iterdir()) == []


def test_batches_give_the_same_files_in_bounded_statements(app, demo, tmp_path):
    with app.app_context():
        with count_statements(app) as one_batch:
            export(tmp_path / "one", batch=1000)
        with count_statements(app) as small_batches:
            export(tmp_path / "small", batch=2)
        patients = len(db.session.scalars(select(Patient.id)).all())
        db.session.rollback()
    assert _read(tmp_path / "one") == _read(tmp_path / "small")
    batches = -(-patients // 2)
    # Per batch: the page of ids, patients, courses, sessions (with chairs), readings,
    # devices, adverse events, scales; plus the sites and staff once.
    assert len(one_batch) <= 20
    assert len(small_batches) <= len(one_batch) + 9 * (batches - 1)
