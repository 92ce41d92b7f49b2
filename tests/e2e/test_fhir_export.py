"""The FHIR export in real Chromium: a nurse downloads a patient's chart from the record page as
a FHIR file named by the record id only, and it holds the patient's Bundle. The page passes axe."""

import json

import pytest

from clinic_app.extensions import db
from tests import factories
from tests.e2e.browser import assert_accessible, sign_in
from tests.helpers import PASSWORD


@pytest.fixture
def patient_id(live_app) -> int:
    app, _ = live_app
    with app.app_context():
        for role in ("nurse", "psychiatrist"):
            factories.make_user(role, password=PASSWORD)
        treatment = factories.dosed_session()
        db.session.commit()
        return treatment.patient_id


def test_nurse_downloads_the_chart_as_fhir(live_app, page, patient_id, tmp_path):
    _, base = live_app
    sign_in(page, base, "nurse")
    page.goto(f"{base}/patients/{patient_id}")
    assert_accessible(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="FHIR export").click()
    assert download.value.suggested_filename == f"patient-{patient_id}.fhir.json"
    saved = tmp_path / "chart.json"
    download.value.save_as(saved)
    bundle = json.loads(saved.read_text())
    assert bundle["type"] == "collection"
    assert bundle["entry"][0]["resource"]["id"] == f"patient-{patient_id}"
