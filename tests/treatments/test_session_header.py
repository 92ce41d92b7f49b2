"""The session header and records name the dose given, not the course's plan, once dosed."""

from datetime import timedelta

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import TreatmentSession
from clinic_app.treatments import services
from tests import factories
from tests.helpers import pdf_pages, soup


def _header(response) -> str:
    return soup(response).select_one(".session-head .ms-auto").get_text(" ", strip=True)


def test_header_shows_the_plan_before_the_dose_and_the_dose_given_after(app, as_role):
    with app.app_context():
        patient = factories.make_patient()
        course = factories.make_course(patient, "esketamine_nasal")
        waiting = factories.start(patient, course).id
        dosed = factories.dosed_session("esketamine_nasal", last_name="Dosed")
        dosed.course.esketamine_dose_mg = 84  # the plan changed after this session's 56 mg
        db.session.commit()
        dosed_id = dosed.id
    nurse = as_role("nurse")
    assert "planned 56 mg" in _header(nurse.get(f"/sessions/{waiting}"))
    header = _header(nurse.get(f"/sessions/{dosed_id}"))
    assert "56 mg: 1 of 2 devices given" in header  # the first device only, so far
    assert "84" not in header
    with app.app_context():
        treatment = db.session.get(TreatmentSession, dosed_id)
        clock.freeze(treatment.dose_started_at + timedelta(minutes=6))
        services.add_device(
            factories.user("nurse"),
            treatment,
            {
                "lot_number": "LOT-1",
                "given_at": treatment.dose_started_at + timedelta(minutes=5),
                "device_partial": True,
                "device_note": "Patient sneezed.",
            },
        )
        db.session.commit()
    assert "56 mg: 2 of 2 devices given (1 partial)" in _header(nurse.get(f"/sessions/{dosed_id}"))


def test_header_says_whether_the_iv_dose_is_infusing_or_infused(app, as_role):
    with app.app_context():
        sid = factories.dosed_session("iv_ketamine").id
        db.session.commit()
    header = _header(as_role("nurse").get(f"/sessions/{sid}"))
    assert "mg (0.7 mg/kg) infusing" in header or "mg/kg) infusing" in header


def test_session_record_names_the_dose_given_and_the_plan_at_printing(app, as_role):
    with app.app_context():
        treatment = factories.dosed_session("esketamine_nasal")
        treatment.course.esketamine_dose_mg = 84
        db.session.commit()
        sid = treatment.id
    pages = pdf_pages(as_role("psychiatrist").get(f"/sessions/{sid}.pdf"))
    record = " ".join(pages[0].split())
    assert "56 mg: 1 of 2 devices given" in record
    assert "course plan at printing 84 mg" in record
