"""A nurse charts a whole esketamine session and a whole IV session in real Chromium."""

from datetime import timedelta

from playwright.sync_api import expect

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair, TreatmentSession
from tests import factories
from tests.e2e.browser import assert_accessible, clinic_morning, sign_in
from tests.helpers import PASSWORD


def _book_today(app, modality: str, **patient) -> int:
    with app.app_context():
        factories.site()  # first, so the staff work at it
        for role in ("nurse", "psychiatrist"):
            if factories.user(role) is None:
                factories.make_user(role, password=PASSWORD)
        chair = Chair(name=f"Chair {modality}", site=factories.site())
        db.session.add(chair)
        person = factories.make_patient(**patient)
        course = factories.make_course(person, modality)
        now = clock.utcnow()
        db.session.add(
            Appointment(
                patient_id=person.id,
                course_id=course.id,
                chair=chair,
                starts_at=now,
                ends_at=now + timedelta(hours=2),
                visit_kind="induction",
                sequence_no=1,
                driver_name="Sam Tester",
                driver_phone="555-0199",
            )
        )
        db.session.commit()
        return person.id


def _add_vitals(page, systolic: int, diastolic: int, spo2: int = 98) -> None:
    form = page.locator("form.vitals-row")
    form.get_by_label("Systolic").fill(str(systolic))
    form.get_by_label("Diastolic").fill(str(diastolic))
    form.get_by_label("Heart rate").fill("74")
    form.get_by_label("SpO₂ %").fill(str(spo2))
    form.get_by_label("Resp. rate").fill("14")
    form.get_by_role("button", name="Add reading").click()
    page.wait_for_load_state()


def _predose(page) -> None:
    for label in (
        "Identity confirmed",
        "Signed consent on file",
        "Fasting per protocol",
        "Today's medications reviewed",
        "Driver confirmed",
        "Prescriber on site",
        "Pulse oximeter available",
    ):
        page.get_by_label(label).check()
    for esketamine_only in (
        "Esketamine REMS enrollment confirmed",
        "No nasal corticosteroid or decongestant in the last hour",
    ):
        box = page.get_by_label(esketamine_only)
        if box.count():
            box.check()
    page.get_by_role("button", name="Save pre-dose checks").click()
    page.wait_for_load_state()
    expect(page.locator("#predose-h + p")).to_contain_text("Completed at", use_inner_text=True)


def _moaas(page, score: int) -> None:
    form = page.locator("form[action$='/sedation']")
    expect(form.get_by_label("MOAA/S")).to_have_value("")  # starts empty, never "awake"
    form.get_by_label("MOAA/S").select_option(str(score))
    form.get_by_role("button", name="Add MOAA/S").click()
    page.wait_for_load_state()


def _cadss(page, items: list[int]) -> None:
    form = page.locator("form[action$='/dissociation']")
    selects = form.locator("select")
    expect(selects).to_have_count(6)
    for n, value in enumerate(items):
        expect(selects.nth(n)).to_have_value("")  # starts empty, never "not at all"
        selects.nth(n).select_option(str(value))
    form.get_by_role("button", name="Add CADSS-6").click()
    page.wait_for_load_state()


def _discharge(page, attest_dissociation: bool = False) -> None:
    form = page.locator("form[action$='/discharge']")
    form.get_by_label("Alert and oriented").check()
    form.get_by_label("Steady gait").check()
    if attest_dissociation:
        form.get_by_label("Dissociation has resolved (my assessment)").check()
    driver = form.get_by_label("The confirmed driver")
    expect(form.locator("label[for='escort-driver']")).to_contain_text(
        "Sam Tester", use_inner_text=True
    )
    driver.check()
    form.get_by_role("button", name="Discharge").click()
    page.wait_for_load_state()


def _sign(page) -> None:
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Sign session").click()
    page.wait_for_load_state()
    assert "The record is locked" in page.content()


def _session_status(app, patient_id: int) -> str:
    with app.app_context():
        return db.session.scalar(
            db.select(TreatmentSession.status).where(TreatmentSession.patient_id == patient_id)
        )


def test_nurse_charts_esketamine_session(live_app, page):
    app, base = live_app
    clock.freeze(clinic_morning())
    patient_id = _book_today(app, "esketamine_nasal", first_name="Erin", last_name="Esk")
    sign_in(page, base, "nurse", accessible=True)
    page.wait_for_url(base + "/today")
    expect(page.get_by_text("Esk, Erin")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("button", name="Check in Erin Esk").click()
    page.wait_for_url(f"{base}/sessions/*")
    assert_accessible(page)
    _predose(page)
    _add_vitals(page, 124, 78)
    page.get_by_label("Dose", exact=True).and_(page.locator("select")).select_option("56")
    page.get_by_label("Lot number").fill("ESK-4471")
    page.get_by_role("button", name="Record dose").click()
    page.wait_for_load_state()
    assert "2 devices of 28 mg" in page.content()

    clock.advance(timedelta(minutes=5))
    page.get_by_label("Lot number").fill("ESK-4471")
    page.get_by_role("button", name="Record device 2").click()
    page.wait_for_load_state()
    devices = page.get_by_role("table", name="Devices given").inner_text()
    assert devices.count("ESK-4471") == 2
    assert not page.get_by_role("button", name="Record device 3").count()

    clock.advance(timedelta(minutes=35))  # 40 minutes after the first device
    _add_vitals(page, 166, 96)
    assert "over pre-dose" in page.content()
    assert "notify the prescriber" in page.content()
    _moaas(page, 5)
    _cadss(page, [1, 1, 0, 1, 0, 0])  # 3: under the clinic's line of 4
    expect(page.locator("#scales-h + ul")).to_contain_text("CADSS-6 3", use_inner_text=True)
    overflowing = page.eval_on_selector_all(
        ".vitals-table td", "cells => cells.filter(c => c.scrollWidth > c.clientWidth).length"
    )
    assert overflowing == 0  # two flags on one reading stay inside their cell
    assert_accessible(page)

    clock.advance(timedelta(minutes=50))
    _add_vitals(page, 130, 82)
    _discharge(page)
    refused = page.get_by_role("alert").filter(has_text="Discharge refused")
    expect(refused).to_be_visible()
    expect(refused).to_contain_text("Observed 90 of 120 minutes", use_inner_text=True)
    expect(refused).to_contain_text(
        "Assess sedation (MOAA/S) again before discharge.", use_inner_text=True
    )
    assert _session_status(app, patient_id) == "in_progress"
    assert_accessible(page)

    clock.advance(timedelta(minutes=31))
    _add_vitals(page, 126, 80)
    assert "Assess sedation (MOAA/S) again before discharge." in page.content()
    _moaas(page, 5)
    assert "The chart allows discharge" in page.content()
    _discharge(page)
    assert "Discharged at" in page.content()
    discharged = page.locator("#discharge").inner_text()
    assert "leaving with Sam Tester (the confirmed driver)" in discharged
    # Signing waits for what the REMS monitoring form needs from the chair.
    expect(page.locator(".rems-owed")).to_contain_text(
        "the concomitant-medication review and the discharge answers", use_inner_text=True
    )
    page.locator("#rems-meds").get_by_role("button", name="Reviewed today").click()
    page.wait_for_load_state()
    answers = page.locator("form[action$='/rems/answers']")
    answers.get_by_label("Without the 2-hour rule").fill("90")
    answers.get_by_role("button", name="Confirm REMS answers").click()
    page.wait_for_load_state()
    expect(page.locator(".rems-owed")).to_have_count(0)
    _sign(page)
    assert _session_status(app, patient_id) == "signed"
    assert_accessible(page)


def test_nurse_charts_iv_session(live_app, page):
    app, base = live_app
    clock.freeze(clinic_morning())
    patient_id = _book_today(
        app, "iv_ketamine", first_name="Ivan", last_name="Infusion", weight_kg=84
    )
    sign_in(page, base, "nurse", accessible=True)
    page.wait_for_url(base + "/today")
    page.get_by_role("button", name="Check in Ivan Infusion").click()
    page.wait_for_url(f"{base}/sessions/*")
    _predose(page)
    _add_vitals(page, 128, 82)
    weight = page.get_by_label("Weight today (kg)")
    expect(weight).to_have_value("")  # weighed today, never carried from the record
    assert "Last: 84.0 kg on the patient record — weigh today." in page.content()
    weight.fill("82.4")
    expect(page.locator(".dose-calc")).to_contain_text("= 41.2 mg", use_inner_text=True)
    page.get_by_label("Concentration (mg/mL)").fill("1")
    page.get_by_label("Pump rate (mL/h)").fill("61.8")
    page.get_by_label("Lot number").fill("KET-2210")
    page.get_by_role("button", name="Record dose").click()
    page.wait_for_load_state()
    assert "41.2 mg" in page.content() and "0.50 mg/kg" in page.content()

    for _ in range(3):
        clock.advance(timedelta(minutes=15))
        _add_vitals(page, 138, 86)
    assert_accessible(page)
    page.get_by_label("Volume infused (mL)").fill("41.2")
    page.get_by_role("button", name="Record infusion end").click()
    page.wait_for_load_state()
    assert "Infusion ended" in page.content() and "41.2 mL infused" in page.content()

    clock.advance(timedelta(minutes=15))
    _add_vitals(page, 130, 84)
    _discharge(page)
    refused = page.get_by_role("alert").filter(has_text="Discharge refused").inner_text()
    assert "Recovery: 30 min after the infusion" in refused
    assert "No MOAA/S since the dose: assess sedation." in refused
    assert "No CADSS-6 since the dose: record one, or attest" in refused

    clock.advance(timedelta(minutes=16))
    _add_vitals(page, 126, 80)
    _moaas(page, 5)
    _discharge(page, attest_dissociation=True)
    assert "Discharged at" in page.content()
    _sign(page)
    assert _session_status(app, patient_id) == "signed"
    assert_accessible(page)
