"""Role gates for views and services (who may do what: README, "Where each role starts")."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
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

        # Read by the route/role matrix test; mypy does not model attributes set on functions.
        wrapped.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapped

    return decorator


def require_role(user: User, *roles: Role) -> None:
    """Service check: raise PermissionDenied unless `user` is active and has one of `roles`."""
    if user is None or not user.active or user.role not in roles:
        raise PermissionDenied()
