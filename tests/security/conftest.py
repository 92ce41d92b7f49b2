"""Fixtures for the security suite: apps with config overrides on the suite's database, staff
accounts in them, and small helpers for cookies and CSRF tokens."""

import re
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from clinic_app import clock, create_app
from clinic_app.extensions import db
from config import TestingConfig
from tests import factories
from tests.conftest import PASSWORD, _empty_tables, sign_in

ROLES = ("nurse", "psychiatrist", "front_desk", "admin")
FAILED = b"Username or password is not correct."
# For apps built from ProductionConfig on the suite's create_all() database: cheap argon2
# (production parameters are tested in tests/test_app.py) and no Alembic revision check.
PRODUCTION_OVERRIDES = {
    "SECRET_KEY": "s" * 64,
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST_KIB": 1024,
    "ARGON2_PARALLELISM": 1,
    "REQUIRE_CURRENT_SCHEMA": False,
}


@pytest.fixture
def make_app(_schema, database_url) -> Iterator[Callable[..., Flask]]:
    """make_app(ConfigClass=TestingConfig, empty=True, **overrides) -> an app on the suite's
    database (tables emptied unless empty=False). The clock is reset and engines disposed after."""
    apps: list[Flask] = []

    def _make(config_class=TestingConfig, empty: bool = True, **overrides) -> Flask:
        app = create_app(config_class, SQLALCHEMY_DATABASE_URI=database_url, **overrides)
        if empty:
            with app.app_context():
                _empty_tables()
        apps.append(app)
        return app

    clock.reset()
    yield _make
    clock.reset()
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def make_staff(app: Flask) -> dict[str, int]:
    """One user per role (usernames equal the role names, password PASSWORD); returns ids."""
    with app.app_context():
        ids = {role: factories.make_user(role, password=PASSWORD).id for role in ROLES}
        db.session.commit()
    return ids


def signed_in(app: Flask, username: str, password: str = PASSWORD, **client_kwargs) -> FlaskClient:
    """A new test client signed in through the login form (no second factor)."""
    client = app.test_client(**client_kwargs)
    response = sign_in(client, username, password)
    assert response.status_code == 302, (username, response.status_code)
    assert not response.headers["Location"].startswith("/login"), response.headers["Location"]
    return client


def cookie_value(client: FlaskClient, app: Flask) -> str:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None, "no session cookie"
    return cookie.value


def session_token(app: Flask, client: FlaskClient) -> str:
    """The random server-side session token inside the signed session cookie."""
    serializer = app.session_interface.get_signing_serializer(app)
    return serializer.loads(cookie_value(client, app))["sid"]


CSRF_INPUT = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')
CSRF_META = re.compile(rb'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(html: bytes) -> str:
    match = CSRF_INPUT.search(html) or CSRF_META.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1).decode()


def set_cookies(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")
