"""Small helpers shared by the review view tests."""

import html
import re

from sqlalchemy import func, select

from clinic_app.extensions import db
from clinic_app.models import AuditEvent


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def field_error(response, field_id: str) -> str | None:
    """The error the form macro renders under a field, or None."""
    match = re.search(
        rf'<div id="{re.escape(field_id)}-error" class="invalid-feedback d-block">(.*?)</div>',
        response.get_data(as_text=True),
        re.S,
    )
    return html.unescape(match.group(1)).strip() if match else None


def text(response) -> str:
    """The page as plain text (tags dropped, whitespace collapsed)."""
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(body))


def actions_by(app, user_id: int) -> set[str]:
    """Audit actions of a user apart from signing in and refused accesses."""
    with app.app_context():
        return set(
            db.session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.user_id == user_id,
                    AuditEvent.action.not_in(["login", "access.denied"]),
                )
            )
        )


def audit_rows(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )
        db.session.expunge_all()
        return rows
