"""Simultaneous requests cannot spend a single-use code twice or lose a counted failure.

Real concurrent requests: each thread has its own test client, so its own app context, database
session and connection (the suite's database, a SQLite file or PostgreSQL via TEST_DATABASE_URL).
To make the race happen every time rather than by luck, each request waits at a barrier just
before its first write, so all of them have read the row before any of them changes it: the
interleaving that lets a read-check-then-write implementation accept a code twice."""

import contextlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from clinic_app import clock
from clinic_app.auth import mfa
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, BackupCode, ClinicSetting, User
from tests.helpers import sign_in

START = datetime(2030, 3, 4, 17, 0, tzinfo=UTC)
WRITES = ("INSERT", "UPDATE", "DELETE")


def _race(app, clients: list[FlaskClient], send: Callable[[FlaskClient], object]) -> list:
    """send(client) for every client at once, each in its own thread; the responses."""
    barrier = threading.Barrier(len(clients), timeout=20)
    first_write_done = threading.local()
    with app.app_context():
        engine = db.engine

    def align(conn, cursor, statement, parameters, context, executemany):
        if getattr(first_write_done, "flag", False) or not statement.lstrip().startswith(WRITES):
            return
        first_write_done.flag = True
        # A request that never writes breaks the barrier; the others then go on unaligned.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()

    results: list = [None] * len(clients)

    def run(index: int) -> None:
        try:
            results[index] = send(clients[index])
        except Exception as error:  # noqa: BLE001 - the test shows it
            results[index] = error

    event.listen(engine, "before_cursor_execute", align)
    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
    finally:
        event.remove(engine, "before_cursor_execute", align)
    assert not [r for r in results if isinstance(r, Exception)], results
    return results


def _signed_in(response) -> bool:
    path = urlsplit(response.headers.get("Location", "")).path
    return response.status_code == 302 and not path.startswith("/login")


@pytest.fixture
def enrolled(app, staff):
    """The nurse has two-factor on; returns (TOTP seed, backup codes)."""
    clock.freeze(START)
    with app.app_context():
        db.session.add(ClinicSetting(key="mfa_required_roles", value=["nurse"]))
        db.session.commit()
    client = app.test_client()
    sign_in(client, "nurse")
    with app.app_context():
        secret = mfa.pending_secret_of(db.session.get(User, staff["nurse"]))
    done = client.post("/login/enroll", data={"code": pyotp.TOTP(secret).at(START)})
    assert done.status_code == 200
    with app.app_context():
        codes = mfa.new_backup_codes(db.session.get(User, staff["nurse"]))
        db.session.commit()
    client.post("/logout")
    clock.advance(timedelta(seconds=60))
    return secret, codes


def _at_code_step(app, n: int) -> list[FlaskClient]:
    clients = []
    for _ in range(n):
        client = app.test_client()
        assert urlsplit(sign_in(client, "nurse").headers["Location"]).path == "/login/code"
        clients.append(client)
    return clients


def _logins(app) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "login", AuditEvent.outcome == "success")
        )


def test_one_totp_code_posted_twice_at_once_signs_in_once(app, enrolled):
    secret, _ = enrolled
    clients = _at_code_step(app, 2)
    code = pyotp.TOTP(secret).at(clock.utcnow())
    before = _logins(app)
    responses = _race(app, clients, lambda c: c.post("/login/code", data={"code": code}))
    assert sorted(_signed_in(r) for r in responses) == [False, True]
    assert _logins(app) == before + 1


def test_one_backup_code_posted_twice_at_once_signs_in_once(app, enrolled, staff):
    _, codes = enrolled
    clients = _at_code_step(app, 2)
    before = _logins(app)
    responses = _race(app, clients, lambda c: c.post("/login/code", data={"code": codes[0]}))
    assert sorted(_signed_in(r) for r in responses) == [False, True]
    assert _logins(app) == before + 1
    with app.app_context():
        used = db.session.scalars(
            select(BackupCode.used_at).where(
                BackupCode.user_id == staff["nurse"], BackupCode.used_at.is_not(None)
            )
        ).all()
    assert len(used) == 1


def test_ten_wrong_passwords_at_once_count_ten(make_app):
    app = make_app(LOCKOUT_AFTER_FAILURES=20)
    from tests.helpers import make_staff

    ids = make_staff(app)
    clock.freeze(START)
    clients = [app.test_client() for _ in range(10)]
    responses = _race(app, clients, lambda c: sign_in(c, "nurse", "not-the-password-at-all"))
    assert [r.status_code for r in responses] == [401] * 10
    with app.app_context():
        assert db.session.get(User, ids["nurse"]).failed_logins == 10


def test_wrong_passwords_at_once_past_the_limit_lock_the_account(app, staff):
    clock.freeze(START)
    clients = [app.test_client() for _ in range(8)]
    _race(app, clients, lambda c: sign_in(c, "nurse", "not-the-password-at-all"))
    with app.app_context():
        user = db.session.get(User, staff["nurse"])
        assert user.failed_logins == 8
        # The lock earned by the eighth failure (5 allowed, then 1, 2, 4, 8 minutes).
        assert user.locked_until == START + timedelta(minutes=8)
