"""What the inventory pages show, each in a bounded number of statements: stock by product and
lot, open vials, the day's movements, open discrepancies, a container's history, the dispensing
log and the reconciliation ledger."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from clinic_app.clinical.ledger import Movement, MovementKind, expiring, running_balances
from clinic_app.extensions import db
from clinic_app.models import (
    StockContainer,
    StockCount,
    StockCountLine,
    StockDiscrepancy,
    StockMovement,
    StockProduct,
    StockReceipt,
    StockReceiptLine,
)
from clinic_app.settings import clinic_today, stock_rules


@dataclass(frozen=True)
class LotStock:
    product: StockProduct
    lot: str
    expiry_date: date
    containers: int
    opened: int
    on_hand: Decimal
    expiring: bool
    expired: bool


def stock_by_lot(site_ids: tuple[int, ...]) -> list[LotStock]:
    """Stock on hand by product and lot (containers with something left), soonest expiry first."""
    query = (
        select(
            StockReceiptLine.product_id,
            StockReceiptLine.lot,
            StockReceiptLine.expiry_date,
            func.count(StockContainer.id),
            func.count(StockContainer.opened_at),
            func.sum(StockContainer.remaining),
        )
        .join(StockContainer, StockContainer.line_id == StockReceiptLine.id)
        .where(StockContainer.site_id.in_(site_ids), StockContainer.remaining > 0)
        .group_by(StockReceiptLine.product_id, StockReceiptLine.lot, StockReceiptLine.expiry_date)
        .order_by(StockReceiptLine.expiry_date, StockReceiptLine.lot)
    )
    rows = db.session.execute(query).all()
    products = {p.id: p for p in db.session.scalars(select(StockProduct))}
    today, rules = clinic_today(), stock_rules()
    return [
        LotStock(
            products[product_id],
            lot,
            expiry,
            containers,
            opened,
            Decimal(on_hand),
            expiring(expiry, today, rules),
            expiry < today,
        )
        for product_id, lot, expiry, containers, opened, on_hand in rows
    ]


def _containers():
    return select(StockContainer).options(
        joinedload(StockContainer.line).joinedload(StockReceiptLine.product)
    )


def open_vials(site_ids: tuple[int, ...]) -> list[StockContainer]:
    """Opened containers with something left."""
    query = _containers().where(
        StockContainer.site_id.in_(site_ids),
        StockContainer.opened_at.is_not(None),
        StockContainer.remaining > 0,
    )
    return list(db.session.scalars(query.order_by(StockContainer.opened_at)))


def _movements():
    return select(StockMovement).options(
        joinedload(StockMovement.container)
        .joinedload(StockContainer.line)
        .joinedload(StockReceiptLine.product),
        joinedload(StockMovement.actor),
        joinedload(StockMovement.witness),
        joinedload(StockMovement.second_witness),
        joinedload(StockMovement.patient),
    )


def movements_between(
    site_ids: tuple[int, ...], start: datetime, end: datetime, kinds=None
) -> list[StockMovement]:
    """Movements at the sites in [start, end), oldest first; only `kinds` when given."""
    query = _movements().where(
        StockMovement.site_id.in_(site_ids),
        StockMovement.occurred_at >= start,
        StockMovement.occurred_at < end,
    )
    if kinds:
        query = query.where(StockMovement.kind.in_(kinds))
    return list(db.session.scalars(query.order_by(StockMovement.occurred_at, StockMovement.id)))


def container_history(container_id: int) -> list[StockMovement]:
    return list(
        db.session.scalars(
            _movements()
            .where(StockMovement.container_id == container_id)
            .order_by(StockMovement.id)
        )
    )


def open_discrepancies(site_ids: tuple[int, ...]) -> list[StockDiscrepancy]:
    return list(
        db.session.scalars(
            select(StockDiscrepancy)
            .where(StockDiscrepancy.site_id.in_(site_ids), StockDiscrepancy.closed_at.is_(None))
            .options(
                joinedload(StockDiscrepancy.count_line)
                .joinedload(StockCountLine.container)
                .joinedload(StockContainer.line)
                .joinedload(StockReceiptLine.product)
            )
            .order_by(StockDiscrepancy.discovered_at)
        )
    )


def recent_discrepancies(site_ids: tuple[int, ...], limit: int = 50) -> list[StockDiscrepancy]:
    return list(
        db.session.scalars(
            select(StockDiscrepancy)
            .where(StockDiscrepancy.site_id.in_(site_ids))
            .options(
                joinedload(StockDiscrepancy.count_line)
                .joinedload(StockCountLine.container)
                .joinedload(StockContainer.line)
                .joinedload(StockReceiptLine.product),
                joinedload(StockDiscrepancy.closed_by),
            )
            .order_by(StockDiscrepancy.discovered_at.desc())
            .limit(limit)
        )
    )


def recent_counts(site_ids: tuple[int, ...], limit: int = 20) -> list[StockCount]:
    return list(
        db.session.scalars(
            select(StockCount)
            .where(StockCount.site_id.in_(site_ids))
            .options(
                joinedload(StockCount.counted_by),
                joinedload(StockCount.witness),
                selectinload(StockCount.lines),
            )
            .order_by(StockCount.counted_at.desc())
            .limit(limit)
        )
    )


def receipts(site_ids: tuple[int, ...], limit: int = 50) -> list[StockReceipt]:
    return list(
        db.session.scalars(
            select(StockReceipt)
            .where(StockReceipt.site_id.in_(site_ids))
            .options(
                joinedload(StockReceipt.received_by),
                joinedload(StockReceipt.checked_by),
                selectinload(StockReceipt.lines).joinedload(StockReceiptLine.product),
            )
            .order_by(StockReceipt.received_on.desc(), StockReceipt.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class LedgerRow:
    movement: StockMovement
    container_balance: Decimal


def ledger(site_id: int) -> list[LedgerRow]:
    """Every movement of the site in the order recorded, with the container's running balance
    re-added from the movements (never read from the stored balance)."""
    moves = list(
        db.session.scalars(
            _movements().where(StockMovement.site_id == site_id).order_by(StockMovement.id)
        )
    )
    rule_moves = [
        Movement(
            m.id,
            m.site_id,
            m.container.line.product_id,
            m.container.line.lot,
            m.container_id,
            MovementKind(m.kind),
            m.quantity,
            m.reverses_id,
        )
        for m in moves
    ]
    return [
        LedgerRow(m, balance)
        for m, balance in zip(moves, running_balances(rule_moves), strict=True)
    ]
