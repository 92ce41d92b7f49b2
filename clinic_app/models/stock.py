"""Controlled-substance stock per site (each site's DEA registration keeps its own records):
products, receipts, containers, the append-only ledger of movements, counts and discrepancies,
and the initial and biennial inventories. Rules are in `clinic_app.clinical.ledger`."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    DDL,
    CheckConstraint,
    ForeignKey,
    Numeric,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic_app.clinical.codes import Modality
from clinic_app.clinical.ledger import Classification, MovementKind, shown_mg
from clinic_app.database import Quantity, coded, created_at, intpk, user_fk
from clinic_app.extensions import db
from clinic_app.models.site import Site

if TYPE_CHECKING:
    from clinic_app.models.patient import Patient
    from clinic_app.models.user import User

STRENGTH = Numeric(10, 2)


class BaseUnit(StrEnum):
    ML = "mL"
    DEVICE = "device"


class StockProduct(db.Model):
    """A controlled product as bought: NDC, strength, form and what one container holds."""

    __tablename__ = "stock_products"
    __table_args__ = (
        CheckConstraint("container_size > 0", name="container_size_positive"),
        CheckConstraint("mg_per_unit > 0", name="mg_per_unit_positive"),
    )

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(120))
    ndc: Mapped[str] = mapped_column(String(14), unique=True)
    schedule: Mapped[str] = mapped_column(String(4), default="CIII")
    modality: Mapped[Modality] = mapped_column(coded(Modality, 20, "stock_product_modality"))
    dosage_form: Mapped[str] = mapped_column(String(40))
    # Strength per base unit: mg per mL for a vial, mg per device for a nasal spray device.
    mg_per_unit: Mapped[Decimal] = mapped_column(STRENGTH)
    base_unit: Mapped[BaseUnit] = mapped_column(coded(BaseUnit, 8, "stock_base_unit"))
    # What one container holds, in base units (a 5 mL vial: 5; a device: 1).
    container_size: Mapped[Decimal] = mapped_column(STRENGTH)
    witness_required: Mapped[bool] = mapped_column(default=True)
    # A single-dose vial is not kept once opened; any other vial is multiple-dose, drawn from
    # until its beyond-use date (USP <797>). A device is used whole.
    single_dose: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]

    @property
    def multiple_dose(self) -> bool:
        return self.base_unit == BaseUnit.ML and not self.single_dose

    @property
    def vial_kind(self) -> str:
        if self.base_unit == BaseUnit.DEVICE:
            return "single-use device"
        return "single-dose vial" if self.single_dose else "multiple-dose vial"

    @property
    def strength(self) -> str:
        per = "mL" if self.base_unit == BaseUnit.ML else "device"
        return f"{self.mg_per_unit.normalize():f} mg/{per}"

    @property
    def label(self) -> str:
        return f"{self.name} {self.strength}"


class StockReceipt(db.Model):
    """A delivery as on the invoice or packing slip, received by one user and checked by a
    second (21 CFR 1304.22: supplier name, address and DEA number; date actually received)."""

    __tablename__ = "stock_receipts"
    __table_args__ = (
        CheckConstraint("received_by_id <> checked_by_id", name="checked_by_second_user"),
    )

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    received_on: Mapped[date] = mapped_column(index=True)
    supplier_name: Mapped[str] = mapped_column(String(120))
    supplier_address: Mapped[str] = mapped_column(String(240))
    supplier_dea: Mapped[str] = mapped_column(String(9))
    invoice_number: Mapped[str] = mapped_column(String(40))
    received_by_id: Mapped[int] = user_fk()
    checked_by_id: Mapped[int] = user_fk()
    created_at: Mapped[created_at]

    site: Mapped[Site] = relationship()
    received_by: Mapped["User"] = relationship(foreign_keys=[received_by_id])
    checked_by: Mapped["User"] = relationship(foreign_keys=[checked_by_id])
    lines: Mapped[list["StockReceiptLine"]] = relationship(
        back_populates="receipt", order_by="StockReceiptLine.id"
    )


class StockReceiptLine(db.Model):
    """One product and lot of a receipt: how many containers, expiring when; bought in packs
    (Spravato kits), how many packs of which pack, as on the invoice."""

    __tablename__ = "stock_receipt_lines"
    __table_args__ = (
        CheckConstraint("containers > 0", name="containers_positive"),
        CheckConstraint(
            "(packs IS NULL AND per_pack IS NULL AND pack_ndc IS NULL) OR "
            "(packs > 0 AND per_pack > 0 AND pack_ndc IS NOT NULL "
            "AND containers = packs * per_pack)",
            name="packs_make_the_containers",
        ),
    )

    id: Mapped[intpk]
    receipt_id: Mapped[int] = mapped_column(ForeignKey("stock_receipts.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("stock_products.id"), index=True)
    lot: Mapped[str] = mapped_column(String(40))
    expiry_date: Mapped[date] = mapped_column(index=True)
    containers: Mapped[int]
    packs: Mapped[int | None]
    per_pack: Mapped[int | None]
    pack_ndc: Mapped[str | None] = mapped_column(String(14))

    receipt: Mapped[StockReceipt] = relationship(back_populates="lines")
    product: Mapped[StockProduct] = relationship()


class StockContainer(db.Model):
    """One vial or device with its own identity and storage place. Quantities are exact
    hundredths of the product's base unit (`Quantity`).

    `remaining` mirrors the sum of the container's movements so that two draws at once cannot
    overdraw it: it changes only by one conditional UPDATE in the same transaction as the
    movement (`clinic_app.inventory.ledger.move`), and the CHECK keeps it at or above zero."""

    __tablename__ = "stock_containers"
    __table_args__ = (CheckConstraint("remaining >= 0", name="remaining_not_negative"),)

    id: Mapped[intpk]
    line_id: Mapped[int] = mapped_column(ForeignKey("stock_receipt_lines.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    storage_location: Mapped[str] = mapped_column(String(80))
    remaining: Mapped[Decimal] = mapped_column(Quantity(), default=Decimal(0))
    opened_at: Mapped[datetime | None] = mapped_column(index=True)
    # The session whose draw opened it: a single-dose vial serves that session only.
    opened_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment_sessions.id"), index=True
    )
    created_at: Mapped[created_at]

    line: Mapped[StockReceiptLine] = relationship()
    site: Mapped[Site] = relationship()

    @property
    def product(self) -> StockProduct:
        return self.line.product

    @property
    def lot(self) -> str:
        return self.line.lot

    @property
    def expiry_date(self) -> date:
        return self.line.expiry_date

    @property
    def label(self) -> str:
        prefix = "D" if self.line.product.base_unit == BaseUnit.DEVICE else "V"
        return f"{prefix}-{self.id:05d}"


class StockMovement(db.Model):
    """One ledger row. Never updated or deleted (database triggers refuse it); a mistake is
    corrected by a reversal and a new row."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        CheckConstraint(
            "(kind = 'reversal') = (reverses_id IS NOT NULL)", name="reversal_names_its_row"
        ),
        CheckConstraint("witness_id IS NULL OR witness_id <> actor_id", name="witness_not_actor"),
        CheckConstraint(
            "second_witness_id IS NULL OR (second_witness_id <> actor_id "
            "AND second_witness_id <> witness_id)",
            name="second_witness_distinct",
        ),
    )

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    container_id: Mapped[int] = mapped_column(ForeignKey("stock_containers.id"), index=True)
    kind: Mapped[MovementKind] = mapped_column(coded(MovementKind, 16, "stock_movement_kind"))
    # Signed, in the product's base unit (mL or devices).
    quantity: Mapped[Decimal] = mapped_column(Quantity())
    quantity_mg: Mapped[Decimal | None] = mapped_column(Quantity())
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int] = user_fk()
    witness_id: Mapped[int | None] = user_fk(nullable=True)
    second_witness_id: Mapped[int | None] = user_fk(nullable=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    method: Mapped[str] = mapped_column(String(80), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    # Invoice, DEA Form 41, reverse distributor receipt or discrepancy it settles.
    document_ref: Mapped[str] = mapped_column(String(80), default="")
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("stock_movements.id"), unique=True)
    created_at: Mapped[created_at]

    container: Mapped[StockContainer] = relationship()
    actor: Mapped["User"] = relationship(foreign_keys=[actor_id])

    @property
    def mg(self) -> Decimal | None:
        """The mg this row stands for: as recorded, or for a waste recorded without it, from
        the container's concentration (needs the container's product loaded)."""
        return shown_mg(
            self.kind, self.quantity, self.quantity_mg, self.container.product.mg_per_unit
        )

    witness: Mapped["User | None"] = relationship(foreign_keys=[witness_id])
    second_witness: Mapped["User | None"] = relationship(foreign_keys=[second_witness_id])
    patient: Mapped["Patient | None"] = relationship()


class StockCount(db.Model):
    """A shift or daily count by two people: counted against expected per container."""

    __tablename__ = "stock_counts"
    __table_args__ = (CheckConstraint("counted_by_id <> witness_id", name="two_people"),)

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    counted_at: Mapped[datetime] = mapped_column(index=True)
    counted_by_id: Mapped[int] = user_fk()
    witness_id: Mapped[int] = user_fk()
    created_at: Mapped[created_at]

    counted_by: Mapped["User"] = relationship(foreign_keys=[counted_by_id])
    witness: Mapped["User"] = relationship(foreign_keys=[witness_id])
    lines: Mapped[list["StockCountLine"]] = relationship(
        back_populates="count", order_by="StockCountLine.id"
    )


class StockCountLine(db.Model):
    """One container counted: expected (from the ledger) and counted (opened vials estimated)."""

    __tablename__ = "stock_count_lines"

    id: Mapped[intpk]
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_counts.id"), index=True)
    container_id: Mapped[int] = mapped_column(ForeignKey("stock_containers.id"), index=True)
    expected: Mapped[Decimal] = mapped_column(Quantity())
    counted: Mapped[Decimal] = mapped_column(Quantity())

    count: Mapped[StockCount] = relationship(back_populates="lines")
    container: Mapped[StockContainer] = relationship()

    @property
    def variance(self) -> Decimal:
        return self.counted - self.expected


class StockDiscrepancy(db.Model):
    """A count variance, never adjusted silently: the registrant classifies it; theft or
    significant loss closes only with the DEA notice and Form 106 references."""

    __tablename__ = "stock_discrepancies"

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    count_line_id: Mapped[int] = mapped_column(ForeignKey("stock_count_lines.id"), unique=True)
    variance: Mapped[Decimal] = mapped_column(Quantity())
    discovered_at: Mapped[datetime] = mapped_column(index=True)
    classification: Mapped[Classification | None] = mapped_column(
        coded(Classification, 20, "stock_discrepancy_classification")
    )
    note: Mapped[str] = mapped_column(Text, default="")
    notice_due: Mapped[date | None]
    notice_ref: Mapped[str] = mapped_column(String(80), default="")
    form106_due: Mapped[date | None]
    form106_ref: Mapped[str] = mapped_column(String(80), default="")
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    closed_by_id: Mapped[int | None] = user_fk(nullable=True)

    count_line: Mapped[StockCountLine] = relationship()
    closed_by: Mapped["User | None"] = relationship()


class InventoryKind(StrEnum):
    INITIAL = "initial"
    BIENNIAL = "biennial"


class StockInventory(db.Model):
    """The initial or biennial inventory (21 CFR 1304.11): every product on hand at a site on a
    date and time, at the opening or close of business, signed by the registrant."""

    __tablename__ = "stock_inventories"

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    kind: Mapped[InventoryKind] = mapped_column(coded(InventoryKind, 10, "stock_inventory_kind"))
    taken_at: Mapped[datetime] = mapped_column(index=True)
    opening_of_business: Mapped[bool]
    signed_by_id: Mapped[int] = user_fk()
    created_at: Mapped[created_at]

    site: Mapped[Site] = relationship()
    signed_by: Mapped["User"] = relationship()
    lines: Mapped[list["StockInventoryLine"]] = relationship(
        back_populates="inventory", order_by="StockInventoryLine.id"
    )


class StockInventoryLine(db.Model):
    """One product and lot on hand: full containers and the estimated opened remainder."""

    __tablename__ = "stock_inventory_lines"

    id: Mapped[intpk]
    inventory_id: Mapped[int] = mapped_column(ForeignKey("stock_inventories.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("stock_products.id"), index=True)
    lot: Mapped[str] = mapped_column(String(40))
    full_containers: Mapped[int]
    opened_containers: Mapped[int]
    opened_quantity: Mapped[Decimal] = mapped_column(Quantity())
    total: Mapped[Decimal] = mapped_column(Quantity())

    inventory: Mapped[StockInventory] = relationship(back_populates="lines")
    product: Mapped[StockProduct] = relationship()


# Append-only: kept in step with the migration that creates the same triggers.
PG_APPEND_ONLY = [
    """CREATE OR REPLACE FUNCTION stock_movements_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN
        RAISE EXCEPTION 'stock_movements is append-only';
    END $$""",
    """CREATE TRIGGER stock_movements_append_only BEFORE UPDATE OR DELETE ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION stock_movements_append_only()""",
]
SQLITE_APPEND_ONLY = {
    f"stock_movements_no_{verb.lower()}": f"""CREATE TRIGGER stock_movements_no_{verb.lower()}
    BEFORE {verb} ON stock_movements
    BEGIN SELECT RAISE(ABORT, 'stock_movements is append-only'); END"""
    for verb in ("UPDATE", "DELETE")
}
for _sql in PG_APPEND_ONLY:
    event.listen(
        StockMovement.__table__, "after_create", DDL(_sql).execute_if(dialect="postgresql")
    )
for _sql in SQLITE_APPEND_ONLY.values():
    event.listen(StockMovement.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
