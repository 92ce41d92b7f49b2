"""The initial and biennial inventory (21 CFR 1304.11): every product and lot on hand at one
site at a stated date and time, at the opening or close of business, full containers counted
and opened ones estimated, signed by the registrant with their password. Kept as taken."""

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from clinic_app import audit
from clinic_app.auth.permissions import require_role
from clinic_app.auth.services import reauthenticate
from clinic_app.clinical.codes import Role
from clinic_app.clock import utcnow
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.inventory.counts import countable
from clinic_app.models import Site, StockInventory, StockInventoryLine, User
from clinic_app.models.stock import InventoryKind
from clinic_app.site_scope import require_site_access


def take_inventory(
    actor: User, site: Site, kind: str, opening_of_business: bool, password: str
) -> StockInventory:
    """Snapshot what the ledger holds at the site now, signed by the registrant."""
    require_role(actor, Role.PSYCHIATRIST)
    require_site_access(actor, site.id)
    try:
        chosen = InventoryKind(kind)
    except ValueError:
        raise RuleViolation("Choose initial or biennial.", "kind") from None
    reauthenticate(actor, password, "stock.inventory_sign", field="password")
    inventory = StockInventory(
        site_id=site.id,
        kind=chosen,
        taken_at=utcnow(),
        opening_of_business=opening_of_business,
        signed_by_id=actor.id,
    )
    db.session.add(inventory)
    db.session.flush()
    by_lot: dict[tuple[int, str], list] = defaultdict(lambda: [0, 0, Decimal(0), Decimal(0)])
    for container in countable(site):
        product = container.product
        row = by_lot[(product.id, container.lot)]
        if container.remaining == product.container_size:
            row[0] += 1
        else:
            row[1] += 1
            row[2] += container.remaining
        row[3] += container.remaining
    for (product_id, lot), (full, opened, opened_qty, total) in sorted(by_lot.items()):
        db.session.add(
            StockInventoryLine(
                inventory_id=inventory.id,
                product_id=product_id,
                lot=lot,
                full_containers=full,
                opened_containers=opened,
                opened_quantity=opened_qty,
                total=total,
            )
        )
    db.session.flush()
    audit.record(actor, "stock.inventory", inventory, site_id=site.id, kind=chosen.value)
    return inventory


def inventories(site_id: int) -> list[StockInventory]:
    return list(
        db.session.scalars(
            select(StockInventory)
            .where(StockInventory.site_id == site_id)
            .options(joinedload(StockInventory.signed_by))
            .order_by(StockInventory.taken_at.desc())
        )
    )


def inventory(inventory_id: int) -> StockInventory | None:
    return db.session.scalar(
        select(StockInventory)
        .where(StockInventory.id == inventory_id)
        .options(
            joinedload(StockInventory.signed_by),
            joinedload(StockInventory.site),
            selectinload(StockInventory.lines).joinedload(StockInventoryLine.product),
        )
    )
