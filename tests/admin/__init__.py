"""Admin screens: accounts, two-factor policy, sign-in sessions, the audit trail."""

from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import func, select

from clinic_app.extensions import db
from clinic_app.models import AuditEvent, User, UserSession

NON_ADMIN_ROLES = ("nurse", "psychiatrist", "front_desk")
STRONG_PASSWORD = "plum umbrella sextant 42"
# A new site's form, every field valid.
GOOD_SITE = {
    "name": "Downtown LA",
    "code": "dtla",
    "address_line1": "350 S Grand Ave",
    "address_line2": "Suite 400",
    "city": "Los Angeles",
    "state": "CA",
    "zip_code": "90071",
    "phone": "213-555-0100",
    "timezone": "America/Los_Angeles",
    "rems_certified": "y",
    "rems_setting_id": "HCS-12345",
    "rems_certified_on": "2026-01-15",
    "dea_number": "bj 123456 3",
}


def to_login(response) -> bool:
    """A redirect to the sign-in page."""
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


def actions(app: Flask, user_id: int | None = None, *, exclude=("login",)) -> list[str]:
    """Audit actions in order (of one user when given), without sign-ins by default."""
    with app.app_context():
        query = select(AuditEvent.action).order_by(AuditEvent.id)
        if user_id is not None:
            query = query.where(AuditEvent.user_id == user_id)
        return [a for a in db.session.scalars(query) if a not in exclude]


def last_event(app: Flask, action: str) -> AuditEvent:
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())
        )
        assert event is not None, f"no {action} audit row"
        db.session.expunge(event)
        return event


def live_sessions(app: Flask, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count()).where(
                UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
            )
        )


def user_state(app: Flask, user_id: int) -> dict:
    with app.app_context():
        user = db.session.get(User, user_id)
        return {
            "active": user.active,
            "password_hash": user.password_hash,
            "failed_logins": user.failed_logins,
            "locked_until": user.locked_until,
            "totp_enabled_at": user.totp_enabled_at,
            "totp_secret_encrypted": user.totp_secret_encrypted,
            "role": user.role,
        }
