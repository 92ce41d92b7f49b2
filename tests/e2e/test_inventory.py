"""Controlled-substance records in real Chromium: an IV dose drawn from a vial on the session
page, the rest of the vial wasted with a witness, a count with a variance that opens a
discrepancy, and the psychiatrist classifying it. Every page passes axe."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from clinic_app.clinical.ledger import MovementKind
from clinic_app.extensions import db
from clinic_app.inventory.movements import move
from clinic_app.models import StockContainer, StockDiscrepancy, StockMovement
from clinic_app.settings import clinic_today
from tests import factories
from tests.e2e.browser import assert_accessible, sign_in
from tests.helpers import PASSWORD
from tests.inventory.builders import receive_stock, session_at, stocked_site

SHOTS = "/tmp/cs_shots"
D1 = Decimal("1")


@pytest.fixture
def ready(live_app) -> dict:
    """Nurse and psychiatrist at MAIN with two 100 mg/mL vials and an IV session ready to dose."""
    app, _ = live_app
    with app.app_context():
        for role in ("nurse", "psychiatrist"):
            factories.make_user(role, password=PASSWORD)
        site = stocked_site()
        vials = receive_stock(site)
        treatment = session_at(site)
        db.session.commit()
        return {"sid": treatment.id, "vials": [v.id for v in vials]}


def _submit(page, button) -> int:
    with page.expect_navigation() as navigation:
        button.click()
    return navigation.value.status


def _shot(page, name: str) -> None:
    page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_dose_from_a_vial_waste_count_and_discrepancy(live_app, ready, page, browser):
    app, base = live_app
    sign_in(page, base, "nurse")
    page.goto(f"{base}/sessions/{ready['sid']}")
    page.get_by_label("Weight today (kg)").fill("80")
    page.get_by_label("Concentration (mg/mL)").fill("1")
    page.get_by_label("Pump rate (mL/h)").fill("60")
    page.get_by_label("Vial drawn from").select_option(str(ready["vials"][0]))
    assert_accessible(page)
    _shot(page, "session-dose")
    assert _submit(page, page.get_by_role("button", name="Record dose")) == 200
    assert "Lot KET-A1" in page.locator("#dose-h").locator("..").inner_text()

    page.goto(f"{base}/inventory")
    assert_accessible(page)
    _shot(page, "inventory")
    page.get_by_role("link", name="V-00001").first.click()
    page.wait_for_load_state()
    assert "4.6 mL" in page.inner_text("main")
    page.get_by_label("Quantity wasted (mL)").fill("0.6")
    page.get_by_label("Witness (username)").fill("psychiatrist")
    page.get_by_label("Witness's password").fill(PASSWORD)
    assert_accessible(page)
    assert _submit(page, page.get_by_role("button", name="Record waste")) == 200
    _shot(page, "container")
    assert "Waste recorded with its witness." in page.inner_text("main")

    page.goto(f"{base}/inventory/count")
    page.get_by_label("V-00001 found (mL)").fill("3.9")
    page.get_by_label("V-00002 found (mL)").fill("5")
    page.get_by_label("Second counter (username)").fill("psychiatrist")
    page.get_by_label("Second counter's password").fill(PASSWORD)
    assert_accessible(page)
    _shot(page, "count")
    assert _submit(page, page.get_by_role("button", name="Record count")) == 200
    assert "expected 4, found 3.9 (-0.1 mL)" in page.inner_text("main")

    registrant = browser.new_page()
    registrant.set_viewport_size({"width": 1280, "height": 900})
    sign_in(registrant, base, "psychiatrist")
    registrant.goto(f"{base}/inventory/discrepancies")
    assert_accessible(registrant)
    registrant.get_by_label("Classification").select_option("explained")
    registrant.get_by_label("What was found").fill("Drop lost drawing the dose; both saw it.")
    assert _submit(registrant, registrant.get_by_role("button", name="Classify")) == 200
    _shot(registrant, "discrepancies")
    assert "Classified: Explained" in registrant.inner_text("main")
    assert "Discrepancy closed." in registrant.inner_text("main")
    registrant.close()

    with app.app_context():
        vial = db.session.get(StockContainer, ready["vials"][0])
        assert str(vial.remaining) == "3.90"
        assert db.session.scalar(select(StockDiscrepancy.closed_at)) is not None
        kinds = db.session.scalars(
            select(StockMovement.kind).where(StockMovement.container_id == vial.id)
        ).all()
        assert kinds == ["receive", "administer", "waste", "count_adjust"]


def test_registrant_pages_pass_axe(live_app, ready, page):
    """Receipts (a new one checked by the nurse), the dispensing log, products and a signed
    biennial inventory, each checked with axe."""
    app, base = live_app
    with app.app_context():
        today = clinic_today()
    sign_in(page, base, "psychiatrist")
    page.goto(f"{base}/inventory/receipts")
    page.get_by_label("Date received").fill(str(today))
    page.get_by_label("Invoice or packing-slip number").fill("INV-77")
    page.get_by_label("Stored in").fill("Fridge, locked")
    page.get_by_label("Supplier", exact=True).fill("Cardinal Health")
    page.get_by_label("Supplier address").fill("7000 Cardinal Pl, Dublin OH")
    page.get_by_label("Supplier DEA number").fill("RC0123455")
    page.get_by_label("Product, line 1").select_option(
        label="Spravato nasal spray device 28 mg/device (50458-028-00)"
    )
    page.get_by_label("Lot, line 1").fill("SPR-9")
    page.get_by_label("Expiry, line 1").fill(str(today.replace(year=2030)))
    page.get_by_label("Containers, line 1").fill("3")
    page.get_by_label("Checked by (username)").fill("nurse")
    page.get_by_label("Checker's password").fill(PASSWORD)
    assert _submit(page, page.get_by_role("button", name="Record receipt")) == 400
    assert "check digit" in page.locator("#supplier_dea-error").inner_text()
    assert_accessible(page)
    page.get_by_label("Supplier DEA number").fill("RC0123454")
    page.get_by_label("Checker's password").fill(PASSWORD)
    assert _submit(page, page.get_by_role("button", name="Record receipt")) == 200
    assert "SPR-9" in page.inner_text("main")
    _shot(page, "receipts")
    with app.app_context():
        vial = db.session.get(StockContainer, ready["vials"][1])
        housed = factories.make_patient(
            address_line1="555 Example St", city="Pasadena", state="CA", zip_code="91101"
        )
        for patient in (housed, factories.make_patient(first_name="Una")):
            move(factories.user("nurse"), vial, MovementKind.ADMINISTER, D1, patient_id=patient.id)
        db.session.commit()
    for url in ("/inventory/dispensing", "/inventory/products", "/inventory/inventories"):
        page.goto(base + url)
        assert_accessible(page)
        _shot(page, url.rsplit("/", 1)[1])
        if url.endswith("dispensing"):
            log = page.locator("#dispensing").inner_text()
            assert "555 Example St, Pasadena, CA 91101" in log and "address not recorded" in log
    page.get_by_label("Your password (signs the inventory)").fill(PASSWORD)
    assert _submit(page, page.get_by_role("button", name="Sign inventory")) == 200
    assert_accessible(page)
    _shot(page, "inventory-record")
    assert "SPR-9" in page.inner_text("main")
