"""The products a ketamine clinic commonly stocks (openFDA NDC directory, see
../shared/reference/turn2.md §2.8): ketamine HCl injection vials and Spravato 28 mg devices."""

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from clinic_app.clinical.codes import Modality
from clinic_app.extensions import db
from clinic_app.models import StockProduct
from clinic_app.models.stock import BaseUnit

# (name, package NDC, mg per base unit, base unit, container size, dosage form). The ketamine
# vials are taken as multiple-dose vials, `single_dose` False (Ketalar's are, with a
# preservative; Hospira's is listed as a multi-dose vial in ../shared/reference/turn2.md §2.8;
# Sagent's is assumed the same: check its label). The registrant states it for a product added
# by hand.
STANDARD_PRODUCTS = (
    (
        "Ketamine HCl injection (Ketalar)",
        "42023-113-10",
        "10",
        BaseUnit.ML,
        "20",
        "Injection, vial",
    ),
    (
        "Ketamine HCl injection (Hospira)",
        "0409-2051-05",
        "100",
        BaseUnit.ML,
        "5",
        "Injection, vial",
    ),
    ("Ketamine HCl injection (Sagent)", "25021-684-05", "100", BaseUnit.ML, "5", "Injection, vial"),
    # Each device is sealed in its own blister (NDC 50458-028-00); kits of 2 or 3 are bought.
    (
        "Spravato nasal spray device",
        "50458-028-00",
        "28",
        BaseUnit.DEVICE,
        "1",
        "Nasal spray device",
    ),
)


@dataclass(frozen=True)
class Pack:
    """A package bought as one invoice line item that holds several of a product's containers."""

    ndc: str
    name: str
    container_ndc: str
    containers: int

    @property
    def label(self) -> str:
        return f"{self.name} ({self.containers} devices, NDC {self.ndc})"


# Spravato kits (openFDA NDC 50458-028; turn2.md §2.8): each device sealed in its own blister.
PACKS = (
    Pack("50458-028-02", "Spravato 56 mg kit", "50458-028-00", 2),
    Pack("50458-028-03", "Spravato 84 mg kit", "50458-028-00", 3),
)


def pack(ndc: str | None) -> Pack | None:
    return next((p for p in PACKS if p.ndc == ndc), None)


def ensure_standard_products() -> list[StockProduct]:
    """The standard products, added when missing (idempotent); witness needed for waste."""
    products = []
    for name, ndc, mg, unit, size, form in STANDARD_PRODUCTS:
        product = db.session.scalar(select(StockProduct).where(StockProduct.ndc == ndc))
        if product is None:
            product = StockProduct(
                name=name,
                ndc=ndc,
                modality=Modality.ESKETAMINE_NASAL
                if unit == BaseUnit.DEVICE
                else Modality.IV_KETAMINE,
                dosage_form=form,
                mg_per_unit=Decimal(mg),
                base_unit=unit,
                container_size=Decimal(size),
            )
            db.session.add(product)
        products.append(product)
    db.session.flush()
    return products
