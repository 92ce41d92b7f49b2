"""Migrations: upgrade from empty, down to base and up again, and no drift from the models,
on the database the suite runs against (SQLite, or PostgreSQL with TEST_DATABASE_URL)."""

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from clinic_app import PROJECT_ROOT, create_app
from clinic_app.extensions import db
from config import TestingConfig


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


def test_upgrade_keeps_rows_that_point_at_appointments(empty_database_url):
    """The scheduling revision rebuilds `appointments` on SQLite; rows pointing at it survive."""
    from datetime import UTC, date, datetime

    from sqlalchemy import MetaData, insert, select

    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    _run(app, "upgrade", "433675b050be")
    at = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
    with app.app_context():
        tables = MetaData()
        tables.reflect(db.engine)
        rows = {
            "users": dict(
                id=1,
                username="n",
                full_name="N",
                credentials="RN",
                role="nurse",
                active=True,
                password_hash="x",
                created_at=at,
                failed_logins=0,
                totp_secret_encrypted="",
            ),
            "patients": dict(
                id=1,
                mrn="M1",
                first_name="A",
                last_name="B",
                date_of_birth=date(1980, 1, 1),
                sex="male",
                phone="",
                email="",
                allergies="",
                driver_name="",
                driver_phone="",
                driver_relationship="",
                contraindications=[],
                failed_trials=3,
                medication_classes=[],
                created_at=at,
                updated_at=at,
                version_id=1,
            ),
            "treatment_courses": dict(
                id=1,
                patient_id=1,
                modality="esketamine_nasal",
                indication="trd",
                prescriber_id=1,
                esketamine_dose_mg=56,
                phase="induction",
                stop_reason="",
                started_on=date(2026, 11, 1),
                created_at=at,
            ),
            "appointments": dict(
                id=1,
                patient_id=1,
                course_id=1,
                starts_at=at,
                ends_at=at.replace(hour=19),
                visit_kind="induction",
                status="completed",
                driver_name="",
                driver_phone="",
                cancel_reason="",
                created_at=at,
                driver_confirmed_at=at,
            ),
            "treatment_sessions": dict(
                id=1,
                appointment_id=1,
                patient_id=1,
                course_id=1,
                modality="esketamine_nasal",
                nurse_id=1,
                status="in_progress",
                started_at=at,
                identity_confirmed=False,
                consent_confirmed=False,
                fasting_confirmed=False,
                pregnancy_status="",
                medications_reviewed=False,
                rems_confirmed=False,
                driver_name="",
                driver_phone="",
                driver_confirmed=False,
                lot_number="",
                discharged_with="",
                signature_hash="",
                cosignature_hash="",
                version_id=1,
            ),
        }
        with db.engine.begin() as connection:
            for name, values in rows.items():
                connection.execute(insert(tables.tables[name]), values)
        db.engine.dispose()

    _run(app, "upgrade")
    with app.app_context():
        tables = MetaData()
        tables.reflect(db.engine)
        with db.engine.connect() as connection:
            appointment = connection.execute(select(tables.tables["appointments"])).mappings().one()
            session_row = connection.execute(select(tables.tables["treatment_sessions"])).one()
        db.engine.dispose()
    assert appointment["driver_status"] == "confirmed"
    assert appointment["late_cancellation"] in (False, 0)
    assert session_row.appointment_id == 1
