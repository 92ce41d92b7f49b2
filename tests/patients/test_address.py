"""A patient's postal address (21 CFR 1304.22(c)): optional at registration, complete or blank,
errors beside each field with nothing saved, shown on the record, edited by the same roles."""

import pytest

from clinic_app.extensions import db
from clinic_app.models import Patient
from clinic_app.patients.services import update_patient
from tests import factories
from tests.helpers import audit_rows, count, field_errors, soup

FORM = {
    "mrn": "ADDR-1",
    "first_name": "Ana",
    "last_name": "Address",
    "date_of_birth": "1985-02-03",
    "sex": "female",
    "version_id": "0",
}
HOME = {
    "address_line1": "  555   Example St ",
    "address_line2": "Apt 3",
    "city": "Pasadena",
    "state": "CA",
    "zip_code": "91101-0555",
}


ADDRESS = {"address_line1", "line2", "city", "state", "zip_code"}


def _patient(app) -> Patient:
    with app.app_context():
        patient = db.session.scalar(db.select(Patient).where(Patient.mrn == "ADDR-1"))
        db.session.expunge(patient)
        return patient


def _shown(client, patient_id: int) -> str:
    page = soup(client.get(f"/patients/{patient_id}"))
    return page.find(id="patient-address").get_text(" ", strip=True)


@pytest.mark.parametrize("role", ["front_desk", "psychiatrist"])
def test_registration_saves_the_address_trimmed_and_the_record_shows_it(app, as_role, role):
    client = as_role(role)
    response = client.post("/patients/new", data={**FORM, **HOME})
    assert response.status_code == 302
    patient = _patient(app)
    assert (patient.address_line1, patient.zip_code) == ("555 Example St", "91101-0555")
    assert patient.address == "555 Example St, Apt 3, Pasadena, CA 91101-0555"
    assert _shown(client, patient.id) == "555 Example St Apt 3 Pasadena, CA 91101-0555"


def test_a_patient_may_be_registered_without_an_address(app, as_role):
    client = as_role("front_desk")
    assert client.post("/patients/new", data=FORM).status_code == 302
    patient = _patient(app)
    assert patient.address == ""
    assert _shown(client, patient.id) == "not recorded"


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"zip_code": "9110"}, {"zip_code"}),
        ({"zip_code": "91101-55"}, {"zip_code"}),
        ({"city": " "}, {"city"}),
        ({"address_line1": ""}, {"address_line1"}),
        ({"state": ""}, {"state"}),
        ({"state": "XX"}, {"state"}),  # not one of the offered choices
        ({"address_line1": "", "city": "", "state": "", "zip_code": ""}, set(ADDRESS) - {"line2"}),
        ({"address_line1": "x" * 121}, {"address_line1"}),
    ],
)
def test_a_partial_or_bad_address_is_refused_beside_the_field(app, as_role, change, errors):
    response = as_role("front_desk").post("/patients/new", data={**FORM, **HOME, **change})
    assert response.status_code == 400
    assert set(field_errors(response)) == errors
    assert count(app, Patient) == 0


def test_editing_adds_and_clears_the_address_and_a_bad_one_changes_nothing(app, as_role):
    desk = as_role("front_desk")
    assert desk.post("/patients/new", data=FORM).status_code == 302
    patient_id = _patient(app).id
    url = f"/patients/{patient_id}/edit"
    refused = desk.post(url, data={**FORM, **HOME, "zip_code": "ABCDE", "version_id": "1"})
    assert refused.status_code == 400
    assert field_errors(refused) == {
        "zip_code": "A ZIP code is 5 digits, or 5 digits, a dash and 4 more."
    }
    assert _patient(app).address == "" and _patient(app).version_id == 1
    form = soup(refused)
    assert form.find(id="city")["value"] == "Pasadena"  # what was typed comes back

    assert desk.post(url, data={**FORM, **HOME, "version_id": "1"}).status_code == 302
    assert _patient(app).city == "Pasadena"
    assert audit_rows(app, "patient.update")[-1].detail["fields"] == [
        "address_line1",
        "address_line2",
        "city",
        "state",
        "zip_code",
    ]
    edit = soup(desk.get(url))
    assert edit.find(id="state").find("option", selected=True)["value"] == "CA"

    blank = {name: "" for name in HOME}
    assert desk.post(url, data={**FORM, **blank, "version_id": "2"}).status_code == 302
    assert _patient(app).address == ""


@pytest.mark.parametrize("role", ["nurse", "admin"])
def test_the_address_is_edited_by_the_demographics_roles_only(app, as_role, role):
    assert as_role("front_desk").post("/patients/new", data=FORM).status_code == 302
    url = f"/patients/{_patient(app).id}/edit"
    response = as_role(role).post(url, data={**FORM, **HOME, "version_id": "1"})
    assert response.status_code == 403
    assert _patient(app).address == ""


def test_an_update_without_the_address_keeps_it(app, staff):
    with app.app_context():
        patient = factories.make_patient(**{**HOME, "state": "ca"}, screened=False)
        assert patient.state == "CA" and patient.address_line1 == "555 Example St"
        update_patient(factories.user("front_desk"), patient, {"mrn": patient.mrn}, 1)
        assert patient.address == "555 Example St, Apt 3, Pasadena, CA 91101-0555"
