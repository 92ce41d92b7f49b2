"""Controlled-substance records for the bulk history (`demo-data --patients N`): per site one
receipt covering the lots its sessions used, one container per vial or device, and every dosed
session's draws in dose order, written with Core executemany like the rest of the bulk history
(no audit rows). Containers get the balance the movements add up to; `ledger_problems` checks
that, and that no balance is negative."""

import math
from collections import defaultdict
from datetime import timedelta
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
    vial = products[(Modality.IV_KETAMINE, BaseUnit.ML)]
    device = products[(Modality.ESKETAMINE_NASAL, BaseUnit.DEVICE)]
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
    need: dict[tuple[int, str, str], Decimal] = defaultdict(Decimal)
    for s in sessions:
        esketamine = s.modality == Modality.ESKETAMINE_NASAL
        need[(s.site_id, "device" if esketamine else "vial", s.lot_number)] += (
            Decimal(len(devices[s.id])) if esketamine else (s.dose_mg / 100).quantize(CENT)
        )
    connection = db.session.connection()
    first_at = sessions[0].dose_started_at - timedelta(days=3)
    pools: dict[tuple[int, str], list[dict]] = {}
    movements: list[dict] = []
    for site_id in sorted({key[0] for key in need}):
        nurse, psychiatrist = _people(site_id)
        receipt_id = connection.execute(
            insert(StockReceipt).returning(StockReceipt.id),
            dict(
                SUPPLIER,
                site_id=site_id,
                received_on=first_at.date(),
                received_by_id=nurse,
                checked_by_id=psychiatrist,
                created_at=first_at,
            ),
        ).scalar_one()
        for (site, kind, lot), amount in sorted(need.items()):
            if site != site_id:
                continue
            product = device if kind == "device" else vial
            count = math.ceil(amount / product.container_size) + 1
            line_id = connection.execute(
                insert(StockReceiptLine).returning(StockReceiptLine.id),
                {
                    "receipt_id": receipt_id,
                    "product_id": product.id,
                    "lot": lot,
                    "expiry_date": (first_at + timedelta(days=1200)).date(),
                    "containers": count,
                },
            ).scalar_one()
            pools[(site_id, lot)] = [
                {
                    "line_id": line_id,
                    "site_id": site_id,
                    "storage_location": "Locked cabinet",
                    "remaining": product.container_size,
                    "opened_at": None,
                    "created_at": first_at,
                    "moves": [
                        (MovementKind.RECEIVE, product.container_size, None, nurse, first_at)
                    ],
                }
                for _ in range(count)
            ]
    updates = _draw_all(sessions, devices, pools)
    containers = [c for pool in pools.values() for c in pool]
    ids = (
        connection.execute(
            insert(StockContainer).returning(StockContainer.id, sort_by_parameter_order=True),
            [{k: v for k, v in c.items() if k != "moves"} for c in containers],
        )
        .scalars()
        .all()
    )
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
    if updates:
        connection.execute(
            update(DeviceAdministration)
            .where(DeviceAdministration.id == bindparam("device"))
            .values(container_id=bindparam("container")),
            [{"device": d, "container": containers[i]["id"]} for d, i in updates],
        )
    return {"stock_containers": len(containers), "stock_movements": len(movements)}


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
