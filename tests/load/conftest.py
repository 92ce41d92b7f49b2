"""Load and fault tests: `make load` (CLINIC_LOAD_TESTS=full) and `make load-short`
(CLINIC_LOAD_TESTS=short, the CI variant). Without that variable `make test` collects nothing
here. They need PostgreSQL on 127.0.0.1:5432 (a throwaway database is created and dropped; the
restart test restarts the server once) and start gunicorn on free loopback ports."""

import json
import os
from dataclasses import dataclass

import pytest

from tests.load import harness as h

MODE = os.environ.get("CLINIC_LOAD_TESTS", "")
if MODE not in ("full", "short"):
    collect_ignore_glob = ["test_*.py"]


@dataclass(frozen=True)
class Scale:
    patients: int  # bulk demo patients in the load databases
    users: int  # simulated staff in the mixed load
    seconds: float
    fault_users: int
    fault_seconds: float
    kills: int
    writers: int  # SQLite concurrent writers
    writer_seconds: float


SCALES = {
    "full": Scale(400, 50, 60, 20, 30, 3, 16, 30),
    "short": Scale(150, 10, 10, 10, 14, 2, 8, 10),
}
SUMMARY: list[str] = []


@pytest.fixture(scope="session")
def scale() -> Scale:
    return SCALES[MODE or "short"]


@pytest.fixture(scope="session")
def pg_clinic(scale):
    """A migrated PostgreSQL database with the demo and bulk history; dropped afterwards."""
    if not h.pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432")
    with h.pg_database("clinic_load") as url:
        h.migrate_and_generate(url, scale.patients)
        h.allow_password_only(url)
        yield url


@pytest.fixture(scope="session")
def sqlite_clinic(scale):
    with h.sqlite_database("clinic_load") as url:
        h.migrate_and_generate(url, scale.patients)
        h.allow_password_only(url)
        yield url


@pytest.fixture
def summary(request):
    """summary(dict) records a test's figures for the end-of-run table (and test-artifacts)."""

    def add(figures: dict) -> None:
        SUMMARY.append(f"{request.node.name}: " + json.dumps(figures, default=str))

    return add


def pytest_terminal_summary(terminalreporter):
    if SUMMARY:
        terminalreporter.section(f"load and fault figures ({MODE})")
        for line in SUMMARY:
            terminalreporter.write_line(line)
        artifacts = h.ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        (artifacts / f"load-{MODE}.txt").write_text("\n".join(SUMMARY) + "\n")
