"""Administration from the chart: the IV dose step draws the dose from the open vial(s) picked,
the esketamine dose and device steps take the device picked. A site keeps a ledger once it has
received stock of the modality's products; from then on every dose names its container."""

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload

from clinic_app.clinical.codes import Modality
from clinic_app.clinical.ledger import (
    ContainerState,
    LedgerError,
    MovementKind,
    draw_problem,
    mg_of,
    opened_vial_problem,
    split_draw,
    to_be_wasted,
)
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.inventory.counts import unsettled, unsettled_discrepancy
from clinic_app.inventory.movements import move
from clinic_app.models import (
    StockContainer,
    StockMovement,
    StockProduct,
    StockReceiptLine,
    TreatmentSession,
    User,
)
from clinic_app.settings import clinic_timezone, clinic_today, stock_rules

CENT = Decimal("0.01")


def session_site_id(treatment: TreatmentSession) -> int | None:
    """Where the dose is given: the site of the visit's chair; for a session without a booked
    chair, the charting nurse's current site, or their only site (None when unknown)."""
    appointment = treatment.appointment
    if appointment is not None and appointment.chair is not None:
        return appointment.chair.site_id
    nurse = treatment.nurse
    if nurse.current_site_id is not None:
        return nurse.current_site_id
    sites = [site for site in nurse.sites if site.active]
    return sites[0].id if len(sites) == 1 else None


def _of_modality(site_id: int, modality: Modality):
    return (
        select(StockContainer)
        .join(StockContainer.line)
        .join(StockReceiptLine.product)
        .where(StockContainer.site_id == site_id, StockProduct.modality == modality)
    )


def keeps_ledger(treatment: TreatmentSession) -> bool:
    """The session's site has received stock for its modality: the dose must name containers."""
    site_id = session_site_id(treatment)
    if site_id is None:
        return False
    return bool(db.session.scalar(select(exists(_of_modality(site_id, treatment.modality)))))


def usable_containers(treatment: TreatmentSession) -> list[StockContainer]:
    """The site's containers for the session's modality with something left and not expired:
    open vials first, then the earliest expiry (use the oldest stock first)."""
    site_id = session_site_id(treatment)
    if site_id is None:
        return []
    query = (
        _of_modality(site_id, treatment.modality)
        .where(StockContainer.remaining > 0, StockReceiptLine.expiry_date >= clinic_today())
        .options(joinedload(StockContainer.line).joinedload(StockReceiptLine.product))
        .order_by(
            StockContainer.opened_at.is_(None),
            StockReceiptLine.expiry_date,
            StockContainer.id,
        )
    )
    return list(db.session.scalars(query))


def stock_choices(treatment: TreatmentSession) -> list[tuple[str, str]] | None:
    """The picker's choices for an open session at a site that keeps a ledger, else None
    (the nurse types the lot instead)."""
    if not treatment.is_open or not keeps_ledger(treatment):
        return None
    containers = usable_containers(treatment)
    held = unsettled([c.id for c in containers])
    return [("", "Choose…")] + [
        (str(c.id), container_choice(c, c.id in held, treatment.id)) for c in containers
    ]


def session_draws(treatment: TreatmentSession) -> list[StockMovement]:
    """What the session's dose took from stock (vials with mL and mg, or devices)."""
    if treatment.dose_started_at is None:
        return []
    return list(
        db.session.scalars(
            select(StockMovement)
            .where(
                StockMovement.session_id == treatment.id,
                StockMovement.kind == MovementKind.ADMINISTER,
            )
            .options(
                joinedload(StockMovement.container)
                .joinedload(StockContainer.line)
                .joinedload(StockReceiptLine.product)
            )
            .order_by(StockMovement.id)
        )
    )


def container_choice(
    container: StockContainer, unsettled_count: bool = False, session: int | None = None
) -> str:
    """How a container reads in the dose step's picker (held: a count discrepancy on it is not
    classified yet, so picking it is refused; an opened vial shows its beyond-use date, and
    that it is to be wasted when no dose may use it)."""
    product = container.product
    left = f"{container.remaining.normalize():f} {product.base_unit.value}"
    state = "open" if container.opened_at else "sealed"
    held = " · held: count discrepancy" if unsettled_count else ""
    use = vial_state(container)
    if use.beyond_use is not None:
        held += f" · use by {use.beyond_use.isoformat()}"
        if opened_vial_problem(use, session, clinic_today()):
            held += " · not for this dose: waste it"
    return (
        f"{container.label} · {product.label} · lot {container.lot} · "
        f"{left} left ({state}) · {container.storage_location}{held}"
    )


def _picked(treatment: TreatmentSession, container_id: int | None, field: str) -> StockContainer:
    container = db.session.get(StockContainer, container_id) if container_id else None
    if container is None or container.product.modality != treatment.modality:
        noun = "vial" if treatment.modality == Modality.IV_KETAMINE else "device"
        raise RuleViolation(f"Pick the {noun} the dose is drawn from.", field)
    return container


def vial_state(container: StockContainer, unsettled_count: bool = False) -> ContainerState:
    """What the draw rules need to know about `container`, from its row alone (no statement):
    `unsettled_count` is the caller's."""
    opened = container.opened_at
    return ContainerState(
        site=container.site_id,
        expiry=container.expiry_date,
        remaining=container.remaining,
        unit=container.product.base_unit.value,
        unsettled_count=unsettled_count,
        opened_on=opened.astimezone(clinic_timezone()).date() if opened else None,
        multiple_dose=container.product.multiple_dose,
        opened_for=container.opened_session_id,
        in_use_days=stock_rules().multiple_dose_days,
    )


def container_state(container: StockContainer) -> ContainerState:
    """What the draw and waste rules need to know about `container`."""
    return vial_state(container, unsettled_discrepancy(container.id))


def beyond_use(container: StockContainer) -> date | None:
    """An opened vial's beyond-use date (None while sealed, and for devices)."""
    return vial_state(container).beyond_use


def past_beyond_use(container: StockContainer) -> bool:
    """An opened vial no later dose may use: waste what is left."""
    return to_be_wasted(vial_state(container), clinic_today())


def draw_iv(
    actor: User,
    treatment: TreatmentSession,
    container_ids: list[int | None],
    dose_mg: Decimal,
    at: datetime,
) -> str:
    """Draw `dose_mg` from the vials picked, in order (each emptied before the next): one
    administration row per vial with its mg and mL. Returns the lot(s) drawn from.
    RuleViolation on the vial's field."""
    fields = ("vial_id", "second_vial_id")
    picked = [
        (_picked(treatment, cid, field), field)
        for cid, field in zip(container_ids, fields, strict=True)
        if cid or field == "vial_id"
    ]
    products = {c.line.product_id for c, _ in picked}
    if len(products) > 1:
        raise RuleViolation("Draw one dose from vials of one product and strength.", fields[1])
    product = picked[0][0].product
    volume = (dose_mg / product.mg_per_unit).quantize(CENT, ROUND_HALF_UP)
    site_id = session_site_id(treatment)
    assert site_id is not None  # keeps_ledger said so
    for container, field in picked:
        state = container_state(container)
        if problem := draw_problem(state, CENT, site_id, clinic_today(), treatment.id):
            raise RuleViolation(problem, field)
    try:
        draws = split_draw(volume, [c.remaining for c, _ in picked])
    except LedgerError as error:
        raise RuleViolation(str(error), "vial_id") from error
    for (container, field), ml in zip(picked, draws, strict=True):
        move(
            actor,
            container,
            MovementKind.ADMINISTER,
            ml,
            field=field,
            occurred_at=at,
            quantity_mg=mg_of(ml, product.mg_per_unit),
            patient_id=treatment.patient_id,
            session_id=treatment.id,
        )
    return ", ".join(dict.fromkeys(c.lot for c, _ in picked))


def draw_device(
    actor: User, treatment: TreatmentSession, container_id: int | None, at: datetime
) -> StockContainer:
    """Take the device picked for the next esketamine device; returns it (its lot goes on the
    device row and the REMS form)."""
    container = _picked(treatment, container_id, "device_id")
    site_id = session_site_id(treatment)
    assert site_id is not None  # keeps_ledger said so
    state = container_state(container)
    if problem := draw_problem(state, Decimal(1), site_id, clinic_today(), treatment.id):
        raise RuleViolation(problem, "device_id")
    move(
        actor,
        container,
        MovementKind.ADMINISTER,
        Decimal(1),
        field="device_id",
        occurred_at=at,
        quantity_mg=container.product.mg_per_unit,
        patient_id=treatment.patient_id,
        session_id=treatment.id,
    )
    return container
