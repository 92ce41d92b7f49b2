"""Inventory pages for nurses and the psychiatrist (the registrant), one site at a time (each
DEA registration keeps its own records): stock, a container's history with waste and disposal,
receipts, counts and discrepancies, the dispensing log and the reconciliation ledger."""

import csv
import io
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, role_required
from clinic_app.clinical.codes import Role
from clinic_app.clinical.ledger import MovementKind
from clinic_app.clock import utcnow
from clinic_app.errors import FieldErrors, PermissionDenied
from clinic_app.extensions import db
from clinic_app.form_flow import submit
from clinic_app.inventory import counts, queries, receiving, waste
from clinic_app.inventory import forms as f
from clinic_app.inventory import inventories as inventory_records
from clinic_app.inventory.catalogue import ensure_standard_products, pack
from clinic_app.inventory.dispensing import beyond_use, past_beyond_use
from clinic_app.inventory.movements import reverse
from clinic_app.models import (
    Patient,
    Site,
    StockContainer,
    StockDiscrepancy,
    StockInventory,
    StockMovement,
    StockProduct,
)
from clinic_app.page_audit import record_listing
from clinic_app.records.render import pdf_response
from clinic_app.settings import stock_rules
from clinic_app.site_scope import SiteScope, page_scope, require_site_access, show_site_times
from clinic_app.spreadsheet import safe_cell

bp = Blueprint("inventory", __name__, url_prefix="/inventory")
DISPENSED = (MovementKind.ADMINISTER, MovementKind.WASTE)


def _actor():
    return current_user._get_current_object()


def _scope() -> tuple[SiteScope, Site]:
    """The page's site: one site (each registration keeps its own records)."""
    scope = page_scope(allow_all=False)
    assert scope.site is not None  # allow_all=False always picks one
    return scope, scope.site


def _day_bounds(site: Site, day: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(site.timezone)
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, start + timedelta(days=1)


def _site_today(site: Site) -> date:
    return utcnow().astimezone(ZoneInfo(site.timezone)).date()


@bp.get("")
@role_required(*CLINICAL)
def index():
    """Stock on hand by product and lot, open vials, today's movements, open discrepancies."""
    scope, site = _scope()
    record_listing("inventory.view", site=site.code)
    start, end = _day_bounds(site, _site_today(site))
    return render_template(
        "inventory/index.html",
        site_scope=scope,
        site=site,
        stock=queries.stock_by_lot(scope.site_ids),
        open_vials=queries.open_vials(scope.site_ids),
        today=queries.movements_between(scope.site_ids, start, end),
        discrepancies=queries.open_discrepancies(scope.site_ids),
        last_count=next(iter(queries.recent_counts(scope.site_ids, limit=1)), None),
        day_start=start,
    )


def _container(container_id: int) -> StockContainer:
    container = db.session.get(StockContainer, container_id)
    if container is None:
        abort(404)
    try:
        require_site_access(_actor(), container.site_id)
    except PermissionDenied:
        abort(403)
    show_site_times(container.site)
    return container


def _container_page(container: StockContainer, status: int = 200, **forms: Any):
    audit.record(_actor(), "inventory.container_view", container)
    db.session.commit()
    return render_template(
        "inventory/container.html",
        container=container,
        history=queries.container_history(container.id),
        waste_form=forms.get("waste_form") or f.WasteForm(formdata=None),
        dispose_form=forms.get("dispose_form") or f.DisposeForm(formdata=None),
        reverse_form=forms.get("reverse_form"),
        blank_reverse_form=lambda m: f.ReverseForm(formdata=None, prefix=f"m{m.id}"),
        may_dispose=current_user.role == Role.PSYCHIATRIST,
    ), status


@bp.get("/containers/<int:container_id>")
@role_required(*CLINICAL)
def container(container_id: int):
    return _container_page(_container(container_id))


def _container_action(container_id: int, form: Any, action: Callable, form_name: str, done: str):
    """Waste or dispose of the container's contents with `form`, witnessed."""
    item = _container(container_id)
    return submit(
        form,
        lambda: action(_actor(), item, form.data),
        page=lambda status, _e: _container_page(
            _container(container_id), status, **{form_name: form}
        ),
        done=lambda _m: url_for("inventory.container", container_id=container_id),
        success=done,
        attempt_field="witness_password",
    )


@bp.post("/containers/<int:container_id>/waste")
@role_required(*CLINICAL)
def waste_container(container_id: int):
    return _container_action(
        container_id, f.WasteForm(), waste.waste, "waste_form", "Waste recorded with its witness."
    )


@bp.post("/containers/<int:container_id>/dispose")
@role_required(Role.PSYCHIATRIST)
def dispose_container(container_id: int):
    return _container_action(
        container_id, f.DisposeForm(), waste.dispose, "dispose_form", "Disposal recorded."
    )


@bp.post("/movements/<int:movement_id>/reverse")
@role_required(Role.PSYCHIATRIST)
def reverse_movement(movement_id: int):
    """The registrant reverses a mistaken movement before a witness (the original row stays)."""
    movement = db.session.get(StockMovement, movement_id)
    if movement is None:
        abort(404)
    container_id = movement.container_id
    _container(container_id)
    form = f.ReverseForm(prefix=f"m{movement_id}")
    return submit(
        form,
        lambda: reverse(
            _actor(),
            movement,
            form.reason.data,
            form.witness_username.data,
            form.witness_password.data,
        ),
        page=lambda status, _e: _container_page(
            _container(container_id), status, reverse_form=(movement_id, form)
        ),
        done=lambda _m: url_for("inventory.container", container_id=container_id),
        success="Reversed before its witness; record the right entry if one is due.",
        attempt_field="witness_password",
    )


# --- receipts -----------------------------------------------------------------------------


def _product_choices() -> list[tuple[str, str]]:
    rows = db.session.scalars(
        select(StockProduct).where(StockProduct.active).order_by(StockProduct.name)
    )
    return [("", "Choose…")] + [(str(p.id), f"{p.label} ({p.ndc})") for p in rows]


def _receipt_form() -> f.ReceiptForm:
    form = f.ReceiptForm()
    for line in form.lines:
        line.form.product_id.choices = _product_choices()
    return form


@bp.route("/receipts", methods=["GET", "POST"])
@role_required(*CLINICAL)
def receipts():
    """The site's receipts, and a new one received and checked by two people."""
    scope, site = _scope()
    form = _receipt_form()

    def page(status: int, _error: Exception | None):
        record_listing("inventory.receipts_view", site=site.code)
        return render_template(
            "inventory/receipts.html",
            site_scope=scope,
            site=site,
            form=form,
            receipts=queries.receipts(scope.site_ids),
        ), status

    def action():
        used = [line for line in form.lines if line.data.get("product_id")]
        try:
            return receiving.receive(
                _actor(),
                site,
                form.data,
                [line.data for line in used],
                form.checker_username.data,
                form.checker_password.data,
            )
        except FieldErrors as error:
            _line_errors_beside_their_lines(error, used or list(form.lines))
            raise

    return submit(
        form,
        action,
        page=page,
        done=lambda _r: url_for("inventory.receipts", **scope.url_args),
        success="Receipt recorded; each container is in stock.",
        attempt_field="checker_password",
    )


def _line_errors_beside_their_lines(error: FieldErrors, lines: list) -> None:
    """Move the service's `lines-N` errors onto the product field of the Nth line used, and
    its `lines-N-FIELD` errors onto that field of the line."""
    for key in [k for k in error.errors if k.startswith("lines-")]:
        message = error.errors.pop(key)
        number, _, name = key.removeprefix("lines-").partition("-")
        lines[int(number)].form[name or "product_id"].errors = [message]
        error.errors.setdefault("receipt_lines", "Check the lines marked below.")


# --- counts and discrepancies ------------------------------------------------------------


def _count_form(containers: list[StockContainer]) -> f.CountForm:
    class SiteCountForm(f.CountForm):
        pass

    for item in containers:
        setattr(SiteCountForm, f"c{item.id}", f.count_field(f"{item.label} found"))
    return SiteCountForm()


@bp.route("/count", methods=["GET", "POST"])
@role_required(*CLINICAL)
def count():
    """Count everything at the site with a second person; variances open discrepancies."""
    scope, site = _scope()
    containers = counts.countable(site)
    form = _count_form(containers)

    def page(status: int, _error: Exception | None):
        return render_template(
            "inventory/count.html", site_scope=scope, site=site, form=form, containers=containers
        ), status

    def action():
        found = {c.id: form[f"c{c.id}"].data for c in containers}
        return counts.record_count(
            _actor(), site, found, form.witness_username.data, form.witness_password.data
        )

    return submit(
        form,
        action,
        page=page,
        done=lambda _count: url_for("inventory.discrepancies", **scope.url_args),
        success="Count recorded.",
        attempt_field="witness_password",
    )


@bp.get("/discrepancies")
@role_required(*CLINICAL)
def discrepancies():
    scope, site = _scope()
    record_listing("inventory.discrepancies_view", site=site.code)
    return _discrepancies_page(scope, site)


def _discrepancies_page(scope, site, status: int = 200, forms: dict | None = None):
    found = queries.recent_discrepancies(scope.site_ids)
    forms = forms or {}
    return render_template(
        "inventory/discrepancies.html",
        site_scope=scope,
        site=site,
        discrepancies=found,
        counts=queries.recent_counts(scope.site_ids),
        forms={
            d.id: forms.get(d.id) or f.DiscrepancyForm(formdata=None, prefix=f"d{d.id}")
            for d in found
            if d.closed_at is None
        },
        registrant=current_user.role == Role.PSYCHIATRIST,
    ), status


@bp.post("/discrepancies/<int:discrepancy_id>")
@role_required(Role.PSYCHIATRIST)
def settle_discrepancy(discrepancy_id: int):
    found = db.session.get(StockDiscrepancy, discrepancy_id)
    if found is None:
        abort(404)
    scope, site = _scope()
    if found.site_id != site.id:
        abort(403)
    form = f.DiscrepancyForm(prefix=f"d{found.id}")
    return submit(
        form,
        lambda: counts.settle(_actor(), found, form.data),
        page=lambda status, _e: _discrepancies_page(scope, site, status, {discrepancy_id: form}),
        done=lambda _d: url_for("inventory.discrepancies", **scope.url_args),
        success=_settled_message,
    )


def _settled_message(found: StockDiscrepancy) -> str:
    if found.closed_at:
        return "Discrepancy closed."
    missing = [
        name
        for name, ref in (("DEA notice", found.notice_ref), ("Form 106", found.form106_ref))
        if not ref
    ]
    noun = "references are" if len(missing) > 1 else "reference is"
    return f"Saved; still open until the {' and '.join(missing)} {noun} recorded."


# --- the dispensing log and the ledger ----------------------------------------------------


def _dispensing(site: Site) -> tuple[f.DispensingRangeForm, list]:
    """The range asked for (the last 30 days by default) and its administrations and wastes;
    no rows when the range is refused (the form carries the message)."""
    form = f.DispensingRangeForm(request.args)
    if not form.validate():
        return form, []
    today = _site_today(site)
    form.end.data = form.end.data or today
    form.start.data = form.start.data or form.end.data - timedelta(days=30)
    if form.end.data < form.start.data:  # a start after today, with the end left for today
        form.start.errors = ["The start of the range is after today."]
        return form, []
    start, _ = _day_bounds(site, form.start.data)
    _, end = _day_bounds(site, form.end.data)
    return form, queries.movements_between((site.id,), start, end, DISPENSED)


def _valid_range(site: Site) -> tuple[date, date, list]:
    """For the CSV and the PDF, whose links come from a shown page: 400 on a bad range."""
    form, rows = _dispensing(site)
    if form.errors:
        abort(400)
    return form.start.data, form.end.data, rows


@bp.get("/dispensing")
@role_required(*CLINICAL)
def dispensing():
    """Administrations and wastes between two dates: who, what, how much, who witnessed."""
    scope, site = _scope()
    form, rows = _dispensing(site)
    if form.errors:
        page = render_template("inventory/dispensing.html", site_scope=scope, site=site, form=form)
        return page, 400
    first, last = form.start.data, form.end.data
    record_listing("inventory.dispensing_view", site=site.code, start=str(first), end=str(last))
    return render_template(
        "inventory/dispensing.html",
        site_scope=scope,
        site=site,
        form=form,
        first=first,
        last=last,
        rows=rows,
    )


DISPENSING_HEADER = (
    "occurred_at",
    "kind",
    "patient",
    "mrn",
    "address",
    "product",
    "strength",
    "ndc",
    "lot",
    "container",
    "quantity",
    "unit",
    "mg",
    "by",
    "witness",
)


@bp.get("/dispensing.pdf")
@role_required(*CLINICAL)
def dispensing_pdf():
    """The dispensing log for the binder or an inspector, as a PDF."""
    scope, site = _scope()
    first, last, rows = _valid_range(site)
    record_listing("inventory.dispensing_pdf", site=site.code, start=str(first), end=str(last))
    filename = f"dispensing-{site.code}-{first}-{last}.pdf"
    return pdf_response(
        "records/dispensing.html", filename, site=site, first=first, last=last, rows=rows
    )


def _address(patient: Patient | None) -> str:
    """The patient's address on one line for the CSV; a patient without one says so."""
    if patient is None:
        return ""
    return patient.address or "address not recorded"


@bp.get("/dispensing.csv")
@role_required(*CLINICAL)
def dispensing_csv():
    scope, site = _scope()
    first, last, rows = _valid_range(site)
    record_listing("inventory.dispensing_export", site=site.code, start=str(first), end=str(last))
    zone = ZoneInfo(site.timezone)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(DISPENSING_HEADER)
    for m in rows:
        product = m.container.product
        writer.writerow(
            safe_cell(v)
            for v in (
                m.occurred_at.astimezone(zone).isoformat(timespec="minutes"),
                m.kind.value,
                m.patient.full_name if m.patient else "",
                m.patient.mrn if m.patient else "",
                _address(m.patient),
                product.name,
                product.strength,
                product.ndc,
                m.container.lot,
                m.container.label,
                -m.quantity,
                product.base_unit.value,
                m.mg if m.mg is not None else "",
                m.actor.display_name,
                m.witness.display_name if m.witness else "",
            )
        )
    name = f"dispensing-{site.code}-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


LEDGER_HEADER = (
    "movement_id",
    "occurred_at",
    "site",
    "container",
    "product",
    "ndc",
    "lot",
    "kind",
    "quantity",
    "unit",
    "running_balance",
    "reverses",
    "document_ref",
)


@bp.get("/ledger.csv")
@role_required(*CLINICAL)
def ledger_csv():
    """Every movement of one site, with the container's running balance re-added from the
    movements, so an auditor can check it line by line."""
    scope, site = _scope()
    record_listing("inventory.ledger_export", site=site.code)
    rows = queries.ledger(site.id)

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(LEDGER_HEADER)
        for row in rows:
            m = row.movement
            product = m.container.product
            writer.writerow(
                safe_cell(v)
                for v in (
                    m.id,
                    m.occurred_at.isoformat(timespec="seconds"),
                    site.code,
                    m.container.label,
                    product.name,
                    product.ndc,
                    m.container.lot,
                    m.kind.value,
                    m.quantity,
                    product.base_unit.value,
                    row.container_balance,
                    m.reverses_id or "",
                    m.document_ref,
                )
            )
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="ledger-{site.code}.csv"'},
    )


def quantity(value: Decimal | int) -> str:
    """A quantity without trailing zeros (4.60 -> 4.6, 5.00 -> 5; a count as it is)."""
    return f"{Decimal(value).normalize():f}"


def amount(value: Decimal | int, unit: str) -> str:
    """A quantity with its unit: 4.6 mL, 1 device, 3 devices."""
    plural = "s" if unit == "device" and abs(value) != 1 else ""
    return f"{quantity(value)} {unit}{plural}"


bp.add_app_template_filter(quantity, "quantity")
bp.add_app_template_filter(amount, "amount")
bp.add_app_template_filter(beyond_use, "beyond_use")
bp.add_app_template_filter(past_beyond_use, "past_beyond_use")


@bp.app_template_filter("pack_name")
def pack_name(ndc: str) -> str:
    """A pack's name by its NDC (the NDC itself for one no longer in the catalogue)."""
    found = pack(ndc)
    return found.name if found else ndc


# --- products and the biennial inventory --------------------------------------------------


def _products_page(status: int = 200, form: f.ProductForm | None = None):
    scope, _site = _scope()
    return render_template(
        "inventory/products.html",
        site_scope=scope,
        products=db.session.scalars(select(StockProduct).order_by(StockProduct.name)).all(),
        form=form or f.ProductForm(formdata=None),
        registrant=current_user.role == Role.PSYCHIATRIST,
        stock_days=stock_rules().multiple_dose_days,
    ), status


@bp.get("/products")
@role_required(*CLINICAL)
def products():
    return _products_page()


@bp.post("/products/new")
@role_required(Role.PSYCHIATRIST)
def add_product():
    form = f.ProductForm()
    return submit(
        form,
        lambda: receiving.add_product(_actor(), form.data),
        page=lambda status, _e: _products_page(status, form),
        done=lambda _p: url_for("inventory.products"),
        success="Product added.",
    )


@bp.post("/products/standard")
@role_required(Role.PSYCHIATRIST)
def add_standard_products():
    """The usual ketamine vials and the Spravato device, added when missing."""
    added = ensure_standard_products()
    audit.record(_actor(), "stock.product_standard", count=len(added))
    db.session.commit()
    return redirect(url_for("inventory.products"))


@bp.route("/inventories", methods=["GET", "POST"])
@role_required(*CLINICAL)
def inventories():
    """The site's initial and biennial inventories; the registrant takes a new one."""
    scope, site = _scope()
    form = f.InventoryForm()
    if request.method == "POST" and current_user.role != Role.PSYCHIATRIST:
        abort(403)

    def page(status: int, _error: Exception | None):
        return render_template(
            "inventory/inventories.html",
            site_scope=scope,
            site=site,
            form=form,
            inventories=inventory_records.inventories(site.id),
            registrant=current_user.role == Role.PSYCHIATRIST,
        ), status

    return submit(
        form,
        lambda: inventory_records.take_inventory(
            _actor(),
            site,
            form.kind.data,
            form.opening_of_business.data == "opening",
            form.password.data,
        ),
        page=page,
        done=lambda taken: url_for("inventory.inventory_record", inventory_id=taken.id),
        success="Inventory taken and signed.",
        attempt_field="password",
    )


@bp.get("/inventories/<int:inventory_id>")
@role_required(*CLINICAL)
def inventory_record(inventory_id: int):
    """One inventory as taken, printable."""
    return render_template("inventory/inventory.html", inventory=_taken(inventory_id, "view"))


@bp.get("/inventories/<int:inventory_id>.pdf")
@role_required(*CLINICAL)
def inventory_pdf(inventory_id: int):
    """One inventory as taken, as a PDF to keep with the registration's records."""
    taken = _taken(inventory_id, "pdf")
    filename = f"inventory-{taken.site.code}-{taken.id}.pdf"
    return pdf_response("records/inventory.html", filename, inventory=taken)


def _taken(inventory_id: int, how: str) -> StockInventory:
    """An inventory of one of the user's sites, its times in the site's zone; audited."""
    taken = inventory_records.inventory(inventory_id)
    if taken is None:
        abort(404)
    try:
        require_site_access(_actor(), taken.site_id)
    except PermissionDenied:
        abort(403)
    show_site_times(taken.site)
    audit.record(_actor(), f"inventory.record_{how}", taken)
    db.session.commit()
    return taken
