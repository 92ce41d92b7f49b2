"""Waste and disposal. Waste is the unused remainder of a drawn dose or an opened vial, with a
witness who re-enters their own password; disposal of stock (expired, damaged) is either
destruction recorded as DEA Form 41 data with two witnesses (21 CFR 1304.21(e)) or a transfer
to a reverse distributor."""

from decimal import Decimal
from typing import Any

from clinic_app.auth.permissions import CLINICAL, require_role
from clinic_app.clinical.codes import Role
from clinic_app.clinical.ledger import MovementKind, discrepancy_problem, mg_of
from clinic_app.errors import FieldErrors, RuleViolation
from clinic_app.inventory.dispensing import container_state
from clinic_app.inventory.movements import move
from clinic_app.inventory.witness import witnessed
from clinic_app.models import StockContainer, StockMovement, User
from clinic_app.site_scope import require_site_access


def _witnessed(
    actor: User, container: StockContainer, username: str, password: str, prefix: str
) -> User:
    return witnessed(
        actor, container.site_id, container, username, password, prefix, container_id=container.id
    )


def waste(actor: User, container: StockContainer, data: dict[str, Any]) -> StockMovement:
    """Waste `quantity` of an opened container by `method`, witnessed when the product asks
    (the witness is not the person wasting and re-enters their password); the row records the
    mg too, from the container's concentration."""
    require_role(actor, *CLINICAL)
    require_site_access(actor, container.site_id)
    if container.opened_at is None:
        raise RuleViolation(
            "Only an opened vial's remainder is wasted; dispose of sealed stock instead."
        )
    if problem := discrepancy_problem(container_state(container)):
        raise RuleViolation(problem)
    method = (data.get("method") or "").strip()
    if not method:
        raise RuleViolation("Say how it was wasted (e.g. into a drug-waste container).", "method")
    witness = None
    if container.product.witness_required:
        witness = _witnessed(
            actor,
            container,
            data.get("witness_username") or "",
            data.get("witness_password") or "",
            "witness",
        )
    quantity = Decimal(data.get("quantity") or 0)
    return move(
        actor,
        container,
        MovementKind.WASTE,
        quantity,
        field="quantity",
        quantity_mg=mg_of(quantity, container.product.mg_per_unit) if quantity > 0 else None,
        method=method,
        reason=(data.get("reason") or "").strip(),
        witness_id=witness.id if witness else None,
        session_id=data.get("session_id"),
        patient_id=data.get("patient_id"),
    )


def dispose(actor: User, container: StockContainer, data: dict[str, Any]) -> StockMovement:
    """Dispose of all that is left of a container: destroyed on site (Form 41 number, method,
    two witnesses) or sent to a reverse distributor (their name and DEA number, the transfer
    document). The registrant records it."""
    require_role(actor, Role.PSYCHIATRIST)
    require_site_access(actor, container.site_id)
    if container.remaining <= 0:
        raise RuleViolation("This container is empty; there is nothing to dispose of.")
    reference = (data.get("document_ref") or "").strip()
    method = (data.get("method") or "").strip()
    errors = {}
    if not reference:
        errors["document_ref"] = "Give the Form 41 or transfer document number."
    if not method:
        errors["method"] = "Say how (e.g. chemical denaturing kit) or to which reverse distributor."
    if errors:
        raise FieldErrors(errors)
    fields: dict[str, Any] = {"method": method, "document_ref": reference}
    kind = MovementKind.RETURN if data.get("to_reverse_distributor") else MovementKind.DESTROY
    if kind == MovementKind.DESTROY:
        first = _witnessed(
            actor,
            container,
            data.get("witness_username") or "",
            data.get("witness_password") or "",
            "witness",
        )
        second = _witnessed(
            actor,
            container,
            data.get("second_witness_username") or "",
            data.get("second_witness_password") or "",
            "second_witness",
        )
        if second.id == first.id:
            raise RuleViolation("Two different witnesses are needed.", "second_witness_username")
        fields |= {"witness_id": first.id, "second_witness_id": second.id}
    return move(actor, container, kind, container.remaining, reason="", **fields)
