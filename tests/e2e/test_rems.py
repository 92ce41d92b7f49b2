"""The REMS monitoring form in real Chromium: the nurse charts an esketamine session with the
REMS questions, signs, finds the form complete, marks it submitted and the board moves it; an
addendum re-opens it. Pages pass axe; the print view is saved for a look."""

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair
from tests import factories
from tests.e2e.browser import assert_accessible, sign_in
from tests.helpers import PASSWORD

SCREENSHOTS = "/tmp"


def _book_esketamine_today(app) -> None:
    with app.app_context():
        site = factories.site()
        site.address_line1, site.city, site.state, site.zip_code = (
            "1 Main St",
            "Los Angeles",
            "CA",
            "90012",
        )
        for role in ("nurse", "psychiatrist"):
            if factories.user(role) is None:
                factories.make_user(role, password=PASSWORD)
        patient = factories.make_patient(first_name="Rhea", last_name="Rems")
        course = factories.make_course(patient)
        now = clock.utcnow()
        db.session.add(
            Appointment(
                patient_id=patient.id,
                course_id=course.id,
                chair=Chair(name="Chair R", site=site),
                starts_at=now,
                ends_at=now + timedelta(hours=2, minutes=30),
                visit_kind="induction",
                sequence_no=1,
                driver_name="Sam Tester",
                driver_phone="555-0199",
            )
        )
        db.session.commit()


def _click(page, name: str) -> None:
    page.get_by_role("button", name=name).click()
    page.wait_for_load_state()


def _vitals(page, systolic: int, diastolic: int) -> None:
    form = page.locator("form.vitals-row")
    for label, value in (
        ("Systolic", systolic),
        ("Diastolic", diastolic),
        ("Heart rate", 74),
        ("SpO₂ %", 98),
        ("Resp. rate", 14),
    ):
        form.get_by_label(label).fill(str(value))
    _click(page, "Add reading")


def _scores(page) -> None:
    form = page.locator("form[action$='/sedation']")
    form.get_by_label("MOAA/S").select_option("5")
    _click(page, "Add MOAA/S")
    selects = page.locator("form[action$='/dissociation'] select")
    for n in range(6):
        selects.nth(n).select_option("0")
    _click(page, "Add CADSS-6")


def _chart_until_signed(page) -> None:
    for label in (
        "Identity confirmed",
        "Signed consent on file",
        "Fasting per protocol",
        "Today's medications reviewed",
        "Driver confirmed",
        "Prescriber on site",
        "Pulse oximeter available",
        "Esketamine REMS enrollment confirmed",
        "No nasal corticosteroid or decongestant in the last hour",
    ):
        page.get_by_label(label).check()
    _click(page, "Save pre-dose checks")
    # The REMS medication review at the pre-dose check.
    meds = page.locator("form[action$='/rems/medications']")
    meds.get_by_label("Benzodiazepine", exact=True).check()
    _click(page, "Reviewed today")
    expect(page.locator("#rems-meds-h + p")).to_contain_text("Benzodiazepine")
    _vitals(page, 124, 78)
    page.get_by_label("Dose", exact=True).and_(page.locator("select")).select_option("56")
    page.get_by_label("Lot number").fill("ESK-9001")
    _click(page, "Record dose")
    clock.advance(timedelta(minutes=5))
    page.get_by_label("Lot number").fill("ESK-9001")
    _click(page, "Record device 2")
    clock.advance(timedelta(minutes=35))
    _vitals(page, 150, 90)
    _scores(page)
    clock.advance(timedelta(minutes=81))
    _vitals(page, 126, 80)
    _scores(page)
    # The REMS questions come pre-filled from the chart; the nurse adds the minutes and confirms.
    answers = page.locator("form[action$='/rems/answers']")
    expect(answers.get_by_label("Yes").first).to_be_checked()
    answers.get_by_label("Without the 2-hour rule").fill("75")
    _click(page, "Confirm REMS answers")
    expect(page.locator("#rems-answers")).to_contain_text("Confirmed")
    page.locator("#rems-answers").screenshot(path=f"{SCREENSHOTS}/rems_session_answers.png")
    assert_accessible(page)
    form = page.locator("form[action$='/discharge']")
    form.get_by_label("Alert and oriented").check()
    form.get_by_label("Steady gait").check()
    form.get_by_label("The confirmed driver").check()
    _click(page, "Discharge")
    page.get_by_label("Your password").fill(PASSWORD)
    _click(page, "Sign session")


def test_nurse_charts_signs_submits_and_an_addendum_reopens_the_form(live_app, page):
    app, base = live_app
    clock.freeze(datetime.now(UTC).replace(hour=17, minute=0, second=0, microsecond=0))
    _book_esketamine_today(app)
    sign_in(page, base, "nurse")
    # The monitoring HCP's phone and email, once, on the account page.
    page.goto(base + "/account/rems-contact")
    page.get_by_label("Telephone").fill("555-010-0101")
    page.get_by_label("Email").fill("nurse@clinic.example")
    _click(page, "Save")

    page.goto(base + "/today")
    _click(page, "Check in Rhea Rems")
    _chart_until_signed(page)
    session_url = page.url

    page.get_by_role("link", name="Monitoring form").click()
    page.wait_for_load_state()
    expect(page.locator(".rems-state")).to_have_text("Ready to submit")
    assert not page.locator("#missing-h").count()
    expect(page.locator(".rems-form")).to_contain_text("ESK-9001")
    expect(page.locator(".rems-form")).to_contain_text("150/90")
    assert_accessible(page)
    page.emulate_media(media="print")
    page.screenshot(path=f"{SCREENSHOTS}/rems_form_print.png", full_page=True)
    page.emulate_media(media="screen")
    page.screenshot(path=f"{SCREENSHOTS}/rems_form_screen.png", full_page=True)

    page.get_by_label("Online (SPRAVATOrems.com)").check()
    page.get_by_label("Confirmation number").fill("SRX-1234")
    _click(page, "Mark submitted")
    expect(page.locator(".rems-state")).to_have_text("Submitted")

    page.goto(base + "/rems")
    assert_accessible(page)
    expect(page.locator("#submitted-h + ul")).to_contain_text("SRX-1234")
    assert not page.locator("table.rems-board").count()

    clock.advance(timedelta(hours=3))
    page.goto(session_url)
    page.get_by_text("Add an addendum").click()
    page.get_by_label("Reason").fill("Late entry")
    page.get_by_label("Correction").fill("Second device lot re-read from the carton.")
    _click(page, "Add addendum")
    page.goto(base + "/rems")
    expect(page.locator("table.rems-board")).to_contain_text("Changed since submitted")
    page.screenshot(path=f"{SCREENSHOTS}/rems_board.png", full_page=True)
    page.get_by_role("link", name="Open form for Rhea Rems").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status").filter(has_text="Changed since submitted")).to_be_visible()
    expect(page.get_by_role("button", name="Mark resubmitted")).to_be_visible()
    assert_accessible(page)
