"""The current site: which site's board, calendars and registers a page shows.

A scoped page asks `page_scope()`. The site comes from `?site=CODE` (a link or bookmark names its
site), else from the user's remembered choice (`User.current_site_id`, kept in the database so
every device sees it), else from the user's sites. A user may only open the sites they work at;
"All sites" (`?site=ALL`) is for the psychiatrist and the admin. A page about one site shows its
times in that site's zone.
"""

from dataclasses import dataclass
from typing import Any

from flask import abort, g, request
from flask_login import current_user
from sqlalchemy import func, select

from clinic_app import audit
from clinic_app.clinical.codes import Role
from clinic_app.errors import PermissionDenied, RuleViolation
from clinic_app.extensions import db
from clinic_app.models import Site, TreatmentSession, User
from clinic_app.models.site import user_sites

ALL = "ALL"
# Roles that oversee the whole group and may see every one of their sites on one page.
SEES_ALL_SITES = frozenset({Role.PSYCHIATRIST, Role.ADMIN})


@dataclass(frozen=True)
class SiteScope:
    """What a scoped page shows: one site, or (site None) all of the user's sites."""

    site: Site | None
    choices: tuple[Site, ...]
    may_see_all: bool

    @property
    def site_ids(self) -> tuple[int, ...]:
        """The sites to filter on."""
        if self.site is not None:
            return (self.site.id,)
        return tuple(site.id for site in self.choices)

    @property
    def code(self) -> str:
        return self.site.code if self.site is not None else ALL

    @property
    def label(self) -> str:
        return self.site.name if self.site is not None else "All sites"

    @property
    def url_args(self) -> dict[str, Any]:
        """Arguments for `url_for` so that a link keeps this page's site."""
        return {"site": self.code}

    @property
    def shows_picker(self) -> bool:
        return len(self.choices) > 1

    @property
    def spans_sites(self) -> bool:
        """True when rows from several sites (and so possibly several zones) share the page."""
        return self.site is None and len(self.choices) > 1


def user_sites_open(user: User) -> tuple[Site, ...]:
    """The open sites this user works at, by name (one statement)."""
    query = (
        select(Site)
        .join(user_sites, user_sites.c.site_id == Site.id)
        .where(user_sites.c.user_id == user.id, Site.active)
        .order_by(Site.name)
    )
    return tuple(db.session.scalars(query))


def resolve_scope(user: User, requested: str | None, allow_all: bool = True) -> SiteScope:
    """The scope for `requested` (a site code, ALL, or None for the remembered choice).

    Raises PermissionDenied for a site the user does not work at, or ALL for a role that may
    not see all sites; LookupError for a code that names no open site."""
    choices = user_sites_open(user)
    if not choices:
        raise PermissionDenied("not assigned to an open site")
    may_see_all = allow_all and user.role in SEES_ALL_SITES and len(choices) > 1
    site = _chosen(user, requested, choices, may_see_all)
    return SiteScope(site=site, choices=choices, may_see_all=may_see_all)


def _chosen(
    user: User, requested: str | None, choices: tuple[Site, ...], may_see_all: bool
) -> Site | None:
    if len(choices) == 1:
        site = choices[0]
        if requested and requested.upper() not in (ALL, site.code):
            _refuse_code(requested)
        return site
    if requested:
        wanted = requested.strip().upper()
        if wanted == ALL:
            if not may_see_all:
                raise PermissionDenied("all sites")
            return None
        for site in choices:
            if site.code == wanted:
                return site
        _refuse_code(wanted)
    remembered = next((s for s in choices if s.id == user.current_site_id), None)
    if remembered is not None:
        return remembered
    return None if may_see_all else choices[0]


def _refuse_code(code: str) -> None:
    known = db.session.scalar(
        select(func.count()).select_from(Site).where(Site.code == code.strip().upper(), Site.active)
    )
    if known:
        raise PermissionDenied("another site")
    raise LookupError(code)


def page_scope(allow_all: bool = True) -> SiteScope:
    """The current request's scope; 403 for another site, 404 for an unknown code. Shows the
    page's times in the chosen site's zone."""
    try:
        scope = resolve_scope(current_user, request.args.get("site"), allow_all)
    except LookupError:
        abort(404)
    if scope.site is not None:
        show_site_times(scope.site)
    return scope


def show_site_times(site: Site) -> None:
    """Show this page's times in the site's zone (a page about one visit or one site)."""
    g.page_timezone = site.timezone


def open_visit(user: User, treatment: TreatmentSession) -> None:
    """A session's pages are for the staff of its visit's site (PermissionDenied otherwise,
    closed sites included, so their history stays readable) and show its times on that site's
    clock. A walk-in without a chair has no site: the clinic's clock, anyone clinical."""
    appointment = treatment.appointment
    site = appointment.site if appointment is not None else None
    if site is None:
        return
    if not works_at(user, site.id):
        raise PermissionDenied("another site's session")
    show_site_times(site)


def works_at(user: User, site_id: int) -> bool:
    """Whether the user is on the staff of this site, open or closed (one statement)."""
    query = select(func.count()).where(
        user_sites.c.user_id == user.id, user_sites.c.site_id == site_id
    )
    return bool(db.session.scalar(query))


def require_site_access(user: User, site_id: int) -> None:
    """PermissionDenied unless the user works at this open site."""
    if site_id not in {site.id for site in user_sites_open(user)}:
        raise PermissionDenied("another site")


def choose_site(actor: User, code: str) -> SiteScope:
    """Remember the actor's current site (a code, or ALL where allowed); audited."""
    if not code:
        raise RuleViolation("Choose one of your sites.", "site")
    try:
        scope = resolve_scope(actor, code)
    except LookupError:
        raise RuleViolation("Choose one of your sites.", "site") from None
    chosen_id = scope.site.id if scope.site is not None else None
    if actor.current_site_id != chosen_id:
        actor.current_site_id = chosen_id
        audit.record(actor, "site.choose", actor, site=scope.code)
        db.session.flush()
    return scope
