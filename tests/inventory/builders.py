"""Stock test data: a site with the standard products and every user on its staff, a receipt
through the service, and a session at a chair of the site charted up to its dose."""

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.inventory.catalogue import ensure_standard_products
from clinic_app.inventory.receiving import receive
from clinic_app.models import (
    Appointment,
    Chair,
    Site,
    StockContainer,
    StockProduct,
    StockReceipt,
    TreatmentSession,
    User,
)
from clinic_app.settings import clinic_today
from clinic_app.treatments import services
from tests import factories
from tests.helpers import PASSWORD

KETAMINE_100 = "0409-2051-05"  # 100 mg/mL, 5 mL vials
SPRAVATO = "50458-028-00"
SUPPLIER = {
    "supplier_name": "Cardinal Health 110",
    "supplier_address": "7000 Cardinal Pl, Dublin OH 43017",
    "supplier_dea": "RC0123454",
    "invoice_number": "INV-1001",
    "storage_location": "Locked cabinet A",
}


def stocked_site(code: str = "MAIN") -> Site:
    """The site, the standard products, and every user working there."""
    site = factories.site(code)
    ensure_standard_products()
    for person in db.session.scalars(select(User)):
        if site not in person.sites:
            person.sites.append(site)
    db.session.flush()
    return site


def product(ndc: str) -> StockProduct:
    return db.session.scalar(select(StockProduct).where(StockProduct.ndc == ndc))


def receive_stock(
    site: Site,
    ndc: str = KETAMINE_100,
    containers: int = 2,
    lot: str = "KET-A1",
    expiry: date | None = None,
    by: str = "nurse",
    checker: str = "psychiatrist",
) -> list[StockContainer]:
    """A delivery of one line through the service; its containers."""
    receipt = receive(
        factories.user(by),
        site,
        dict(SUPPLIER, received_on=clinic_today()),
        [
            {
                "product_id": product(ndc).id,
                "lot": lot,
                "expiry_date": expiry or clinic_today() + timedelta(days=365),
                "containers": containers,
            }
        ],
        checker,
        PASSWORD,
    )
    return containers_of(receipt)


def containers_of(receipt: StockReceipt) -> list[StockContainer]:
    line_ids = [line.id for line in receipt.lines]
    return list(
        db.session.scalars(
            select(StockContainer)
            .where(StockContainer.line_id.in_(line_ids))
            .order_by(StockContainer.id)
        )
    )


def session_at(site: Site, modality: str = "iv_ketamine") -> TreatmentSession:
    """A session at a new chair of `site`, with checks and pre-dose vitals: ready for the dose."""
    # A chair of its own: two sessions may run at once.
    taken = db.session.scalars(select(Chair.id).where(Chair.site_id == site.id)).all()
    chair = Chair(name=f"Chair {site.code}-{len(taken) + 1}", site_id=site.id)
    db.session.add(chair)
    db.session.flush()
    patient = factories.make_patient()
    course = factories.make_course(patient, modality)
    visit = Appointment(
        patient_id=patient.id,
        course_id=course.id,
        chair_id=chair.id,
        starts_at=utcnow(),
        ends_at=utcnow() + timedelta(minutes=150),
        visit_kind="induction",
        driver_name="Sam Tester",
        driver_phone="555-0199",
    )
    db.session.add(visit)
    db.session.flush()
    nurse = factories.user("nurse")
    treatment = services.start_session(nurse, patient, course, visit)
    services.record_predose(nurse, treatment, factories.PREDOSE_OK, treatment.version_id)
    services.add_vitals(nurse, treatment, dict(factories.NORMAL_BP))
    return treatment


# 0.5 mg/kg of 80 kg = 40 mg: 0.4 mL of a 100 mg/mL vial.
IV_DOSE = {"weight_kg": Decimal("80"), **factories.PUMP_OK}
