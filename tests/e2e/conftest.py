"""End-to-end fixtures: the app served from a thread (so tests can move its clock), and
pytest-playwright's browser, context and page on the system Chromium (no `playwright install`).
Under CI=true a missing browser fails instead of skipping. Traces and screenshots are kept for
failed tests only, under test-artifacts/playwright/ (options in pyproject.toml)."""

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from clinic_app import create_app
from clinic_app.extensions import db
from config import TestingConfig
from tests.e2e.browser import DESKTOP
from tests.helpers import empty_tables

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def base_url() -> None:
    """No fixed base URL: each test serves its own app (`live_app`) on a free port. (Also keeps
    pytest-playwright's fallback fixture, deprecated under pytest 9, out of use.)"""
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args) -> dict:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        message = f"Chromium not found at {CHROMIUM}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: browser tests must run)")
        pytest.skip(message)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture
def live_app(_schema, database_url) -> Iterator:
    """The app with CSRF on, served on a free loopback port; yields (app, base_url)."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url, WTF_CSRF_ENABLED=True)
    with app.app_context():
        empty_tables()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    from clinic_app import clock

    clock.reset()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def page(page):
    """pytest-playwright's page, desktop-sized, waiting at most 10 s for anything."""
    page.set_viewport_size(DESKTOP)
    page.set_default_timeout(10_000)
    return page
