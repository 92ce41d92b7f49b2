"""Staff accounts."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic_app.clinical.codes import Role
from clinic_app.database import coded, created_at, intpk
from clinic_app.extensions import db
from clinic_app.models.site import Site, user_sites


class User(UserMixin, db.Model):
    """One person who signs in; accounts are never shared."""

    __tablename__ = "users"

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    credentials: Mapped[str] = mapped_column(String(32), default="")
    role: Mapped[Role] = mapped_column(coded(Role, 20, "role_known"))
    active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[created_at]
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    # Set when an admin chose the password (new account, reset): the user picks their own at the
    # next sign-in before anything else (OWASP ASVS 2.1: temporary passwords are single-use).
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Throttling: failures since the last success, and the lockout they earned.
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    # Two-factor: the TOTP seed encrypted with a key derived from SECRET_KEY; the last accepted
    # time step, so a code is never accepted twice. A new seed waits in the pending column until
    # its first code checks out, so re-enrolling never switches the current one off early.
    totp_secret_encrypted: Mapped[str] = mapped_column(String(255), default="")
    totp_pending_secret_encrypted: Mapped[str] = mapped_column(
        String(255), default="", server_default=""
    )
    totp_enabled_at: Mapped[datetime | None]
    totp_last_timecode: Mapped[int | None]

    # The site their boards and calendars open on (None: all their sites, or not chosen yet).
    current_site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    # The sites this person works at, by name.
    sites: Mapped[list[Site]] = relationship(secondary=user_sites, order_by=Site.name)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def display_name(self) -> str:
        return f"{self.full_name}, {self.credentials}" if self.credentials else self.full_name

    @property
    def totp_enabled(self) -> bool:
        return self.totp_enabled_at is not None
