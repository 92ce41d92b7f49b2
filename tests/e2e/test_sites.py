"""The admin's Sites screen in real Chromium: add a site (a wrong DEA check digit is refused next to
its field), edit it, close one only once nothing is booked on its chairs, and give a new account
its sites; the psychiatrist's chairs page groups chairs by site. Every page passes axe."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair, Site, User
from tests import factories
from tests.e2e.browser import assert_accessible, sign_in
from tests.helpers import PASSWORD


@pytest.fixture
def staff(live_app) -> None:
    app, _ = live_app
    with app.app_context():
        for role in ("admin", "psychiatrist"):
            factories.make_user(role, password=PASSWORD)
        db.session.commit()


def _submit(page, button) -> int:
    with page.expect_navigation() as navigation:
        button.click()
    return navigation.value.status


def _fill_site(page, **fields: str) -> None:
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)


def _booked_site(app) -> None:
    """Midtown (NYC) with a chair that has a visit booked tomorrow."""
    with app.app_context():
        site = factories.site("NYC", name="Midtown", timezone="America/New_York")
        patient = factories.make_patient()
        course = factories.make_course(patient)
        start = utcnow() + timedelta(days=1)
        db.session.add(
            Appointment(
                patient=patient,
                course=course,
                chair=Chair(name="Suite A", site=site),
                starts_at=start,
                ends_at=start + timedelta(hours=2),
                visit_kind="induction",
            )
        )
        db.session.commit()


def test_admin_adds_edits_and_closes_sites(live_app, staff, page):
    app, base = live_app
    _booked_site(app)
    sign_in(page, base, "admin")
    page.get_by_role("link", name="Sites").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Sites"
    assert_accessible(page)

    page.get_by_role("link", name="New site").click()
    page.wait_for_load_state()
    _fill_site(
        page,
        **{
            "Name": "Downtown LA",
            "Short code": "dtla",
            "Street address": "350 S Grand Ave",
            "City": "Los Angeles",
            "ZIP code": "90071",
            "REMS healthcare setting ID": "HCS-12345",
            "Certified on": "2026-01-15",
            "DEA registration number": "BJ1234564",
        },
    )
    page.get_by_label("State").select_option("CA")
    page.get_by_label("Certified in the SPRAVATO REMS as a healthcare setting").check()
    assert _submit(page, page.get_by_role("button", name="Add site")) == 400
    error = page.locator("#dea_number-error")
    assert "does not match the DEA check digit" in error.inner_text()
    assert page.get_by_label("DEA registration number").get_attribute("aria-describedby") == (
        "dea_number-hint dea_number-error"
    )
    assert_accessible(page)

    page.get_by_label("DEA registration number").fill("BJ1234563")
    assert _submit(page, page.get_by_role("button", name="Add site")) == 200
    assert "Downtown LA (DTLA) added." in page.locator("main").inner_text()
    row = page.locator("tbody tr").filter(has_text="Downtown LA")
    assert "HCS-12345" in row.inner_text() and "BJ1234563" in row.inner_text()

    row.get_by_role("link", name="Downtown LA").click()
    page.wait_for_load_state()
    assert_accessible(page)
    page.get_by_label("Name", exact=True).fill("Downtown Los Angeles")
    assert _submit(page, page.get_by_role("button", name="Save site")) == 200
    assert "Downtown Los Angeles (DTLA) saved." in page.locator("main").inner_text()

    midtown = page.locator("tbody tr").filter(has_text="Midtown")
    assert "1 visit" in midtown.inner_text()
    assert _submit(page, midtown.get_by_role("button", name="Close Midtown")) == 400
    assert "Midtown has 1 visit booked from now on: move them to another site first." in (
        page.locator("main").inner_text()
    )
    assert_accessible(page)

    downtown = page.locator("tbody tr").filter(has_text="Downtown Los Angeles")
    assert _submit(page, downtown.get_by_role("button", name="Close Downtown Los Angeles")) == 200
    downtown = page.locator("tbody tr").filter(has_text="Downtown Los Angeles")
    assert "closed" in downtown.inner_text()
    with app.app_context():
        active = dict(db.session.execute(select(Site.code, Site.active)).all())
    assert active == {"DTLA": False, "NYC": True}


def test_new_account_picks_its_sites_and_chairs_are_grouped_by_site(live_app, staff, page):
    app, base = live_app
    _booked_site(app)
    with app.app_context():
        factories.site("DTLA", name="Downtown LA")
        db.session.add(Chair(name="Chair 1", site=factories.site("DTLA")))
        db.session.commit()
    sign_in(page, base, "admin")
    page.goto(base + "/admin/users/new")
    page.get_by_label("Username").fill("jsmith")
    page.get_by_label("Full name").fill("Jo Smith")
    page.get_by_label("Role").select_option("nurse")
    page.get_by_label("Initial password", exact=True).fill("plum umbrella sextant 42")
    page.get_by_label("Initial password again").fill("plum umbrella sextant 42")
    assert _submit(page, page.get_by_role("button", name="Create account")) == 400
    assert page.locator("#sites-error").inner_text() == "Choose at least one site."
    assert_accessible(page)
    page.get_by_label("Initial password", exact=True).fill("plum umbrella sextant 42")
    page.get_by_label("Initial password again").fill("plum umbrella sextant 42")
    page.get_by_label("Midtown (NYC)").check()
    assert _submit(page, page.get_by_role("button", name="Create account")) == 200
    assert_accessible(page)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "jsmith"))
        assert [site.code for site in user.sites] == ["NYC"]

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, base, "psychiatrist")
    page.goto(base + "/settings/chairs")
    sections = page.locator("section.site-chairs")
    assert sections.count() == 2
    assert "Downtown LA" in sections.nth(0).inner_text()
    assert "Suite A" in sections.nth(1).inner_text()
    page.get_by_label("Chair name").fill("Suite B")
    page.get_by_label("Site", exact=True).select_option(label="Midtown (NYC)")
    assert _submit(page, page.get_by_role("button", name="Add chair")) == 200
    assert "Suite B added at Midtown" in page.locator("main").inner_text()
    assert_accessible(page)
