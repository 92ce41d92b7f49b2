"""The scale forms' items on the timeline: a blank form's items are rendered once and reused, a
refused form shows what was typed and its errors, and the next page is blank again."""

from bs4 import BeautifulSoup

from clinic_app.extensions import db
from clinic_app.review import forms
from clinic_app.review.scale_items import scale_items
from tests.helpers import soup
from tests.review import builders


def _patient(app) -> int:
    with app.app_context():
        patient, _ = builders.patient_with_course(last_name="Items")
        db.session.commit()
        return patient.id


def _chosen(page, name: str) -> str | None:
    """The selected option's value of the select called `name`, or None."""
    chosen = page.find("select", attrs={"name": name}).find("option", selected=True)
    return chosen["value"] if chosen else None


def test_a_blank_forms_items_are_rendered_once(app):
    with app.test_request_context():
        first = scale_items(forms.OutsidePhq9Form(prefix="phq9", formdata=None), 9, "col-md-6")
        again = scale_items(forms.OutsidePhq9Form(prefix="phq9", formdata=None), 9, "col-md-6")
        gad7 = scale_items(forms.OutsideGad7Form(prefix="gad7", formdata=None), 7)
    assert again is first
    items = BeautifulSoup(first, "html.parser")
    assert [s["name"] for s in items.find_all("select")] == [f"phq9-item{n}" for n in range(1, 10)]
    assert {_chosen(items, f"phq9-item{n}") for n in range(1, 10)} == {""}  # "Choose…"
    assert len(BeautifulSoup(gad7, "html.parser").find_all("select")) == 7


def test_a_refused_form_keeps_its_answers_and_the_next_page_is_blank(app, as_role, staff):
    patient_id = _patient(app)
    nurse = as_role("nurse")
    answers = {f"phq9-item{n}": "2" for n in range(1, 9)} | {"phq9-item9": "7"}
    refused = nurse.post(f"/patients/{patient_id}/questionnaires/phq9", data=answers)
    assert refused.status_code == 400
    page = soup(refused)
    assert _chosen(page, "phq9-item1") == "2"
    assert page.find(id="phq9-item9-error")
    blank = soup(nurse.get(f"/patients/{patient_id}/timeline"))
    assert _chosen(blank, "phq9-item1") == ""
    assert not blank.find(id="phq9-item9-error")
