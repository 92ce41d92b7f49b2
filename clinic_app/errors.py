"""Domain errors and generic error pages (no stack traces, no PHI)."""

import logging
import traceback
from contextlib import suppress
from pathlib import Path

from flask import Flask, g, render_template
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from clinic_app.clinical.discharge import Blocker
from clinic_app.extensions import db, login_manager
from clinic_app.security import request_id

log = logging.getLogger(__name__)


class RuleViolation(Exception):
    """A clinical or workflow rule refused the change; the message is safe to show."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class FieldErrors(Exception):
    """Several field errors from one submission (field name -> message)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


class DischargeBlocked(RuleViolation):
    """Discharge refused; `blockers` lists every reason (each with a code and a message)."""

    def __init__(self, blockers: list[Blocker]):
        super().__init__("Discharge is not possible yet.")
        self.blockers = blockers


class Conflict(RuleViolation):
    """A booking or move the calendar refuses.

    `problems` maps a visit's position in the request to (code, message); codes are those of
    `clinical.visit_checks.Result` plus database.
    """

    def __init__(
        self,
        message: str,
        problems: dict[int, tuple[str, str]] | None = None,
        field: str | None = None,
    ):
        super().__init__(message, field)
        self.problems = problems or {}


class PermissionDenied(Exception):
    """The acting user may not do this (services re-check what views check)."""


class StaleRecord(Exception):
    """Someone else saved the record since it was loaded."""


def register(app: Flask) -> None:
    """Render HTTP errors and unexpected exceptions as plain pages carrying the request id."""

    @app.teardown_appcontext
    def end_session_despite_lost_connection(_error):
        """End the request's database session; runs before Flask-SQLAlchemy's own teardown
        (registered earlier, so called later). Ending it rolls back, and if the database has
        just dropped the connection (a restart) that must not turn a response that is already
        made into a 500. The connection is discarded; the pool opens a new one."""
        try:
            db.session.remove()
        except DBAPIError as error:
            if not database_unavailable(error):
                raise
            log.warning("database connection lost at the end of request_id=%s", request_id())
            with suppress(SQLAlchemyError):
                db.session().invalidate()  # the broken session still in the registry
            with suppress(SQLAlchemyError):
                db.session.remove()

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        db.session.rollback()
        if error.code == 403:
            _audit_refusal()
        return _page(error.code or 500, error.name), error.code

    @app.errorhandler(PermissionDenied)
    def permission_denied(error: PermissionDenied):
        db.session.rollback()
        _audit_refusal()
        return _page(403, "Forbidden"), 403

    if app.testing:
        return  # let tests see the real exception

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError):
        """The database is unreachable (restart, failover, network; SQLite busy past its
        timeout): a clean 503 the client can retry. The pool reconnects by itself
        (pool_pre_ping), so no worker restart is needed. Other database errors are bugs: 500."""
        if not database_unavailable(error):
            return _unexpected(error)
        with suppress(SQLAlchemyError):
            db.session.rollback()
        # The page must not need the database: render it as for a signed-out visitor.
        g._login_user = login_manager.anonymous_user()
        log.warning(
            "database unavailable: %s request_id=%s", type(error.orig).__name__, request_id()
        )
        return _page(503, "Service unavailable"), 503, {"Retry-After": "5"}

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        return _unexpected(error)


def database_unavailable(error: DBAPIError) -> bool:
    """Connection-level failures (as opposed to constraint or programming errors)."""
    return error.connection_invalidated or isinstance(error, OperationalError | InterfaceError)


def _unexpected(error: Exception):
    with suppress(SQLAlchemyError):
        db.session.rollback()
    # Type and code location only: exception messages may quote PHI from SQL parameters.
    frames = traceback.extract_tb(error.__traceback__)[-3:]
    where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames))
    log.error(
        "unhandled %s at %s request_id=%s",
        type(error).__name__,
        where,
        request_id(),
    )
    return _page(500, "Something went wrong"), 500


def _audit_refusal() -> None:
    """Every refused access is on the audit trail, in its own transaction."""
    from flask import request
    from flask_login import current_user

    from clinic_app import audit

    actor = current_user._get_current_object() if current_user.is_authenticated else None
    audit.record(
        actor,
        "access.denied",
        outcome="denied",
        endpoint=request.endpoint or "",
        method=request.method,
        asked=request.view_args or {},  # the ids in the URL, e.g. {"patient_id": 7}
    )
    db.session.commit()


def _page(code: int, title: str) -> str:
    return render_template("errors/error.html", code=code, title=title, request_id=request_id())
