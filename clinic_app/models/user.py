"""Staff accounts."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from clinic_app.clinical.codes import Role
from clinic_app.database import created_at, in_values, intpk
from clinic_app.extensions import db


class User(UserMixin, db.Model):
    """One person who signs in; accounts are never shared."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(in_values("role", Role), name="role_known"),)

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    credentials: Mapped[str] = mapped_column(String(32), default="")
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[created_at]
    last_login_at: Mapped[datetime | None]

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def display_name(self) -> str:
        return f"{self.full_name}, {self.credentials}" if self.credentials else self.full_name

    def has_role(self, *roles: Role | str) -> bool:
        return self.role in roles
