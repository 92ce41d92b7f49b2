"""Server-side sign-in sessions: revocation, idle and absolute timeouts, rotation, cookie flags."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from clinic_app import clock
from clinic_app.auth import sessions
from clinic_app.extensions import db
from clinic_app.models import User, UserSession
from config import ProductionConfig
from tests.helpers import (
    PASSWORD,
    PRODUCTION_OVERRIDES,
    cookie_value,
    csrf_token,
    make_staff,
    session_token,
    set_cookies,
    sign_in,
    signed_in,
)

START = datetime(2030, 3, 4, 17, 0, tzinfo=UTC)


def _to_login(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


@pytest.fixture
def timed_app(make_app):
    """The real limits: 15 minutes idle, 12 hours absolute."""
    app = make_app(IDLE_TIMEOUT_MINUTES=15, ABSOLUTE_TIMEOUT_HOURS=12)
    make_staff(app)
    return app


def session_token_of(app, value: str) -> str:
    return app.session_interface.get_signing_serializer(app).loads(value)["sid"]


def _copy_cookie(app, source, target) -> None:
    target.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie_value(source, app))


# --- revocation -----------------------------------------------------------------------------


def test_a_copied_cookie_stops_working_after_logout(app, staff):
    victim = signed_in(app, "nurse")
    stolen = app.test_client()
    _copy_cookie(app, victim, stolen)
    assert stolen.get("/today").status_code == 200  # the copy works while the session lives

    assert victim.post("/logout").status_code == 302
    replay = app.test_client()
    _copy_cookie(app, stolen, replay)
    assert _to_login(replay.get("/today"))
    assert _to_login(stolen.get("/today"))
    with app.app_context():
        row = db.session.scalar(select(UserSession).where(UserSession.user_id == staff["nurse"]))
        assert row.revoked_at is not None and row.revoked_reason == "logout"


def test_deactivation_with_revocation_makes_the_old_cookie_useless(app, staff):
    nurse = signed_in(app, "nurse")
    assert nurse.get("/today").status_code == 200
    with app.app_context():
        user = db.session.get(User, staff["nurse"])
        user.active = False
        assert sessions.revoke_all(user, "deactivated") == 1
        db.session.commit()
    assert _to_login(nurse.get("/today"))
    assert sign_in(app.test_client(), "nurse").status_code == 401


def test_revoking_alone_ends_the_session(app, staff):
    nurse = signed_in(app, "nurse")
    with app.app_context():
        sessions.revoke_all(db.session.get(User, staff["nurse"]), "ended_by_admin")
        db.session.commit()
    assert _to_login(nurse.get("/today"))


def test_deactivating_alone_ends_the_session(app, staff):
    """An inactive account's live session row is not honoured either."""
    nurse = signed_in(app, "nurse")
    with app.app_context():
        db.session.get(User, staff["nurse"]).active = False
        db.session.commit()
    assert _to_login(nurse.get("/today"))


def test_a_forged_or_unknown_token_is_refused(app, staff):
    nurse = signed_in(app, "nurse")
    with app.app_context():
        # The row keeps only a hash: knowing the database row does not give a working cookie.
        row = db.session.scalar(select(UserSession).where(UserSession.user_id == staff["nurse"]))
        assert row.token_hash != session_token(app, nurse)
        assert len(row.token_hash) == 64
    forged = app.test_client()
    serializer = app.session_interface.get_signing_serializer(app)
    value = serializer.dumps({"sid": "not-a-real-token", "_user_id": str(staff["nurse"])})
    forged.set_cookie(app.config["SESSION_COOKIE_NAME"], value)
    assert _to_login(forged.get("/today"))


# --- timeouts -------------------------------------------------------------------------------


def test_idle_for_16_minutes_signs_out(timed_app):
    clock.freeze(START)
    nurse = signed_in(timed_app, "nurse")
    clock.advance(timedelta(minutes=16))
    assert _to_login(nurse.get("/today"))
    # Ended for good: the clock going back does not revive it.
    clock.freeze(START + timedelta(minutes=1))
    assert _to_login(nurse.get("/today"))
    with timed_app.app_context():
        assert db.session.scalar(select(UserSession.revoked_reason)) == "idle_timeout"


def test_activity_every_14_minutes_keeps_the_session(timed_app):
    clock.freeze(START)
    nurse = signed_in(timed_app, "nurse")
    for _ in range(4):  # 56 minutes in all
        clock.advance(timedelta(minutes=14))
        assert nurse.get("/today").status_code == 200


def test_the_board_refreshing_itself_does_not_count_as_activity(timed_app):
    clock.freeze(START)
    nurse = signed_in(timed_app, "nurse")
    clock.advance(timedelta(minutes=10))
    assert nurse.get("/today?refresh=1").status_code == 200
    clock.advance(timedelta(minutes=6))  # 16 minutes since the last real activity
    assert _to_login(nurse.get("/today"))


def test_absolute_timeout_after_12_hours_despite_activity(timed_app):
    clock.freeze(START)
    nurse = signed_in(timed_app, "nurse")
    for step in range(72):  # a request every 10 minutes up to exactly 12 hours
        clock.advance(timedelta(minutes=10))
        assert nurse.get("/today").status_code == 200, step
    clock.advance(timedelta(minutes=10))
    assert _to_login(nurse.get("/today"))
    with timed_app.app_context():
        assert db.session.scalar(select(UserSession.revoked_reason)) == "absolute_timeout"


def test_keepalive_extends_the_idle_deadline(timed_app):
    clock.freeze(START)
    nurse = signed_in(timed_app, "nurse")
    page = nurse.get("/today")
    assert b'data-idle-seconds="900"' in page.data
    assert b'data-keepalive-url="/session/keepalive"' in page.data
    clock.advance(timedelta(minutes=13))
    response = nurse.post("/session/keepalive")
    assert response.status_code == 200
    assert response.is_json and response.get_json() == {"seconds_left": 900}
    clock.advance(timedelta(minutes=13))  # 26 minutes after the last page view
    assert nurse.get("/today").status_code == 200


def test_keepalive_does_not_revive_an_expired_session(timed_app):
    clock.freeze(START)
    nurse = signed_in(timed_app, "nurse")
    clock.advance(timedelta(minutes=16))
    assert _to_login(nurse.post("/session/keepalive"))
    assert _to_login(nurse.get("/today"))


# --- rotation and cookies -------------------------------------------------------------------


def test_the_session_token_rotates_on_every_sign_in(app, staff):
    client = signed_in(app, "nurse")
    first = session_token(app, client)
    first_cookie = cookie_value(client, app)
    client.post("/logout")
    assert sign_in(client, "nurse").status_code == 302
    second = session_token(app, client)
    assert second != first
    assert cookie_value(client, app) != first_cookie
    assert session_token(app, signed_in(app, "nurse")) not in (first, second)


def test_a_cookie_planted_before_sign_in_is_replaced(app, staff):
    """Session fixation: whatever the browser held before the password step is dropped."""
    attacker = signed_in(app, "front_desk")
    planted = cookie_value(attacker, app)
    victim = app.test_client()
    victim.set_cookie(app.config["SESSION_COOKIE_NAME"], planted)
    attacker.post("/logout")
    assert sign_in(victim, "nurse").status_code == 302
    assert cookie_value(victim, app) != planted
    assert session_token(app, victim) != session_token_of(app, planted)


def test_no_response_sets_a_remember_me_cookie(app, staff):
    client = app.test_client()
    responses = [
        client.get("/login"),
        client.post("/login", data={"username": "nurse", "password": PASSWORD, "remember": "y"}),
        client.get("/today"),
        client.post("/session/keepalive"),
        client.get("/account"),
        client.post("/logout"),
        sign_in(client, "nurse", "wrong-password-here"),
    ]
    cookies = [c for r in responses for c in set_cookies(r)]
    assert cookies  # the session cookie itself is set
    # Logging out may expire a remember cookie (Flask-Login clears it); none is ever given a value.
    remember = [c for c in cookies if c.lower().startswith("remember_token=")]
    assert all(c.lower().startswith("remember_token=;") for c in remember), remember
    assert client.get_cookie("remember_token") is None


def test_session_cookie_is_httponly_and_samesite_lax(app, staff):
    response = sign_in(app.test_client(), "nurse")
    (cookie,) = [c for c in set_cookies(response) if c.startswith("clinic_session=")]
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert not [a for a in attributes if a.startswith("expires") or a.startswith("max-age")]


def test_production_cookie_is_secure_and_host_prefixed(make_app):
    app = make_app(ProductionConfig, **PRODUCTION_OVERRIDES)
    make_staff(app)
    client = app.test_client()
    base = "https://clinic.example"
    token = csrf_token(client.get("/login", base_url=base).data)  # CSRF is on in production
    response = client.post(
        "/login",
        data={"username": "nurse", "password": PASSWORD, "csrf_token": token},
        base_url=base,
        headers={"Referer": base + "/login"},
    )
    assert response.status_code == 302  # to two-factor enrollment: required in production
    (cookie,) = set_cookies(response)
    assert urlsplit(response.headers["Location"]).path == "/login/enroll"
    name, attributes = cookie.split("=", 1)[0], [a.strip().lower() for a in cookie.split(";")]
    assert name == "__Host-clinic_session"
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= set(attributes)
    assert not [a for a in attributes if a.startswith("domain")]
