"""Account administration: each change re-checks the admin role, audits, and flushes; the view
commits."""

from sqlalchemy import select

from clinic_app import audit
from clinic_app.admin.sites import chosen_sites
from clinic_app.auth import services as auth_services
from clinic_app.auth import sessions
from clinic_app.auth.passwords import hash_password, password_problem
from clinic_app.auth.permissions import require_role
from clinic_app.clinical.codes import Role
from clinic_app.clock import utcnow
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.models import ClinicSetting, Patient, User, UserSession

MFA_SETTING = "mfa_required_roles"


def _admin(actor: User) -> None:
    require_role(actor, Role.ADMIN)


def create_user(
    actor: User,
    username: str,
    full_name: str,
    role: str,
    password: str,
    credentials: str = "",
    site_ids: list[int] | None = None,
) -> User:
    """A new personal account at the chosen open sites (at least one) with the password the
    admin typed (checked for strength)."""
    _admin(actor)
    sites = chosen_sites(site_ids or [])
    user = auth_services.create_user(
        actor, username, full_name, role, password, credentials.strip(), sites
    )
    user.must_change_password = True
    return user


def deactivate_user(actor: User, user: User) -> int:
    """Stop `user` signing in and end their sessions now; returns how many were ended."""
    _admin(actor)
    if user.id == actor.id:
        raise RuleViolation("You cannot deactivate your own account.")
    if not user.active:
        raise RuleViolation(f"{user.username} is already inactive.")
    user.active = False
    ended = sessions.revoke_all(user, "deactivated")
    db.session.flush()
    audit.record(actor, "user.deactivate", user, sessions_ended=ended)
    return ended


def reactivate_user(actor: User, user: User) -> None:
    _admin(actor)
    if user.active:
        raise RuleViolation(f"{user.username} is already active.")
    user.active = True
    db.session.flush()
    audit.record(actor, "user.reactivate", user)


def reset_password(actor: User, user: User, new_password: str) -> int:
    """Set a new password for someone else and end their sessions; returns how many ended."""
    _admin(actor)
    if user.id == actor.id:
        raise RuleViolation("Change your own password from Your account.")
    problem = password_problem(new_password, user.username)
    if problem:
        raise RuleViolation(problem, "new_password")
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = True
    ended = sessions.revoke_all(user, "password_reset")
    db.session.flush()
    audit.record(actor, "user.password_reset", user, sessions_ended=ended)
    return ended


def reset_two_factor(actor: User, user: User) -> int:
    """Turn someone's two-factor off (lost phone) and end their sessions; they set it up again
    at the next sign-in when their role requires it."""
    _admin(actor)
    if user.id == actor.id:
        raise RuleViolation("Manage your own two-factor sign-in from Your account.")
    auth_services.disable_totp(actor, user)  # audits user.mfa_reset
    ended = sessions.revoke_all(user, "mfa_reset")
    db.session.flush()
    return ended


def unlock_user(actor: User, user: User) -> None:
    """Clear the failed sign-in count and the lockout it earned."""
    _admin(actor)
    was_locked_until = user.locked_until
    user.failed_logins = 0
    user.locked_until = None
    db.session.flush()
    audit.record(actor, "user.unlock", user, was_locked=was_locked_until is not None)


def set_mfa_required_roles(actor: User, roles: list[str]) -> list[str]:
    """Store which roles must use two-factor sign-in (clinic setting `mfa_required_roles`)."""
    _admin(actor)
    unknown = set(roles) - set(Role)
    if unknown:
        raise RuleViolation("Unknown role.", "roles")
    before = sorted(auth_services.mfa_required_roles())
    value: list[str] = [r.value for r in Role if r.value in roles]
    setting = db.session.get(ClinicSetting, MFA_SETTING)
    if setting is None:
        setting = ClinicSetting(key=MFA_SETTING)
        db.session.add(setting)
    setting.value = value
    setting.updated_by_id = actor.id
    setting.updated_at = utcnow()
    db.session.flush()
    audit.record(actor, "setting.update", setting, key=MFA_SETTING, before=before, after=value)
    return value


def end_session(actor: User, row: UserSession, current: UserSession | None) -> None:
    """End one signed-in browser; its cookie stops working on its next request."""
    _admin(actor)
    if current is not None and row.id == current.id:
        raise RuleViolation("This is your own browser; use Sign out instead.")
    if row.revoked_at is not None:
        raise RuleViolation("That session has already ended.")
    sessions.revoke(row, "ended_by_admin")
    db.session.flush()
    audit.record(actor, "session.end", row, of_user_id=row.user_id)


def patient_by_mrn(actor: User, mrn: str) -> Patient:
    """The patient with this MRN (exact, ignoring surrounding spaces); RuleViolation if none."""
    _admin(actor)
    patient = db.session.scalar(select(Patient).where(Patient.mrn == mrn.strip()))
    if patient is None:
        raise RuleViolation("No patient has this MRN.", "mrn")
    return patient
