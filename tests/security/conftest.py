"""Fixtures for the security suite: apps with config overrides on the suite's database."""

from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from clinic_app import clock, create_app
from clinic_app.extensions import db
from config import TestingConfig
from tests.helpers import empty_tables


@pytest.fixture
def make_app(_schema, database_url) -> Iterator[Callable[..., Flask]]:
    """make_app(ConfigClass=TestingConfig, empty=True, **overrides) -> an app on the suite's
    database (tables emptied unless empty=False). The clock is reset and engines disposed after."""
    apps: list[Flask] = []

    def _make(config_class=TestingConfig, empty: bool = True, **overrides) -> Flask:
        app = create_app(config_class, SQLALCHEMY_DATABASE_URI=database_url, **overrides)
        if empty:
            with app.app_context():
                empty_tables()
        apps.append(app)
        return app

    clock.reset()
    yield _make
    clock.reset()
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
