"""The clinic's treatment chairs, kept by the psychiatrist with the other clinic settings: add,
rename, take out of service and back. Chairs are never deleted (visits point at them)."""

from sqlalchemy import func, select

from clinic_app import audit
from clinic_app.auth.permissions import require_role
from clinic_app.clinical.codes import Role
from clinic_app.clock import utcnow
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair, User
from clinic_app.scheduling.checks import FREEING


def all_chairs() -> list[Chair]:
    """Every chair, in service first, then by name."""
    return list(db.session.scalars(select(Chair).order_by(Chair.active.desc(), Chair.name)))


def booked_ahead(chair_ids: list[int]) -> dict[int, int]:
    """Visits booked from now on, per chair (cancelled and no-show visits do not count)."""
    if not chair_ids:
        return {}
    rows = db.session.execute(
        select(Appointment.chair_id, func.count())
        .where(
            Appointment.chair_id.in_(chair_ids),
            Appointment.ends_at > utcnow(),
            Appointment.status.not_in(FREEING),
        )
        .group_by(Appointment.chair_id)
    )
    return {chair_id: count for chair_id, count in rows if chair_id is not None}


def _check_name(name: str, chair_id: int | None = None) -> str:
    name = " ".join(name.split())
    if not name:
        raise RuleViolation("Give the chair a name.", "name")
    query = select(Chair.id).where(func.lower(Chair.name) == name.lower())
    if chair_id is not None:
        query = query.where(Chair.id != chair_id)
    if db.session.scalar(query) is not None:
        raise RuleViolation(f"There is already a chair called {name}.", "name")
    return name


def add_chair(actor: User, name: str) -> Chair:
    """A new chair in service, bookable at once."""
    require_role(actor, Role.PSYCHIATRIST)
    chair = Chair(name=_check_name(name), active=True)
    db.session.add(chair)
    db.session.flush()
    audit.record(actor, "chair.create", chair, name=chair.name)
    return chair


def update_chair(actor: User, chair: Chair, name: str, active: bool) -> list[str]:
    """Rename a chair or take it out of service (or back); returns the fields changed. A chair
    with visits still booked cannot leave service: they must be moved first."""
    require_role(actor, Role.PSYCHIATRIST)
    name = _check_name(name, chair.id)
    changed = []
    if name != chair.name:
        chair.name = name
        changed.append("name")
    if active != chair.active:
        booked = booked_ahead([chair.id]).get(chair.id, 0) if not active else 0
        if booked:
            raise RuleViolation(
                f"{chair.name} has {booked} visit{'s' if booked != 1 else ''} booked from now "
                "on: move them to another chair first.",
                "active",
            )
        chair.active = active
        changed.append("active")
    if changed:
        db.session.flush()
        audit.record(
            actor, "chair.update", chair, fields=changed, name=chair.name, active=chair.active
        )
    return changed
