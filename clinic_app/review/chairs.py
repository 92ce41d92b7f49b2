"""The clinic's treatment chairs, kept by the psychiatrist with the other clinic settings: add
one at a site, rename, take out of service and back. Chairs are never deleted (visits point at
them) and never move between sites (their visits' site is theirs)."""

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from clinic_app import audit
from clinic_app.auth.permissions import require_role
from clinic_app.clinical.codes import Role
from clinic_app.clock import utcnow
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair, Site, User
from clinic_app.scheduling.checks import FREEING


def all_chairs() -> list[Chair]:
    """Every chair with its site, by site (open sites first), then in service first, by name."""
    return list(
        db.session.scalars(
            select(Chair)
            .join(Chair.site)
            .options(joinedload(Chair.site))
            .order_by(Site.active.desc(), Site.name, Chair.active.desc(), Chair.name)
        )
    )


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


def _check_name(name: str, site: Site, chair_id: int | None = None) -> str:
    """The name tidied; refused when empty or already taken at the same site."""
    name = " ".join(name.split())
    if not name:
        raise RuleViolation("Give the chair a name.", "name")
    query = select(Chair.id).where(Chair.site_id == site.id, func.lower(Chair.name) == name.lower())
    if chair_id is not None:
        query = query.where(Chair.id != chair_id)
    if db.session.scalar(query) is not None:
        raise RuleViolation(f"{site.name} already has a chair called {name}.", "name")
    return name


def add_chair(actor: User, name: str, site_id: int | None) -> Chair:
    """A new chair in service at an open site, bookable at once."""
    require_role(actor, Role.PSYCHIATRIST)
    site = db.session.get(Site, site_id) if site_id is not None else None
    if site is None or not site.active:
        raise RuleViolation("Choose the open site the chair is at.", "site_id")
    chair = Chair(name=_check_name(name, site), site=site, active=True)
    db.session.add(chair)
    db.session.flush()
    audit.record(actor, "chair.create", chair, name=chair.name, site=site.code)
    return chair


def update_chair(actor: User, chair: Chair, name: str, active: bool) -> list[str]:
    """Rename a chair or take it out of service (or back); returns the fields changed. A chair
    with visits still booked cannot leave service: they must be moved first."""
    require_role(actor, Role.PSYCHIATRIST)
    name = _check_name(name, chair.site, chair.id)
    changed = []
    if name != chair.name:
        chair.name = name
        changed.append("name")
    if active != chair.active:
        if active and not chair.site.active:
            raise RuleViolation(
                f"{chair.site.name} is closed: the admin reopens the site first.", "active"
            )
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
