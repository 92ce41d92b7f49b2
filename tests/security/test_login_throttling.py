"""Per-account lockout that grows, the same answer for every failure, and a per-address limit."""

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from clinic_app import clock
from clinic_app.extensions import db, limiter
from clinic_app.models import AuditEvent, User
from tests.helpers import FAILED, PASSWORD, make_staff, sign_in

START = datetime(2030, 3, 4, 17, 0, tzinfo=UTC)
WRONG = "not-the-password-at-all"


def _user(app, user_id) -> User:
    with app.app_context():
        return db.session.get(User, user_id)


def _fail(client, times: int, username: str = "nurse") -> None:
    for _ in range(times):
        response = sign_in(client, username, WRONG)
        assert response.status_code == 401
        assert FAILED in response.data


def _refused(response) -> bool:
    return response.status_code == 401 and FAILED in response.data


def _login_failures(app) -> list[tuple[int | None, str]]:
    with app.app_context():
        return [
            (row.user_id, row.detail.get("reason"))
            for row in db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "login", AuditEvent.outcome == "failure")
                .order_by(AuditEvent.id)
            )
        ]


def test_five_wrong_passwords_lock_the_account(app, client, staff):
    clock.freeze(START)
    _fail(client, 4)
    assert _user(app, staff["nurse"]).locked_until is None
    _fail(client, 1)
    user = _user(app, staff["nurse"])
    assert user.failed_logins == 5
    assert user.locked_until == START + timedelta(minutes=1)

    right = sign_in(client, "nurse", PASSWORD)
    assert _refused(right)
    assert client.get("/today").status_code == 302
    clock.advance(timedelta(seconds=59))
    assert _refused(sign_in(client, "nurse", PASSWORD))


def test_the_lock_lifts_when_the_clock_passes_locked_until(app, client, staff):
    clock.freeze(START)
    _fail(client, 5)
    clock.advance(timedelta(minutes=1, seconds=1))
    response = sign_in(client, "nurse", PASSWORD)
    assert response.status_code == 302 and not response.headers["Location"].startswith("/login")
    user = _user(app, staff["nurse"])
    assert user.failed_logins == 0 and user.locked_until is None


def test_the_lock_grows_with_each_further_failure(app, client, staff):
    clock.freeze(START)
    _fail(client, 5)  # 1 minute
    expected = [2, 4, 8]
    for minutes in expected:
        clock.advance(timedelta(minutes=60))  # the previous lock has passed
        _fail(client, 1)
        locked_until = _user(app, staff["nurse"]).locked_until
        assert locked_until == clock.utcnow() + timedelta(minutes=minutes)
    # Still locked just before the 8 minutes are up, free just after.
    clock.advance(timedelta(minutes=7, seconds=59))
    assert _refused(sign_in(client, "nurse", PASSWORD))
    clock.advance(timedelta(seconds=2))
    assert sign_in(client, "nurse", PASSWORD).status_code == 302


def test_the_lock_is_capped(make_app):
    app = make_app(LOCKOUT_MAX_MINUTES=60)
    ids = make_staff(app)
    client = app.test_client()
    clock.freeze(START)
    _fail(client, 5)
    for _ in range(8):
        clock.advance(timedelta(hours=2))
        _fail(client, 1)
    assert _user(app, ids["nurse"]).locked_until == clock.utcnow() + timedelta(minutes=60)


def test_attempts_while_locked_do_not_reach_the_password_check(app, client, staff):
    """Guessing during the lock neither counts nor succeeds."""
    clock.freeze(START)
    _fail(client, 5)
    _fail(client, 3)
    assert _refused(sign_in(client, "nurse", PASSWORD))
    user = _user(app, staff["nurse"])
    assert user.failed_logins == 5
    assert user.locked_until == START + timedelta(minutes=1)


def _normalised(body: bytes) -> bytes:
    """The page without the per-session CSRF token and the username typed back into its box."""
    body = re.sub(rb'(name="csrf-token" content=|name="csrf_token"[^>]*value=)"[^"]*"', b"", body)
    return re.sub(rb'(name="username"[^>]*value=)"[^"]*"', rb"\1", body)


def test_unknown_user_wrong_password_and_locked_user_get_the_identical_answer(app, staff):
    clock.freeze(START)
    locked = app.test_client()
    _fail(locked, 5, "psychiatrist")
    answers = {
        "unknown": sign_in(app.test_client(), "nobody-here", PASSWORD),
        "wrong password": sign_in(app.test_client(), "nurse", WRONG),
        "locked, right password": sign_in(app.test_client(), "psychiatrist", PASSWORD),
        "locked, wrong password": sign_in(app.test_client(), "psychiatrist", WRONG),
    }
    with app.app_context():
        db.session.get(User, staff["front_desk"]).active = False
        db.session.commit()
    answers["inactive"] = sign_in(app.test_client(), "front_desk", PASSWORD)
    reference = answers["unknown"]
    assert reference.status_code == 401 and FAILED in reference.data
    for name, response in answers.items():
        assert response.status_code == reference.status_code, name
        assert _normalised(response.data) == _normalised(reference.data), name
        assert set_cookie_names(response) == set_cookie_names(reference), name


def set_cookie_names(response) -> set[str]:
    return {c.split("=", 1)[0] for c in response.headers.getlist("Set-Cookie")}


def test_every_failure_writes_an_audit_row(app, staff):
    clock.freeze(START)
    client = app.test_client()
    _fail(client, 5)  # the fifth locks
    _fail(client, 1)  # locked
    sign_in(client, "ghost", WRONG)
    with app.app_context():
        db.session.get(User, staff["front_desk"]).active = False
        db.session.commit()
    sign_in(client, "front_desk", PASSWORD)
    assert _login_failures(app) == [
        *[(staff["nurse"], "bad_password")] * 5,
        (staff["nurse"], "locked"),
        (None, "unknown_user"),
        (staff["front_desk"], "inactive"),
    ]
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login")).all()
    # Usernames typed by strangers are not copied into the trail.
    assert all("ghost" not in str(row.detail) for row in rows)


def test_the_per_address_limit_answers_429(make_app):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    make_staff(app)
    limiter.reset()
    client = app.test_client()
    statuses = [sign_in(client, "nurse", WRONG).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    limited = sign_in(client, "nurse", PASSWORD)
    assert limited.status_code == 429
    assert b"Traceback" not in limited.data
    assert limited.headers["X-Request-Id"] in limited.get_data(as_text=True)
    # The limited attempt was not even checked: it neither signs in nor counts.
    assert client.get("/today").status_code == 302
    assert len(_login_failures(app)) == 3
    # The limit is per address: another address still gets through.
    other = app.test_client()
    response = other.post(
        "/login",
        data={"username": "nurse", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert response.status_code == 302
    # The sign-in page itself is not limited.
    assert client.get("/login").status_code == 200


def test_the_second_factor_step_is_rate_limited_too(make_app):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    make_staff(app)
    limiter.reset()
    client = app.test_client()
    statuses = [client.post("/login/code", data={"code": "123456"}).status_code for _ in range(4)]
    assert statuses[-1] == 429
