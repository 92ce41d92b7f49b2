"""Inventory pages: who may open them, the dose step's pickers and refusals beside the field,
waste, counts and discrepancies through the forms, the ledger CSV re-adding to the page, and
bounded statement counts (issue 16)."""

import csv
import io
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from clinic_app import clock
from clinic_app.clinical.ledger import MovementKind
from clinic_app.extensions import db
from clinic_app.inventory.movements import move
from clinic_app.models import StockContainer, StockDiscrepancy, StockMovement, TreatmentSession
from clinic_app.settings import clinic_today
from clinic_app.treatments import services
from tests import factories
from tests.helpers import (
    CLINIC_ZONE,
    PASSWORD,
    audit_rows,
    count_statements,
    field_errors,
    flashes,
    page_statements,
    pdf_pages,
    soup,
    text,
)
from tests.inventory.builders import receive_stock, session_at, stocked_site

D = Decimal
HOME = {
    "address_line1": "555 Example St",
    "address_line2": "Apt 3",
    "city": "Pasadena",
    "state": "CA",
    "zip_code": "91101",
}


@pytest.fixture
def stock(app, staff):
    """Two 100 mg/mL vials and two Spravato devices at MAIN; ids by name."""
    with app.app_context():
        site = stocked_site()
        vials = receive_stock(site)
        devices = receive_stock(site, "50458-028-00", lot="ESK-7")
        db.session.commit()
        return {"vials": [v.id for v in vials], "devices": [d.id for d in devices]}


@pytest.mark.parametrize(
    "url",
    [
        "/inventory",
        "/inventory/receipts",
        "/inventory/count",
        "/inventory/discrepancies",
        "/inventory/dispensing",
        "/inventory/dispensing.csv",
        "/inventory/ledger.csv",
    ],
)
def test_front_desk_and_admin_may_not_open_inventory_pages(app, as_role, stock, url):
    assert as_role("front_desk").get(url).status_code == 403
    assert as_role("admin").get(url).status_code == 403
    assert as_role("nurse").get(url).status_code == 200
    assert as_role("psychiatrist").get(url).status_code == 200


def test_a_site_the_user_does_not_work_at_is_refused(app, as_role, stock):
    with app.app_context():
        factories.site("EAST")
        db.session.commit()
    assert as_role("nurse").get("/inventory?site=EAST").status_code == 403


def test_the_stock_page_shows_each_lot_and_its_expiry_warning(app, as_role, stock):
    with app.app_context():
        soon = clinic_today() + timedelta(days=10)
        receive_stock(stocked_site(), containers=1, lot="SOON", expiry=soon)
        db.session.commit()
    page = as_role("nurse").get("/inventory")
    rows = {row["data-lot"]: row for row in soup(page).select("#stock tbody tr[data-lot]")}
    assert rows["KET-A1"]["data-on-hand"] == "10.00"
    assert rows["ESK-7"]["data-on-hand"] == "2.00"
    assert "Expires within 30 days" in rows["SOON"].get_text()
    assert "Expires" not in rows["KET-A1"].get_text()
    assert "No open vials." in text(page)
    assert "Today's count is pending" in soup(page).find(id="count-status").get_text()
    clock.advance(timedelta(days=11))
    rows = soup(as_role("nurse").get("/inventory")).select("#stock tbody tr[data-lot]")
    assert "Expired" in next(r for r in rows if r["data-lot"] == "SOON").get_text()


def _csv(response):
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_ledger_csv_re_adds_to_the_page_balances(app, as_role, stock, staff):
    nurse = as_role("nurse")
    with app.app_context():
        site = stocked_site()
        treatment = session_at(site)
        db.session.commit()
        sid, version = treatment.id, treatment.version_id
    dosed = nurse.post(
        f"/sessions/{sid}/dose",
        data={
            "weight_kg": "80",
            "pump_concentration_mg_per_ml": "1",
            "pump_rate_ml_per_hour": "60",
            "vial_id": str(stock["vials"][0]),
            "version_id": str(version),
        },
    )
    assert dosed.status_code == 302, field_errors(dosed)
    chart = soup(nurse.get(f"/sessions/{sid}")).find(id="stock-draws").get_text(" ", strip=True)
    assert "V-00001 (lot KET-A1) 0.4 mL = 40 mg" in " ".join(chart.split())
    rows = _csv(nurse.get("/inventory/ledger.csv?site=MAIN"))
    by_container: dict[str, Decimal] = defaultdict(Decimal)
    by_lot: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        by_container[row["container"]] += D(row["quantity"])
        by_lot[row["lot"]] += D(row["quantity"])
        assert D(row["running_balance"]) == by_container[row["container"]]
    assert [r["kind"] for r in rows].count("administer") == 1
    page = nurse.get("/inventory")
    shown = {
        row["data-lot"]: D(row["data-on-hand"])
        for row in soup(page).select("#stock tbody tr[data-lot]")
    }
    assert shown == dict(by_lot) == {"KET-A1": D("9.6"), "ESK-7": D(2)}
    by_product = {
        row["data-ndc"]: D(row["data-on-hand"]) for row in soup(page).select("#by-product tbody tr")
    }
    assert by_product == {"0409-2051-05": D("9.6"), "50458-028-00": D(2)}


def test_the_dose_step_offers_the_vials_and_refuses_an_overdraw_beside_the_field(
    app, as_role, stock
):
    nurse = as_role("nurse")
    with app.app_context():
        site = stocked_site()
        treatment = session_at(site)
        vial = db.session.get(StockContainer, stock["vials"][0])
        vial.remaining = D("0.2")  # as if drawn before (the CHECK allows it, the ledger disagrees)
        db.session.commit()
        sid, version = treatment.id, treatment.version_id
    page = nurse.get(f"/sessions/{sid}")
    options = [o.get_text() for o in soup(page).select("#vial_id option")]
    assert any("lot KET-A1" in o and "0.2 mL left" in o for o in options)
    assert soup(page).find(id="lot_number") is None
    refused = nurse.post(
        f"/sessions/{sid}/dose",
        data={
            "weight_kg": "80",
            "pump_concentration_mg_per_ml": "1",
            "pump_rate_ml_per_hour": "60",
            "vial_id": str(stock["vials"][0]),
            "version_id": str(version),
        },
    )
    assert refused.status_code == 400
    assert "too little" in field_errors(refused)["vial_id"]
    with app.app_context():
        assert db.session.get(TreatmentSession, sid).dose_started_at is None
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(StockMovement)
                .where(StockMovement.kind == "administer")
            )
            == 0
        )


def test_the_dose_step_refuses_a_vial_under_an_unclassified_discrepancy_beside_the_field(
    app, as_role, stock
):
    nurse = as_role("nurse")
    held, other = stock["vials"]
    counted = _count(nurse, stock, held, "4.8")
    assert counted.status_code == 302
    with app.app_context():
        treatment = session_at(stocked_site())
        db.session.commit()
        sid, version = treatment.id, treatment.version_id
    page = nurse.get(f"/sessions/{sid}")
    options = {o["value"]: o.get_text() for o in soup(page).select("#vial_id option")}
    assert "held: count discrepancy" in options[str(held)]
    assert "held" not in options[str(other)]
    refused = nurse.post(
        f"/sessions/{sid}/dose",
        data={
            "weight_kg": "80",
            "pump_concentration_mg_per_ml": "1",
            "pump_rate_ml_per_hour": "60",
            "vial_id": str(held),
            "version_id": str(version),
        },
    )
    assert refused.status_code == 400
    assert field_errors(refused) == {
        "vial_id": "This vial has a count discrepancy the registrant has not classified yet; "
        "use another vial until it is."
    }
    with app.app_context():
        assert db.session.get(TreatmentSession, sid).dose_started_at is None
        kinds = db.session.scalars(select(StockMovement.kind)).all()
        assert MovementKind.ADMINISTER not in kinds


def _punctured(app, vial_id: int, days_ago: int, session_id: int | None = None) -> None:
    """A first draw from the vial `days_ago` days ago (which opens it)."""
    with app.app_context():
        vial = db.session.get(StockContainer, vial_id)
        at = clock.utcnow() - timedelta(days=days_ago)
        move(
            factories.user("nurse"),
            vial,
            MovementKind.ADMINISTER,
            D("0.1"),
            occurred_at=at,
            session_id=session_id,
        )
        db.session.commit()


def test_the_dose_step_refuses_a_vial_past_its_beyond_use_date_beside_the_field(
    app, as_role, stock
):
    old, fresh = stock["vials"]
    _punctured(app, old, 29)
    _punctured(app, fresh, 27)
    with app.app_context():
        treatment = session_at(stocked_site())
        db.session.commit()
        sid, version = treatment.id, treatment.version_id
        opened_on = (clock.utcnow() - timedelta(days=29)).astimezone(CLINIC_ZONE).date()
        opened, last = opened_on.isoformat(), (opened_on + timedelta(days=28)).isoformat()
    nurse = as_role("nurse")
    options = {
        o["value"]: o.get_text()
        for o in soup(nurse.get(f"/sessions/{sid}")).select("#vial_id option")
    }
    assert f"use by {last} · not for this dose: waste it" in options[str(old)]
    assert "use by " in options[str(fresh)]
    assert "waste it" not in options[str(fresh)]
    dose = {
        "weight_kg": "80",
        "pump_concentration_mg_per_ml": "1",
        "pump_rate_ml_per_hour": "60",
        "version_id": str(version),
    }
    refused = nurse.post(f"/sessions/{sid}/dose", data=dose | {"vial_id": str(old)})
    assert refused.status_code == 400
    assert field_errors(refused) == {
        "vial_id": f"This vial was first punctured on {opened}; its beyond-use date was {last}. "
        "Waste what is left and use another vial."
    }
    with app.app_context():
        assert db.session.get(TreatmentSession, sid).dose_started_at is None
        assert db.session.get(StockContainer, old).remaining == D("4.9")
    assert (
        nurse.post(f"/sessions/{sid}/dose", data=dose | {"vial_id": str(fresh)}).status_code == 302
    )


def test_the_inventory_and_container_pages_flag_vials_past_their_beyond_use_date(
    app, as_role, stock
):
    old, fresh = stock["vials"]
    _punctured(app, old, 29)
    _punctured(app, fresh, 3)
    nurse = as_role("nurse")
    with app.app_context():
        old_label = db.session.get(StockContainer, old).label
    page = soup(nurse.get("/inventory"))
    stale = page.find("li", attrs={"data-container": str(old)}).get_text(" ", strip=True)
    good = page.find("li", attrs={"data-container": str(fresh)}).get_text(" ", strip=True)
    assert "Past its beyond-use date: waste the remainder" in stale
    assert "Past its beyond-use date" not in good
    container = soup(nurse.get(f"/inventory/containers/{old}"))
    use_by = container.find(id="beyond-use").get_text(" ", strip=True)
    assert "multiple-dose vial" in use_by and "Past its beyond-use date" in use_by
    assert old_label in container.find("h1").get_text()
    fresh_page = soup(nurse.get(f"/inventory/containers/{fresh}"))
    assert "Past its" not in fresh_page.find(id="beyond-use").get_text()
    sealed = soup(nurse.get(f"/inventory/containers/{stock['devices'][0]}"))
    assert sealed.find(id="beyond-use") is None


def test_the_dose_step_runs_as_many_statements_with_many_open_vials(app, as_role, stock):
    with app.app_context():
        treatment = session_at(stocked_site())
        db.session.commit()
        sid = treatment.id
    nurse = as_role("nurse")
    nurse.get(f"/sessions/{sid}")
    few = page_statements(app, nurse, f"/sessions/{sid}")
    with app.app_context():
        site = stocked_site()
        more = receive_stock(site, containers=4, lot="MORE")
        db.session.commit()
        ids = [v.id for v in more]
    for n, vial_id in enumerate(ids):
        _punctured(app, vial_id, 10 * n)
    assert page_statements(app, nurse, f"/sessions/{sid}") == few


def _dose_statements(app, nurse, vial_id: int) -> int:
    """The SQL statements of one IV dose step drawn from `vial_id`, in a new session."""
    with app.app_context():
        treatment = session_at(stocked_site())
        db.session.commit()
        sid, version = treatment.id, treatment.version_id
    nurse.get(f"/sessions/{sid}")
    data = {
        "weight_kg": "80",
        "pump_concentration_mg_per_ml": "1",
        "pump_rate_ml_per_hour": "60",
        "vial_id": str(vial_id),
        "version_id": str(version),
    }
    with count_statements(app) as statements:
        assert nurse.post(f"/sessions/{sid}/dose", data=data).status_code == 302
    return len(statements)


def test_the_dose_step_checks_an_opened_vial_without_more_statements(app, as_role, stock):
    """The beyond-use check reads the vial's own row and the settings the step loads anyway: a
    vial opened 20 days ago costs what one opened today does, and a sealed vial one UPDATE more
    (the one that opens it, in the same flush as its balance's)."""
    nurse = as_role("nurse")
    sealed = _dose_statements(app, nurse, stock["vials"][0])
    _punctured(app, stock["vials"][1], 20)
    older = _dose_statements(app, nurse, stock["vials"][1])
    assert older == _dose_statements(app, nurse, stock["vials"][0]) == sealed - 1


def _receipt(today, **changes):
    data = {
        "received_on": today.isoformat(),
        "supplier_name": "Cardinal Health 110",
        "supplier_address": "7000 Cardinal Pl, Dublin OH 43017",
        "supplier_dea": "RC0123454",
        "invoice_number": "INV-1001",
        "storage_location": "Locked cabinet A",
        "lines-0-product_id": "",
        "lines-0-lot": "KET-A1",
        "lines-0-expiry_date": (today + timedelta(days=365)).isoformat(),
        "lines-0-containers": "2",
        "checker_username": "psychiatrist",
        "checker_password": PASSWORD,
    }
    return data | changes


def test_a_receipt_again_or_a_lot_with_another_expiry_is_refused_beside_the_field(
    app, as_role, stock
):
    """The stock fixture received lot KET-A1 on invoice INV-1001 from this supplier."""
    nurse = as_role("nurse")
    with app.app_context():
        vial = db.session.get(StockContainer, stock["vials"][0])
        product_id = str(vial.line.product_id)
        before = db.session.scalar(select(func.count()).select_from(StockContainer))
        today = clinic_today()
    again = nurse.post(
        "/inventory/receipts", data=_receipt(today, **{"lines-0-product_id": product_id})
    )
    assert again.status_code == 400
    assert field_errors(again) == {
        "invoice_number": "Invoice INV-1001 with lot KET-A1 from this supplier was already "
        f"received at this site on {today.isoformat()}; it is not recorded twice."
    }
    other_expiry = (today + timedelta(days=400)).isoformat()
    changed = nurse.post(
        "/inventory/receipts",
        data=_receipt(
            today,
            invoice_number="INV-2002",
            **{"lines-0-product_id": product_id, "lines-0-expiry_date": other_expiry},
        ),
    )
    assert changed.status_code == 400
    expiry = (today + timedelta(days=365)).isoformat()
    assert field_errors(changed) == {
        "lines-0-expiry_date": f"Lot KET-A1 of this product is on record as expiring on "
        f"{expiry}; one lot has one expiry date: check the label."
    }
    assert ("danger", "Check the lines marked below.") in flashes(changed)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StockContainer)) == before


def test_a_receipt_of_spravato_kits_records_and_shows_packs_and_devices(app, as_role, stock):
    nurse = as_role("nurse")
    with app.app_context():
        today = clinic_today()
        device_product = str(db.session.get(StockContainer, stock["devices"][0]).line.product_id)
        before = db.session.scalar(select(func.count()).select_from(StockContainer))
    form = soup(nurse.get("/inventory/receipts"))
    assert [o["value"] for o in form.select("#lines-0-pack option")] == [
        "",
        "50458-028-02",
        "50458-028-03",
    ]
    kit = {
        "invoice_number": "INV-3003",
        "lines-0-product_id": device_product,
        "lines-0-lot": "ESK-8",
        "lines-0-pack": "50458-028-03",
        "lines-0-packs": "2",
        "lines-0-containers": "5",
    }
    refused = nurse.post("/inventory/receipts", data=_receipt(today, **kit))
    assert refused.status_code == 400
    assert field_errors(refused) == {
        "lines-0-containers": "2 packs of 3 are 6 containers, not 5: check the invoice."
    }
    done = nurse.post(
        "/inventory/receipts", data=_receipt(today, **kit | {"lines-0-containers": ""})
    )
    assert done.status_code == 302
    page = soup(nurse.get(done.headers["Location"]))
    lines = [li.get_text(" ", strip=True) for li in page.select("li.receipt-line")]
    assert any(
        line.startswith("2 packs × Spravato 84 mg kit (NDC 50458-028-03, 3 each) = 6 devices")
        and "lot ESK-8" in line
        for line in lines
    ), lines
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StockContainer)) == before + 6


def test_esketamine_dose_picks_a_device(app, as_role, stock):
    nurse = as_role("nurse")
    with app.app_context():
        treatment = session_at(stocked_site(), "esketamine_nasal")
        db.session.commit()
        sid, version = treatment.id, treatment.version_id
    done = nurse.post(
        f"/sessions/{sid}/dose",
        data={"dose_mg": "56", "device_id": str(stock["devices"][0]), "version_id": str(version)},
    )
    assert done.status_code == 302, field_errors(done)
    with app.app_context():
        t = db.session.get(TreatmentSession, sid)
        assert (t.lot_number, t.devices[0].container_id) == ("ESK-7", stock["devices"][0])


def _open_first_vial(app, stock):
    with app.app_context():
        vial = db.session.get(StockContainer, stock["vials"][0])
        move(factories.user("nurse"), vial, MovementKind.ADMINISTER, D("1"))
        db.session.commit()
        return vial.id


def test_waste_through_the_form_needs_another_persons_password(app, as_role, stock):
    vial_id = _open_first_vial(app, stock)
    nurse = as_role("nurse")
    url = f"/inventory/containers/{vial_id}/waste"
    data = {
        "quantity": "0.5",
        "method": "Drug-waste container",
        "witness_username": "nurse",
        "witness_password": PASSWORD,
    }
    refused = nurse.post(url, data=data)
    assert refused.status_code == 400
    assert field_errors(refused) == {"witness_username": "A second person is needed: not yourself."}
    wrong = nurse.post(
        url, data=data | {"witness_username": "psychiatrist", "witness_password": "nope"}
    )
    assert field_errors(wrong) == {
        "witness_password": "Test psychiatrist, MD's password is not correct."
    }
    done = nurse.post(url, data=data | {"witness_username": "psychiatrist"})
    assert done.status_code == 302
    page = nurse.get(done.headers["Location"])
    assert "Waste recorded with its witness." in [m for _, m in flashes(page)]
    assert "witness Test psychiatrist, MD" in text(page)
    with app.app_context():
        assert db.session.get(StockContainer, vial_id).remaining == D("3.5")


def _count(client, stock, vial_id: int, found: str):
    """A count, witnessed by the psychiatrist, that finds every container full except one vial."""
    counted = {f"c{i}": "5" for i in stock["vials"]} | {f"c{i}": "1" for i in stock["devices"]}
    counted[f"c{vial_id}"] = found
    return client.post(
        "/inventory/count",
        data=counted | {"witness_username": "psychiatrist", "witness_password": PASSWORD},
    )


def _waste(client, vial_id: int, quantity: str, witness: str = "psychiatrist"):
    """The waste form posted with a drug-waste container and the witness's right password."""
    return client.post(
        f"/inventory/containers/{vial_id}/waste",
        data={
            "quantity": quantity,
            "method": "Drug-waste container",
            "witness_username": witness,
            "witness_password": PASSWORD,
        },
    )


def _row_text(row) -> list[str]:
    return [td.get_text(" ", strip=True) for td in row.find_all("td")]


def test_waste_shows_its_mg_on_the_history_the_dispensing_log_and_today(app, as_role, stock):
    """Waste recorded through the form carries its mg; a waste row recorded without it (as
    before) shows the mg from the vial's 100 mg/mL."""
    vial_id = _open_first_vial(app, stock)
    nurse = as_role("nurse")
    done = _waste(nurse, vial_id, "0.37")
    assert done.status_code == 302
    with app.app_context():
        wasted = db.session.scalar(select(StockMovement).where(StockMovement.kind == "waste"))
        assert wasted.quantity_mg == D("37")
        vial = db.session.get(StockContainer, stock["vials"][1])
        move(factories.user("nurse"), vial, MovementKind.ADMINISTER, D("1"))
        move(factories.user("nurse"), vial, MovementKind.WASTE, D("0.25"), method="Sink")
        db.session.commit()
    history = soup(nurse.get(f"/inventory/containers/{vial_id}"))
    rows = [_row_text(r) for r in history.select("#history tbody tr")]
    assert [r[1:3] for r in rows if r[1] == "Wasted"] == [["Wasted", "-0.37 mL (37 mg)"]]
    older = soup(nurse.get(f"/inventory/containers/{stock['vials'][1]}"))
    rows = [_row_text(r) for r in older.select("#history tbody tr")]
    assert [r[2] for r in rows if r[1] == "Wasted"] == ["-0.25 mL (25 mg)"]
    log = soup(nurse.get("/inventory/dispensing?site=MAIN"))
    wastes = [r[6] for r in map(_row_text, log.select("#dispensing tbody tr")) if r[5] == "Wasted"]
    assert sorted(wastes) == ["0.25 mL (25 mg)", "0.37 mL (37 mg)"]
    rows = _csv(nurse.get("/inventory/dispensing.csv?site=MAIN"))
    assert sorted((r["quantity"], r["mg"]) for r in rows if r["kind"] == "waste") == [
        ("0.25", "25.00"),
        ("0.37", "37.00"),
    ]
    today = soup(nurse.get("/inventory?site=MAIN")).find(id="today-h").find_parent("section")
    wastes = [r[3] for r in map(_row_text, today.select("tbody tr")) if r[2] == "Wasted"]
    assert sorted(wastes) == ["-0.25 mL (25 mg)", "-0.37 mL (37 mg)"]


def test_a_waste_or_count_finer_than_a_hundredth_is_refused_beside_the_field(app, as_role, stock):
    """The ledger keeps hundredths: 0.333 mL was a server error, not a message."""
    vial_id = _open_first_vial(app, stock)
    nurse = as_role("nurse")
    wasted = _waste(nurse, vial_id, "0.333")
    assert wasted.status_code == 400
    assert field_errors(wasted) == {
        "quantity": "Give the quantity to the hundredth at most (e.g. 0.35)."
    }
    counted = _count(nurse, stock, vial_id, "3.999")
    assert counted.status_code == 400
    assert field_errors(counted) == {
        f"c{vial_id}": "Give what was found to the hundredth at most (e.g. 4.35)."
    }
    with app.app_context():
        kinds = db.session.scalars(select(StockMovement.kind)).all()
        assert MovementKind.WASTE not in kinds
        assert db.session.scalar(select(func.count()).select_from(StockDiscrepancy)) == 0
        assert db.session.get(StockContainer, vial_id).remaining == D(4)


def test_count_variance_opens_a_discrepancy_the_registrant_classifies(app, as_role, stock):
    nurse = as_role("nurse")
    counted = _count(nurse, stock, stock["vials"][1], "4.8")
    assert counted.status_code == 302
    with app.app_context():
        (d,) = db.session.scalars(select(StockDiscrepancy)).all()
        assert d.variance == D("-0.2")
        discrepancy_id = d.id
    psychiatrist = as_role("psychiatrist")
    assert nurse.post(f"/inventory/discrepancies/{discrepancy_id}").status_code == 403
    classified = psychiatrist.post(
        f"/inventory/discrepancies/{discrepancy_id}?site=MAIN",
        data={
            f"d{discrepancy_id}-classification": "explained",
            f"d{discrepancy_id}-note": "Drop spilled while drawing; seen by both",
        },
    )
    assert classified.status_code == 302
    page = psychiatrist.get("/inventory/discrepancies")
    assert "Classified: Explained" in text(page)
    status = soup(nurse.get("/inventory")).find(id="count-status").get_text(" ", strip=True)
    assert status.startswith("Counted today at")
    with app.app_context():
        assert db.session.get(StockContainer, stock["vials"][1]).remaining == D("4.8")


def test_the_dea_notice_reference_is_saved_before_the_form_106_one(app, as_role, stock):
    nurse, psychiatrist = as_role("nurse"), as_role("psychiatrist")
    assert _count(nurse, stock, stock["vials"][0], "0").status_code == 302
    with app.app_context():
        d_id = db.session.scalar(select(StockDiscrepancy.id))
    url, p = f"/inventory/discrepancies/{d_id}?site=MAIN", f"d{d_id}-"
    classified = psychiatrist.post(
        url, data={f"{p}classification": "suspected_theft", f"{p}note": "Vial not in cabinet"}
    )
    assert classified.status_code == 302
    form = soup(psychiatrist.get("/inventory/discrepancies")).find("form", action=url)
    buttons = {b.get_text(strip=True): b.get("name") for b in form.find_all("button")}
    assert buttons == {"Save references": None, "Close": f"{p}closing"}
    assert not form.find("input", attrs={"name": f"{p}closing"})  # not closing by default
    # The notice goes out within a business day: saved alone, the discrepancy stays open.
    saved = psychiatrist.post(url, data={f"{p}notice_ref": "DEA-LA-2026-14"})
    assert saved.status_code == 302
    page = psychiatrist.get(saved.headers["Location"])
    assert (
        "success",
        "Saved; still open until the Form 106 reference is recorded.",
    ) in flashes(page)
    assert "(sent: DEA-LA-2026-14)" in text(page)
    with app.app_context():
        d = db.session.get(StockDiscrepancy, d_id)
        assert (d.notice_ref, d.form106_ref, d.closed_at) == ("DEA-LA-2026-14", "", None)
    # Closing still needs Form 106: refused beside its field, nothing saved.
    refused = psychiatrist.post(url, data={f"{p}closing": "y", f"{p}note": "Still missing"})
    assert refused.status_code == 400
    assert field_errors(refused) == {
        f"{p}form106_ref": "Theft or significant loss: record the Form 106 reference."
    }
    closed = psychiatrist.post(url, data={f"{p}closing": "y", f"{p}form106_ref": "TLR-0042"})
    assert closed.status_code == 302
    with app.app_context():
        d = db.session.get(StockDiscrepancy, d_id)
        assert (d.notice_ref, d.form106_ref) == ("DEA-LA-2026-14", "TLR-0042")
        assert d.closed_at is not None and "Still missing" not in d.note


def test_the_dispensing_csv_is_formula_safe(app, as_role, stock):
    with app.app_context():
        site = stocked_site()
        treatment = session_at(site)
        treatment.patient.first_name = "=HYPERLINK(1)"
        services.record_dose(
            factories.user("nurse"),
            treatment,
            {
                "weight_kg": D(80),
                "pump_concentration_mg_per_ml": D(1),
                "pump_rate_ml_per_hour": D(60),
                "vial_id": stock["vials"][0],
            },
            treatment.version_id,
        )
        db.session.commit()
    rows = _csv(as_role("psychiatrist").get("/inventory/dispensing.csv?site=MAIN"))
    assert [r["patient"] for r in rows] == ["'=HYPERLINK(1) Tester"]
    assert rows[0]["quantity"] == "0.40" and rows[0]["mg"] == "40.00"


def test_the_dispensing_log_shows_each_patients_address_or_that_none_is_recorded(
    app, as_role, stock
):
    with app.app_context():
        vial = db.session.get(StockContainer, stock["vials"][0])
        nurse = factories.user("nurse")
        housed = factories.make_patient(**HOME, first_name="Hal")
        unhoused = factories.make_patient(first_name="Una")
        for patient in (housed, unhoused):
            move(nurse, vial, MovementKind.ADMINISTER, D("0.5"), patient_id=patient.id)
        db.session.commit()
        today = clinic_today().isoformat()
    psychiatrist = as_role("psychiatrist")
    page = soup(psychiatrist.get("/inventory/dispensing?site=MAIN"))
    headers = [th.get_text(strip=True) for th in page.select("#dispensing thead th")]
    assert headers[1:3] == ["Patient", "Address"]
    shown = [
        [td.get_text(" ", strip=True) for td in row.find_all("td")[1:3]]
        for row in page.select("#dispensing tbody tr")
    ]
    assert [address for name, address in shown] == [
        "555 Example St, Apt 3, Pasadena, CA 91101",
        "address not recorded",
    ]
    rows = _csv(psychiatrist.get("/inventory/dispensing.csv?site=MAIN"))
    assert list(rows[0])[:4] == ["occurred_at", "kind", "patient", "mrn"]
    assert [(r["patient"], r["address"]) for r in rows] == [
        ("Hal Tester", "555 Example St, Apt 3, Pasadena, CA 91101"),
        ("Una Tester", "address not recorded"),
    ]
    pdf = psychiatrist.get(f"/inventory/dispensing.pdf?site=MAIN&start={today}&end={today}")
    whole = " ".join(" ".join(pdf_pages(pdf)).split())
    assert "Pasadena, CA 91101" in whole and "address not recorded" in whole


def test_the_stock_page_runs_a_bounded_number_of_statements(app, as_role, stock):
    nurse = as_role("nurse")
    few = page_statements(app, nurse, "/inventory")
    with app.app_context():
        site = stocked_site()
        for n in range(4):
            receive_stock(site, containers=3, lot=f"MORE-{n}")
        db.session.commit()
    _open_first_vial(app, stock)
    assert page_statements(app, nurse, "/inventory") == few


def test_the_registrant_takes_a_signed_printable_inventory(app, as_role, stock):
    _open_first_vial(app, stock)
    psychiatrist = as_role("psychiatrist")
    assert as_role("nurse").post("/inventory/inventories", data={}).status_code == 403
    wrong = psychiatrist.post(
        "/inventory/inventories",
        data={"kind": "biennial", "opening_of_business": "close", "password": "nope"},
    )
    assert field_errors(wrong) == {"password": "The password is not correct."}
    taken = psychiatrist.post(
        "/inventory/inventories",
        data={"kind": "biennial", "opening_of_business": "close", "password": PASSWORD},
    )
    assert taken.status_code == 302
    page = as_role("nurse").get(taken.headers["Location"])
    rows = [
        [cell.get_text(" ", strip=True) for cell in row.find_all("td")]
        for row in soup(page).select("tbody tr")
    ]
    by_lot = {row[5]: row[6:] for row in rows}
    assert by_lot == {"KET-A1": ["1", "1 (4 mL)", "9 mL"], "ESK-7": ["2", "0", "2 devices"]}
    assert "close of business" in text(page)
    assert as_role("front_desk").get(taken.headers["Location"] + ".pdf").status_code == 403
    whole = "\n".join(pdf_pages(as_role("nurse").get(taken.headers["Location"] + ".pdf")))
    assert "Biennial inventory of controlled substances" in whole
    assert "0409-2051-05" in whole and "9 mL" in whole and "close of business" in whole
    assert len(audit_rows(app, "inventory.record_pdf")) == 1


def test_the_dispensing_log_prints_as_a_pdf(app, as_role, stock):
    _open_first_vial(app, stock)
    with app.app_context():
        today = clinic_today().isoformat()
    url = f"/inventory/dispensing.pdf?site=MAIN&start={today}&end={today}"
    assert as_role("front_desk").get(url).status_code == 403
    whole = "\n".join(pdf_pages(as_role("psychiatrist").get(url)))
    assert "Dispensing log" in whole and "KET-A1" in whole and "1 mL" in whole
    assert [row.detail["site"] for row in audit_rows(app, "inventory.dispensing_pdf")] == ["MAIN"]


def test_the_registrant_adds_the_standard_products(app, as_role, staff):
    with app.app_context():
        factories.site()
        db.session.commit()
    psychiatrist = as_role("psychiatrist")
    assert as_role("nurse").post("/inventory/products/standard").status_code == 403
    assert psychiatrist.post("/inventory/products/standard").status_code == 302
    page = text(psychiatrist.get("/inventory/products"))
    assert "50458-028-00" in page and "0409-2051-05" in page


def _drawn(app) -> int:
    with app.app_context():
        return db.session.scalar(select(StockMovement.id).where(StockMovement.kind == "administer"))


def _reversal(drawn: int, **data: str) -> dict[str, str]:
    base = {"reason": "Charted on the wrong vial", "witness_username": "nurse"}
    return {f"m{drawn}-{name}": value for name, value in (base | data).items()}


def test_the_registrant_reverses_a_mistaken_movement_before_a_witness(app, as_role, stock):
    vial_id = _open_first_vial(app, stock)
    drawn = _drawn(app)
    url = f"/inventory/movements/{drawn}/reverse"
    witnessed = _reversal(drawn, witness_password=PASSWORD)
    assert as_role("nurse").post(url, data=witnessed).status_code == 403
    psychiatrist = as_role("psychiatrist")
    refused = psychiatrist.post(url, data=witnessed | {f"m{drawn}-reason": " "})
    assert refused.status_code == 400
    form = soup(psychiatrist.get(f"/inventory/containers/{vial_id}")).find("form", action=url)
    assert {i["name"] for i in form.find_all("input")} >= {
        f"m{drawn}-reason",
        f"m{drawn}-witness_username",
        f"m{drawn}-witness_password",
    }
    done = psychiatrist.post(url, data=witnessed)
    assert done.status_code == 302
    history = soup(psychiatrist.get(done.headers["Location"])).select("#history tbody tr")
    cells = [[td.get_text(" ", strip=True) for td in row.find_all("td")] for row in history]
    assert [row[1] for row in cells] == ["Received", "Administered", f"Reversal of #{drawn}"]
    assert cells[2][4] == "Test psychiatrist, MD; witness Test nurse, RN"
    with app.app_context():
        assert db.session.get(StockContainer, vial_id).remaining == D(5)
        (row,) = audit_rows(app, "stock.reversal")
        assert row.detail["witness_id"] == db.session.scalar(
            select(StockMovement.witness_id).where(StockMovement.reverses_id == drawn)
        )


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"witness_username": ""}, "witness_username", "This field is required."),
        (
            {"witness_username": "front_desk"},
            "witness_username",
            "Name a nurse or psychiatrist by their username.",
        ),
        (
            {"witness_username": "psychiatrist"},
            "witness_username",
            "A second person is needed: not yourself.",
        ),
        ({"witness_password": ""}, "witness_password", "This field is required."),
        ({"witness_password": "nope"}, "witness_password", "password is not correct"),
    ],
)
def test_a_reversal_without_a_witness_is_refused_beside_the_witness_fields(
    app, as_role, stock, changes, field, message
):
    vial_id = _open_first_vial(app, stock)
    drawn = _drawn(app)
    data = _reversal(drawn, witness_password=PASSWORD) | _reversal(drawn, **changes)
    refused = as_role("psychiatrist").post(f"/inventory/movements/{drawn}/reverse", data=data)
    assert refused.status_code == 400
    errors = field_errors(refused)
    assert list(errors) == [f"m{drawn}-{field}"]
    assert message in errors[f"m{drawn}-{field}"]
    assert soup(refused).find("details", class_="reverse", open=True) is not None
    with app.app_context():
        assert db.session.get(StockContainer, vial_id).remaining == D(4)
        assert db.session.scalar(select(func.count()).where(StockMovement.kind == "reversal")) == 0


def test_a_reversal_witness_locked_by_wrong_passwords_keeps_their_own_session(app, as_role, stock):
    _open_first_vial(app, stock)
    drawn = _drawn(app)
    nurse = as_role("nurse")
    psychiatrist = as_role("psychiatrist")
    data = _reversal(drawn, witness_password="nope")
    for _ in range(app.config["LOCKOUT_AFTER_FAILURES"]):
        wrong = psychiatrist.post(f"/inventory/movements/{drawn}/reverse", data=data)
    assert "choose another witness" in field_errors(wrong)[f"m{drawn}-witness_password"]
    failures = audit_rows(app, "stock.witness")
    assert len(failures) == app.config["LOCKOUT_AFTER_FAILURES"]
    assert nurse.get("/inventory").status_code == 200
    assert psychiatrist.get("/inventory").status_code == 200
    locked = psychiatrist.post(
        f"/inventory/movements/{drawn}/reverse", data=_reversal(drawn, witness_password=PASSWORD)
    )
    assert "locked" in field_errors(locked)[f"m{drawn}-witness_password"]


def test_a_container_at_another_site_is_refused(app, as_role, stock):
    with app.app_context():
        other = factories.site("EAST")
        (far,) = receive_stock(stocked_site("EAST"), containers=1)
        nurse = factories.user("nurse")
        nurse.sites.remove(other)
        db.session.commit()
        far_id = far.id
    assert as_role("nurse").get(f"/inventory/containers/{far_id}").status_code == 403


def test_the_dispensing_log_and_a_container_history_run_a_bounded_number_of_statements(
    app, as_role, stock
):
    psychiatrist = as_role("psychiatrist")
    vial_id = _open_first_vial(app, stock)
    urls = ("/inventory/dispensing", f"/inventory/containers/{vial_id}")
    few = [page_statements(app, psychiatrist, url) for url in urls]
    with app.app_context():
        nurse = factories.user("nurse")
        vial = db.session.get(StockContainer, vial_id)
        for n in range(5):  # each to another patient, with an address
            patient = factories.make_patient(**HOME, first_name=f"P{n}")
            move(nurse, vial, MovementKind.ADMINISTER, D("0.5"), patient_id=patient.id)
        db.session.commit()
    assert [page_statements(app, psychiatrist, url) for url in urls] == few


def test_the_registrant_adds_a_product_and_a_duplicate_ndc_is_refused(app, as_role, stock):
    psychiatrist = as_role("psychiatrist")
    data = {
        "name": "Ketamine HCl injection (Ketalar)",
        "ndc": "42023-113-10",
        "modality": "iv_ketamine",
        "dosage_form": "Injection, vial",
        "base_unit": "mL",
        "mg_per_unit": "10",
        "container_size": "20",
        "witness_required": "y",
        "vial_use": "multiple",
    }
    unsaid = psychiatrist.post(
        "/inventory/products/new", data=data | {"ndc": "42023-113-98", "vial_use": ""}
    )
    assert unsaid.status_code == 400
    assert field_errors(unsaid) == {
        "vial_use": "Say whether the vial is single-dose or multiple-dose, as its label says."
    }
    refused = psychiatrist.post("/inventory/products/new", data=data)
    assert refused.status_code == 400
    assert field_errors(refused) == {"ndc": "A product with this NDC is already in the catalogue."}
    assert as_role("nurse").post("/inventory/products/new", data=data).status_code == 403
    added = psychiatrist.post("/inventory/products/new", data=data | {"ndc": "42023-113-99"})
    assert added.status_code == 302
    assert "42023-113-99" in text(psychiatrist.get("/inventory/products"))


@pytest.mark.parametrize(
    "query, field, message",
    [
        ("start=2026-13-01", "start", "Not a valid date value."),
        ("start=2026-03-10&end=2026-03-01", "end", "The end of the range comes before its start."),
        ("start=2024-01-01&end=2026-01-01", "end", "Choose at most 400 days at a time."),
    ],
)
def test_a_bad_dispensing_range_is_refused_beside_its_field(
    app, as_role, stock, query, field, message
):
    page = as_role("nurse").get(f"/inventory/dispensing?site=MAIN&{query}")
    assert page.status_code == 400
    assert field_errors(page) == {field: message}
    assert not soup(page).select("#dispensing")
    assert as_role("nurse").get(f"/inventory/dispensing.csv?site=MAIN&{query}").status_code == 400


def test_a_witness_locked_by_wrong_passwords_keeps_their_own_session(app, as_role, stock):
    """Wrong witness passwords count toward the witness's lockout (no guessing), but a
    colleague's mistakes do not sign the psychiatrist out at their own station."""
    vial_id = _open_first_vial(app, stock)
    psychiatrist = as_role("psychiatrist")
    nurse = as_role("nurse")
    data = {
        "quantity": "0.1",
        "method": "Drug-waste container",
        "witness_username": "psychiatrist",
        "witness_password": "nope",
    }
    for _ in range(app.config["LOCKOUT_AFTER_FAILURES"]):
        wrong = nurse.post(f"/inventory/containers/{vial_id}/waste", data=data)
    assert "choose another witness" in field_errors(wrong)["witness_password"]
    assert psychiatrist.get("/review").status_code == 200
    assert nurse.get("/inventory").status_code == 200
