"""Sites, kept by the admin: create, edit, deactivate and reactivate; and which sites a member of
staff works at. Sites are never deleted (chairs, staff and visits point at them)."""

from collections.abc import Iterable

from sqlalchemy import func, select

from clinic_app import audit
from clinic_app.auth.permissions import require_role
from clinic_app.clinical.codes import Role
from clinic_app.clinical.dea import normalise_dea_number
from clinic_app.clinical.sites import SiteDetails, normalise_code, site_problems
from clinic_app.clock import utcnow
from clinic_app.errors import FieldErrors, RuleViolation
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair, Site, User
from clinic_app.scheduling.checks import FREEING
from clinic_app.settings import clinic_today

FIELDS = tuple(SiteDetails.__dataclass_fields__)


def all_sites() -> list[Site]:
    """Every site, active first, then by name."""
    return list(db.session.scalars(select(Site).order_by(Site.active.desc(), Site.name)))


def active_sites() -> list[Site]:
    return list(db.session.scalars(select(Site).where(Site.active).order_by(Site.name)))


def site_by_code(code: str) -> Site | None:
    return db.session.scalar(select(Site).where(Site.code == normalise_code(code)))


def booked_ahead(site_ids: Iterable[int]) -> dict[int, int]:
    """Visits booked from now on at each site's chairs (cancelled and no-show ones do not count),
    the same count a chair must be free of before it leaves service."""
    site_ids = list(site_ids)
    if not site_ids:
        return {}
    rows = db.session.execute(
        select(Chair.site_id, func.count())
        .join(Appointment, Appointment.chair_id == Chair.id)
        .where(
            Chair.site_id.in_(site_ids),
            Appointment.ends_at > utcnow(),
            Appointment.status.not_in(FREEING),
        )
        .group_by(Chair.site_id)
    )
    return {site_id: count for site_id, count in rows}


def _cleaned(data: dict) -> SiteDetails:
    """The typed fields trimmed and normalised (codes, states and DEA numbers upper case)."""
    text = {name: " ".join(str(data.get(name) or "").split()) for name in FIELDS}
    return SiteDetails(
        name=text["name"],
        code=normalise_code(text["code"]),
        address_line1=text["address_line1"],
        address_line2=text["address_line2"],
        city=text["city"],
        state=text["state"].upper(),
        zip_code=text["zip_code"],
        phone=text["phone"],
        timezone=text["timezone"],
        rems_certified=bool(data.get("rems_certified")),
        rems_setting_id=text["rems_setting_id"],
        rems_certified_on=data.get("rems_certified_on"),
        dea_number=normalise_dea_number(text["dea_number"]),
    )


def _checked(data: dict, site_id: int | None = None) -> SiteDetails:
    """The fields to save, or FieldErrors naming every field that cannot be saved."""
    details = _cleaned(data)
    problems = site_problems(details, clinic_today())
    for field, column, value, what in (
        ("name", Site.name, details.name, "name"),
        ("code", Site.code, details.code, "code"),
        # The DEA registers each physical location separately: one number, one site.
        ("dea_number", Site.dea_number, details.dea_number, "DEA registration number"),
    ):
        if field in problems or not value:
            continue
        query = select(Site.id).where(func.lower(column) == value.lower())
        if site_id is not None:
            query = query.where(Site.id != site_id)
        if db.session.scalar(query) is not None:
            problems[field] = f"Another site already has this {what}."
    if problems:
        raise FieldErrors(problems)
    return details


def create_site(actor: User, data: dict) -> Site:
    """A new active site (it has no chairs or staff yet)."""
    require_role(actor, Role.ADMIN)
    details = _checked(data)
    site = Site(**{name: getattr(details, name) for name in FIELDS}, active=True)
    db.session.add(site)
    db.session.flush()
    audit.record(actor, "site.create", site, code=site.code, name=site.name)
    return site


def update_site(actor: User, site: Site, data: dict) -> list[str]:
    """Change a site's details; returns the fields changed (audited by name, not value)."""
    require_role(actor, Role.ADMIN)
    details = _checked(data, site.id)
    changed = [name for name in FIELDS if getattr(site, name) != getattr(details, name)]
    for name in changed:
        setattr(site, name, getattr(details, name))
    if changed:
        db.session.flush()
        audit.record(actor, "site.update", site, fields=changed, code=site.code)
    return changed


def deactivate_site(actor: User, site: Site) -> int:
    """Close a site: its chairs leave service with it. Refused while visits are booked on its
    chairs from now on (they must be moved first). Returns how many chairs left service."""
    require_role(actor, Role.ADMIN)
    if not site.active:
        raise RuleViolation(f"{site.name} is already inactive.")
    booked = booked_ahead([site.id]).get(site.id, 0)
    if booked:
        raise RuleViolation(
            f"{site.name} has {booked} visit{'s' if booked != 1 else ''} booked from now on: "
            "move them to another site first."
        )
    in_service = list(
        db.session.scalars(select(Chair).where(Chair.site_id == site.id, Chair.active))
    )
    for chair in in_service:
        chair.active = False
    site.active = False
    db.session.flush()
    audit.record(
        actor,
        "site.deactivate",
        site,
        code=site.code,
        chairs_out_of_service=[chair.id for chair in in_service],
    )
    return len(in_service)


def reactivate_site(actor: User, site: Site) -> None:
    """Open a site again; its chairs stay out of service until the psychiatrist puts them back."""
    require_role(actor, Role.ADMIN)
    if site.active:
        raise RuleViolation(f"{site.name} is already active.")
    site.active = True
    db.session.flush()
    audit.record(actor, "site.reactivate", site, code=site.code)


def chosen_sites(site_ids: Iterable[int], field: str = "sites") -> list[Site]:
    """The active sites with these ids, at least one; RuleViolation on `field` otherwise."""
    wanted = set(site_ids)
    sites = (
        list(db.session.scalars(select(Site).where(Site.id.in_(wanted), Site.active)))
        if wanted
        else []
    )
    if not sites:
        raise RuleViolation("Choose at least one site.", field)
    if len(sites) != len(wanted):
        raise RuleViolation("Choose only open sites.", field)
    return sorted(sites, key=lambda site: site.name)


def set_user_sites(actor: User, user: User, site_ids: Iterable[int]) -> bool:
    """Which open sites `user` works at (at least one); sites that are closed stay as they
    were. Returns whether anything changed."""
    require_role(actor, Role.ADMIN)
    sites = chosen_sites(site_ids)
    kept_closed = [site for site in user.sites if not site.active]
    before = sorted(site.code for site in user.sites)
    user.sites = sorted({*sites, *kept_closed}, key=lambda site: site.name)
    after = sorted(site.code for site in user.sites)
    if before == after:
        return False
    db.session.flush()
    audit.record(actor, "user.sites", user, before=before, after=after)
    return True
