"""Backups and restores of the whole database: SQLite's online backup API, or pg_dump/pg_restore.

subprocess only ever runs pg_dump and pg_restore with fixed argument lists and no shell.
"""

import shutil
import sqlite3
import subprocess  # nosec B404
from pathlib import Path

from sqlalchemy.engine import make_url

from clinic_app.extensions import db
from clinic_app.files import create_private, make_directories


class BackupError(RuntimeError):
    """The backup or restore tool failed; the message says how."""


def _libpq_url() -> str:
    url = make_url(db.engine.url.render_as_string(hide_password=False))
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian package postgresql-client)")
    return path


def _sqlite_path() -> str:
    return db.engine.url.database or ""


def backup(target: Path) -> None:
    """Write a consistent copy of the live database to `target` (readers and writers continue).
    The file is 0600 and directories created for it 0700, whatever the umask."""
    make_directories(target.parent)
    create_private(target)  # the tools write into it and keep its mode
    if db.engine.dialect.name == "sqlite":
        with sqlite3.connect(_sqlite_path()) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        return
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={target}", _libpq_url()])


def restore(source: Path) -> None:
    """Replace the live database's content with the backup at `source`."""
    if not source.exists():
        raise BackupError(f"no backup at {source}")
    db.session.remove()
    db.engine.dispose()
    if db.engine.dialect.name == "sqlite":
        with sqlite3.connect(source) as copy, sqlite3.connect(_sqlite_path()) as live:
            copy.backup(live)
        return
    _run(
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={_libpq_url()}",
            str(source),
        ]
    )


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # nosec B603
    if result.returncode != 0:
        raise BackupError(result.stderr.strip() or f"{command[0]} failed")
