"""Back up, change, restore: the data is identical to the moment of the backup (SQLite or
PostgreSQL, whichever the suite runs on), through the CLI commands the README documents."""

from sqlalchemy import select

from clinic_app import create_app
from clinic_app.extensions import db
from clinic_app.models import Patient
from config import TestingConfig
from tests import factories


def _snapshot() -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    tables = {}
    for table in db.metadata.sorted_tables:
        order = list(table.primary_key.columns)
        rows = db.session.execute(select(table).order_by(*order)).all()
        tables[table.name] = [tuple(row) for row in rows]
    return tables


def test_backup_change_restore_gives_identical_data(empty_database_url, tmp_path):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    runner = app.test_cli_runner()
    with app.app_context():
        db.create_all()
        factories.make_user("psychiatrist")
        factories.make_user("nurse")
        factories.dosed_session("esketamine_nasal", first_name="Before")
        db.session.commit()
        before = _snapshot()

    target = tmp_path / "clinic.backup"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 0

    with app.app_context():
        patient = db.session.scalar(select(Patient))
        patient.first_name = "Changed"
        factories.make_patient(first_name="Added")
        db.session.commit()
        assert _snapshot() != before

    refused = runner.invoke(args=["restore", str(target)])
    assert refused.exit_code != 0 and "--yes" in refused.output
    result = runner.invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output

    with app.app_context():
        assert _snapshot() == before
        db.session.remove()
        db.engine.dispose()
