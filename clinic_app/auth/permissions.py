"""Role gates for views and services (README, "Where each role starts"), and the navigation
they imply.

`role_required` records on each view the roles it lets in; the navigation shows a link exactly
when the signed-in role may open the page it leads to, so the two cannot drift apart.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import abort, current_app
from flask_login import current_user

from clinic_app.clinical.codes import Role
from clinic_app.errors import PermissionDenied
from clinic_app.models import User

CLINICAL = (Role.NURSE, Role.PSYCHIATRIST)
DEMOGRAPHICS_VIEW = (Role.NURSE, Role.PSYCHIATRIST, Role.FRONT_DESK)
DEMOGRAPHICS_EDIT = (Role.PSYCHIATRIST, Role.FRONT_DESK)
# Allergies, contraindications, medications, consent and REMS enrollment: clinicians only.
SCREEN_EDIT = CLINICAL


def role_required(*roles: Role) -> Callable:
    """View decorator: 403 unless the signed-in user has one of `roles`."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated or current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        # Read by the navigation and the matrix test; mypy does not model attributes on functions.
        wrapped.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapped

    return decorator


def require_role(user: User, *roles: Role) -> None:
    """Service check: raise PermissionDenied unless `user` is active and has one of `roles`."""
    if user is None or not user.active or user.role not in roles:
        raise PermissionDenied()


def allowed_roles(endpoint: str) -> frozenset[Role]:
    """The roles the view behind `endpoint` lets in (none for a view without a role gate)."""
    return getattr(current_app.view_functions[endpoint], "allowed_roles", frozenset())


@dataclass(frozen=True)
class NavLink:
    """One link of the main navigation.

    `active` lists the endpoints that mark the link as the current page; an entry ending in "."
    stands for every endpoint of that blueprint.
    """

    label: str
    endpoint: str
    active: tuple[str, ...]

    def is_active(self, endpoint: str | None) -> bool:
        return endpoint is not None and any(
            endpoint.startswith(item) if item.endswith(".") else endpoint == item
            for item in self.active
        )


NAVIGATION = (
    NavLink("Today", "treatments.today", ("treatments.today",)),
    NavLink("Patients", "patients.index", ("patients.",)),
    NavLink("Review", "review.queue", ("review.",)),
    NavLink(
        "REMS", "rems.board_page", ("rems.board_page", "rems.monitoring_form", "rems.sae_report")
    ),
    NavLink("Schedule", "scheduling.day", ("scheduling.",)),
    NavLink("Inventory", "inventory.index", ("inventory.",)),
    NavLink(
        "Users",
        "admin.users",
        ("admin.users", "admin.new_user", "admin.user_detail", "admin.mfa_policy"),
    ),
    NavLink("Sites", "admin.sites", ("admin.sites", "admin.new_site", "admin.edit_site")),
    NavLink("Sessions", "admin.sign_in_sessions", ("admin.sign_in_sessions",)),
    NavLink(
        "Audit",
        "admin.audit_trail",
        ("admin.audit_trail", "admin.access_lookup", "admin.patient_access"),
    ),
)


def navigation() -> list[NavLink]:
    """The links the signed-in user may follow, in menu order."""
    if not current_user.is_authenticated:
        return []
    return [link for link in NAVIGATION if current_user.role in allowed_roles(link.endpoint)]
