"""Production path: the app serves only a migrated database, trusts exactly its proxy (none
unless told), and refuses weak keys."""

import os
import subprocess  # nosec B404
import sys

import pytest
from sqlalchemy import select

from clinic_app import PROJECT_ROOT, create_app
from clinic_app.extensions import db
from clinic_app.models import UserSession
from config import DevelopmentConfig, ProductionConfig, TestingConfig
from tests.helpers import PASSWORD


def test_refuses_to_serve_until_the_database_is_migrated(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url, REQUIRE_CURRENT_SCHEMA=True)
    client = app.test_client()
    assert client.get("/healthz").status_code == 503
    assert client.get("/login").status_code == 503

    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert client.get("/healthz").status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_proxy_fix_takes_the_client_address_from_one_proxy(app, staff, database_url):
    proxied = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url, PROXY_COUNT=1)
    client = proxied.test_client()
    headers = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9", "X-Forwarded-Proto": "https"}
    response = client.post(
        "/login", data={"username": "nurse", "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 302
    with proxied.app_context():
        # Only the last hop is trusted: the address the proxy saw, not the one the client claimed.
        assert db.session.scalar(select(UserSession.ip_address)) == "203.0.113.9"
        db.engine.dispose()


def test_without_proxy_fix_forwarded_headers_are_ignored(app, client, staff):
    response = client.post(
        "/login",
        data={"username": "nurse", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(UserSession.ip_address)) == "127.0.0.1"


def test_production_trusts_no_proxy_unless_told(tmp_path):
    """A client reaching gunicorn directly must not pick its own address with X-Forwarded-For."""
    env = {k: v for k, v in os.environ.items() if k != "PROXY_COUNT"}
    code = "import config; print(config.ProductionConfig.PROXY_COUNT)"
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert run.stdout.strip() == "0", run.stderr
    told = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PROXY_COUNT": "1"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert told.stdout.strip() == "1", told.stderr


@pytest.mark.parametrize("config_class", [ProductionConfig, DevelopmentConfig])
@pytest.mark.parametrize(
    "overrides",
    [
        {"SECRET_KEY": "x" * 31},
        {"SECRET_KEY": "é" * 15 + "x"},  # 31 bytes in 16 characters
        {"SECRET_KEY": "x" * 32, "AUDIT_KEY": "short-audit-key"},
    ],
)
def test_short_secrets_are_refused_outside_testing(config_class, overrides):
    with pytest.raises(RuntimeError, match="at least 32 bytes"):
        create_app(config_class, SQLALCHEMY_DATABASE_URI="sqlite://", **overrides)


def test_a_32_byte_secret_starts_and_testing_may_use_a_short_one():
    app = create_app(ProductionConfig, SECRET_KEY="x" * 32, SQLALCHEMY_DATABASE_URI="sqlite://")
    assert app.config["PROXY_COUNT"] == ProductionConfig.PROXY_COUNT
    assert len(TestingConfig.SECRET_KEY) < 32
    create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="sqlite://")


def test_malformed_data_keys_are_refused():
    with pytest.raises(RuntimeError, match="DATA_KEYS must hold Fernet keys"):
        create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="sqlite://", DATA_KEYS="not-a-key")


def test_granting_an_app_role_is_refused_on_sqlite(tmp_path):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'r.sqlite'}")
    for extra in ([], ["--print-sql"]):
        result = app.test_cli_runner().invoke(args=["db", "grant-app-role", "clinic_app", *extra])
        assert result.exit_code != 0 and "PostgreSQL only" in result.output
