"""App factory, configuration, health check, headers, sign-in and the users CLI."""

import pytest
from sqlalchemy import select, text

from clinic_app import create_app
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, User
from config import ProductionConfig, TestingConfig
from tests.helpers import PASSWORD, sign_in


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(ProductionConfig, SECRET_KEY=None, SQLALCHEMY_DATABASE_URI="sqlite://")


def test_unknown_environment_is_refused(monkeypatch):
    monkeypatch.setenv("CLINIC_ENV", "staging")
    with pytest.raises(RuntimeError, match="CLINIC_ENV"):
        create_app()


def test_production_cookies_and_hsts(tmp_path):
    app = create_app(
        ProductionConfig,
        SECRET_KEY="x" * 32,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.sqlite'}",
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    with app.app_context():
        db.create_all()
    response = app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=63072000")


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'f.sqlite'}")
    with app.app_context():
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == 15000


def test_healthz_checks_the_database(app, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_healthz_reports_an_unreachable_database(tmp_path):
    missing = tmp_path / "no-such-dir" / "db.sqlite"
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{missing}")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


def test_security_headers_on_pages(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "script-src 'self'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_every_page_requires_login(client):
    response = client.get("/today")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_login_failure_message_is_the_same_for_unknown_users(app, client, staff):
    wrong_password = sign_in(client, "nurse", "not-the-password")
    unknown_user = sign_in(client, "nobody", "not-the-password")
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert b"Username or password is not correct." in wrong_password.data
    assert b"Username or password is not correct." in unknown_user.data
    with app.app_context():
        outcomes = list(
            db.session.scalars(select(AuditEvent.outcome).where(AuditEvent.action == "login"))
        )
    assert outcomes == ["failure", "failure"]


def test_login_lands_on_the_role_start_page_and_ignores_foreign_next(client, staff):
    assert sign_in(client, "nurse").headers["Location"] == "/today"
    client.post("/logout")
    response = client.post(
        "/login?next=https://evil.example/", data={"username": "front_desk", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/schedule/"


def test_logout_is_post_only_and_ends_the_session(client, staff):
    sign_in(client, "nurse")
    assert client.get("/logout").status_code == 405
    client.post("/logout")
    assert client.get("/today").status_code == 302


def test_inactive_users_cannot_sign_in(app, client, staff):
    with app.app_context():
        db.session.get(User, staff["nurse"]).active = False
        db.session.commit()
    assert sign_in(client, "nurse").status_code == 401


def test_users_create_reads_password_from_stdin(app, runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "Rita",
            "--role",
            "nurse",
            "--full-name",
            "Rita Moreno",
            "--credentials",
            "RN",
        ],
        input="a-long-enough-password\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "rita"))
        assert user.role == "nurse" and user.full_name == "Rita Moreno"
        assert user.password_hash.startswith("$argon2id$")


def test_users_create_refuses_short_passwords_and_bad_roles(app, runner):
    short = runner.invoke(args=["users", "create", "sam", "--role", "nurse"], input="short\n")
    assert short.exit_code != 0 and "at least 12" in short.output
    bad_role = runner.invoke(args=["users", "create", "sam", "--role", "doctor"], input="x" * 20)
    assert bad_role.exit_code != 0
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "sam")) is None


def test_password_hash_uses_production_parameters(tmp_path):
    app = create_app(
        ProductionConfig,
        SECRET_KEY="x" * 32,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'h.sqlite'}",
    )
    from clinic_app.auth.passwords import hash_password

    with app.app_context():
        hashed = hash_password("a-long-enough-password")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_password_is_rehashed_on_login_when_parameters_change(app, client, staff):
    from argon2 import PasswordHasher

    with app.app_context():
        user = db.session.get(User, staff["nurse"])
        user.password_hash = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(
            PASSWORD
        )
        db.session.commit()
    assert sign_in(client, "nurse").status_code == 302
    with app.app_context():
        assert "m=1024,t=1,p=1" in db.session.get(User, staff["nurse"]).password_hash
