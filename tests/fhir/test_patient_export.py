"""GET /patients/<id>/export.fhir.json: the chart as a FHIR R4 collection Bundle, for
clinicians, audited, in a bounded number of statements, valid under the R4B models."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from clinic_app import clock
from clinic_app.demo.clinic import load_demo_data
from clinic_app.extensions import db
from clinic_app.fhir.services import patient_bundle
from clinic_app.models import Appointment, Chair, Patient, User
from clinic_app.treatments import services
from tests import factories
from tests.fhir.conformance import parse, problems
from tests.helpers import audit_rows, count_statements, freeze_local, soup

PHQ9 = [1, 2, 1, 0, 2, 1, 0, 1, 1]  # 9
HOME = {"address_line1": "555 Example St", "city": "Hoboken", "state": "NJ", "zip_code": "07030"}


def _visit(patient, course, days_ago: int, site_code: str = "MAIN"):
    """A dosed session `days_ago` days back at a chair of `site_code`, with vitals, a PHQ-9,
    the devices or the infusion's end, MOAA/S, CADSS-6 and a mild adverse event."""
    at = freeze_local(9, days_ago=days_ago)
    nurse = factories.user("nurse")
    site = factories.site(site_code)
    if site not in nurse.sites:  # only a site's staff check in and chart its visits
        nurse.sites.append(site)
    chair = Chair(name=f"Chair {days_ago}", site=site)
    appointment = Appointment(
        patient_id=patient.id,
        course_id=course.id,
        chair=chair,
        starts_at=at,
        ends_at=at + timedelta(hours=2),
        visit_kind="induction",
        status="confirmed",
    )
    db.session.add(appointment)
    db.session.flush()
    treatment = services.start_session(nurse, patient, course, appointment)
    services.record_predose(nurse, treatment, factories.PREDOSE_OK, treatment.version_id)
    services.add_vitals(nurse, treatment, dict(factories.NORMAL_BP))
    services.add_assessment(nurse, treatment, "phq9", PHQ9)
    services.record_dose(
        nurse,
        treatment,
        {"dose_mg": "56", "weight_kg": "80", "lot_number": "LOT-1", **factories.PUMP_OK},
        treatment.version_id,
    )
    clock.advance(timedelta(minutes=40))
    if course.modality == "iv_ketamine":
        services.end_infusion(nurse, treatment, None, Decimal("40"), treatment.version_id)
    services.add_vitals(nurse, treatment, {**factories.NORMAL_BP, "systolic": 151})
    factories.chart_settled(treatment)
    services.add_adverse_event(nurse, treatment, {"kind": "nausea", "severity": "mild"})
    return treatment


@pytest.fixture
def charted(app, staff):
    """A patient with two esketamine sessions at two sites, and a second patient with one IV
    session; returns their ids."""
    with app.app_context():
        patient = factories.make_patient(**HOME)
        course = factories.make_course(patient, "esketamine_nasal")
        _visit(patient, course, days_ago=7, site_code="MAIN")
        _visit(patient, course, days_ago=3, site_code="EAST")
        other = factories.make_patient(first_name="Bea")
        _visit(other, factories.make_course(other, "iv_ketamine"), days_ago=2)
        db.session.commit()
        ids = patient.id, other.id
    clock.reset()
    return ids


def _resources(response) -> list[dict]:
    return [entry["resource"] for entry in response.get_json()["entry"]]


def _coded(resources: list[dict], code: str) -> list[dict]:
    """The Observations whose first coding is `code`."""
    return [
        r
        for r in resources
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == code
    ]


def test_bundle_holds_the_chart_as_mapped(as_role, charted):
    patient_id, _ = charted
    response = as_role("nurse").get(f"/patients/{patient_id}/export.fhir.json")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="patient-{patient_id}.fhir.json"'
    )
    document = response.get_json()
    Bundle.model_validate(document)
    assert document["type"] == "collection"
    resources = _resources(response)
    assert problems(resources) == []
    kinds = Counter(r["resourceType"] for r in resources)
    assert kinds["Patient"] == 1
    assert kinds["Encounter"] == kinds["MedicationAdministration"] == 2
    assert kinds["AdverseEvent"] == kinds["QuestionnaireResponse"] == 2
    assert kinds["Location"] == 2 and kinds["EpisodeOfCare"] == kinds["CarePlan"] == 1
    for entry in document["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"].endswith(f"/{resource['resourceType']}/{resource['id']}")
    systolic = sorted(
        p["component"][0]["valueQuantity"]["value"] for p in _coded(resources, "85354-9")
    )
    assert systolic == [122, 122, 151, 151]
    given = [r for r in resources if r["resourceType"] == "MedicationAdministration"]
    assert {g["dosage"]["dose"]["value"] for g in given} == {56}
    assert all(g["dosage"]["text"] == "56 mg = 2 x 28 mg devices" for g in given)
    assert all(g["contained"][0]["batch"]["lotNumber"] == "LOT-1" for g in given)
    assert [t["valueInteger"] for t in _coded(resources, "44261-6")] == [9, 9]
    assert _coded(resources, "29463-7") == []  # esketamine doses are not per kg


def test_the_patient_carries_a_recorded_address_and_none_when_there_is_none(as_role, charted):
    nurse = as_role("nurse")
    housed, unhoused = (
        _resources(nurse.get(f"/patients/{patient_id}/export.fhir.json"))[0]
        for patient_id in charted
    )
    assert housed["resourceType"] == unhoused["resourceType"] == "Patient"
    assert housed["address"] == [
        {
            "use": "home",
            "type": "both",
            "line": ["555 Example St"],
            "city": "Hoboken",
            "state": "NJ",
            "postalCode": "07030",
            "country": "US",
        }
    ]
    assert "address" not in unhoused
    parse(housed)


def test_iv_dose_is_per_kg_of_the_days_weight_at_the_pump_rate(as_role, charted):
    _, patient_id = charted
    resources = _resources(as_role("nurse").get(f"/patients/{patient_id}/export.fhir.json"))
    assert problems(resources) == []
    (given,) = [r for r in resources if r["resourceType"] == "MedicationAdministration"]
    (weight,) = _coded(resources, "29463-7")
    assert given["status"] == "completed"
    assert given["dosage"]["text"] == "40 mg = 0.5 mg/kg x 80 kg over 40 min"
    assert given["dosage"]["rateQuantity"]["value"] == 60
    assert given["dosage"]["route"]["coding"][0]["code"] == "47625008"
    assert given["supportingInformation"] == [{"reference": f"Observation/{weight['id']}"}]
    assert weight["valueQuantity"] == {
        "value": 80,
        "unit": "kg",
        "system": "http://unitsofmeasure.org",
        "code": "kg",
    }
    period = given["effectivePeriod"]
    assert period["start"][11:16] == "09:00" and period["end"][11:16] == "09:40"


def test_times_carry_the_offset_of_the_session_site(as_role, app, charted):
    patient_id, _ = charted
    with app.app_context():
        factories.site("EAST").timezone = "America/New_York"
        db.session.commit()
    resources = _resources(as_role("psychiatrist").get(f"/patients/{patient_id}/export.fhir.json"))
    starts = sorted(r["period"]["start"] for r in resources if r["resourceType"] == "Encounter")
    # 09:00 in Los Angeles, charted for the second session at a New York site: 12:00 there.
    assert starts[0].endswith(("-08:00", "-07:00")) and "T09:00:00" in starts[0]
    assert starts[1].endswith(("-05:00", "-04:00")) and "T12:00:00" in starts[1]


def test_ids_are_stable_across_exports(as_role, charted):
    patient_id, _ = charted
    nurse = as_role("nurse")
    first = nurse.get(f"/patients/{patient_id}/export.fhir.json").get_json()
    second = nurse.get(f"/patients/{patient_id}/export.fhir.json").get_json()
    assert first["entry"] == second["entry"]
    assert "obs-bp-1" in {e["resource"]["id"] for e in first["entry"]}


def test_the_record_links_the_export_for_clinicians_only(as_role, charted):
    patient_id = charted[0]
    url = f"/patients/{patient_id}/export.fhir.json"
    for role, shown in (("nurse", True), ("psychiatrist", True), ("front_desk", False)):
        page = soup(as_role(role).get(f"/patients/{patient_id}"))
        assert bool(page.find("a", href=url, download=True)) is shown, role


@pytest.mark.parametrize("role", ["front_desk", "admin"])
def test_front_desk_and_admin_may_not_export(as_role, charted, role):
    assert as_role(role).get(f"/patients/{charted[0]}/export.fhir.json").status_code == 403


def test_unknown_patient_is_not_found(as_role, charted):
    assert as_role("nurse").get("/patients/999999/export.fhir.json").status_code == 404


def test_export_is_audited_naming_the_patient(app, as_role, charted, staff):
    patient_id, _ = charted
    as_role("psychiatrist").get(f"/patients/{patient_id}/export.fhir.json")
    (row,) = audit_rows(app, "fhir.export")
    assert (row.patient_id, row.user_id, row.entity_type) == (
        patient_id,
        staff["psychiatrist"],
        "Patient",
    )
    assert row.detail["resources"] > 0


def test_statements_do_not_grow_with_the_history(app, as_role, charted):
    many, one = charted
    nurse = as_role("nurse")
    counts = []
    for patient_id in (one, many):
        with count_statements(app) as statements:
            assert nurse.get(f"/patients/{patient_id}/export.fhir.json").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]
    assert counts[1] <= 25


def test_every_patient_of_the_demo_clinic_exports_valid_r4(app):
    with app.app_context():
        load_demo_data()
        db.session.commit()
        nurse = db.session.scalar(select(User).where(User.username == "nurse"))
        everything: list[dict] = []
        for patient_id in db.session.scalars(select(Patient.id).order_by(Patient.id)):
            document = patient_bundle(nurse, patient_id)
            Bundle.model_validate(document)
            resources = [entry["resource"] for entry in document["entry"]]
            assert problems(resources) == [], patient_id
            everything.extend(
                r for r in resources if r["resourceType"] not in ("Practitioner", "Location")
            )
        db.session.rollback()
    for resource in everything:
        parse(resource)
    kinds = Counter(r["resourceType"] for r in everything)
    for kind in (
        "Encounter",
        "Observation",
        "MedicationAdministration",
        "AdverseEvent",
        "QuestionnaireResponse",
        "EpisodeOfCare",
        "CarePlan",
    ):
        assert kinds[kind] > 0, kind
