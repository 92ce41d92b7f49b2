"""Counts by two people and the discrepancies they open. A variance is never adjusted
silently: the registrant classifies it, which brings the ledger to the count; theft or
significant loss stays open until the DEA notice and Form 106 references are recorded."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, require_role
from clinic_app.auth.services import reauthenticate
from clinic_app.clinical.codes import Role
from clinic_app.clinical.ledger import (
    Classification,
    LedgerError,
    adjustment,
    close_problems,
    report_due,
    report_problems,
    variance,
)
from clinic_app.clock import utcnow
from clinic_app.errors import FieldErrors, RuleViolation
from clinic_app.extensions import db
from clinic_app.inventory.movements import move
from clinic_app.inventory.witness import second_person
from clinic_app.models import (
    Site,
    StockContainer,
    StockCount,
    StockCountLine,
    StockDiscrepancy,
    User,
)
from clinic_app.settings import clinic_timezone, scheduling_rules, stock_rules
from clinic_app.site_scope import require_site_access


def countable(site: Site) -> list[StockContainer]:
    """The containers a count covers: everything at the site with something left."""
    return list(
        db.session.scalars(
            select(StockContainer)
            .where(StockContainer.site_id == site.id, StockContainer.remaining > 0)
            .options(joinedload(StockContainer.line))
            .order_by(StockContainer.id)
        )
    )


def unsettled(container_ids: list[int]) -> set[int]:
    """Those of the containers a count disagreed with whose discrepancy the registrant has not
    classified yet (classifying brings the ledger to the count). Every discrepancy is opened by
    a count line, which names one container."""
    if not container_ids:
        return set()
    query = (
        select(StockCountLine.container_id)
        .join(StockDiscrepancy, StockDiscrepancy.count_line_id == StockCountLine.id)
        .where(
            StockCountLine.container_id.in_(container_ids),
            StockDiscrepancy.classification.is_(None),
            StockDiscrepancy.closed_at.is_(None),
        )
    )
    return set(db.session.scalars(query))


def unsettled_discrepancy(container_id: int) -> bool:
    """`container_id` has a discrepancy the registrant has not classified yet."""
    return bool(unsettled([container_id]))


def record_count(
    actor: User,
    site: Site,
    counted: dict[int, Decimal | None],
    witness_username: str,
    witness_password: str,
) -> StockCount:
    """Counted against expected for every container at the site; each variance opens a
    discrepancy. `counted` maps container id to what was found (opened vials estimated)."""
    require_role(actor, *CLINICAL)
    require_site_access(actor, site.id)
    containers = countable(site)
    errors = {
        f"c{c.id}": "Record what you found (0 if it is missing)."
        for c in containers
        if counted.get(c.id) is None
    }
    if errors:
        raise FieldErrors(errors)
    witness = second_person(actor, site.id, witness_username, "witness_username")
    reauthenticate(
        witness, witness_password, "stock.count_witness", field="witness_password", witness=True
    )
    now = utcnow()
    count = StockCount(
        site_id=site.id, counted_at=now, counted_by_id=actor.id, witness_id=witness.id
    )
    db.session.add(count)
    db.session.flush()
    opened = 0
    for container in containers:
        found = counted[container.id]
        assert found is not None
        try:
            difference = variance(container.remaining, found)
        except LedgerError as error:
            raise RuleViolation(str(error), f"c{container.id}") from error
        line = StockCountLine(
            count_id=count.id,
            container_id=container.id,
            expected=container.remaining,
            counted=found,
        )
        db.session.add(line)
        db.session.flush()
        if difference:
            db.session.add(
                StockDiscrepancy(
                    site_id=site.id, count_line_id=line.id, variance=difference, discovered_at=now
                )
            )
            opened += 1
    db.session.flush()
    audit.record(actor, "stock.count", count, site_id=site.id, discrepancies=opened)
    return count


def settle(actor: User, discrepancy: StockDiscrepancy, data: dict[str, Any]) -> StockDiscrepancy:
    """The registrant classifies a discrepancy (once: the ledger is brought to the count by an
    adjustment, or a loss) and closes it; theft or significant loss closes only with the DEA
    notice and Form 106 references, and stays open with its due dates until then."""
    require_role(actor, Role.PSYCHIATRIST)
    require_site_access(actor, discrepancy.site_id)
    if discrepancy.closed_at is not None:
        raise RuleViolation("This discrepancy is closed.")
    note = (data.get("note") or "").strip()
    notice_ref = (data.get("notice_ref") or "").strip()
    form106_ref = (data.get("form106_ref") or "").strip()
    classifying = discrepancy.classification is None
    if classifying:
        _classify(actor, discrepancy, data.get("classification"), note)
    elif not data.get("closing") and (missing := report_problems(note, notice_ref, form106_ref)):
        raise FieldErrors(missing)
    elif note:
        discrepancy.note = f"{discrepancy.note}\n{note}"
    assert discrepancy.classification is not None
    # Each reference is kept as soon as it is given: the notice is due long before Form 106.
    discrepancy.notice_ref = notice_ref or discrepancy.notice_ref
    discrepancy.form106_ref = form106_ref or discrepancy.form106_ref
    problems = close_problems(
        discrepancy.classification,
        discrepancy.note,
        discrepancy.notice_ref,
        discrepancy.form106_ref,
    )
    if problems and data.get("closing"):
        raise FieldErrors(problems)
    if not problems:
        discrepancy.closed_at = utcnow()
        discrepancy.closed_by_id = actor.id
    db.session.flush()
    action = "close" if not problems else "classify" if classifying else "report"
    audit.record(
        actor,
        f"stock.discrepancy_{action}",
        discrepancy,
        classification=discrepancy.classification.value,
        notice_ref=bool(discrepancy.notice_ref),
        form106_ref=bool(discrepancy.form106_ref),
    )
    return discrepancy


def _classify(actor: User, discrepancy: StockDiscrepancy, value: str | None, note: str) -> None:
    try:
        classification = Classification(value or "")
    except ValueError:
        raise RuleViolation("Classify the discrepancy.", "classification") from None
    if not note:
        raise RuleViolation("Say what was found.", "note")
    discrepancy.classification = classification
    discrepancy.note = note
    if classification.reportable:
        day = discrepancy.discovered_at.astimezone(clinic_timezone()).date()
        calendar = scheduling_rules()
        # Public holidays and the clinic's closed dates are not business days either.
        ahead = (day + timedelta(days=n) for n in range(1, 15))
        closed = frozenset(d for d in ahead if calendar.closure(d) is not None)
        due = report_due(day, stock_rules(), closed)
        discrepancy.notice_due, discrepancy.form106_due = due.notice, due.form106
    kind, quantity = adjustment(classification, discrepancy.variance)
    move(
        actor,
        discrepancy.count_line.container,
        kind,
        quantity,
        reason=f"Count discrepancy {discrepancy.id}: {classification.label}",
        document_ref=f"discrepancy-{discrepancy.id}",
    )
