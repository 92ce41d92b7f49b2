"""The one way a movement enters the ledger: the container's running balance is changed by a
single conditional UPDATE in the same transaction as the new ledger row and its audit record,
so two draws at once can never take more than the container holds."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from clinic_app import audit
from clinic_app.auth.permissions import require_role
from clinic_app.clinical.codes import Role
from clinic_app.clinical.ledger import LedgerError, MovementKind, reversal_of, signed_quantity
from clinic_app.clinical.ledger import Movement as LedgerMovement
from clinic_app.clock import utcnow
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.inventory.witness import witnessed
from clinic_app.models import StockContainer, StockMovement, TreatmentSession, User
from clinic_app.site_scope import require_site_access

DRAWS = (MovementKind.ADMINISTER, MovementKind.WASTE)
WITNESSES = ("witness_id", "second_witness_id")  # named in the audit row too


def move(
    actor: User,
    container: StockContainer,
    kind: MovementKind,
    quantity: Decimal,
    *,
    field: str | None = None,
    occurred_at: datetime | None = None,
    **fields: Any,
) -> StockMovement:
    """Record `quantity` (positive; an adjustment carries its sign) of `kind` on `container`.
    RuleViolation on `field` when the container holds too little by the time the database
    applies it. The caller has checked the role and the site."""
    try:
        change = signed_quantity(kind, quantity)
    except LedgerError as error:
        raise RuleViolation(str(error), field) from error
    return _apply(actor, container, kind, change, field, occurred_at, fields)


def reverse(
    actor: User,
    movement: StockMovement,
    reason: str,
    witness_username: str = "",
    witness_password: str = "",
) -> StockMovement:
    """Undo `movement` by a new row of the opposite sign, with the reason (the original stays).
    The registrant corrects the ledger before a second clinician, who re-enters their own
    password; the witness is on the reversal row and its audit record. The right entry is then
    recorded again."""
    require_role(actor, Role.PSYCHIATRIST)
    require_site_access(actor, movement.site_id)
    if not reason.strip():
        raise RuleViolation("Give the reason for the reversal.", "reason")
    # The container's row lock makes two reversals of one movement take turns: the second then
    # sees the first and is refused by the rule, not by the unique index (a 500).
    db.session.execute(
        select(StockContainer.id)
        .where(StockContainer.id == movement.container_id)
        .with_for_update()
    )
    change = _reversible(movement)
    witness = witnessed(
        actor,
        movement.site_id,
        movement,
        witness_username,
        witness_password,
        container_id=movement.container_id,
    )
    return _apply(
        actor,
        movement.container,
        MovementKind.REVERSAL,
        change,
        None,
        None,
        {
            "reverses_id": movement.id,
            "reason": reason.strip(),
            "patient_id": movement.patient_id,
            "witness_id": witness.id,
        },
    )


def _reversible(movement: StockMovement) -> Decimal:
    """The reversal's signed quantity; RuleViolation when the movement may not be reversed."""
    if movement.session_id is not None and _signed(movement.session_id):
        raise RuleViolation(
            "This dose is on a signed session, whose record stands: correct it with an addendum "
            "on the session; the next count shows the vial's true balance."
        )
    earlier = db.session.scalars(
        select(StockMovement).where(StockMovement.reverses_id == movement.id)
    ).all()
    try:
        return reversal_of(_as_rule(movement), [_as_rule(m) for m in earlier])
    except LedgerError as error:
        raise RuleViolation(str(error)) from error


def _signed(session_id: int) -> bool:
    signed_at = select(TreatmentSession.signed_at).where(TreatmentSession.id == session_id)
    return db.session.scalar(signed_at) is not None


def _apply(
    actor: User,
    container: StockContainer,
    kind: MovementKind,
    change: Decimal,
    field: str | None,
    occurred_at: datetime | None,
    fields: dict[str, Any],
) -> StockMovement:
    step = update(StockContainer).where(StockContainer.id == container.id)
    if change < 0:
        step = step.where(StockContainer.remaining >= -change)
    result = db.session.execute(
        step.values(remaining=StockContainer.remaining + change).execution_options(
            synchronize_session=False
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.refresh(container, ["remaining"])
        held = f"{container.remaining.normalize():f} {container.product.base_unit.value}"
        raise RuleViolation(f"{container.label} holds only {held}; nothing was recorded.", field)
    db.session.refresh(container, ["remaining"])
    now = utcnow()
    if kind in DRAWS and container.opened_at is None:
        container.opened_at = occurred_at or now
        container.opened_session_id = fields.get("session_id")
    movement = StockMovement(
        site_id=container.site_id,
        container_id=container.id,
        kind=kind,
        quantity=change,
        occurred_at=occurred_at or now,
        actor_id=actor.id,
        **fields,
    )
    db.session.add(movement)
    db.session.flush()
    audit.record(
        actor,
        f"stock.{kind.value}",
        movement,
        patient_id=movement.patient_id,
        container_id=container.id,
        quantity=str(change),
        **{name: fields[name] for name in WITNESSES if fields.get(name) is not None},
    )
    return movement


def _as_rule(movement: StockMovement) -> LedgerMovement:
    return LedgerMovement(
        id=movement.id,
        site=movement.site_id,
        product=movement.container.line.product_id,
        lot=movement.container.line.lot,
        container=movement.container_id,
        kind=movement.kind,
        quantity=movement.quantity,
        reverses=movement.reverses_id,
    )
