"""Accounts: creating users, checking credentials with lockout, passwords and two-factor."""

import hmac
from datetime import timedelta
from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from clinic_app import audit
from clinic_app.auth import mfa, sessions
from clinic_app.auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from clinic_app.clinical.codes import Role
from clinic_app.clock import utcnow
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.models import ClinicSetting, Site, User

# Verified against when the username is unknown or locked, so every path costs one argon2 check.
_DUMMY_HASH: dict[str, str] = {}


def _spend_a_hash(password: str) -> None:
    if "hash" not in _DUMMY_HASH:
        _DUMMY_HASH["hash"] = hash_password("unused-dummy-password")
    verify_password(_DUMMY_HASH["hash"], password)


def create_user(
    actor: User | None,
    username: str,
    full_name: str,
    role: str,
    password: str,
    credentials: str = "",
    sites: list[Site] | None = None,
) -> User:
    """Add an account working at `sites` (None: every active site). Raises RuleViolation for a
    taken username, unknown role or weak password."""
    username = username.strip().lower()
    if role not in set(Role):
        raise RuleViolation(f"Role must be one of {', '.join(Role)}.", "role")
    if not username:
        raise RuleViolation("Username is required.", "username")
    if db.session.scalar(select(func.count()).where(User.username == username)):
        raise RuleViolation("That username is taken.", "username")
    problem = password_problem(password, username)
    if problem:
        raise RuleViolation(problem, "password")
    user = User(
        username=username,
        full_name=full_name.strip() or username,
        role=Role(role),
        credentials=credentials,
        password_hash=hash_password(password),
        password_changed_at=utcnow(),
    )
    if sites is None:
        sites = list(db.session.scalars(select(Site).where(Site.active)))
    sites = sorted(sites, key=lambda site: site.name)
    user.sites = sites
    db.session.add(user)
    db.session.flush()
    audit.record(
        actor, "user.create", user, role_assigned=role, sites=[site.code for site in sites]
    )
    return user


def _count_failure(user: User) -> bool:
    """Add one failure in a single atomic statement and set the lock it earns (a lock that
    doubles per failure past the limit); True when the account is now locked."""
    config = current_app.config
    failures = db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    set_committed_value(user, "failed_logins", failures)
    over = failures - config["LOCKOUT_AFTER_FAILURES"]
    if over < 0:
        return False
    until = utcnow() + timedelta(minutes=min(2**over, config["LOCKOUT_MAX_MINUTES"]))
    # A concurrent later failure sets its own, longer lock; this one only applies to its count.
    db.session.execute(
        update(User)
        .where(User.id == user.id, User.failed_logins == failures)
        .values(locked_until=until)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(user, "locked_until", until)
    return True


def record_failure(user: User, reason: str) -> bool:
    """Count a failed sign-in password or code and audit it; True when it locked the account."""
    locked = _count_failure(user)
    audit.record(user, "login", user, outcome="failure", reason=reason, **attempt(user.username))
    return locked


def _reset_failures(user: User) -> None:
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(user, "failed_logins", 0)
    set_committed_value(user, "locked_until", None)


def attempt(username: str, known: bool = True) -> dict[str, Any]:
    """What a failed sign-in's audit row names: the username tried and the client's address.
    A name that is no account's may be a password typed in the wrong box, so it is kept only
    as a keyed fingerprint: repeated tries of one name still show, the text does not."""
    name = username.strip().lower()[:80]
    if not known:
        key = current_app.config["SECRET_KEY"].encode()
        name = "unknown:" + hmac.new(key, name.encode(), "sha256").hexdigest()[:16]
    source = (request.remote_addr or "") if has_request_context() else "cli"
    return {"username": name, "source": source}


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


def authenticate(username: str, password: str) -> User | None:
    """The active, unlocked user with these credentials, or None. Audits every failure.

    A right password does not forgive earlier failures: wrong two-factor codes after it still
    count, and the counter is cleared only when the whole sign-in succeeds (complete_login)."""
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        _spend_a_hash(password)
        tried = attempt(username, known=False)
        audit.record(None, "login", outcome="failure", reason="unknown_user", **tried)
        return None
    if is_locked(user):
        _spend_a_hash(password)
        audit.record(user, "login", user, outcome="failure", reason="locked", **attempt(username))
        return None
    if not verify_password(user.password_hash, password):
        record_failure(user, "bad_password")
        return None
    if not user.active:
        audit.record(user, "login", user, outcome="failure", reason="inactive", **attempt(username))
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def complete_login(user: User, second_factor: str) -> None:
    """Record a full sign-in (after the second factor when there is one)."""
    user.last_login_at = utcnow()
    _reset_failures(user)
    audit.record(user, "login", user, second_factor=second_factor)


def mfa_required_roles() -> set[str]:
    """Roles that must use two-factor sign-in: the clinic setting, else the environment default."""
    setting = db.session.get(ClinicSetting, "mfa_required_roles")
    if setting is not None:
        return set(setting.value)
    return set(current_app.config["MFA_REQUIRED_ROLES_DEFAULT"])


def mfa_required(user: User) -> bool:
    return user.role in mfa_required_roles()


def reauthenticate(
    user: User,
    password: str | None,
    action: str,
    entity: Any = None,
    *,
    field: str = "password",
    witness: bool = False,
    **detail: Any,
) -> None:
    """Re-entry of the user's own password before signing or changing credentials; raises
    RuleViolation on `field` when it is wrong or the account is locked. Every failure is audited
    as a failed `action` (with `detail`, e.g. patient_id) and counts toward the sign-in lockout;
    the failure that locks the account also ends all its sessions, so a stolen session cannot
    keep guessing. A `witness` types their password at someone else's device (waste, counts,
    receipts): their failures count and lock the same way, but their own sessions stay, or a
    colleague's mistakes would sign the prescriber out mid-clinic. The caller commits after the
    RuleViolation to keep the count and audit row."""
    noun = "current password" if field == "current_password" else "password"
    what = f"{user.display_name}'s password" if witness else f"The {noun}"
    if is_locked(user):
        audit.record(user, action, entity, outcome="failure", reason="locked", **detail)
        raise RuleViolation(
            "Too many wrong passwords: the account is locked for a few minutes.", field
        )
    if verify_password(user.password_hash, password or ""):
        return
    locked = _count_failure(user)
    marks = {"locked": True} if locked else {}
    audit.record(user, action, entity, outcome="failure", reason="bad_password", **marks, **detail)
    if not locked:
        raise RuleViolation(f"{what} is not correct.", field)
    if witness:
        raise RuleViolation(
            f"{what} is not correct. After too many wrong passwords that account is locked for "
            "a few minutes: choose another witness.",
            field,
        )
    sessions.revoke_all(user, "locked")
    raise RuleViolation(
        f"The {noun} is not correct. After too many wrong passwords you are signed out.", field
    )


def change_password(user: User, current: str, new: str) -> None:
    """Change one's own password; needs the current one and refuses to keep it (also the one an
    admin set). Ends the user's other sessions."""
    reauthenticate(user, current, "user.password_change", user, field="current_password")
    if hmac.compare_digest(new.encode(), current.encode()):
        raise RuleViolation("Choose a password different from the current one.", "new_password")
    problem = password_problem(new, user.username)
    if problem:
        raise RuleViolation(problem, "new_password")
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    sessions.revoke_all(user, "password_changed", keep=sessions.current())
    audit.record(user, "user.password_change", user)


def enable_totp(user: User, code: str) -> list[str]:
    """Switch the pending seed on once its first code checks out (replacing any earlier seed and
    backup codes only then); returns the new backup codes."""
    if not mfa.confirm_pending(user, code):
        raise RuleViolation("That code is not right. Check the phone's time and try again.", "code")
    codes = mfa.new_backup_codes(user)
    audit.record(user, "user.mfa_enable", user)
    return codes


def disable_totp(actor: User, user: User) -> None:
    """Turn two-factor off (own account, or an admin resetting it)."""
    mfa.disable(user)
    audit.record(actor, "user.mfa_reset", user)
