"""Migrations: upgrade from empty, down to base and up again, and no drift from the models,
on the database the suite runs against (SQLite, or PostgreSQL with TEST_DATABASE_URL)."""

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from clinic_app import PROJECT_ROOT, create_app
from clinic_app.extensions import db
from config import TestingConfig
from tests.helpers import db_command


def _tables(app) -> set[str]:
    with app.app_context():
        names = set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    return names - {"alembic_version"}


def test_upgrade_downgrade_upgrade_and_no_drift(empty_database_url):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    db_command(app, "upgrade")
    with app.app_context():
        expected = set(db.metadata.tables)
    assert _tables(app) == expected

    db_command(app, "check")  # fails when the models and the migrations differ

    db_command(app, "downgrade", "base")
    assert _tables(app) == set()

    db_command(app, "upgrade")
    assert _tables(app) == expected
    db_command(app, "check")
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
    db_command(app, "upgrade", "433675b050be")
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

    db_command(app, "upgrade")
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


def _reflected(app):
    from sqlalchemy import MetaData

    tables = MetaData()
    with app.app_context():
        tables.reflect(db.engine)
    return tables.tables


def _rows(app, query) -> list[tuple]:
    with app.app_context(), db.engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(query)]
        db.engine.dispose()
    return rows


def test_sites_revision_puts_an_existing_install_at_one_site_and_back(empty_database_url):
    """Upgrading an install with staff, chairs and patients creates "Main clinic" (MAIN) in the
    clinic's time zone and puts every chair, user and patient there; downgrade and upgrade again
    keep every row."""
    from datetime import UTC, date, datetime

    from sqlalchemy import insert, select

    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    db_command(app, "upgrade", "c3d5e7f9a1b2")
    at = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
    tables = _reflected(app)
    user = dict(
        full_name="N",
        credentials="",
        role="nurse",
        active=True,
        password_hash="x",
        created_at=at,
        failed_logins=0,
        totp_secret_encrypted="",
        totp_pending_secret_encrypted="",
        must_change_password=False,
    )
    patient = dict(
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
        preferred_weekdays=[],
        created_at=at,
        updated_at=at,
        version_id=1,
    )
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(
                insert(tables["users"]),
                [user | {"id": 1, "username": "n"}, user | {"id": 2, "username": "m"}],
            )
            connection.execute(
                insert(tables["chairs"]),
                [
                    {"id": 1, "name": "Chair 1", "active": True},
                    {"id": 2, "name": "Chair 2", "active": False},
                ],
            )
            connection.execute(insert(tables["patients"]), [patient | {"id": 1, "mrn": "M1"}])
            connection.execute(
                insert(tables["clinic_settings"]),
                [{"key": "timezone", "value": "America/New_York", "updated_at": at}],
            )
        db.engine.dispose()

    for step in ("upgrade", "round trip"):
        if step == "round trip":
            db_command(app, "downgrade", "c3d5e7f9a1b2")
            tables = _reflected(app)
            assert "sites" not in tables and "site_id" not in tables["chairs"].c
            assert _rows(app, select(tables["chairs"].c.id, tables["chairs"].c.name)) == [
                (1, "Chair 1"),
                (2, "Chair 2"),
            ]
        db_command(app, "upgrade")
        tables = _reflected(app)
        sites, chairs = tables["sites"], tables["chairs"]
        assert _rows(app, select(sites.c.id, sites.c.name, sites.c.code, sites.c.timezone)) == [
            (1, "Main clinic", "MAIN", "America/New_York")
        ]
        assert _rows(
            app, select(chairs.c.id, chairs.c.site_id, chairs.c.active).order_by(chairs.c.id)
        ) == [
            (1, 1, True),
            (2, 1, False),
        ]
        user_sites = tables["user_sites"]
        assert sorted(_rows(app, select(user_sites.c.user_id, user_sites.c.site_id))) == [
            (1, 1),
            (2, 1),
        ]
        patients = tables["patients"]
        assert _rows(app, select(patients.c.mrn, patients.c.usual_site_id)) == [("M1", 1)]
    db_command(app, "check")


def test_sites_revision_leaves_a_new_install_without_sites(empty_database_url):
    from sqlalchemy import func, select

    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    db_command(app, "upgrade")
    assert _rows(app, select(func.count()).select_from(_reflected(app)["sites"])) == [(0,)]


def test_sites_downgrade_renames_a_chair_name_used_at_two_sites(empty_database_url):
    from sqlalchemy import insert, select

    from clinic_app.clock import utcnow

    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    db_command(app, "upgrade")
    tables = _reflected(app)
    site = dict(
        address_line1="",
        address_line2="",
        city="",
        state="",
        zip_code="",
        phone="",
        timezone="UTC",
        rems_certified=False,
        rems_setting_id="",
        dea_number="",
        active=True,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(
                insert(tables["sites"]),
                [
                    site | {"id": 1, "name": "A", "code": "AAA"},
                    site | {"id": 2, "name": "B", "code": "NYC"},
                ],
            )
            connection.execute(
                insert(tables["chairs"]),
                [
                    {"id": 1, "site_id": 1, "name": "Chair 1", "active": True},
                    {"id": 2, "site_id": 2, "name": "chair 1", "active": True},
                    {"id": 3, "site_id": 2, "name": "Chair 1 (NYC)", "active": True},
                ],
            )
        db.engine.dispose()
    db_command(app, "downgrade", "c3d5e7f9a1b2")
    chairs = _reflected(app)["chairs"]
    assert _rows(app, select(chairs.c.id, chairs.c.name).order_by(chairs.c.id)) == [
        (1, "Chair 1"),
        (2, "chair 1 (NYC 2)"),
        (3, "Chair 1 (NYC)"),
    ]


def test_patient_address_revision_gives_existing_patients_empty_addresses_and_back(
    empty_database_url,
):
    """Upgrading keeps every patient, with "" in each address column (address not recorded);
    downgrading one step drops the columns and keeps the patients."""
    from datetime import UTC, date, datetime

    from sqlalchemy import insert, select

    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    db_command(app, "upgrade", "b4934ea5cb81")
    at = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
    patient = dict(
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
        preferred_weekdays=[],
        created_at=at,
        updated_at=at,
        version_id=1,
    )
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(insert(_reflected(app)["patients"]), [patient])
        db.engine.dispose()
    address = ("address_line1", "address_line2", "city", "state", "zip_code")

    db_command(app, "upgrade", "a7d2e4c91f36")
    patients = _reflected(app)["patients"]
    columns = [patients.c[name] for name in address]
    assert _rows(app, select(patients.c.mrn, *columns)) == [("M1", "", "", "", "", "")]

    db_command(app, "downgrade", "b4934ea5cb81")
    patients = _reflected(app)["patients"]
    assert not set(address) & set(patients.c.keys())
    assert _rows(app, select(patients.c.mrn)) == [("M1",)]
    with app.app_context():
        db.engine.dispose()
