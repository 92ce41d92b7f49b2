"""A database that cannot be reached gives a clean 503 page (never a 500 or a stack trace), and the
page itself needs no database; other database errors stay 500s. The real outage (PostgreSQL
restarted under load) is in tests/load/test_faults.py."""

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from clinic_app import create_app
from config import TestingConfig

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2"


@pytest.fixture
def outage_app():
    # TESTING off: the error handlers are registered as in production.
    return create_app(TestingConfig, TESTING=False, SQLALCHEMY_DATABASE_URI=UNREACHABLE)


def test_signed_in_request_during_outage_gets_503_page(outage_app):
    from flask_login.utils import _create_identifier

    client = outage_app.test_client()
    with outage_app.test_request_context(environ_base=client.environ_base):
        identifier = _create_identifier()  # session protection's fingerprint of this client
    with client.session_transaction() as cookie_session:
        # A signed-in browser's cookie: loading its user needs the database.
        cookie_session.update({"sid": "token", "_user_id": "1", "_id": identifier})

    response = client.get("/today")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    body = response.get_data(as_text=True)
    assert "503 — Service unavailable" in body
    assert "Traceback" not in body and "psycopg" not in body


def test_healthz_reports_the_outage(outage_app):
    response = outage_app.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (OperationalError("SELECT 1", {}, Exception("database is locked")), 503),
        (IntegrityError("INSERT", {}, Exception("duplicate key")), 500),
    ],
)
def test_only_connection_errors_become_503(monkeypatch, error, status):
    app = create_app(TestingConfig, TESTING=False, SQLALCHEMY_DATABASE_URI="sqlite://")

    @app.get("/raise-db-error")
    def raise_db_error():
        raise error

    # Let an anonymous request through the login gate to reach the view.
    monkeypatch.setattr("clinic_app.security.PUBLIC_ENDPOINTS", {"raise_db_error"})

    response = app.test_client().get("/raise-db-error")

    assert response.status_code == status
    assert "Traceback" not in response.get_data(as_text=True)


def test_connection_lost_after_the_response_is_made_is_not_a_500(monkeypatch):
    """A restart can drop the connection between the view and the end of the request, when the
    session is rolled back and closed; the finished page must still be delivered."""
    from clinic_app.extensions import db

    app = create_app(TestingConfig, TESTING=False, SQLALCHEMY_DATABASE_URI="sqlite://")

    @app.get("/finished-page")
    def finished_page():
        return "done"

    calls = []
    remove = db.session.remove

    def remove_on_a_dropped_connection():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError(
                "ROLLBACK", {}, Exception("terminating connection"), connection_invalidated=True
            )
        remove()

    monkeypatch.setattr(db.session, "remove", remove_on_a_dropped_connection)
    monkeypatch.setattr("clinic_app.security.PUBLIC_ENDPOINTS", {"finished_page"})

    response = app.test_client().get("/finished-page")

    assert response.status_code == 200
    assert response.get_data(as_text=True) == "done"
    assert len(calls) >= 2  # ended again after discarding the connection
