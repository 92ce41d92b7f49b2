"""Two-factor sign-in: enrollment when the role requires it, single-use TOTP codes and backup
codes, lockout on wrong codes, the seed encrypted at rest, and the account page switches."""

import hashlib
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
from sqlalchemy import select, text

from clinic_app import clock
from clinic_app.auth import mfa
from clinic_app.clinical.codes import Role
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, BackupCode, ClinicSetting, User
from config import ProductionConfig, TestingConfig
from tests.helpers import PASSWORD, ROLES, cookie_value, make_staff, sign_in, soup

START = datetime(2030, 3, 4, 17, 0, tzinfo=UTC)  # on a 30-second step boundary
BACKUP_SHAPE = re.compile(r"[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}")


def _backup_codes(response) -> list[str]:
    """The backup codes a page shows (each in a <code> element)."""
    shown = (code.get_text() for code in soup(response).find_all("code"))
    return [code for code in shown if BACKUP_SHAPE.fullmatch(code)]


def _path(response) -> str:
    return urlsplit(response.headers.get("Location", "")).path


def _home(response) -> bool:
    """Signed in: redirected to a start page, not back to a sign-in step."""
    return response.status_code == 302 and not _path(response).startswith("/login")


def _require(app, *roles: str) -> None:
    with app.app_context():
        db.session.add(ClinicSetting(key="mfa_required_roles", value=list(roles)))
        db.session.commit()


def _secret(app, user_id: int) -> str:
    """The seed being set up if there is one, else the switched-on seed."""
    with app.app_context():
        user = db.session.get(User, user_id)
        return mfa.pending_secret_of(user) or mfa.secret_of(user)


def _code(app, user_id: int) -> str:
    return pyotp.TOTP(_secret(app, user_id)).at(int(clock.utcnow().timestamp()))


def _user(app, user_id: int) -> User:
    with app.app_context():
        return db.session.get(User, user_id)


def _enroll(app, client, user_id) -> list[str]:
    """Finish the enrollment step of a pending sign-in; returns the backup codes shown."""
    page = client.get("/login/enroll")
    assert page.status_code == 200
    done = client.post("/login/enroll", data={"code": _code(app, user_id)})
    assert done.status_code == 200, done.status_code
    return _backup_codes(done)


@pytest.fixture
def nurse_required(app, staff):
    clock.freeze(START)
    _require(app, "nurse")
    return staff


@pytest.fixture
def enrolled(app, nurse_required):
    """The nurse has two-factor on (enrolled at START) and is signed out; returns backup codes."""
    client = app.test_client()
    assert _path(sign_in(client, "nurse")) == "/login/enroll"
    codes = _enroll(app, client, nurse_required["nurse"])
    client.post("/logout")
    clock.advance(timedelta(seconds=30))
    return codes


def test_required_role_must_enroll_before_any_page(app, nurse_required):
    client = app.test_client()
    response = sign_in(client, "nurse")
    assert response.status_code == 302 and _path(response) == "/login/enroll"
    for url in ("/today", "/patients/", "/account", "/"):
        assert _path(client.get(url)) == "/login", url
    assert _path(client.post("/session/keepalive")) == "/login"

    page = client.get("/login/enroll")
    assert page.status_code == 200
    assert b'<img src="data:image/svg+xml' in page.data
    secret = _secret(app, nurse_required["nurse"])
    assert secret.encode() in page.data  # the key to type by hand

    wrong = client.post("/login/enroll", data={"code": "000000"})
    assert wrong.status_code == 400
    assert _path(client.get("/today")) == "/login"
    assert not _user(app, nurse_required["nurse"]).totp_enabled

    done = client.post("/login/enroll", data={"code": _code(app, nurse_required["nurse"])})
    assert done.status_code == 200
    codes = _backup_codes(done)
    assert len(set(codes)) == 10
    assert _user(app, nurse_required["nurse"]).totp_enabled
    assert client.get("/today").status_code == 200
    with app.app_context():
        hashes = db.session.scalars(
            select(BackupCode.code_hash).where(BackupCode.user_id == nurse_required["nurse"])
        ).all()
    assert len(hashes) == 10
    # Keyed HMAC-SHA256 of random codes: neither the code nor an unkeyed hash of it is stored.
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
    plain = set(codes) | {c.replace("-", "") for c in codes}
    assert not plain & set(hashes)
    assert not {hashlib.sha256(c.encode()).hexdigest() for c in plain} & set(hashes)


def test_roles_not_required_sign_in_with_the_password_alone(app, nurse_required):
    assert _home(sign_in(app.test_client(), "psychiatrist"))


def test_next_sign_in_asks_for_a_code(app, enrolled, nurse_required):
    client = app.test_client()
    response = sign_in(client, "nurse")
    assert _path(response) == "/login/code"
    assert _path(client.get("/today")) == "/login"
    page = client.get("/login/code")
    assert page.status_code == 200 and b'autocomplete="one-time-code"' in page.data
    done = client.post("/login/code", data={"code": _code(app, nurse_required["nurse"])})
    assert _home(done)
    assert client.get("/today").status_code == 200


def test_a_code_cannot_be_used_twice(app, enrolled, nurse_required):
    uid = nurse_required["nurse"]
    first = app.test_client()
    sign_in(first, "nurse")
    code = _code(app, uid)
    assert _home(first.post("/login/code", data={"code": code}))

    # Same 30-second step, someone who watched the code being typed.
    second = app.test_client()
    assert _path(sign_in(second, "nurse")) == "/login/code"
    replay = second.post("/login/code", data={"code": code})
    assert replay.status_code == 400
    assert _path(second.get("/today")) == "/login"
    # Still refused in the next step (the drift window would otherwise accept it).
    clock.advance(timedelta(seconds=30))
    assert second.post("/login/code", data={"code": code}).status_code == 400
    # The next step's own code works.
    assert _home(second.post("/login/code", data={"code": _code(app, uid)}))


def test_the_enrollment_code_cannot_be_replayed_at_sign_in(app, nurse_required):
    client = app.test_client()
    sign_in(client, "nurse")
    code = _code(app, nurse_required["nurse"])
    assert client.post("/login/enroll", data={"code": code}).status_code == 200
    client.post("/logout")
    other = app.test_client()
    assert _path(sign_in(other, "nurse")) == "/login/code"
    assert other.post("/login/code", data={"code": code}).status_code == 400


def test_wrong_codes_count_toward_the_lockout(app, enrolled, nurse_required):
    uid = nurse_required["nurse"]
    client = app.test_client()
    sign_in(client, "nurse")
    for _ in range(4):
        assert client.post("/login/code", data={"code": "123456"}).status_code == 400
    # The fifth locks the account and ends the half-finished session at once.
    assert _path(client.post("/login/code", data={"code": "123456"})) == "/login"
    user = _user(app, uid)
    assert user.failed_logins == 5
    assert user.locked_until == clock.utcnow() + timedelta(minutes=1)
    # Even the right code is now refused.
    refused = client.post("/login/code", data={"code": _code(app, uid)})
    assert _path(refused) == "/login"
    assert _path(client.get("/login/code")) == "/login"
    assert _path(client.get("/today")) == "/login"
    assert sign_in(app.test_client(), "nurse").status_code == 401
    with app.app_context():
        reasons = db.session.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.action == "login", AuditEvent.outcome == "failure"
            )
        ).all()
    assert [r["reason"] for r in reasons].count("bad_code") == 5


def test_a_backup_code_works_once(app, enrolled):
    first, second = enrolled[0], enrolled[1]
    client = app.test_client()
    sign_in(client, "nurse")
    assert _home(client.post("/login/code", data={"code": first}))
    client.post("/logout")

    again = app.test_client()
    sign_in(again, "nurse")
    assert again.post("/login/code", data={"code": first}).status_code == 400
    assert _path(again.get("/today")) == "/login"
    assert _home(again.post("/login/code", data={"code": second.upper()}))


def test_the_seed_is_encrypted_at_rest_and_not_in_the_cookie(app, nurse_required):
    uid = nurse_required["nurse"]
    client = app.test_client()
    sign_in(client, "nurse")
    client.get("/login/enroll")
    secret = _secret(app, uid)
    assert secret and len(secret) >= 16

    def stored(column: str) -> str:
        with app.app_context():
            return db.session.execute(
                text(f"SELECT {column} FROM users WHERE id = :id"), {"id": uid}
            ).scalar_one()

    pending = stored("totp_pending_secret_encrypted")
    assert pending and secret not in pending and secret.lower() not in pending.lower()
    serializer = app.session_interface.get_signing_serializer(app)
    assert secret not in str(serializer.loads(cookie_value(client, app)))
    _enroll(app, client, uid)
    active = stored("totp_secret_encrypted")
    assert active == pending and stored("totp_pending_secret_encrypted") == ""
    # Another installation (another SECRET_KEY) cannot read it.
    other = app.config["SECRET_KEY"]
    try:
        app.config["SECRET_KEY"] = "a-different-secret-key"
        assert _secret(app, uid) is None
    finally:
        app.config["SECRET_KEY"] = other


def test_account_page_turns_two_factor_on_after_password_reentry(app, staff):
    clock.freeze(START)
    uid = staff["psychiatrist"]
    client = app.test_client()
    sign_in(client, "psychiatrist")
    page = client.get("/account")
    assert b'action="/account/two-factor/start"' in page.data

    wrong = client.post("/account/two-factor/start", data={"password": "not-my-password"})
    assert _path(wrong) == "/account"
    assert b"The password is not correct." in client.get("/account").data
    assert _user(app, uid).totp_secret_encrypted == ""
    assert _path(client.get("/account/two-factor")) == "/account"

    right = client.post("/account/two-factor/start", data={"password": PASSWORD})
    assert _path(right) == "/account/two-factor"
    setup = client.get("/account/two-factor")
    assert b'<img src="data:image/svg+xml' in setup.data
    assert client.post("/account/two-factor", data={"code": "000000"}).status_code == 400
    done = client.post("/account/two-factor", data={"code": _code(app, uid)})
    assert done.status_code == 200 and len(_backup_codes(done)) == 10
    assert _user(app, uid).totp_enabled
    client.post("/logout")
    clock.advance(timedelta(seconds=30))
    assert _path(sign_in(app.test_client(), "psychiatrist")) == "/login/code"


def test_account_page_turns_two_factor_off_when_not_required(app, staff):
    clock.freeze(START)
    uid = staff["psychiatrist"]
    client = app.test_client()
    sign_in(client, "psychiatrist")
    client.post("/account/two-factor/start", data={"password": PASSWORD})
    client.post("/account/two-factor", data={"code": _code(app, uid)})
    assert _user(app, uid).totp_enabled

    client.post("/account/two-factor/disable", data={"off-password": "not-my-password"})
    assert _user(app, uid).totp_enabled
    client.post("/account/two-factor/disable", data={"off-password": PASSWORD})
    user = _user(app, uid)
    assert not user.totp_enabled and user.totp_secret_encrypted == ""
    with app.app_context():
        assert not db.session.scalars(select(BackupCode).where(BackupCode.user_id == uid)).all()
    client.post("/logout")
    assert _home(sign_in(app.test_client(), "psychiatrist"))


def test_a_required_role_cannot_turn_two_factor_off(app, enrolled, nurse_required):
    uid = nurse_required["nurse"]
    client = app.test_client()
    sign_in(client, "nurse")
    client.post("/login/code", data={"code": _code(app, uid)})
    assert b"Turn off" not in client.get("/account").data
    response = client.post("/account/two-factor/disable", data={"off-password": PASSWORD})
    assert _path(response) == "/account"
    assert b"required for your role" in client.get("/account").data
    assert _user(app, uid).totp_enabled


def test_production_default_requires_two_factor_for_every_role(make_app):
    assert set(ProductionConfig.MFA_REQUIRED_ROLES_DEFAULT) == {r.value for r in Role}
    app = make_app(
        TestingConfig, MFA_REQUIRED_ROLES_DEFAULT=ProductionConfig.MFA_REQUIRED_ROLES_DEFAULT
    )
    make_staff(app)
    for role in ROLES:
        client = app.test_client()
        assert _path(sign_in(client, role)) == "/login/enroll", role
        assert _path(client.get("/account")) == "/login", role


def test_the_clinic_setting_overrides_the_default(make_app):
    app = make_app(
        TestingConfig, MFA_REQUIRED_ROLES_DEFAULT=ProductionConfig.MFA_REQUIRED_ROLES_DEFAULT
    )
    make_staff(app)
    _require(app, "admin")
    assert _home(sign_in(app.test_client(), "nurse"))
    assert _path(sign_in(app.test_client(), "admin")) == "/login/enroll"


def test_a_pending_enrollment_cannot_be_finished_at_the_code_step(app, nurse_required):
    uid = nurse_required["nurse"]
    client = app.test_client()
    assert _path(sign_in(client, "nurse")) == "/login/enroll"
    client.post("/login/code", data={"code": _code(app, uid)})
    # Either refused, or enrolled: never signed in with two-factor still off.
    signed_in = client.get("/today").status_code == 200
    assert not signed_in or _user(app, uid).totp_enabled


# --- issue 11: guessing, cost, re-enrollment, odd input ---------------------------------------


def test_a_right_password_does_not_forgive_wrong_codes(app, enrolled, nurse_required):
    """password, 4 wrong codes, password again, ...: the fifth wrong code still locks."""
    uid = nurse_required["nurse"]
    for _ in range(2):
        client = app.test_client()
        assert _path(sign_in(client, "nurse")) == "/login/code"
        for _ in range(2):
            assert client.post("/login/code", data={"code": "123456"}).status_code == 400
    assert _user(app, uid).failed_logins == 4
    client = app.test_client()
    assert _path(sign_in(client, "nurse")) == "/login/code"
    assert _user(app, uid).failed_logins == 4  # the right password alone forgives nothing
    assert _path(client.post("/login/code", data={"code": "123456"})) == "/login"
    assert _user(app, uid).locked_until == clock.utcnow() + timedelta(minutes=1)
    assert sign_in(app.test_client(), "nurse").status_code == 401

    # Only a whole sign-in (password and code) clears the counter.
    clock.advance(timedelta(minutes=1, seconds=1))
    client = app.test_client()
    assert _path(sign_in(client, "nurse")) == "/login/code"
    assert _user(app, uid).failed_logins == 5
    assert _home(client.post("/login/code", data={"code": _code(app, uid)}))
    user = _user(app, uid)
    assert user.failed_logins == 0 and user.locked_until is None


@pytest.fixture
def hash_calls(monkeypatch):
    """How many argon2 verifications and backup-code hashings (one HMAC per data key) ran."""
    from argon2 import PasswordHasher

    calls = {"argon2": 0, "hmac": 0}
    verify, backup_hash = PasswordHasher.verify, mfa._backup_hashes

    def counting_verify(self, *args, **kwargs):
        calls["argon2"] += 1
        return verify(self, *args, **kwargs)

    def counting_hash(*args):
        calls["hmac"] += 1
        return backup_hash(*args)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    monkeypatch.setattr(mfa, "_backup_hashes", counting_hash)
    return calls


def test_a_wrong_code_is_cheap(app, enrolled, hash_calls):
    client = app.test_client()
    sign_in(client, "nurse")
    hash_calls.update(argon2=0, hmac=0)
    # Six digits never reach the backup codes; a backup-shaped guess costs one HMAC.
    assert client.post("/login/code", data={"code": "123456"}).status_code == 400
    assert hash_calls == {"argon2": 0, "hmac": 0}
    assert client.post("/login/code", data={"code": "aaaa-bbbb-cccc"}).status_code == 400
    assert hash_calls == {"argon2": 0, "hmac": 1}
    for other in ("1234567", "abcd-efgh-ijk1"):  # not quite either shape
        assert client.post("/login/code", data={"code": other}).status_code == 400
    assert hash_calls == {"argon2": 0, "hmac": 1}


def test_a_backup_code_works_typed_without_dashes_or_with_spaces(app, enrolled):
    for typed in (enrolled[2].replace("-", ""), " ".join(enrolled[3].upper().split("-"))):
        client = app.test_client()
        sign_in(client, "nurse")
        assert _home(client.post("/login/code", data={"code": typed})), typed


def test_backup_codes_issued_before_the_keyed_hash_still_work_once(
    app, enrolled, nurse_required, hash_calls
):
    """Codes stored as argon2 hashes (issued before) are checked only for input of their shape."""
    from clinic_app.auth.passwords import hash_password

    uid = nurse_required["nurse"]
    legacy = "3fa9c2-7b1e04"
    with app.app_context():
        db.session.add(BackupCode(user_id=uid, code_hash=hash_password(legacy)))
        db.session.commit()
    client = app.test_client()
    sign_in(client, "nurse")
    hash_calls.update(argon2=0, hmac=0)
    assert client.post("/login/code", data={"code": "123456"}).status_code == 400
    assert client.post("/login/code", data={"code": "aaaa-bbbb-cccc"}).status_code == 400
    assert hash_calls["argon2"] == 0
    assert _home(client.post("/login/code", data={"code": legacy.upper()}))
    assert hash_calls["argon2"] == 1
    client.post("/logout")
    again = app.test_client()
    sign_in(again, "nurse")
    assert again.post("/login/code", data={"code": legacy}).status_code == 400


def test_re_enrolling_keeps_the_old_phone_until_the_new_code(app, enrolled, nurse_required):
    uid = nurse_required["nurse"]
    old_secret = _secret(app, uid)
    client = app.test_client()
    sign_in(client, "nurse")
    assert _home(client.post("/login/code", data={"code": _code(app, uid)}))
    account = client.get("/account")
    assert b"Set up a new phone" in account.data
    start = client.post("/account/two-factor/start", data={"password": PASSWORD})
    assert _path(start) == "/account/two-factor"
    setup = client.get("/account/two-factor")
    assert b"keep working until you enter a code from the new one" in setup.data
    new_secret = _secret(app, uid)
    assert new_secret != old_secret
    assert _user(app, uid).totp_enabled

    # Meanwhile the old phone and the old backup codes still sign in.
    clock.advance(timedelta(seconds=30))
    elsewhere = app.test_client()
    assert _path(sign_in(elsewhere, "nurse")) == "/login/code"
    old_now = pyotp.TOTP(old_secret).at(int(clock.utcnow().timestamp()))
    assert _home(elsewhere.post("/login/code", data={"code": old_now}))
    backup = app.test_client()
    sign_in(backup, "nurse")
    assert _home(backup.post("/login/code", data={"code": enrolled[0]}))

    # A wrong code from the new phone changes nothing; the right one switches over.
    assert client.post("/account/two-factor", data={"code": "000000"}).status_code == 400
    with app.app_context():
        assert mfa.secret_of(db.session.get(User, uid)) == old_secret
    new_now = pyotp.TOTP(new_secret).at(int(clock.utcnow().timestamp()))
    done = client.post("/account/two-factor", data={"code": new_now})
    assert done.status_code == 200
    new_codes = _backup_codes(done)
    assert len(new_codes) == 10 and not set(new_codes) & set(enrolled)
    with app.app_context():
        user = db.session.get(User, uid)
        assert mfa.secret_of(user) == new_secret and not user.totp_pending_secret_encrypted

    # Now the old phone and old backup codes are refused, the new ones work.
    clock.advance(timedelta(seconds=30))
    late = app.test_client()
    sign_in(late, "nurse")
    old_now = pyotp.TOTP(old_secret).at(int(clock.utcnow().timestamp()))
    assert late.post("/login/code", data={"code": old_now}).status_code == 400
    assert late.post("/login/code", data={"code": enrolled[1]}).status_code == 400
    assert _home(late.post("/login/code", data={"code": new_codes[0]}))


def test_an_abandoned_re_enrollment_leaves_two_factor_on(app, enrolled, nurse_required):
    uid = nurse_required["nurse"]
    client = app.test_client()
    sign_in(client, "nurse")
    client.post("/login/code", data={"code": _code(app, uid)})
    client.post("/account/two-factor/start", data={"password": PASSWORD})
    client.post("/logout")
    clock.advance(timedelta(seconds=30))
    with app.app_context():
        user = db.session.get(User, uid)
        active = mfa.secret_of(user)
        assert user.totp_enabled and user.totp_pending_secret_encrypted
    again = app.test_client()
    assert _path(sign_in(again, "nurse")) == "/login/code"
    code = pyotp.TOTP(active).at(int(clock.utcnow().timestamp()))
    assert _home(again.post("/login/code", data={"code": code}))


NON_ASCII_DIGITS = ("١٢٣٤٥٦", "１２３４５６", "१२३४५६", "12345²", "123\u00a0456")


@pytest.mark.parametrize("typed", NON_ASCII_DIGITS)
def test_non_ascii_digits_in_a_code_get_a_message_not_an_error(app, nurse_required, typed):
    uid = nurse_required["nurse"]
    enrolling = app.test_client()
    sign_in(enrolling, "nurse")
    refused = enrolling.post("/login/enroll", data={"code": typed})
    assert refused.status_code == 400
    assert b"digits 0-9" in refused.data
    _enroll(app, enrolling, uid)
    enrolling.post("/logout")
    clock.advance(timedelta(seconds=30))

    client = app.test_client()
    sign_in(client, "nurse")
    response = client.post("/login/code", data={"code": typed})
    assert response.status_code == 400
    assert b'id="code-error"' in response.data and b"digits 0-9" in response.data
    assert _user(app, uid).failed_logins == 0  # not a guess: nothing was checked


def test_account_setup_refuses_non_ascii_digits_too(app, staff):
    clock.freeze(START)
    client = app.test_client()
    sign_in(client, "psychiatrist")
    client.post("/account/two-factor/start", data={"password": PASSWORD})
    response = client.post("/account/two-factor", data={"code": NON_ASCII_DIGITS[0]})
    assert response.status_code == 400 and b"digits 0-9" in response.data
