"""The front desk's day in real Chromium: register a new esketamine patient, (the psychiatrist
prescribes,) plan and book the 8-visit induction, move a visit, confirm tomorrow's drivers, mark a
no-show and book its make-up, and print the patient's handout. Every page passes axe."""

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import expect
from sqlalchemy import select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair, Patient
from clinic_app.patients.services import open_course, record_screen
from tests import factories
from tests.e2e.browser import assert_accessible, sign_in
from tests.helpers import PASSWORD

ZONE = ZoneInfo("America/Los_Angeles")
MONDAY = date(2026, 4, 6)
DOSES = ("56 mg", "84 mg", "mg/kg")


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE).astimezone(UTC)


def _setup(app) -> None:
    with app.app_context():
        factories.site()  # first, so the staff work at it
        for role in ("front_desk", "psychiatrist", "nurse"):
            factories.make_user(role, password=PASSWORD)
        db.session.add_all(Chair(name=f"Chair {n}", site=factories.site()) for n in range(1, 5))
        db.session.commit()


def _prescribe(app, mrn: str) -> None:
    """The psychiatrist's part, written directly: the clinical screen (three failed
    antidepressant trials, so TRD needs no further reason) and an esketamine course at 56 mg."""
    with app.app_context():
        patient = db.session.scalar(select(Patient).where(Patient.mrn == mrn))
        psychiatrist = factories.user("psychiatrist")
        record_screen(
            psychiatrist,
            patient,
            {
                "allergies": "NKDA",
                "contraindications": [],
                "medication_classes": [],
                "failed_trials": 3,
                "consent_date": MONDAY,
                "rems_enrolled_on": MONDAY,
            },
            patient.version_id,
        )
        open_course(
            psychiatrist,
            patient,
            {
                "modality": "esketamine_nasal",
                "indication": "trd",
                "esketamine_dose_mg": "56",
                "started_on": MONDAY,
            },
        )
        db.session.commit()


def _visits(app) -> list[Appointment]:
    with app.app_context():
        rows = db.session.scalars(select(Appointment).order_by(Appointment.starts_at)).all()
        db.session.expunge_all()
        return list(rows)


def _no_doses(page) -> None:
    content = page.content()
    assert not any(s in content for s in DOSES), page.url


def test_front_desk_books_and_manages_an_induction_series(live_app, page):
    app, base = live_app
    clock.freeze(_at(MONDAY, 8, 0))
    _setup(app)

    # Sign in: the front desk starts on the calendar.
    sign_in(page, base, "front_desk")
    expect(page).to_have_url(base + "/schedule/")
    assert "Mon 6 Apr 2026" in page.content()
    assert_accessible(page)

    # Register the new patient: demographics, driver and preferences (the clinical screen,
    # with consent and REMS enrollment, is for a nurse or the psychiatrist).
    page.get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Register patient").click()
    page.get_by_label("First name").fill("Erin")
    page.get_by_label("Last name").fill("Eskay")
    page.get_by_label("MRN", exact=True).fill("E2E-100")
    page.get_by_label("Date of birth").fill("1984-09-12")
    page.get_by_label("Sex", exact=True).select_option("female")
    page.get_by_label("Phone", exact=True).fill("555-0142")
    page.get_by_label("Street address").fill("555 Example St")
    page.get_by_label("City").fill("Glendale")
    page.get_by_label("State").select_option("CA")
    page.get_by_label("ZIP code").fill("9120")
    page.get_by_label("Default driver / escort").fill("Dana Eskay")
    page.get_by_label("Driver phone").fill("555-0143")
    page.get_by_label("Relationship").fill("Spouse")
    page.get_by_label("Tuesday").check()
    page.get_by_label("Friday").check()
    page.get_by_label("Preferred start time").fill("09:30")
    expect(page.get_by_label("Allergies")).to_have_count(0)
    assert_accessible(page)
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert "5 digits" in page.locator("#zip_code-error").inner_text()
    assert_accessible(page)
    page.screenshot(path="/tmp/addr_shots/patient-form-error.png", full_page=True)
    page.get_by_label("ZIP code").fill("91203")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert "Patient registered." in page.content()
    assert "Clinical screen incomplete" in page.content()
    assert "555 Example St" in page.locator("#patient-address").inner_text()
    assert_accessible(page)
    page.screenshot(path="/tmp/addr_shots/patient-record.png", full_page=True)

    # The psychiatrist screens the patient and prescribes the course.
    _prescribe(app, "E2E-100")

    # Find the patient on the schedule and plan the induction.
    page.get_by_role("link", name="Schedule").click()
    page.get_by_role("link", name="Find patient").click()
    page.get_by_label("Search by name or MRN").fill("Eskay")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Eskay, Erin").click()
    page.wait_for_load_state()
    assert_accessible(page)
    page.get_by_role("link", name="Plan visits").click()
    page.wait_for_load_state()
    expect(page.get_by_label("Preferred start time")).to_have_value("09:30")
    # Times are typed 24-hour, as every page shows them (no AM/PM time picker).
    assert page.get_by_label("Preferred start time").get_attribute("type") == "text"
    assert page.get_by_label("Tuesday").is_checked() and page.get_by_label("Friday").is_checked()
    assert_accessible(page)
    page.get_by_role("button", name="Propose visits").click()
    page.wait_for_load_state()
    assert "Proposed induction series: 8 visits" in page.content()
    expect(page.get_by_label("Driver / escort")).to_have_value("Dana Eskay")
    _no_doses(page)
    assert_accessible(page)
    page.get_by_role("button", name="Book 8 visits").click()
    page.wait_for_load_state()
    assert "Booked 8 visits." in page.content()
    visits = _visits(app)
    assert len(visits) == 8 and len({v.series_id for v in visits}) == 1
    days = [v.starts_at.astimezone(ZONE).date() for v in visits]
    assert [d.weekday() for d in days] == [1, 4] * 4
    assert {v.starts_at.astimezone(ZONE).time() for v in visits} == {time(9, 30)}
    assert_accessible(page)

    # Move visit 3 (Tuesday 14 April) to Wednesday 15 April at 11:00.
    page.get_by_role("link", name="Tue 14 Apr 2026").click()
    page.wait_for_load_state()
    assert "Induction 3/8" in page.content()
    assert_accessible(page)
    move = page.locator("form[action$='/move']")
    move.get_by_label("New date").fill("2026-04-15")
    move.get_by_label("New start time").fill("11:00")
    move.get_by_label("This visit only").check()
    move.get_by_role("button", name="Move visit").click()
    page.wait_for_load_state()
    assert "Visit moved" in page.content()
    moved = _visits(app)[2]
    assert moved.starts_at == _at(date(2026, 4, 15), 11, 0)

    # The week calendar shows the series by chair.
    page.get_by_role("link", name="Week").click()
    page.wait_for_load_state()
    assert "Induction 3/8" in page.content() and "Induction 4/8" in page.content()
    _no_doses(page)
    assert_accessible(page)

    # Confirm tomorrow's driver.
    page.get_by_role("link", name="Driver calls").click()
    page.wait_for_load_state()
    assert "Driver calls · Tue 7 Apr 2026" in page.content()
    assert_accessible(page)
    page.get_by_role("button", name="Confirmed driver of Erin Eskay").click()
    page.wait_for_load_state()
    first = _visits(app)[0]
    assert (first.driver_status, first.status) == ("confirmed", "confirmed")
    assert "Driver: confirmed" in page.content()
    assert "Driver call recorded for Erin Eskay (09:30): confirmed." in page.content()

    # Tuesday 10:00: the patient did not come. Mark the no-show and book the make-up.
    clock.freeze(_at(date(2026, 4, 7), 10, 0))
    page.goto(f"{base}/schedule/appointments/{first.id}")
    noshow = page.locator("form[action$='/no-show']")
    noshow.get_by_label("Reason", exact=True).select_option("no_contact")
    noshow.get_by_role("button", name="Mark as no-show").click()
    page.wait_for_load_state()
    assert "Marked as a no-show." in page.content()
    assert _visits(app)[0].status == "no_show"
    assert "Next day that keeps the series' rhythm" in page.content()
    assert_accessible(page)
    page.get_by_role("button", name="Book").first.click()
    page.wait_for_load_state()
    assert "Make-up visit booked." in page.content()
    makeup = [v for v in _visits(app) if v.status == "scheduled" and v.sequence_no == 1]
    assert len(makeup) == 1 and makeup[0].starts_at.astimezone(ZONE).date() == date(2026, 4, 8)

    # The patient's schedule page counts the no-show; print the handout.
    page.get_by_role("link", name="Erin Eskay").click()
    page.wait_for_load_state()
    assert "No-shows" in page.content()
    assert_accessible(page)
    page.get_by_role("link", name="Patient handout").click()
    page.wait_for_load_state()
    content = page.content()
    assert "Your upcoming visits" in content
    assert "Do not eat for 2 hours and do not drink anything for 30 minutes" in content
    assert "until the next day, after a restful sleep" in content
    assert "Wed 8 Apr 2026" in content
    # 09:30 + dosing 15 min + observation 120 min: the driver collects at 11:45.
    assert "Driver collects you at" in content and "11:45" in content
    _no_doses(page)
    assert_accessible(page)
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print handout")).to_be_hidden()
    expect(page.locator(".app-nav")).to_be_hidden()
    page.emulate_media(media="screen")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download calendar (.ics)").click()
    assert download.value.suggested_filename == "clinic-visits.ics"
    calendar = Path(download.value.path()).read_text()
    assert "LOCATION:Clinic" in calendar and "SUMMARY:Clinic" in calendar
    assert "STATUS:TENTATIVE" in calendar and "ketamine" not in calendar.lower()


def test_front_desk_books_an_intake_and_acts_on_a_missing_driver(live_app, page):
    app, base = live_app
    clock.freeze(_at(MONDAY, 8, 0))
    _setup(app)
    with app.app_context():
        patient = factories.make_patient(first_name="Ivy", last_name="Intake")
        db.session.commit()
        patient_id = patient.id
    sign_in(page, base, "front_desk")

    # A new patient with no course yet: book the intake visit from the schedule page.
    page.goto(f"{base}/schedule/patients/{patient_id}")
    assert "a consult or intake visit can be booked now" in page.content()
    consult = page.locator("form[action$='/consult']")
    consult.get_by_label("Date").fill("2026-04-07")
    consult.get_by_label("Start").fill("10:00")
    assert consult.get_by_label("Start").get_attribute("type") == "text"
    assert_accessible(page)
    consult.get_by_role("button", name="Book consult").click()
    page.wait_for_load_state()
    assert "Consult booked." in page.content()
    [visit] = _visits(app)
    assert (visit.visit_kind, visit.course_id) == ("consult", None)

    # Tomorrow's call finds no driver: the page says so and offers to move or cancel.
    page.get_by_role("link", name="Driver calls").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="No driver for Ivy Intake").click()
    page.wait_for_load_state()
    content = page.content()
    assert "Driver call recorded for Ivy Intake (10:00): no driver." in content
    assert "may not drive home: move or cancel the visit" in content
    assert_accessible(page)
    page.get_by_role("link", name="Move or cancel the visit").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/schedule/appointments/{visit.id}#move")
