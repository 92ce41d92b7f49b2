"""Accounts: creating users and checking credentials."""

from sqlalchemy import func, select

from clinic_app import audit
from clinic_app.auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from clinic_app.clinical.codes import Role
from clinic_app.clock import utcnow
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.models import User

# Verified against when the username is unknown, so both paths cost one argon2 check.
_DUMMY_HASH: dict[str, str] = {}


def create_user(
    actor: User | None,
    username: str,
    full_name: str,
    role: str,
    password: str,
    credentials: str = "",
) -> User:
    """Add an account. Raises RuleViolation for a taken username, unknown role or weak password."""
    username = username.strip().lower()
    if role not in set(Role):
        raise RuleViolation(f"Role must be one of {', '.join(Role)}.", "role")
    if not username:
        raise RuleViolation("Username is required.", "username")
    if db.session.scalar(select(func.count()).where(User.username == username)):
        raise RuleViolation("That username is taken.", "username")
    problem = password_problem(password)
    if problem:
        raise RuleViolation(problem, "password")
    user = User(
        username=username,
        full_name=full_name.strip() or username,
        role=role,
        credentials=credentials,
        password_hash=hash_password(password),
    )
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.create", user, role_assigned=role)
    return user


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None. Audits success and failure."""
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        if "hash" not in _DUMMY_HASH:
            _DUMMY_HASH["hash"] = hash_password("unused-dummy-password")
        verify_password(_DUMMY_HASH["hash"], password)
        audit.record(None, "login", outcome="failure", reason="unknown_user")
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        audit.record(
            user,
            "login",
            user,
            outcome="failure",
            reason="inactive" if user.active is False else "bad_password",
        )
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    audit.record(user, "login", user)
    return user


def confirm_password(user: User, password: str) -> bool:
    """Re-authentication before signing: the user's own current password."""
    return verify_password(user.password_hash, password)
