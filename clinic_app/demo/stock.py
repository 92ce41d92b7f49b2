"""Demo controlled-substance records: a receipt at each site covering the demo sessions' lots,
every dosed demo session drawn from its vial or devices (in dose order, so the ledger
reconciles), one witnessed waste, one count with a small explained variance and one expired
vial. Called once by the demo command after the sessions exist."""

import math
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from clinic_app.clinical.codes import Modality, Role
from clinic_app.clinical.ledger import Classification, MovementKind
from clinic_app.clock import utcnow
from clinic_app.demo.clinic import DEMO_LOGINS
from clinic_app.extensions import db
from clinic_app.inventory import counts, waste
from clinic_app.inventory.catalogue import ensure_standard_products
from clinic_app.inventory.movements import move
from clinic_app.inventory.receiving import receive
from clinic_app.models import (
    Appointment,
    Chair,
    Site,
    StockContainer,
    StockDiscrepancy,
    StockMovement,
    StockProduct,
    TreatmentSession,
    User,
)
from clinic_app.settings import clinic_today

IV_NDC, DEVICE_NDC = "0409-2051-05", "50458-028-00"  # 100 mg/mL 5 mL vials; Spravato devices
SUPPLIER = {
    "supplier_name": "Demo Specialty Distribution",
    "supplier_address": "400 Harbor Way, Oakland CA 94607",
    "supplier_dea": "RD1234563",
    "storage_location": "Locked cabinet, med room",
}
EXPIRED_LOT = "KET-22X01"
CENT = Decimal("0.01")


def _dosed_sessions() -> list[TreatmentSession]:
    return list(
        db.session.scalars(
            select(TreatmentSession)
            .where(TreatmentSession.dose_started_at.is_not(None))
            .options(
                joinedload(TreatmentSession.appointment)
                .joinedload(Appointment.chair)
                .joinedload(Chair.site),
                selectinload(TreatmentSession.devices),
            )
            .order_by(TreatmentSession.dose_started_at)
        )
    )


def _need(sessions: list[TreatmentSession]) -> dict[tuple[int, str, str], Decimal]:
    """Base units each (site, product NDC, lot) must have received for the sessions."""
    need: dict[tuple[int, str, str], Decimal] = defaultdict(Decimal)
    for t in sessions:
        site = t.appointment.chair.site_id if t.appointment and t.appointment.chair else None
        if site is None or t.dose_mg is None:
            continue
        if t.modality == Modality.IV_KETAMINE:
            need[(site, IV_NDC, t.lot_number)] += t.dose_mg / 100
        else:
            need[(site, DEVICE_NDC, t.lot_number)] += len(t.devices)
    return need


def _receive_for(
    site: Site, staff: dict[Role, User], lines: list[dict], days_ago: int, password: str
):
    return receive(
        staff[Role.NURSE],
        site,
        dict(
            SUPPLIER,
            received_on=clinic_today() - timedelta(days=days_ago),
            invoice_number=f"DEMO-{site.code}-{days_ago}",
        ),
        lines,
        staff[Role.PSYCHIATRIST].username,
        password,
    )


def _draw(staff: dict[Role, User], t: TreatmentSession, pool: list[StockContainer]) -> None:
    """Draw one session's dose from the pool of its site and lot, oldest container first."""
    nurse = staff[Role.NURSE]
    at = t.dose_started_at
    fields: dict[str, Any] = {"patient_id": t.patient_id, "session_id": t.id, "occurred_at": at}
    if t.modality == Modality.ESKETAMINE_NASAL:
        for device in t.devices:
            container = next(c for c in pool if c.remaining > 0)
            move(
                nurse,
                container,
                MovementKind.ADMINISTER,
                Decimal(1),
                quantity_mg=Decimal(28),
                **fields,
            )
            device.container_id = container.id
        return
    assert t.dose_mg is not None
    left = (t.dose_mg / 100).quantize(CENT)
    for container in pool:
        if left <= 0:
            break
        take = min(container.remaining, left)
        if take > 0:
            move(nurse, container, MovementKind.ADMINISTER, take, quantity_mg=take * 100, **fields)
            left -= take


def _lines(
    site: Site, need: dict[tuple[int, str, str], Decimal], products: dict[str, StockProduct]
) -> list[dict[str, Any]]:
    """The receipt lines a site needs for its demo sessions (a spare container each), or a
    small stock of vials and devices for a site without history."""
    expiry = clinic_today() + timedelta(days=300)
    lines = [
        {
            "product_id": products[ndc].id,
            "lot": lot,
            "expiry_date": expiry,
            "containers": math.ceil(amount / products[ndc].container_size) + 1,
        }
        for (site_id, ndc, lot), amount in sorted(need.items())
        if site_id == site.id
    ]
    return lines or [
        {
            "product_id": products[IV_NDC].id,
            "lot": "KET-24F07",
            "expiry_date": expiry,
            "containers": 4,
        },
        {
            "product_id": products[DEVICE_NDC].id,
            "lot": "SPR25A204",
            "expiry_date": expiry,
            "containers": 6,
        },
    ]


def load_demo_stock() -> int:
    """The demo's controlled-substance records; returns the number of movements. The demo
    psychiatrist checks the receipts and witnesses the waste and the count."""
    logins = {login.role: login for login in DEMO_LOGINS}
    staff = {
        role: db.session.scalars(select(User).where(User.username == logins[role].username)).one()
        for role in (Role.NURSE, Role.PSYCHIATRIST)
    }
    password = logins[Role.PSYCHIATRIST].password
    products = {p.ndc: p for p in ensure_standard_products()}
    sessions = _dosed_sessions()
    sites = list(db.session.scalars(select(Site).order_by(Site.id)))
    first_dose = min((t.dose_started_at for t in sessions if t.dose_started_at), default=utcnow())
    days_ago = (utcnow() - first_dose).days + 3
    pools: dict[tuple[int, str], list[StockContainer]] = {}
    for site in sites:
        lines = _lines(site, _need(sessions), products)
        receipt = _receive_for(site, staff, lines, days_ago, password)
        for line in receipt.lines:
            pools[(site.id, line.lot)] = list(
                db.session.scalars(
                    select(StockContainer)
                    .where(StockContainer.line_id == line.id)
                    .order_by(StockContainer.id)
                )
            )
    for t in sessions:
        if t.appointment and t.appointment.chair and t.dose_mg is not None:
            _draw(staff, t, pools[(t.appointment.chair.site_id, t.lot_number)])
    home = sites[0]
    _expired_vial(home, staff, products[IV_NDC], password)
    _witnessed_waste(home, staff, password)
    _count_with_variance(home, staff, password)
    return len(db.session.scalars(select(StockMovement.id)).all())


def _expired_vial(
    site: Site, staff: dict[Role, User], product: StockProduct, password: str
) -> None:
    """One vial of an old lot, received long ago and expired last week, still in the cabinet."""
    _receive_for(
        site,
        staff,
        [
            {
                "product_id": product.id,
                "lot": EXPIRED_LOT,
                "expiry_date": clinic_today() - timedelta(days=7),
                "containers": 1,
            }
        ],
        400,
        password,
    )


def _open_vials(site: Site) -> list[StockContainer]:
    return list(
        db.session.scalars(
            select(StockContainer)
            .where(
                StockContainer.site_id == site.id,
                StockContainer.opened_at.is_not(None),
                StockContainer.remaining > Decimal("0.5"),
            )
            .order_by(StockContainer.opened_at.desc())
        )
    )


def _witnessed_waste(site: Site, staff: dict[Role, User], password: str) -> None:
    """The remainder of today's most recently opened vial, wasted with the psychiatrist watching."""
    vial = next(c for c in _open_vials(site) if c.product.base_unit.value == "mL")
    waste.waste(
        staff[Role.NURSE],
        vial,
        {
            "quantity": Decimal("0.5"),
            "method": "Drug-waste container (Rx Destroyer)",
            "reason": "Unused remainder after the infusion",
            "witness_username": staff[Role.PSYCHIATRIST].username,
            "witness_password": password,
        },
    )


def _count_with_variance(site: Site, staff: dict[Role, User], password: str) -> None:
    """A count that finds 0.1 mL less in one open vial; the registrant explains it."""
    containers = counts.countable(site)
    short = next(c for c in _open_vials(site) if c.product.base_unit.value == "mL")
    found: dict[int, Decimal | None] = {
        c.id: c.remaining - (Decimal("0.1") if c.id == short.id else 0) for c in containers
    }
    count = counts.record_count(
        staff[Role.NURSE], site, found, staff[Role.PSYCHIATRIST].username, password
    )
    discrepancy = next(line for line in count.lines if line.variance)
    found_row = db.session.scalars(
        select(StockDiscrepancy).where(StockDiscrepancy.count_line_id == discrepancy.id)
    ).one()
    counts.settle(
        staff[Role.PSYCHIATRIST],
        found_row,
        {
            "classification": Classification.EXPLAINED.value,
            "note": "Estimated at the count; the draws match the chart. Estimate, not a loss.",
        },
    )
