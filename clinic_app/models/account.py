"""Server-side sign-in sessions and two-factor backup codes."""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic_app.database import created_at, intpk
from clinic_app.extensions import db

if TYPE_CHECKING:
    from clinic_app.models.user import User


class UserSession(db.Model):
    """One signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so
    revoking the row makes the cookie useless (logout, deactivation, an admin ending it)."""

    __tablename__ = "user_sessions"

    id: Mapped[intpk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[created_at]
    last_seen_at: Mapped[datetime]
    # Password checked but the second factor still owed: no page but the code prompt.
    mfa_pending: Mapped[bool] = mapped_column(default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(index=True)
    revoked_reason: Mapped[str] = mapped_column(String(40), default="")
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped["User"] = relationship()


class BackupCode(db.Model):
    """A single-use two-factor recovery code, stored as a keyed HMAC-SHA256 (codes issued before
    that are argon2 hashes and keep working until used)."""

    __tablename__ = "backup_codes"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None]
