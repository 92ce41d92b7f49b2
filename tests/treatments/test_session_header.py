"""The session header and records name the dose given, not the course's plan, once dosed."""

from clinic_app.extensions import db
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
    assert "given 56 mg" in header
    assert "84" not in header


def test_session_record_names_the_dose_given_and_the_plan_at_printing(app, as_role):
    with app.app_context():
        treatment = factories.dosed_session("esketamine_nasal")
        treatment.course.esketamine_dose_mg = 84
        db.session.commit()
        sid = treatment.id
    pages = pdf_pages(as_role("psychiatrist").get(f"/sessions/{sid}.pdf"))
    assert "56 mg given" in pages[0]
    assert "course plan at printing 84 mg" in pages[0]
