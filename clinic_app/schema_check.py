"""Refuse to serve on a database whose schema is behind the code (migrations are a deploy step)."""

import logging

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, render_template

from clinic_app.extensions import db

log = logging.getLogger(__name__)


def schema_is_current(migrations_dir: str) -> bool:
    """True when the database is at the newest Alembic revision."""
    heads = set(ScriptDirectory(migrations_dir).get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads


def register(app: Flask, migrations_dir: str) -> None:
    """Answer 503 to every request until `flask db upgrade` has run (checked until it passes)."""
    if not app.config.get("REQUIRE_CURRENT_SCHEMA"):
        return
    state = {"current": False}

    @app.before_request
    def require_current_schema():
        if state["current"]:
            return None
        if schema_is_current(migrations_dir):
            state["current"] = True
            return None
        log.error("database schema is behind the code: run `flask --app wsgi db upgrade`")
        return render_template(
            "errors/error.html", code=503, title="Service unavailable", request_id=""
        ), 503
