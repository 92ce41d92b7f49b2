"""Password policy (length and guessability only) and changing one's own password."""

import random
import string

from sqlalchemy import select

from clinic_app.auth.passwords import password_problem
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, User
from tests.helpers import PASSWORD, make_staff, sign_in, signed_in

_rng = random.Random(20300304)


def _random(length: int) -> str:
    return "".join(_rng.choice(string.ascii_letters + string.digits) for _ in range(length))


ELEVEN = "tqz8vkw3pmx"
TWELVE = "tqz8vkw3pmxr"
PASSPHRASE = "purple tractor whispers under moonlight"  # lower case and spaces only
LONG_PASSPHRASE = "purple tractor whispers under moonlight while seven herons argue"  # 64


def _change(client, current: str, new: str, confirm: str | None = None):
    return client.post(
        "/account/password",
        data={"current_password": current, "new_password": new, "confirm": confirm or new},
    )


def test_length_limits():
    assert "at least 12" in password_problem(ELEVEN)
    assert password_problem(TWELVE) is None
    assert "at most 128" in password_problem(_random(129))


def test_common_and_guessable_passwords_are_refused():
    assert "most common" in password_problem("password1234")
    assert "most common" in password_problem("PASSWORD1234")
    assert password_problem("aaaaaaaaaaaaaaaa") is not None


def test_no_composition_rules():
    assert password_problem(PASSPHRASE) is None
    assert password_problem(LONG_PASSPHRASE) is None
    assert password_problem("correct horse battery staple") is None


def test_128_characters_are_accepted():
    """zxcvbn itself refuses more than 72 characters; the policy must not crash on them."""
    assert password_problem(_random(128)) is None
    assert password_problem(_random(73)) is None
    assert password_problem(("purple tractor whispers under moonlight " * 4)[:128]) is None


def test_a_long_passphrase_can_be_set_from_the_account_page(make_app):
    app = make_app(TESTING=False)
    make_staff(app)
    client = signed_in(app, "nurse")
    new = (LONG_PASSPHRASE + " near the quiet harbour at dawn")[:100]
    response = _change(client, PASSWORD, new)
    assert response.status_code == 302
    assert sign_in(app.test_client(), "nurse", new).status_code == 302


def test_the_change_form_applies_the_policy(app, staff):
    client = signed_in(app, "nurse")
    for new, message in (
        (ELEVEN, b"Use at least 12 characters."),
        (_random(129), b"128 characters"),
        ("password1234", b"most common passwords"),
    ):
        response = _change(client, PASSWORD, new)
        assert response.status_code == 400, new
        assert message in response.data, new
        assert b'id="new_password-error"' in response.data
    assert sign_in(app.test_client(), "nurse").status_code == 302  # unchanged

    assert _change(client, PASSWORD, TWELVE).status_code == 302
    assert _change(client, TWELVE, PASSPHRASE).status_code == 302
    assert sign_in(app.test_client(), "nurse", PASSPHRASE).status_code == 302
    assert sign_in(app.test_client(), "nurse", PASSWORD).status_code == 401


def test_changing_needs_the_current_password(app, staff):
    client = signed_in(app, "nurse")
    response = _change(client, "not-my-password", PASSPHRASE)
    assert response.status_code == 400
    assert b'id="current_password-error"' in response.data
    assert b"The current password is not correct." in response.data
    with app.app_context():
        user = db.session.get(User, staff["nurse"])
        assert user.failed_logins == 1  # counts toward the lockout
        attempts = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "user.password_change",
                AuditEvent.user_id == staff["nurse"],
            )
        ).all()
    assert [(a.outcome, a.detail["reason"]) for a in attempts] == [("failure", "bad_password")]
    assert sign_in(app.test_client(), "nurse", PASSPHRASE).status_code == 401  # not changed
    # The confirmation must match as well.
    mismatch = _change(client, PASSWORD, PASSPHRASE, PASSPHRASE + "!")
    assert mismatch.status_code == 400 and b"The two entries differ." in mismatch.data


def test_a_change_ends_the_other_sessions_but_keeps_this_one(app, staff):
    here = signed_in(app, "nurse")
    elsewhere = signed_in(app, "nurse")
    someone_else = signed_in(app, "psychiatrist")
    assert elsewhere.get("/today").status_code == 200

    response = _change(here, PASSWORD, PASSPHRASE)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert here.get("/today").status_code == 200
    gone = elsewhere.get("/today")
    assert gone.status_code == 302 and gone.headers["Location"].startswith("/login")
    assert someone_else.get("/today").status_code == 200
    with app.app_context():
        assert (
            db.session.scalar(
                select(AuditEvent.user_id).where(AuditEvent.action == "user.password_change")
            )
            == staff["nurse"]
        )


def test_a_change_must_not_keep_the_current_password(app, staff):
    client = signed_in(app, "psychiatrist")
    response = _change(client, PASSWORD, PASSWORD)
    assert response.status_code == 400
    assert b'id="new_password-error"' in response.data
    assert b"Choose a password different from the current one." in response.data
    with app.app_context():
        assert not db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "user.password_change", AuditEvent.outcome == "success"
            )
        ).all()


def test_the_forced_change_refuses_the_password_the_admin_set(app, staff):
    admin = signed_in(app, "admin")
    admin_set = "lantern harbour quietly glowing"
    assert (
        admin.post(
            f"/admin/users/{staff['nurse']}/password",
            data={"new_password": admin_set, "confirm": admin_set},
        ).status_code
        == 302
    )
    person = app.test_client()
    assert sign_in(person, "nurse", admin_set).status_code == 302
    kept = _change(person, admin_set, admin_set)
    assert kept.status_code == 400
    assert b"Choose a password different from the current one." in kept.data
    with app.app_context():
        assert db.session.get(User, staff["nurse"]).must_change_password is True
    assert person.get("/today").headers["Location"] == "/account/password"
    assert _change(person, admin_set, PASSPHRASE).headers["Location"] == "/today"
    with app.app_context():
        assert db.session.get(User, staff["nurse"]).must_change_password is False
