"""Sites: the locations of a clinic group, each with its chairs and staff, and what the law
ties to a place (the Spravato REMS healthcare-setting certification, the DEA registration)."""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from clinic_app.clinical.addresses import PostalAddress, one_line
from clinic_app.clock import utcnow
from clinic_app.database import created_at, intpk
from clinic_app.extensions import db

# Which sites a member of staff works at (one or more).
user_sites = Table(
    "user_sites",
    db.metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("site_id", ForeignKey("sites.id"), primary_key=True, index=True),
)


class Site(db.Model):
    """One physical location: its address, phone, time zone, REMS setting and DEA number."""

    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint(
            "NOT rems_certified OR (rems_setting_id <> '' AND rems_certified_on IS NOT NULL)",
            name="rems_certified_has_id_and_date",
        ),
    )

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # Short and stable: names the site in URLs and filters (e.g. DTLA).
    code: Mapped[str] = mapped_column(String(12), unique=True)
    address_line1: Mapped[str] = mapped_column(String(120), default="")
    address_line2: Mapped[str] = mapped_column(String(120), default="")
    city: Mapped[str] = mapped_column(String(80), default="")
    state: Mapped[str] = mapped_column(String(2), default="")
    zip_code: Mapped[str] = mapped_column(String(10), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    timezone: Mapped[str] = mapped_column(String(64))
    rems_certified: Mapped[bool] = mapped_column(default=False)
    rems_setting_id: Mapped[str] = mapped_column(String(40), default="")
    rems_certified_on: Mapped[date | None]
    dea_number: Mapped[str] = mapped_column(String(9), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def address(self) -> str:
        """The postal address on one line."""
        return one_line(
            PostalAddress(
                self.address_line1, self.address_line2, self.city, self.state, self.zip_code
            )
        )
