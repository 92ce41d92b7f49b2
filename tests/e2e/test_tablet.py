"""The Today board and the session page on a 768 px portrait tablet: no sideways scrolling."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair
from clinic_app.treatments import services
from tests import factories
from tests.e2e.browser import assert_accessible, clinic_morning, sign_in
from tests.helpers import PASSWORD

TABLET = {"width": 768, "height": 1024}


@pytest.fixture
def tablet(new_context):
    page = new_context(viewport=TABLET).new_page()
    page.set_default_timeout(10_000)
    return page


def _busy_morning(app) -> int:
    """Four patients booked in chairs: one waiting, one pre-dose, one observing after an IV
    infusion with readings, a scale and an adverse event, one ended without a dose. Returns the
    observing session's id."""
    clock.freeze(clinic_morning())
    with app.app_context():
        nurse = factories.make_user("nurse", password=PASSWORD)
        factories.make_user("psychiatrist", password=PASSWORD)
        now = clock.utcnow()
        sessions = []
        for n, (last, modality) in enumerate(
            [
                ("Waiting-Longername", "esketamine_nasal"),
                ("Predose", "esketamine_nasal"),
                ("Observing-Hyphenated", "iv_ketamine"),
                ("Declined", "esketamine_nasal"),
            ]
        ):
            person = factories.make_patient(last_name=last, first_name="Alexandria")
            course = factories.make_course(person, modality)
            appointment = Appointment(
                patient_id=person.id,
                course_id=course.id,
                chair=Chair(name=f"Recliner {n + 1}", site=factories.site()),
                starts_at=now,
                ends_at=now + timedelta(hours=2),
                visit_kind="induction",
                sequence_no=1,
                driver_name="Sam Tester",
                driver_phone="555-0199",
            )
            db.session.add(appointment)
            db.session.flush()
            if n:
                sessions.append(services.start_session(nurse, person, course, appointment))
        observing, declined = sessions[1:]
        for t in (observing, declined):
            services.record_predose(nurse, t, factories.PREDOSE_OK, t.version_id)
            services.add_vitals(nurse, t, dict(factories.NORMAL_BP))
        services.end_not_dosed(nurse, declined, "patient_declined", "", declined.version_id)
        services.record_dose(
            nurse,
            observing,
            {"weight_kg": "82.5", "lot_number": "KET-2026-0042", **factories.PUMP_OK},
            observing.version_id,
        )
        clock.advance(timedelta(minutes=15))
        services.add_vitals(
            nurse, observing, dict(factories.NORMAL_BP, systolic=168, diastolic=102)
        )
        services.add_assessment(nurse, observing, "moaas", [4])
        services.add_adverse_event(
            nurse,
            observing,
            {
                "kind": "other",
                "severity": "moderate",
                "description": "Tingling in both hands and a metallic taste, settling with rest.",
                "intervention": "Reassurance; infusion rate unchanged.",
            },
        )
        db.session.commit()
        return observing.id


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= TABLET["width"], f"page is {width} px wide on a {TABLET['width']} px screen"


def test_board_and_session_page_fit_a_portrait_tablet(live_app, tablet):
    app, base = live_app
    sid = _busy_morning(app)
    page = tablet
    sign_in(page, base, "nurse")
    page.wait_for_url(base + "/today")
    expect(page.locator("table.board")).to_contain_text("Not dosed", use_inner_text=True)
    _no_sideways_scroll(page)
    assert_accessible(page)

    page.goto(f"{base}/sessions/{sid}")
    for summary in page.locator("details > summary").all():
        summary.click()  # every fold open: the widest the page gets
    _no_sideways_scroll(page)
    assert_accessible(page)
