"""The monitoring healthcare provider's telephone and email, which the REMS form asks for."""

import re

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, require_role
from clinic_app.errors import FieldErrors
from clinic_app.extensions import db
from clinic_app.models import User

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PHONE_DIGITS = 7


def update_contact(actor: User, phone: str, email: str) -> None:
    """A nurse or psychiatrist keeps their own REMS contact details (blank clears one)."""
    require_role(actor, *CLINICAL)
    phone, email = phone.strip(), email.strip()
    errors = {}
    if phone and sum(c.isdigit() for c in phone) < MIN_PHONE_DIGITS:
        errors["phone"] = "Give a phone number the REMS can call."
    if email and not _EMAIL.match(email):
        errors["email"] = "Give an email address such as name@clinic.org."
    if errors:
        raise FieldErrors(errors)
    actor.phone, actor.email = phone, email
    db.session.flush()
    audit.record(actor, "user.contact", actor, fields=["phone", "email"])
