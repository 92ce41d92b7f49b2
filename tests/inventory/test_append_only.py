"""Ledger movements are never changed or deleted on a migrated database: the migration's
triggers refuse it (SQLite and PostgreSQL), and on PostgreSQL the app's login role may only add
rows (it cannot lift the triggers either)."""

import os
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from clinic_app import create_app
from clinic_app.extensions import db
from clinic_app.models import StockMovement
from config import TestingConfig
from tests import factories
from tests.helpers import PASSWORD
from tests.inventory.builders import receive_stock, stocked_site

ON_POSTGRESQL = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


def _migrated_with_stock(url: str):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        factories.site()
        for role in ("nurse", "psychiatrist"):
            factories.make_user(role, password=PASSWORD)
        receive_stock(stocked_site(), containers=1)
        db.session.commit()
    return app


def _dispose(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_migrated_database_refuses_to_change_or_delete_movements(empty_database_url):
    app = _migrated_with_stock(empty_database_url)
    try:
        with app.app_context():
            for statement in (
                "UPDATE stock_movements SET quantity = 0",
                "UPDATE stock_movements SET occurred_at = occurred_at",
                "DELETE FROM stock_movements",
            ):
                with pytest.raises(DBAPIError, match="append-only"):
                    db.session.execute(text(statement))
                db.session.rollback()
            assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 1
    finally:
        _dispose(app)


@pytest.mark.skipif(not ON_POSTGRESQL, reason="database roles: PostgreSQL only")
def test_the_app_role_may_add_movements_but_not_change_or_unprotect_them(empty_database_url):
    owner = _migrated_with_stock(empty_database_url)
    role = f"clinic_app_{uuid.uuid4().hex[:8]}"
    with owner.app_context():
        db.session.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        db.session.commit()
    limited = None
    try:
        granted = owner.test_cli_runner().invoke(args=["db", "grant-app-role", role])
        assert granted.exit_code == 0, granted.output
        url = make_url(empty_database_url).set(username=role, password=None)
        limited = create_app(
            TestingConfig, SQLALCHEMY_DATABASE_URI=url.render_as_string(hide_password=False)
        )
        with limited.app_context():
            receive_stock(stocked_site(), containers=1, lot="MORE")  # rows can be added
            db.session.commit()
            for statement in (
                "UPDATE stock_movements SET quantity = 0",
                "DELETE FROM stock_movements",
                "TRUNCATE stock_movements",
                "ALTER TABLE stock_movements DISABLE TRIGGER stock_movements_append_only",
                "DROP TRIGGER stock_movements_append_only ON stock_movements",
            ):
                with pytest.raises(DBAPIError, match="permission denied|must be owner"):
                    db.session.execute(text(statement))
                db.session.rollback()
            assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 2
    finally:
        if limited is not None:
            _dispose(limited)
        with owner.app_context():
            db.session.execute(text(f'DROP OWNED BY "{role}"'))
            db.session.execute(text(f'DROP ROLE "{role}"'))
            db.session.commit()
        _dispose(owner)
