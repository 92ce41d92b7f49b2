"""Receiving stock: a delivery as on its invoice, received by one user and checked by a second
who re-enters their own password; every container gets its own row and a receive movement."""

from datetime import date, time
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, require_role
from clinic_app.auth.services import reauthenticate
from clinic_app.clinical.codes import Role
from clinic_app.clinical.dea import dea_number_problem, normalise_dea_number
from clinic_app.clinical.ledger import (
    MovementKind,
    ReceivedLine,
    duplicate_receipt_problem,
    lot_expiry_problems,
    pack_problems,
)
from clinic_app.clock import utcnow
from clinic_app.errors import FieldErrors, RuleViolation
from clinic_app.extensions import db
from clinic_app.inventory.catalogue import pack
from clinic_app.inventory.movements import move
from clinic_app.inventory.witness import second_person
from clinic_app.models import (
    Site,
    StockContainer,
    StockProduct,
    StockReceipt,
    StockReceiptLine,
    User,
)
from clinic_app.models.stock import BaseUnit
from clinic_app.settings import clinic_today, local_to_utc
from clinic_app.site_scope import require_site_access

MAX_CONTAINERS = 200


def _header_problems(data: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, message in (
        ("supplier_name", "Name the supplier."),
        ("supplier_address", "Give the supplier's address."),
        ("invoice_number", "Give the invoice or packing-slip number."),
        ("storage_location", "Say where the stock is stored (locked cabinet, fridge…)."),
    ):
        if not (data.get(name) or "").strip():
            errors[name] = message
    if problem := dea_number_problem(data.get("supplier_dea") or ""):
        errors["supplier_dea"] = problem
    received_on = data.get("received_on")
    if received_on is None:
        errors["received_on"] = "Give the date the stock actually arrived."
    elif received_on > clinic_today():
        errors["received_on"] = "This date is in the future."
    return errors


def _line_problems(line: dict[str, Any], received_on: date | None) -> dict[str, str]:
    """A line's problems by field: "" for the line as a whole (shown beside its product), else
    the line's field (containers, pack, packs)."""
    product = db.session.get(StockProduct, line.get("product_id") or 0)
    if product is None or not product.active:
        return {"": "Pick the product."}
    if not (line.get("lot") or "").strip():
        return {"": "Give the lot number."}
    expiry = line.get("expiry_date")
    if expiry is None:
        return {"": "Give the expiry date."}
    if received_on is not None and expiry < received_on:
        return {"": "This lot had expired when it arrived; do not receive it."}
    bought_as = pack(line.get("pack"))
    if bought_as is not None and bought_as.container_ndc != product.ndc:
        return {"pack": f"A {bought_as.name} holds {bought_as.container_ndc}, not this product."}
    per_pack = bought_as.containers if bought_as else None
    problems = pack_problems(line.get("containers"), line.get("packs"), per_pack, MAX_CONTAINERS)
    if bought_as is None and "containers" in problems:
        return {"": problems["containers"]}
    return problems


def _counted(line: dict[str, Any]) -> dict[str, Any]:
    """The line with its containers: the packs' when bought in packs."""
    bought_as = pack(line.get("pack"))
    if bought_as is None:
        return line | {"packs": None, "per_pack": None, "pack_ndc": None}
    return line | {
        "containers": line["packs"] * bought_as.containers,
        "per_pack": bought_as.containers,
        "pack_ndc": bought_as.ndc,
    }


def _repeat_problems(
    site: Site, data: dict[str, Any], lines: list[dict[str, Any]]
) -> dict[str, str]:
    """A delivery already received (same supplier, invoice and lot at this site: beside the
    invoice number), and a lot received with another expiry than on record (beside the line's
    expiry: `lines-N-expiry_date`)."""
    received = [
        ReceivedLine(line["product_id"], line["lot"].strip(), line["expiry_date"]) for line in lines
    ]
    problems = lot_expiry_problems(received, _lots_on_record(received))
    errors = {f"lines-{number}-expiry_date": message for number, message in problems.items()}
    invoice = data["invoice_number"].strip()
    lots = [line.lot for line in received]
    earlier = _earlier_deliveries(site, normalise_dea_number(data["supplier_dea"]), invoice, lots)
    if problem := duplicate_receipt_problem(invoice, lots, earlier):
        errors["invoice_number"] = problem
    return errors


def _lots_on_record(received: list[ReceivedLine]) -> list[ReceivedLine]:
    """The earlier receipt lines (any site) of the products and lots being received."""
    rows = db.session.execute(
        select(StockReceiptLine.product_id, StockReceiptLine.lot, StockReceiptLine.expiry_date)
        .where(
            StockReceiptLine.product_id.in_({line.product for line in received}),
            func.lower(StockReceiptLine.lot).in_({line.lot.lower() for line in received}),
        )
        .order_by(StockReceiptLine.id)
    )
    return [ReceivedLine(*row) for row in rows]


def _earlier_deliveries(
    site: Site, supplier_dea: str, invoice: str, lots: list[str]
) -> list[ReceivedLine]:
    """The lines already received at `site` from this supplier on this invoice with these
    lots."""
    rows = db.session.execute(
        select(
            StockReceiptLine.product_id,
            StockReceiptLine.lot,
            StockReceiptLine.expiry_date,
            StockReceipt.invoice_number,
            StockReceipt.received_on,
        )
        .join(StockReceipt, StockReceiptLine.receipt_id == StockReceipt.id)
        .where(
            StockReceipt.site_id == site.id,
            StockReceipt.supplier_dea == supplier_dea,
            func.lower(StockReceipt.invoice_number) == invoice.lower(),
            func.lower(StockReceiptLine.lot).in_({lot.lower() for lot in lots}),
        )
        .order_by(StockReceipt.received_on, StockReceiptLine.id)
    )
    return [ReceivedLine(*row) for row in rows]


def receive(
    actor: User,
    site: Site,
    data: dict[str, Any],
    lines: list[dict[str, Any]],
    checker_username: str,
    checker_password: str,
) -> StockReceipt:
    """Record a delivery at `site`. `lines` are dicts of product_id, lot, expiry_date and
    containers; a line's error goes on `lines-N`. The checker's wrong password is audited and
    counted (the caller commits after that refusal)."""
    require_role(actor, *CLINICAL)
    require_site_access(actor, site.id)
    errors = _header_problems(data)
    for number, line in enumerate(lines):
        for name, problem in _line_problems(line, data.get("received_on")).items():
            errors[f"lines-{number}-{name}".rstrip("-")] = problem
    if not lines:
        errors["lines-0"] = "Add at least one line."
    if errors:
        raise FieldErrors(errors)
    if errors := _repeat_problems(site, data, lines):
        raise FieldErrors(errors)
    checker = second_person(actor, site.id, checker_username, "checker_username")
    reauthenticate(
        checker, checker_password, "stock.receipt_check", field="checker_password", witness=True
    )
    receipt = StockReceipt(
        site_id=site.id,
        received_on=data["received_on"],
        supplier_name=data["supplier_name"].strip(),
        supplier_address=data["supplier_address"].strip(),
        supplier_dea=normalise_dea_number(data["supplier_dea"]),
        invoice_number=data["invoice_number"].strip(),
        received_by_id=actor.id,
        checked_by_id=checker.id,
    )
    db.session.add(receipt)
    db.session.flush()
    audit.record(actor, "stock.receipt", receipt, site_id=site.id, checked_by=checker.id)
    for line in lines:
        _receive_line(actor, receipt, _counted(line), data["storage_location"].strip())
    return receipt


def _receive_line(
    actor: User, receipt: StockReceipt, line: dict[str, Any], storage: str
) -> StockReceiptLine:
    row = StockReceiptLine(
        receipt_id=receipt.id,
        product_id=line["product_id"],
        lot=line["lot"].strip(),
        expiry_date=line["expiry_date"],
        containers=line["containers"],
        packs=line["packs"],
        per_pack=line["per_pack"],
        pack_ndc=line["pack_ndc"],
    )
    db.session.add(row)
    db.session.flush()
    size = row.product.container_size
    # The date actually received (21 CFR 1304.21(d)): now when that is today, else its midday.
    when = receipt.received_on
    at = utcnow() if when >= clinic_today() else local_to_utc(when, time(12))
    for _ in range(row.containers):
        container = StockContainer(
            line_id=row.id, site_id=receipt.site_id, storage_location=storage, remaining=0
        )
        db.session.add(container)
        db.session.flush()
        move(
            actor,
            container,
            MovementKind.RECEIVE,
            size,
            occurred_at=at,
            document_ref=receipt.invoice_number,
        )
    return row


def add_product(actor: User, data: dict[str, Any]) -> StockProduct:
    """The registrant (psychiatrist) adds a product to the catalogue."""
    require_role(actor, Role.PSYCHIATRIST)
    if db.session.scalar(select(StockProduct.id).where(StockProduct.ndc == data["ndc"].strip())):
        raise RuleViolation("A product with this NDC is already in the catalogue.", "ndc")
    vial = data.get("base_unit") == BaseUnit.ML.value
    use = data.get("vial_use") or ""
    if vial and use not in ("single", "multiple"):
        raise RuleViolation(
            "Say whether the vial is single-dose or multiple-dose, as its label says.", "vial_use"
        )
    if not vial and use in ("single", "multiple"):
        raise RuleViolation("A product counted in devices is not a vial.", "vial_use")
    product = StockProduct(
        name=data["name"].strip(),
        ndc=data["ndc"].strip(),
        modality=data["modality"],
        dosage_form=data["dosage_form"].strip(),
        mg_per_unit=Decimal(data["mg_per_unit"]),
        base_unit=data["base_unit"],
        container_size=Decimal(data["container_size"]),
        witness_required=bool(data.get("witness_required", True)),
        single_dose=vial and use == "single",
    )
    db.session.add(product)
    db.session.flush()
    audit.record(actor, "stock.product_add", product)
    return product
