"""Migrations: upgrade from empty, down to base and up again, and no drift from the models,
on the database the suite runs against (SQLite, or PostgreSQL with TEST_DATABASE_URL)."""

import os
import uuid

import psycopg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from clinic_app import PROJECT_ROOT, create_app
from clinic_app.extensions import db
from config import TestingConfig


@pytest.fixture
def empty_database_url(tmp_path):
    """A brand-new empty database of the suite's kind, dropped afterwards."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"
        return
    url = make_url(server_url)
    name = f"migr_{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _run(app, *args):
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, (result.output, repr(result.exception))
    return result.output


def _tables(app) -> set[str]:
    with app.app_context():
        names = set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    return names - {"alembic_version"}


def test_upgrade_downgrade_upgrade_and_no_drift(empty_database_url):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    _run(app, "upgrade")
    with app.app_context():
        expected = set(db.metadata.tables)
    assert _tables(app) == expected

    _run(app, "check")  # fails when the models and the migrations differ

    _run(app, "downgrade", "base")
    assert _tables(app) == set()

    _run(app, "upgrade")
    assert _tables(app) == expected
    _run(app, "check")
    with app.app_context():
        db.engine.dispose()


def test_single_head():
    script = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
    assert len(script.get_heads()) == 1
