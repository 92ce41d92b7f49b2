"""The pending-seed revision: seeds of enrollments never confirmed move to the pending column,
switched-on seeds stay where they are; the downgrade puts them back."""

from datetime import UTC, datetime

from sqlalchemy import MetaData, insert, select

from clinic_app import create_app
from clinic_app.extensions import db
from config import TestingConfig
from tests.helpers import db_command

BEFORE, PENDING_SEED = "bf4ac46af253", "5a7c0e2d9b14"
AT = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


def _seeds(app) -> dict[str, tuple]:
    with app.app_context():
        tables = MetaData()
        tables.reflect(db.engine)
        users = tables.tables["users"]
        columns = [users.c.totp_secret_encrypted]
        if "totp_pending_secret_encrypted" in users.c:
            columns.append(users.c.totp_pending_secret_encrypted)
        rows = db.session.execute(select(users.c.username, *columns)).all()
        db.session.remove()
        db.engine.dispose()
    return {row[0]: tuple(row[1:]) for row in rows}


def test_unconfirmed_seeds_move_to_the_pending_column(empty_database_url):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    db_command(app, "upgrade", BEFORE)
    with app.app_context():
        tables = MetaData()
        tables.reflect(db.engine)
        common = dict(
            credentials="",
            role="nurse",
            active=True,
            password_hash="x",
            created_at=AT,
            failed_logins=0,
            must_change_password=False,
        )
        db.session.execute(
            insert(tables.tables["users"]),
            [
                dict(
                    common,
                    username="on",
                    full_name="On",
                    totp_secret_encrypted="seed-on",
                    totp_enabled_at=AT,
                ),
                dict(
                    common,
                    username="half",
                    full_name="Half",
                    totp_secret_encrypted="seed-half",
                    totp_enabled_at=None,
                ),
                dict(
                    common,
                    username="off",
                    full_name="Off",
                    totp_secret_encrypted="",
                    totp_enabled_at=None,
                ),
            ],
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    db_command(app, "upgrade", PENDING_SEED)
    assert _seeds(app) == {
        "on": ("seed-on", ""),
        "half": ("", "seed-half"),
        "off": ("", ""),
    }
    db_command(app, "downgrade", BEFORE)
    assert _seeds(app) == {"on": ("seed-on",), "half": ("seed-half",), "off": ("",)}
