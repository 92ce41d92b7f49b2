"""The current site in real Chromium: the psychiatrist switches the Today board between Los
Angeles, New York and All sites with the header picker (remembered across pages), each visit at
its own site's time; a one-site nurse has no picker and is refused the other site's board. Every
page passes axe."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair
from tests import factories
from tests.e2e.browser import assert_accessible, sign_in
from tests.helpers import PASSWORD

SHOTS = "/tmp/sitescope-{}.png"


@pytest.fixture
def two_sites(live_app) -> None:
    """MAIN (Los Angeles) and NYC (New York) with a chair and a visit each, both started a few
    minutes ago (today at either site); the psychiatrist works at both, the nurse at MAIN."""
    app, _ = live_app
    with app.app_context():
        main = factories.site(name="Downtown LA")
        nyc = factories.site("NYC", "America/New_York", name="Midtown")
        factories.make_user("psychiatrist", password=PASSWORD)  # joins every open site
        nurse = factories.make_user("nurse", password=PASSWORD)
        nurse.sites = [main]
        start = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=5)
        for site, last in ((main, "Westside"), (nyc, "Eastside")):
            patient = factories.make_patient(first_name="Pat", last_name=last)
            patient.usual_site = site
            db.session.add(
                Appointment(
                    patient=patient,
                    course=factories.make_course(patient),
                    chair=Chair(name=f"{site.code} chair", site=site),
                    starts_at=start,
                    ends_at=start + timedelta(hours=2),
                    visit_kind="induction",
                )
            )
        db.session.commit()


def _pick(page, label: str) -> None:
    page.get_by_label("Site", exact=True).select_option(label=label)
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()


def test_the_psychiatrist_switches_sites_and_a_one_site_nurse_cannot(live_app, two_sites, page):
    _, base = live_app
    sign_in(page, base, "psychiatrist")
    page.goto(base + "/today")
    _pick(page, "Midtown")
    board = page.locator("table.board tbody")
    expect(board).to_contain_text("Eastside")
    expect(board).not_to_contain_text("Westside")
    assert_accessible(page)
    page.screenshot(path=SHOTS.format("today-nyc"), full_page=True)

    _pick(page, "All sites")
    expect(page.locator(".zones-note")).to_be_visible()
    expect(board).to_contain_text("Eastside")
    expect(board).to_contain_text("Westside")
    assert_accessible(page)
    page.screenshot(path=SHOTS.format("today-all"), full_page=True)

    # Remembered: the week calendar opens on the same choice, and its links keep it.
    page.goto(base + "/schedule/week")
    expect(page.get_by_label("Site", exact=True)).to_have_value("ALL")
    assert "site=ALL" in page.get_by_role("link", name="Next week").get_attribute("href")
    assert_accessible(page)
    page.screenshot(path=SHOTS.format("week-all"), full_page=True)

    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    sign_in(page, base, "nurse")
    page.goto(base + "/today")
    page.screenshot(path=SHOTS.format("today-nurse"), full_page=True)
    expect(page.locator(".nav-account")).to_contain_text("nurse")
    expect(page.locator("#site-picker")).to_have_count(0)
    expect(page.locator("table.board tbody")).to_contain_text("Westside")
    expect(page.locator("table.board tbody")).not_to_contain_text("Eastside")
    assert_accessible(page)
    response = page.goto(base + "/today?site=NYC")
    assert response is not None and response.status == 403
