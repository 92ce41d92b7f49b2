"""Files that hold patient data or keys are owner-only (0600, directories 0700) whatever the
umask: the SQLite database with its -wal/-shm/-journal companions, backups, the development key.
SQLite gives its companion files the database file's mode, so creating that one 0600 suffices."""

import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")

logger = logging.getLogger(__name__)


def make_directories(path: Path) -> None:
    """Create `path` and its missing parents 0700; directories that exist are left as they are."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        directory.chmod(DIRECTORY_MODE)  # mkdir's own mode would be cut by the umask


def restrict(path: Path, mode: int) -> None:
    """Take away every permission beyond `mode` from `path` if it exists; a file owned by another
    account cannot be changed and is reported in the log instead."""
    try:
        current = path.stat()
    except FileNotFoundError:
        return
    if stat.S_IMODE(current.st_mode) & ~mode == 0:
        return
    if current.st_uid != os.geteuid():
        logger.warning("%s is open to other accounts and owned by another one", path)
        return
    path.chmod(stat.S_IMODE(current.st_mode) & mode)


def create_private(path: Path) -> None:
    """Make `path` exist as a 0600 file (an existing one keeps its content)."""
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)
    finally:
        os.close(descriptor)


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to a new or existing file that only its owner may read."""
    create_private(path)
    path.write_bytes(data)


def private_directory(path: Path) -> None:
    """The app's own directory (instance/): created 0700, and tightened when it exists."""
    make_directories(path)
    restrict(path, DIRECTORY_MODE)


def protect_sqlite_database(uri: str) -> None:
    """Create the database file of a SQLite URL 0600 before SQLite does (it would use 0644 less
    the umask), and tighten an existing one and its companions. In-memory databases are skipped;
    a missing directory is left for SQLite to report."""
    url = make_url(uri)
    name = url.database
    if not name or name == ":memory:" or url.query.get("uri") or name.startswith("file:"):
        return
    path = Path(name)
    if not path.parent.is_dir():
        return
    if path.exists():
        restrict(path, FILE_MODE)
    else:
        create_private(path)
    for suffix in SQLITE_COMPANIONS:
        restrict(Path(f"{path}{suffix}"), FILE_MODE)
