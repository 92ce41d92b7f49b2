"""Back up, change, restore: the data is identical to the moment of the backup (SQLite or
PostgreSQL, whichever the suite runs on), through the CLI commands the README documents. The
database files and backups are owner-only whatever the umask."""

import os
import stat
from pathlib import Path

import pytest
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
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

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


@pytest.fixture
def open_umask():
    """The common default umask, under which files come out world-readable (0644)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_files_and_backups_are_owner_only_whatever_the_umask(tmp_path, open_umask):
    tmp_path.chmod(0o755)
    database = tmp_path / "clinic.sqlite"
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}")
    try:
        with app.app_context():
            db.create_all()
            factories.make_user("nurse")
            db.session.commit()
            companions = [Path(f"{database}{suffix}") for suffix in ("-wal", "-shm")]
            assert all(path.exists() for path in companions)  # WAL mode, connection open
            assert {path.name: _mode(path) for path in [database, *companions]} == {
                path.name: 0o600 for path in [database, *companions]
            }
        target = tmp_path / "new" / "nested" / "clinic.backup"
        result = app.test_cli_runner().invoke(args=["backup", str(target)])
        assert result.exit_code == 0, result.output
        assert _mode(target) == 0o600
        assert _mode(target.parent) == _mode(target.parent.parent) == 0o700
        assert _mode(tmp_path) == 0o755  # a directory that was there already is left alone
        assert _mode(Path(app.instance_path)) == 0o700
    finally:
        with app.app_context():
            db.engine.dispose()


def test_an_existing_world_readable_database_is_tightened_at_start(tmp_path, open_umask):
    database = tmp_path / "old.sqlite"
    for path in (database, Path(f"{database}-wal")):
        path.touch()
        path.chmod(0o644)
    create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}")
    assert _mode(database) == _mode(Path(f"{database}-wal")) == 0o600


def test_backing_up_over_an_existing_file_makes_it_owner_only(app, tmp_path, open_umask):
    target = tmp_path / "clinic.backup"
    target.touch()
    target.chmod(0o644)
    result = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert _mode(target) == 0o600
