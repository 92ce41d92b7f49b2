"""Shared fixtures: an app on a real database (SQLite file, or PostgreSQL via TEST_DATABASE_URL),
emptied between tests, and clients signed in per role. Plain helpers are in tests/helpers.py."""

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from clinic_app import clock, create_app
from clinic_app.extensions import db
from config import TestingConfig
from tests.helpers import empty_tables, make_staff, sign_in


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """TEST_DATABASE_URL (PostgreSQL in CI) or a SQLite file for this test run."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"


@pytest.fixture
def empty_database_url(tmp_path) -> Iterator[str]:
    """A brand-new empty database of the suite's kind that only this test uses; dropped after."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        yield f"sqlite:///{tmp_path / 'own.sqlite'}"
        return
    url = make_url(server_url)
    name = f"own_{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def _schema(database_url) -> Iterator[None]:
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.engine.dispose()
    yield


@pytest.fixture
def app(_schema, database_url) -> Iterator[Flask]:
    """A testing app on empty tables; the clock runs normally unless a test moves it."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        empty_tables()
    yield app
    clock.reset()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def staff(app) -> dict[str, int]:
    """One user per role (ids), all with PASSWORD; usernames equal the role names."""
    return make_staff(app)


@pytest.fixture
def as_role(app, staff):
    """as_role("nurse") -> a test client signed in through the real login form."""

    def _client(role: str) -> FlaskClient:
        c = app.test_client()
        response = sign_in(c, role)
        assert response.status_code == 302, response.status_code
        return c

    return _client
