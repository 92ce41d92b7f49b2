"""Stock services on a real database: receipts, draws from the dose step, waste with a
witness, disposal, counts and discrepancies, and the append-only ledger (issue 16)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from clinic_app import clock
from clinic_app.clinical.ledger import Classification, MovementKind
from clinic_app.clock import utcnow
from clinic_app.errors import FieldErrors, PermissionDenied, RuleViolation
from clinic_app.extensions import db
from clinic_app.inventory import counts, waste
from clinic_app.inventory.movements import move, reverse
from clinic_app.inventory.receiving import receive
from clinic_app.models import (
    AuditEvent,
    ClinicSetting,
    StockContainer,
    StockDiscrepancy,
    StockMovement,
    TreatmentSession,
    User,
)
from clinic_app.settings import clinic_today
from clinic_app.treatments import services
from tests import factories
from tests.helpers import CLINIC_ZONE, PASSWORD
from tests.inventory.builders import (
    IV_DOSE,
    KETAMINE_100,
    SPRAVATO,
    SUPPLIER,
    containers_of,
    product,
    receive_stock,
    session_at,
    stocked_site,
)

D = Decimal


def ledger_sum(container_id: int) -> Decimal:
    return db.session.scalar(
        select(func.coalesce(func.sum(StockMovement.quantity), 0)).where(
            StockMovement.container_id == container_id
        )
    )


def assert_books_balance():
    for container in db.session.scalars(select(StockContainer)):
        assert ledger_sum(container.id) == container.remaining >= 0


# --- receipts -----------------------------------------------------------------------------


def test_a_receipt_gives_each_container_its_row_and_receive_movement(app, staff):
    with app.app_context():
        site = stocked_site()
        vials = receive_stock(site, containers=3)
        db.session.commit()
        assert [v.remaining for v in vials] == [D(5)] * 3
        assert {v.lot for v in vials} == {"KET-A1"}
        assert all(v.storage_location == "Locked cabinet A" for v in vials)
        kinds = db.session.scalars(select(StockMovement.kind)).all()
        assert kinds == [MovementKind.RECEIVE] * 3
        assert_books_balance()


def _receive(site, **changes):
    data = dict(SUPPLIER, received_on=clinic_today())
    line = {
        "product_id": product(SPRAVATO).id,
        "lot": "ESK-9",
        "expiry_date": clinic_today() + timedelta(days=200),
        "containers": 2,
    }
    checker = changes.pop("checker", "psychiatrist")
    password = changes.pop("password", PASSWORD)
    line.update(changes.pop("line", {}))
    if isinstance(line["expiry_date"], int):  # days from today
        line["expiry_date"] = clinic_today() + timedelta(days=line["expiry_date"])
    data.update(changes)
    return receive(factories.user("nurse"), site, data, [line], checker, password)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"supplier_dea": "RC0123455"}, "supplier_dea", "check digit"),
        ({"invoice_number": " "}, "invoice_number", "invoice"),
        ({"line": {"expiry_date": -1}}, "lines-0", "expired"),
        ({"line": {"containers": 0}}, "lines-0", "number of containers"),
    ],
)
def test_a_receipt_with_a_bad_field_is_refused_by_field(app, staff, changes, field, message):
    with app.app_context():
        site = stocked_site()
        with pytest.raises(FieldErrors) as refused:
            _receive(site, **changes)
        assert message in refused.value.errors[field]


def test_spravato_kits_are_received_as_their_devices(app, staff):
    with app.app_context():
        site = stocked_site()
        receipt = _receive(site, line={"containers": None, "pack": "50458-028-02", "packs": 4})
        (line,) = receipt.lines
        assert (line.packs, line.per_pack, line.pack_ndc, line.containers) == (
            4,
            2,
            "50458-028-02",
            8,
        )
        devices = containers_of(receipt)
        assert len(devices) == 8 and all(d.remaining == D(1) for d in devices)
        kits = _receive(
            site,
            invoice_number="INV-84",
            line={"containers": 6, "pack": "50458-028-03", "packs": 2},
        )
        assert [len(containers_of(kits)), kits.lines[0].per_pack] == [6, 3]
        assert_books_balance()


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (
            {"containers": 6, "pack": "50458-028-02", "packs": 4},
            "lines-0-containers",
            "4 packs of 2 are 8 containers, not 6",
        ),
        ({"containers": None, "pack": "50458-028-03"}, "lines-0-packs", "number of packs"),
        ({"containers": None, "packs": 3}, "lines-0-pack", "Choose the pack"),
        (
            {"containers": None, "pack": "50458-028-02", "packs": 2, "ndc": KETAMINE_100},
            "lines-0-pack",
            "A Spravato 56 mg kit holds 50458-028-00, not this product.",
        ),
    ],
)
def test_a_kit_line_that_does_not_add_up_is_refused_beside_its_field(
    app, staff, line, field, message
):
    with app.app_context():
        site = stocked_site()
        if ndc := line.pop("ndc", None):
            line["product_id"] = product(ndc).id
        with pytest.raises(FieldErrors) as refused:
            _receive(site, line=line)
        assert message in refused.value.errors[field]
        assert db.session.scalar(select(func.count()).select_from(StockContainer)) == 0


def test_the_same_delivery_is_not_received_twice(app, staff):
    with app.app_context():
        site = stocked_site()
        other = stocked_site("EAST")
        _receive(site)
        db.session.commit()
        with pytest.raises(FieldErrors) as refused:
            _receive(site, invoice_number=" inv-1001 ", line={"containers": 5})
        assert refused.value.errors == {
            "invoice_number": "Invoice INV-1001 with lot ESK-9 from this supplier was already "
            f"received at this site on {clinic_today().isoformat()}; it is not recorded twice."
        }
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(StockContainer)) == 2
        # Another invoice, another lot, another supplier or another site is another delivery.
        _receive(site, invoice_number="INV-1002")
        _receive(site, line={"lot": "ESK-10"})
        _receive(site, supplier_dea="RD1234563")
        _receive(other)
        assert db.session.scalar(select(func.count()).select_from(StockContainer)) == 10


def test_a_lot_is_not_received_with_another_expiry_date(app, staff):
    with app.app_context():
        site = stocked_site()
        other = stocked_site("EAST")
        _receive(site, line={"expiry_date": 200})
        db.session.commit()
        with pytest.raises(FieldErrors) as refused:
            _receive(other, invoice_number="INV-2002", line={"expiry_date": 230})
        expiry = (clinic_today() + timedelta(days=200)).isoformat()
        assert refused.value.errors == {
            "lines-0-expiry_date": f"Lot ESK-9 of this product is on record as expiring on "
            f"{expiry}; one lot has one expiry date: check the label."
        }
        db.session.rollback()
        _receive(other, invoice_number="INV-2002", line={"expiry_date": 200})
        assert db.session.scalar(select(func.count()).select_from(StockContainer)) == 4


def test_the_receipt_is_checked_by_a_second_person_with_their_password(app, staff):
    with app.app_context():
        site = stocked_site()
        with pytest.raises(RuleViolation) as self_check:
            _receive(site, checker="nurse")
        assert self_check.value.field == "checker_username"
        with pytest.raises(RuleViolation) as wrong:
            _receive(site, password="not-it")
        assert wrong.value.field == "checker_password"
        failures = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "stock.receipt_check")
        ).all()
        assert [(e.user_id, e.outcome) for e in failures] == [(staff["psychiatrist"], "failure")]
        assert db.session.get(User, staff["psychiatrist"]).failed_logins == 1


def test_front_desk_may_not_receive_stock(app, staff):
    with app.app_context():
        site = stocked_site()
        with pytest.raises(PermissionDenied):
            receive(factories.user("front_desk"), site, {}, [], "psychiatrist", PASSWORD)


# --- the dose step ------------------------------------------------------------------------


def test_the_iv_dose_is_drawn_from_the_vial_picked_in_mg_and_ml(app, staff):
    with app.app_context():
        site = stocked_site()
        vial, _ = receive_stock(site)
        treatment = session_at(site)
        nurse = factories.user("nurse")
        services.record_dose(nurse, treatment, dict(IV_DOSE, vial_id=vial.id), treatment.version_id)
        db.session.commit()
        drawn = db.session.scalar(
            select(StockMovement).where(StockMovement.kind == MovementKind.ADMINISTER)
        )
        assert (drawn.quantity, drawn.quantity_mg) == (D("-0.40"), D("40.00"))
        assert (drawn.session_id, drawn.patient_id) == (treatment.id, treatment.patient_id)
        assert vial.remaining == D("4.60") and vial.opened_at is not None
        assert treatment.lot_number == "KET-A1"
        assert_books_balance()


def test_a_dose_runs_from_the_first_vial_into_the_second(app, staff):
    with app.app_context():
        site = stocked_site()
        first, second = receive_stock(site)
        nurse = factories.user("nurse")
        waste.waste(nurse, _opened(first), _waste_data(quantity="4.6"))
        treatment = session_at(site)
        services.record_dose(
            nurse,
            treatment,
            dict(IV_DOSE, vial_id=first.id, second_vial_id=second.id),
            treatment.version_id,
        )
        assert (first.remaining, second.remaining) == (D(0), D("4.90"))
        assert_books_balance()


def _opened(vial):
    """Open a sealed vial by drawing a first 0.1 mL for a dose (as a session would)."""
    move(factories.user("nurse"), vial, MovementKind.ADMINISTER, D("0.1"))
    return vial


def _waste_data(**changes):
    return {
        "quantity": "0.5",
        "method": "Drug-waste container",
        "witness_username": "psychiatrist",
        "witness_password": PASSWORD,
    } | changes


def _refused_dose(treatment, data, field):
    with pytest.raises(RuleViolation) as refused:
        services.record_dose(factories.user("nurse"), treatment, data, treatment.version_id)
    db.session.rollback()
    assert refused.value.field == field
    return refused.value.message


def test_dose_refusals_save_nothing(app, staff):
    with app.app_context():
        site = stocked_site()
        other = stocked_site("EAST")
        (vial,) = receive_stock(site, containers=1)
        (old,) = receive_stock(site, containers=1, lot="OLD", expiry=clinic_today())
        (far,) = receive_stock(other, containers=1)
        treatment = session_at(site)
        db.session.commit()
        ids = {"vial": vial.id, "old": old.id, "far": far.id, "sid": treatment.id}
    with app.app_context():
        factories_today = clinic_today()
        t = db.session.get(TreatmentSession, ids["sid"])
        assert "another site" in _refused_dose(t, dict(IV_DOSE, vial_id=ids["far"]), "vial_id")
        t = db.session.get(TreatmentSession, ids["sid"])
        assert "Pick the vial" in _refused_dose(t, dict(IV_DOSE), "vial_id")
        # A vial expiring today is usable today, refused tomorrow.
        clock.advance(timedelta(days=1))
        t = db.session.get(TreatmentSession, ids["sid"])
        message = _refused_dose(t, dict(IV_DOSE, vial_id=ids["old"]), "vial_id")
        assert f"expired on {factories_today.isoformat()}" in message
        clock.reset()
        vial = db.session.get(StockContainer, ids["vial"])
        nurse = factories.user("nurse")
        waste.waste(nurse, _opened(vial), _waste_data(quantity="4.7"))
        db.session.commit()
        t = db.session.get(TreatmentSession, ids["sid"])
        assert "too little" in _refused_dose(t, dict(IV_DOSE, vial_id=ids["vial"]), "vial_id")
        t = db.session.get(TreatmentSession, ids["sid"])
        assert t.dose_started_at is None and t.lot_number == ""
        assert db.session.get(StockContainer, ids["vial"]).remaining == D("0.20")
        assert_books_balance()


# --- opened vials: beyond-use dates ---------------------------------------------------------


def test_the_first_draw_opens_the_vial_for_its_session(app, staff):
    with app.app_context():
        site = stocked_site()
        vial, _ = receive_stock(site)
        treatment = session_at(site)
        services.record_dose(
            factories.user("nurse"), treatment, dict(IV_DOSE, vial_id=vial.id), treatment.version_id
        )
        assert (vial.opened_at, vial.opened_session_id) == (
            treatment.dose_started_at,
            treatment.id,
        )


def test_a_multiple_dose_vial_past_its_beyond_use_date_is_refused_with_the_date(app, staff):
    with app.app_context():
        site = stocked_site()
        (vial,) = receive_stock(site, containers=1)
        punctured = utcnow() - timedelta(days=29)
        move(
            factories.user("nurse"), vial, MovementKind.ADMINISTER, D("0.1"), occurred_at=punctured
        )
        treatment = session_at(site)
        db.session.commit()
        opened_on = punctured.astimezone(CLINIC_ZONE).date()
        message = _refused_dose(treatment, dict(IV_DOSE, vial_id=vial.id), "vial_id")
        assert message == (
            f"This vial was first punctured on {opened_on.isoformat()}; its beyond-use date was "
            f"{(opened_on + timedelta(days=28)).isoformat()}. Waste what is left and use another "
            "vial."
        )
        treatment = db.session.get(TreatmentSession, treatment.id)
        assert treatment.dose_started_at is None
        assert db.session.get(StockContainer, vial.id).remaining == D("4.90")
        # A vial punctured 28 days ago is still usable today; waste of the old one is allowed.
        clock.advance(timedelta(days=-1))
        services.record_dose(
            factories.user("nurse"), treatment, dict(IV_DOSE, vial_id=vial.id), treatment.version_id
        )
        clock.reset()
        waste.waste(factories.user("nurse"), vial, _waste_data(quantity="4.5"))
        assert_books_balance()


def test_the_in_use_days_are_a_clinic_setting(app, staff):
    with app.app_context():
        db.session.add(ClinicSetting(key="multiple_dose_days", value=7))
        db.session.commit()
        site = stocked_site()
        (vial,) = receive_stock(site, containers=1)
        punctured = utcnow() - timedelta(days=8)
        move(
            factories.user("nurse"), vial, MovementKind.ADMINISTER, D("0.1"), occurred_at=punctured
        )
        treatment = session_at(site)
        db.session.commit()
        message = _refused_dose(treatment, dict(IV_DOSE, vial_id=vial.id), "vial_id")
        assert "beyond-use date was" in message


def test_an_opened_single_dose_vial_is_not_drawn_from_by_a_later_session(app, staff):
    with app.app_context():
        site = stocked_site()
        vial, _ = receive_stock(site)
        vial.product.single_dose = True
        first = session_at(site)
        nurse = factories.user("nurse")
        services.record_dose(nurse, first, dict(IV_DOSE, vial_id=vial.id), first.version_id)
        later = session_at(site)
        db.session.commit()
        message = _refused_dose(later, dict(IV_DOSE, vial_id=vial.id), "vial_id")
        assert message == (
            f"This single-dose vial was opened on {clinic_today().isoformat()} for another dose "
            "and is not kept once opened; waste what is left and use another vial."
        )
        assert db.session.get(StockContainer, vial.id).remaining == D("4.60")


def test_esketamine_devices_are_taken_from_stock_with_their_lot(app, staff):
    with app.app_context():
        site = stocked_site()
        first, second = receive_stock(site, SPRAVATO, lot="ESK-7")
        treatment = session_at(site, "esketamine_nasal")
        nurse = factories.user("nurse")
        services.record_dose(
            nurse, treatment, {"dose_mg": "56", "device_id": first.id}, treatment.version_id
        )
        clock.advance(timedelta(minutes=6))
        with pytest.raises(RuleViolation, match="empty") as used:
            services.add_device(nurse, treatment, {"device_id": first.id})
        assert used.value.field == "device_id"
        services.add_device(nurse, treatment, {"device_id": second.id})
        devices = [(d.device_number, d.lot_number, d.container_id) for d in treatment.devices]
        assert devices == [(1, "ESK-7", first.id), (2, "ESK-7", second.id)]
        assert (first.remaining, second.remaining) == (D(0), D(0))
        drawn = db.session.scalars(
            select(StockMovement.quantity_mg).where(StockMovement.kind == "administer")
        ).all()
        assert drawn == [D(28), D(28)]
        assert_books_balance()


# --- waste and disposal -------------------------------------------------------------------


def test_waste_needs_a_witness_other_than_the_person_wasting(app, staff):
    with app.app_context():
        site = stocked_site()
        (vial,) = receive_stock(site, containers=1)
        nurse = factories.user("nurse")
        _opened(vial)
        with pytest.raises(RuleViolation) as self_witness:
            waste.waste(nurse, vial, _waste_data(witness_username="nurse"))
        assert self_witness.value.field == "witness_username"
        with pytest.raises(RuleViolation) as wrong:
            waste.waste(nurse, vial, _waste_data(witness_password="nope"))
        assert wrong.value.field == "witness_password"
        wasted = waste.waste(nurse, vial, _waste_data())
        assert (wasted.quantity, wasted.witness_id) == (D("-0.5"), staff["psychiatrist"])
        assert vial.remaining == D("4.40")


def test_sealed_stock_is_disposed_of_with_two_witnesses_not_wasted(app, staff):
    with app.app_context():
        site = stocked_site()
        factories.make_user("nurse", username="nurse2", password=PASSWORD)
        stocked_site()  # the new nurse joins the site
        (vial,) = receive_stock(site, containers=1)
        db.session.commit()
        psychiatrist = factories.user("psychiatrist")
        with pytest.raises(RuleViolation, match="sealed"):
            waste.waste(factories.user("nurse"), vial, _waste_data())
        data = {
            "document_ref": "F41-2026-001",
            "method": "Chemical denaturing kit",
            "witness_username": "nurse",
            "witness_password": PASSWORD,
            "second_witness_username": "nurse",
            "second_witness_password": PASSWORD,
        }
        with pytest.raises(RuleViolation, match="Two different"):
            waste.dispose(psychiatrist, vial, data)
        db.session.rollback()
        vial = db.session.get(StockContainer, vial.id)
        psychiatrist = factories.user("psychiatrist")
        row = waste.dispose(psychiatrist, vial, data | {"second_witness_username": "nurse2"})
        assert (row.kind, row.quantity, row.document_ref) == (
            MovementKind.DESTROY,
            D(-5),
            "F41-2026-001",
        )
        assert vial.remaining == 0
        with pytest.raises(PermissionDenied):
            waste.dispose(factories.user("nurse"), vial, data)


# --- counts and discrepancies -------------------------------------------------------------


def test_a_count_variance_opens_a_discrepancy_the_registrant_classifies(app, staff):
    with app.app_context():
        site = stocked_site()
        first, second = receive_stock(site)
        nurse = factories.user("nurse")
        count = counts.record_count(
            nurse, site, {first.id: D("4.8"), second.id: D(5)}, "psychiatrist", PASSWORD
        )
        (found,) = db.session.scalars(select(StockDiscrepancy)).all()
        assert (found.variance, found.count_line.count_id) == (D("-0.2"), count.id)
        assert first.remaining == D(5)  # never adjusted silently
        with pytest.raises(PermissionDenied):
            counts.settle(nurse, found, {"classification": "explained", "note": "Spill"})
        psychiatrist = factories.user("psychiatrist")
        counts.settle(psychiatrist, found, {"classification": "explained", "note": "Spill"})
        assert found.closed_at is not None and found.classification == Classification.EXPLAINED
        assert first.remaining == D("4.8")
        assert_books_balance()


def test_theft_stays_open_with_due_dates_until_both_references(app, staff):
    with app.app_context():
        site = stocked_site()
        (vial,) = receive_stock(site, containers=1)
        nurse, psychiatrist = factories.user("nurse"), factories.user("psychiatrist")
        counts.record_count(nurse, site, {vial.id: D(0)}, "psychiatrist", PASSWORD)
        found = db.session.scalar(select(StockDiscrepancy))
        counts.settle(
            psychiatrist, found, {"classification": "suspected_theft", "note": "Vial missing"}
        )
        assert found.closed_at is None
        assert (
            found.notice_due > clinic_today()
            and found.form106_due == clinic_today() + timedelta(days=45)
        )
        loss = db.session.scalar(select(StockMovement).where(StockMovement.kind == "loss"))
        assert loss.quantity == D(-5)
        db.session.commit()
        with pytest.raises(FieldErrors) as refused:
            counts.settle(psychiatrist, found, {"notice_ref": "DEA-LA-1", "closing": True})
        assert set(refused.value.errors) == {"form106_ref"}
        db.session.rollback()
        found = db.session.scalar(select(StockDiscrepancy))
        assert (found.notice_ref, found.closed_at) == ("", None)
        # The notice (due in a business day) is recorded on its own, long before Form 106.
        psychiatrist = factories.user("psychiatrist")
        counts.settle(psychiatrist, found, {"notice_ref": "DEA-LA-1"})
        db.session.commit()
        found = db.session.scalar(select(StockDiscrepancy))
        assert (found.notice_ref, found.form106_ref, found.closed_at) == ("DEA-LA-1", "", None)
        psychiatrist = factories.user("psychiatrist")
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("stock.discrepancy%"))
        ).all()
        assert actions == ["stock.discrepancy_classify", "stock.discrepancy_report"]
        counts.settle(psychiatrist, found, {"form106_ref": "TLR-99", "closing": True})
        assert found.closed_at is not None
        assert (found.notice_ref, found.form106_ref) == ("DEA-LA-1", "TLR-99")
        assert_books_balance()


def test_form_106_may_come_first_and_an_empty_update_is_refused(app, staff):
    with app.app_context():
        site = stocked_site()
        (vial,) = receive_stock(site, containers=1)
        nurse, psychiatrist = factories.user("nurse"), factories.user("psychiatrist")
        counts.record_count(nurse, site, {vial.id: D(0)}, "psychiatrist", PASSWORD)
        found = db.session.scalar(select(StockDiscrepancy))
        counts.settle(
            psychiatrist, found, {"classification": "significant_loss", "note": "Vial missing"}
        )
        with pytest.raises(FieldErrors) as empty:
            counts.settle(psychiatrist, found, {"notice_ref": " ", "form106_ref": ""})
        assert empty.value.errors == {
            "notice_ref": "Record the DEA notice reference, the Form 106 reference, or both."
        }
        counts.settle(psychiatrist, found, {"form106_ref": "TLR-7"})
        assert (found.notice_ref, found.form106_ref, found.closed_at) == ("", "TLR-7", None)
        with pytest.raises(FieldErrors) as refused:
            counts.settle(psychiatrist, found, {"closing": True})
        assert refused.value.errors == {
            "notice_ref": "Theft or significant loss: record the DEA notice reference."
        }


HELD = "has a count discrepancy the registrant has not classified yet"


def test_a_vial_under_an_unclassified_discrepancy_is_not_drawn_from_or_wasted(app, staff):
    with app.app_context():
        site = stocked_site()
        first, second = receive_stock(site)
        _opened(first)
        nurse = factories.user("nurse")
        counts.record_count(
            nurse, site, {first.id: D("4.5"), second.id: D(5)}, "psychiatrist", PASSWORD
        )
        treatment = session_at(site)
        db.session.commit()
        ids = {"first": first.id, "second": second.id, "sid": treatment.id}
    with app.app_context():
        t = db.session.get(TreatmentSession, ids["sid"])
        assert HELD in _refused_dose(t, dict(IV_DOSE, vial_id=ids["first"]), "vial_id")
        # Also as the second vial of a dose that runs over.
        t = db.session.get(TreatmentSession, ids["sid"])
        data = dict(IV_DOSE, vial_id=ids["second"], second_vial_id=ids["first"])
        assert HELD in _refused_dose(t, data, "second_vial_id")
        first = db.session.get(StockContainer, ids["first"])
        with pytest.raises(RuleViolation, match=HELD):
            waste.waste(factories.user("nurse"), first, _waste_data())
        db.session.rollback()
        assert db.session.get(StockContainer, ids["first"]).remaining == D("4.90")
        assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 3
        # Once the registrant classifies it, the ledger matches the count and the vial is used.
        found = db.session.scalar(select(StockDiscrepancy))
        counts.settle(
            factories.user("psychiatrist"),
            found,
            {"classification": "explained", "note": "Spilled while drawing"},
        )
        t = db.session.get(TreatmentSession, ids["sid"])
        services.record_dose(
            factories.user("nurse"), t, dict(IV_DOSE, vial_id=ids["first"]), t.version_id
        )
        assert db.session.get(StockContainer, ids["first"]).remaining == D("4.10")
        assert_books_balance()


def test_an_esketamine_device_under_an_unclassified_discrepancy_is_not_taken(app, staff):
    with app.app_context():
        site = stocked_site()
        first, second = receive_stock(site, SPRAVATO, lot="ESK-7")
        nurse = factories.user("nurse")
        counts.record_count(
            nurse, site, {first.id: D(0), second.id: D(1)}, "psychiatrist", PASSWORD
        )
        treatment = session_at(site, "esketamine_nasal")
        with pytest.raises(RuleViolation, match=HELD) as refused:
            services.record_dose(
                nurse, treatment, {"dose_mg": "56", "device_id": first.id}, treatment.version_id
            )
        assert refused.value.field == "device_id"


def test_the_count_needs_every_container_and_a_second_person(app, staff):
    with app.app_context():
        site = stocked_site()
        first, second = receive_stock(site)
        nurse = factories.user("nurse")
        with pytest.raises(FieldErrors) as missing:
            counts.record_count(nurse, site, {first.id: D(5)}, "psychiatrist", PASSWORD)
        assert set(missing.value.errors) == {f"c{second.id}"}
        with pytest.raises(RuleViolation) as alone:
            counts.record_count(nurse, site, {first.id: D(5), second.id: D(5)}, "nurse", PASSWORD)
        assert alone.value.field == "witness_username"


# --- the ledger itself --------------------------------------------------------------------


def test_a_mistake_is_corrected_by_a_reversal_never_twice(app, staff):
    with app.app_context():
        site = stocked_site()
        (vial,) = receive_stock(site, containers=1)
        nurse = factories.user("nurse")
        wasted = waste.waste(nurse, _opened(vial), _waste_data(quantity="2"))
        with pytest.raises(PermissionDenied):
            reverse(nurse, wasted, "Wrong vial", "psychiatrist", PASSWORD)
        registrant = factories.user("psychiatrist")
        back = reverse(registrant, wasted, "Wrong vial", "nurse", PASSWORD)
        assert (back.kind, back.quantity, back.reverses_id) == ("reversal", D(2), wasted.id)
        with pytest.raises(RuleViolation, match="already reversed"):
            reverse(registrant, wasted, "Again", "nurse", PASSWORD)
        assert vial.remaining == D("4.9")
        assert_books_balance()


def test_a_dose_on_a_signed_session_is_not_reversed(app, staff):
    with app.app_context():
        site = stocked_site()
        vial, _ = receive_stock(site)
        treatment = session_at(site)
        nurse = factories.user("nurse")
        services.record_dose(nurse, treatment, dict(IV_DOSE, vial_id=vial.id), treatment.version_id)
        drawn = db.session.scalar(
            select(StockMovement).where(StockMovement.kind == MovementKind.ADMINISTER)
        )
        treatment.signed_at = utcnow()
        with pytest.raises(RuleViolation, match="signed session"):
            reverse(factories.user("psychiatrist"), drawn, "Wrong vial", "nurse", PASSWORD)
        assert vial.remaining == D("4.60")


@pytest.mark.parametrize(
    "username, password, field, message",
    [
        ("", PASSWORD, "witness_username", "Name a nurse or psychiatrist by their username."),
        ("front_desk", PASSWORD, "witness_username", "Name a nurse or psychiatrist"),
        ("psychiatrist", PASSWORD, "witness_username", "not yourself"),
        ("nurse", "nope", "witness_password", "password is not correct"),
        ("nurse", "", "witness_password", "is not correct"),
    ],
)
def test_a_reversal_needs_another_clinician_who_re_enters_their_password(
    app, staff, username, password, field, message
):
    with app.app_context():
        (vial,) = receive_stock(stocked_site(), containers=1)
        drawn = move(factories.user("nurse"), vial, MovementKind.ADMINISTER, D("1"))
        with pytest.raises(RuleViolation, match=message) as refused:
            reverse(factories.user("psychiatrist"), drawn, "Wrong vial", username, password)
        assert refused.value.field == field
        assert (
            db.session.scalar(select(func.count()).where(StockMovement.reverses_id.is_not(None)))
            == 0
        )
        assert vial.remaining == D(4)


def test_the_reversal_row_and_its_audit_record_name_the_witness(app, staff):
    with app.app_context():
        (vial,) = receive_stock(stocked_site(), containers=1)
        drawn = move(factories.user("nurse"), vial, MovementKind.ADMINISTER, D("1"))
        registrant = factories.user("psychiatrist")
        back = reverse(registrant, drawn, "Charted twice", "nurse", PASSWORD)
        db.session.commit()
        nurse_id = staff["nurse"]
        assert (back.actor_id, back.witness_id) == (registrant.id, nurse_id)
        (row,) = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "stock.reversal")
        ).all()
        assert (row.user_id, row.entity_id, row.detail["witness_id"]) == (
            registrant.id,
            back.id,
            nurse_id,
        )
        assert vial.remaining == D(5)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE stock_movements SET quantity = 100",
        "DELETE FROM stock_movements",
    ],
)
def test_the_database_refuses_to_edit_or_delete_movements(app, staff, statement):
    with app.app_context():
        site = stocked_site()
        receive_stock(site, containers=1)
        db.session.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 1


def test_a_walk_in_session_draws_from_the_nurses_site(app, staff):
    with app.app_context():
        site = stocked_site()
        (vial,) = receive_stock(site, containers=1)
        patient = factories.make_patient()
        treatment = factories.start(patient, factories.make_course(patient, "iv_ketamine"))
        nurse = factories.user("nurse")
        services.record_predose(nurse, treatment, factories.PREDOSE_OK, treatment.version_id)
        services.add_vitals(nurse, treatment, dict(factories.NORMAL_BP))
        with pytest.raises(RuleViolation, match="Pick the vial"):
            services.record_dose(nurse, treatment, dict(IV_DOSE), treatment.version_id)
        services.record_dose(nurse, treatment, dict(IV_DOSE, vial_id=vial.id), treatment.version_id)
        assert vial.remaining == D("4.60")


def test_the_dea_notice_skips_a_public_holiday(app, staff):
    # Discovered on Wednesday 24 December 2025: Christmas is no business day.
    clock.freeze(datetime(2025, 12, 24, 18, 0, tzinfo=UTC))
    with app.app_context():
        site = stocked_site()
        (vial,) = receive_stock(site, containers=1)
        counts.record_count(
            factories.user("nurse"), site, {vial.id: D(0)}, "psychiatrist", PASSWORD
        )
        found = db.session.scalar(select(StockDiscrepancy))
        counts.settle(
            factories.user("psychiatrist"),
            found,
            {"classification": "significant_loss", "note": "Vial broken, not found"},
        )
        assert found.notice_due == date(2025, 12, 26)
        assert found.form106_due == date(2026, 2, 7)


def test_a_receipt_is_dated_the_day_the_stock_actually_arrived(app, staff):
    with app.app_context():
        site = stocked_site()
        arrived = clinic_today() - timedelta(days=5)
        _receive(site, received_on=arrived)
        (at,) = set(db.session.scalars(select(StockMovement.occurred_at)))
        assert at.astimezone(CLINIC_ZONE).date() == arrived
