"""The second person of a two-person step (checker, witness, counter): another active clinician
at the site who re-enters their own password at the actor's station. Their wrong passwords
count toward their own lockout but never end their sessions (`reauthenticate(witness=True)`)."""

from typing import Any

from sqlalchemy import select

from clinic_app.auth.permissions import CLINICAL
from clinic_app.auth.services import reauthenticate
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.models import User


def second_person(actor: User, site_id: int, username: str, field: str) -> User:
    """The other clinician of a two-person step (checker, witness, counter) by username:
    active, clinical, at the site, and not `actor`."""
    other = db.session.scalar(select(User).where(User.username == (username or "").strip()))
    if other is None or not other.active or other.role not in CLINICAL:
        raise RuleViolation("Name a nurse or psychiatrist by their username.", field)
    if other.id == actor.id:
        raise RuleViolation("A second person is needed: not yourself.", field)
    if site_id not in {s.id for s in other.sites}:
        raise RuleViolation("This person does not work at this site.", field)
    return other


def witnessed(
    actor: User,
    site_id: int,
    entity: Any,
    username: str,
    password: str,
    prefix: str = "witness",
    **detail: Any,
) -> User:
    """The witness named by `username` once they re-enter their own `password`; RuleViolation on
    `<prefix>_username` or `<prefix>_password` otherwise (a wrong password is audited as a
    failed `stock.witness` on `entity` and counted: the caller commits after that refusal)."""
    witness = second_person(actor, site_id, username, f"{prefix}_username")
    reauthenticate(
        witness,
        password,
        "stock.witness",
        entity,
        field=f"{prefix}_password",
        witness=True,
        **detail,
    )
    return witness
