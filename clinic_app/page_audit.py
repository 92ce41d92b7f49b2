"""Audit rows for pages that list patients: one per page view, naming what was listed."""

from typing import Any

from flask_login import current_user

from clinic_app import audit
from clinic_app.extensions import db

QUERY_KEPT = 100  # characters of a search's text kept on its audit row


def record_listing(action: str, **listed: Any) -> None:
    """Record that the signed-in user viewed the list `action` of `listed` (a date, a page, a
    search's text) and commit it, before the page is rendered."""
    audit.record(current_user._get_current_object(), action, **listed)
    db.session.commit()
