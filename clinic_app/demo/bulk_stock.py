"""Controlled-substance records for the bulk history (`demo-data --patients N`): per site one
receipt covering the lots its sessions used, one container per vial or device, and every dosed
session's draws in dose order, written with Core executemany like the rest of the bulk history
(no audit rows). Containers get the balance the movements add up to; `ledger_problems` checks
that, and that no balance is negative."""

import math
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.sql.expression import bindparam

from clinic_app.clinical.codes import Modality, Role
from clinic_app.clinical.ledger import MovementKind
from clinic_app.extensions import db
from clinic_app.inventory.catalogue import ensure_standard_products
from clinic_app.models import (
    Appointment,
    Chair,
    DeviceAdministration,
    StockContainer,
    StockMovement,
    StockProduct,
    StockReceipt,
    StockReceiptLine,
    TreatmentSession,
    User,
    user_sites,
)
from clinic_app.models.stock import BaseUnit

SUPPLIER = {
    "supplier_name": "Bulk Specialty Distribution",
    "supplier_address": "400 Harbor Way, Oakland CA 94607",
    "supplier_dea": "RD1234563",
    "invoice_number": "BULK-HISTORY",
}
CENT = Decimal("0.01")


def _undrawn_sessions() -> list[Any]:
    drawn = exists().where(StockMovement.session_id == TreatmentSession.id)
    return list(
        db.session.execute(
            select(
                TreatmentSession.id,
                TreatmentSession.patient_id,
                TreatmentSession.modality,
                TreatmentSession.dose_mg,
                TreatmentSession.lot_number,
                TreatmentSession.dose_started_at,
                TreatmentSession.nurse_id,
                Chair.site_id,
            )
            .join(Appointment, Appointment.id == TreatmentSession.appointment_id)
            .join(Chair, Chair.id == Appointment.chair_id)
            .where(TreatmentSession.dose_started_at.is_not(None), ~drawn)
            .order_by(TreatmentSession.dose_started_at, TreatmentSession.id)
        )
    )


def _people(site_id: int) -> tuple[int, int]:
    """A nurse and a psychiatrist working at the site (receiver and checker)."""

    def first(role: Role) -> int:
        return db.session.scalars(
            select(User.id)
            .join(user_sites, user_sites.c.user_id == User.id)
            .where(user_sites.c.site_id == site_id, User.role == role)
            .order_by(User.id)
            .limit(1)
        ).one()

    return first(Role.NURSE), first(Role.PSYCHIATRIST)


def generate_stock() -> dict[str, int]:
    """Receipts, containers and movements for every dosed session not yet drawn; row counts."""
    products = {
        (p.modality, p.base_unit): p
        for p in ensure_standard_products()
        if p.base_unit == BaseUnit.DEVICE or p.mg_per_unit == 100
    }
    sessions = _undrawn_sessions()
    if not sessions:
        return {}
    devices = defaultdict(list)
    for row in db.session.execute(
        select(DeviceAdministration.id, DeviceAdministration.session_id).order_by(
            DeviceAdministration.session_id, DeviceAdministration.device_number
        )
    ):
        devices[row.session_id].append(row.id)
    need: dict[tuple[int, StockProduct, str], Decimal] = defaultdict(Decimal)
    for s in sessions:
        if s.modality == Modality.ESKETAMINE_NASAL:
            product = products[(Modality.ESKETAMINE_NASAL, BaseUnit.DEVICE)]
            need[(s.site_id, product, s.lot_number)] += len(devices[s.id])
        else:
            product = products[(Modality.IV_KETAMINE, BaseUnit.ML)]
            need[(s.site_id, product, s.lot_number)] += (s.dose_mg / 100).quantize(CENT)
    pools = _receive(need, sessions[0].dose_started_at - timedelta(days=3))
    linked = _draw_all(sessions, devices, pools)
    containers = [c for pool in pools.values() for c in pool]
    movements = _insert(containers)
    if linked:
        db.session.connection().execute(
            update(DeviceAdministration)
            .where(DeviceAdministration.id == bindparam("device"))
            .values(container_id=bindparam("container")),
            [{"device": d, "container": containers[i]["id"]} for d, i in linked],
        )
    return {"stock_containers": len(containers), "stock_movements": movements}


def _receive(
    need: dict[tuple[int, StockProduct, str], Decimal], at: datetime
) -> dict[tuple[int, str], list[dict]]:
    """One receipt per site with a line per lot its sessions need (plus a spare container);
    the containers to be, by (site, lot), each with its receive movement."""
    connection = db.session.connection()
    pools: dict[tuple[int, str], list[dict]] = {}
    for site_id in sorted({key[0] for key in need}):
        nurse, psychiatrist = _people(site_id)
        receipt = dict(SUPPLIER, site_id=site_id, received_on=at.date(), created_at=at)
        receipt |= {"received_by_id": nurse, "checked_by_id": psychiatrist}
        receipt_id = connection.execute(
            insert(StockReceipt).returning(StockReceipt.id), receipt
        ).scalar_one()
        for (site, product, lot), amount in sorted(need.items(), key=lambda i: (i[0][0], i[0][2])):
            if site != site_id:
                continue
            count = math.ceil(amount / product.container_size) + 1
            line = {"receipt_id": receipt_id, "product_id": product.id, "lot": lot}
            line |= {"expiry_date": (at + timedelta(days=1200)).date(), "containers": count}
            line_id = connection.execute(
                insert(StockReceiptLine).returning(StockReceiptLine.id), line
            ).scalar_one()
            received = (MovementKind.RECEIVE, product.container_size, None, nurse, at)
            pools[(site_id, lot)] = [
                {
                    "line_id": line_id,
                    "site_id": site_id,
                    "storage_location": "Locked cabinet",
                    "remaining": product.container_size,
                    "opened_at": None,
                    "created_at": at,
                    "moves": [received],
                }
                for _ in range(count)
            ]
    return pools


def _insert(containers: list[dict]) -> int:
    """Insert the containers (ids noted on them) and their movements; the movement count."""
    connection = db.session.connection()
    ids = (
        connection.execute(
            insert(StockContainer).returning(StockContainer.id, sort_by_parameter_order=True),
            [{k: v for k, v in c.items() if k != "moves"} for c in containers],
        )
        .scalars()
        .all()
    )
    movements = []
    for container_id, container in zip(ids, containers, strict=True):
        container["id"] = container_id
        for kind, quantity, session, actor, at in container["moves"]:
            movements.append(
                {
                    "site_id": container["site_id"],
                    "container_id": container_id,
                    "kind": kind.value,
                    "quantity": quantity,
                    "quantity_mg": None if session is None else session[1],
                    "occurred_at": at,
                    "actor_id": actor,
                    "patient_id": None if session is None else session[0].patient_id,
                    "session_id": None if session is None else session[0].id,
                    "document_ref": SUPPLIER["invoice_number"] if session is None else "",
                    "created_at": at,
                }
            )
    connection.execute(insert(StockMovement), movements)
    return len(movements)


def _draw_all(sessions, devices, pools) -> list[tuple[int, int]]:
    """Each session's draws from its site's pool of its lot, in dose order; returns (device
    row, container index) pairs for the devices' container column."""
    index = {id(c): n for n, c in enumerate(c for pool in pools.values() for c in pool)}
    linked: list[tuple[int, int]] = []
    for s in sessions:
        pool = pools[(s.site_id, s.lot_number)]
        at = s.dose_started_at
        if s.modality == Modality.ESKETAMINE_NASAL:
            for device_row in devices[s.id]:
                container = next(c for c in pool if c["remaining"] > 0)
                _take(container, Decimal(1), Decimal(28), s, at)
                linked.append((device_row, index[id(container)]))
            continue
        left = (s.dose_mg / 100).quantize(CENT)
        for container in pool:
            if left <= 0:
                break
            take = min(container["remaining"], left)
            if take > 0:
                _take(container, take, take * 100, s, at)
                left -= take
    return linked


def _take(container: dict, quantity: Decimal, mg: Decimal, session: Any, at) -> None:
    container["remaining"] -= quantity
    container["opened_at"] = container["opened_at"] or at
    container["moves"].append(
        (MovementKind.ADMINISTER, -quantity, (session, mg), session.nurse_id, at)
    )


def ledger_problems() -> int:
    """Containers whose balance is not the sum of their movements, or is below zero."""
    totals = (
        select(StockMovement.container_id, func.sum(StockMovement.quantity).label("total"))
        .group_by(StockMovement.container_id)
        .subquery()
    )
    return (
        db.session.scalar(
            select(func.count())
            .select_from(StockContainer)
            .outerjoin(totals, totals.c.container_id == StockContainer.id)
            .where(
                (func.coalesce(totals.c.total, 0) != StockContainer.remaining)
                | (StockContainer.remaining < 0)
            )
        )
        or 0
    )
