"""Production path: the app serves only a migrated database, and trusts exactly its proxy."""

from sqlalchemy import select

from clinic_app import create_app
from clinic_app.extensions import db
from clinic_app.models import UserSession
from config import TestingConfig
from tests.conftest import PASSWORD


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
