"""Accounts: list, create, deactivate/reactivate, password and two-factor resets, unlock, and the
two-factor policy."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from clinic_app.auth import mfa
from clinic_app.auth.passwords import verify_password
from clinic_app.auth.services import mfa_required_roles
from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, BackupCode, ClinicSetting, User
from tests import factories
from tests.admin import (
    STRONG_PASSWORD,
    actions,
    last_event,
    live_sessions,
    to_login,
    user_state,
)
from tests.helpers import PASSWORD, sign_in

NEW_USER = {
    "username": "JSmith",
    "full_name": "Jo Smith",
    "credentials": "RN",
    "role": "nurse",
    "password": STRONG_PASSWORD,
    "confirm": STRONG_PASSWORD,
}


@pytest.fixture
def site_id(app) -> int:
    """The one open site new accounts are placed at."""
    with app.app_context():
        site_id = factories.site("MAIN").id
        db.session.commit()
    return site_id


def _user(app, username) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        db.session.expunge(user)
        return user


def _user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


# --- list ----------------------------------------------------------------------------------


def test_user_list_shows_each_account_with_its_state(app, as_role, staff):
    with app.app_context():
        nurse = db.session.get(User, staff["nurse"])
        nurse.locked_until = utcnow() + timedelta(minutes=20)
        nurse.failed_logins = 6
        desk = db.session.get(User, staff["front_desk"])
        desk.active = False
        mfa.store_new_secret(db.session.get(User, staff["psychiatrist"]))
        db.session.get(User, staff["psychiatrist"]).totp_enabled_at = utcnow()
        db.session.commit()
    admin = as_role("admin")
    page = admin.get("/admin/users")
    assert page.status_code == 200
    html = page.data.decode()
    for username in ("nurse", "psychiatrist", "front_desk", "admin"):
        assert f'/admin/users/{staff[username]}">{username}</a>' in html
    assert "Test nurse, RN" in html
    assert "inactive" in html
    assert html.count(">on<") == 1  # the psychiatrist's two-factor
    assert "never" in html  # the nurse has not signed in
    assert "text-bg-danger" in html  # the nurse's lockout


# --- create --------------------------------------------------------------------------------


def test_admin_creates_a_user_with_the_typed_password(app, as_role, staff, site_id):
    admin = as_role("admin")
    assert admin.get("/admin/users/new").status_code == 200
    response = admin.post("/admin/users/new", data=NEW_USER | {"sites": site_id})
    assert response.status_code == 302
    user = _user(app, "jsmith")
    assert response.headers["Location"] == f"/admin/users/{user.id}"
    assert (user.full_name, user.credentials, user.role, user.active) == (
        "Jo Smith",
        "RN",
        "nurse",
        True,
    )
    with app.app_context():
        assert verify_password(user.password_hash, STRONG_PASSWORD)
    event = last_event(app, "user.create")
    assert (event.user_id, event.entity_type, event.entity_id) == (staff["admin"], "User", user.id)
    assert event.detail == {"role_assigned": "nurse", "sites": ["MAIN"]}
    # The new person signs in with it.
    assert sign_in(app.test_client(), "jsmith", STRONG_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"username": "taken.name"}, "username", "That username is taken."),
        ({"username": "Taken.Name"}, "username", "That username is taken."),
        ({"password": "short", "confirm": "short"}, "password", "Use at least 12 characters."),
        (
            {"password": "password1234", "confirm": "password1234"},
            "password",
            "most common passwords",
        ),
        ({"role": "superuser"}, "role", "Not a valid choice"),
        ({"confirm": "something else entirely"}, "confirm", "The two entries differ."),
        ({"username": "nurse"}, "username", "personal username"),
        ({"username": "has space"}, "username", "Letters, digits"),
        ({"full_name": ""}, "full_name", "This field is required."),
    ],
)
def test_bad_new_user_input_re_renders_with_a_field_error(
    app, as_role, staff, site_id, change, field, message
):
    with app.app_context():
        factories.make_user("nurse", username="taken.name")
        db.session.commit()
    admin = as_role("admin")
    users_before = _user_count(app)
    audit_before = actions(app, staff["admin"])
    response = admin.post("/admin/users/new", data=NEW_USER | {"sites": site_id} | change)
    assert response.status_code == 400
    html = response.data.decode()
    assert f'id="{field}-error"' in html
    assert message in html
    assert 'value="Jo Smith"' in html or field == "full_name"  # the input is kept
    assert STRONG_PASSWORD not in html  # passwords are not echoed back
    assert _user_count(app) == users_before
    assert actions(app, staff["admin"]) == audit_before


# --- deactivate / reactivate ---------------------------------------------------------------


def test_deactivating_a_user_signs_them_out_everywhere(app, as_role, staff):
    nurse = as_role("nurse")
    second_nurse_browser = as_role("nurse")
    assert nurse.get("/today").status_code == 200
    assert live_sessions(app, staff["nurse"]) == 2
    admin = as_role("admin")

    response = admin.post(f"/admin/users/{staff['nurse']}/deactivate")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/users/{staff['nurse']}"
    assert user_state(app, staff["nurse"])["active"] is False
    assert live_sessions(app, staff["nurse"]) == 0
    event = last_event(app, "user.deactivate")
    assert (event.user_id, event.entity_id) == (staff["admin"], staff["nurse"])
    assert event.detail == {"sessions_ended": 2}
    # The replayed cookies are refused, and the password no longer works.
    assert to_login(nurse.get("/today"))
    assert to_login(second_nurse_browser.get("/patients/"))
    assert sign_in(app.test_client(), "nurse").status_code == 401
    assert b"2 signed-in browsers signed out" in admin.get(f"/admin/users/{staff['nurse']}").data

    response = admin.post(f"/admin/users/{staff['nurse']}/reactivate")
    assert response.status_code == 302
    assert user_state(app, staff["nurse"])["active"] is True
    assert last_event(app, "user.reactivate").entity_id == staff["nurse"]
    assert sign_in(app.test_client(), "nurse").status_code == 302


def test_an_admin_cannot_deactivate_themselves(app, as_role, staff):
    admin = as_role("admin")
    page = admin.get(f"/admin/users/{staff['admin']}")
    assert b"/deactivate" not in page.data
    before = actions(app, staff["admin"])
    response = admin.post(f"/admin/users/{staff['admin']}/deactivate")
    assert response.status_code == 400
    assert b"You cannot deactivate your own account." in response.data
    assert user_state(app, staff["admin"])["active"] is True
    assert live_sessions(app, staff["admin"]) == 1
    assert actions(app, staff["admin"]) == before
    assert admin.get("/admin/users").status_code == 200  # still signed in


def test_deactivating_twice_or_reactivating_an_active_user_is_refused(app, as_role, staff):
    admin = as_role("admin")
    assert admin.post(f"/admin/users/{staff['nurse']}/reactivate").status_code == 400
    assert admin.post(f"/admin/users/{staff['nurse']}/deactivate").status_code == 302
    assert admin.post(f"/admin/users/{staff['nurse']}/deactivate").status_code == 400
    assert actions(app, staff["admin"]).count("user.deactivate") == 1
    assert "user.reactivate" not in actions(app, staff["admin"])


def test_unknown_user_is_404(app, as_role):
    admin = as_role("admin")
    assert admin.get("/admin/users/9999").status_code == 404
    assert admin.post("/admin/users/9999/deactivate").status_code == 404


# --- password reset ------------------------------------------------------------------------


def test_admin_resets_a_password_and_ends_the_users_sessions(app, as_role, staff):
    nurse = as_role("nurse")
    admin = as_role("admin")
    response = admin.post(
        f"/admin/users/{staff['nurse']}/password",
        data={"new_password": STRONG_PASSWORD, "confirm": STRONG_PASSWORD},
    )
    assert response.status_code == 302
    assert to_login(nurse.get("/today"))
    assert sign_in(app.test_client(), "nurse", PASSWORD).status_code == 401
    assert sign_in(app.test_client(), "nurse", STRONG_PASSWORD).status_code == 302
    event = last_event(app, "user.password_reset")
    assert (event.user_id, event.entity_id, event.detail) == (
        staff["admin"],
        staff["nurse"],
        {"sessions_ended": 1},
    )
    assert STRONG_PASSWORD not in str(event.detail)


OWN_PASSWORD = "my own quiet harbour lantern"


def _forced_to_choose(app, username: str, password: str):
    """Sign in with the admin-set password; every page but the change form sends them there."""
    person = app.test_client()
    assert sign_in(person, username, password).status_code == 302
    for page in ("/", "/today", "/patients/", "/account"):
        response = person.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"] == "/account/password"
    page = person.get("/account/password")
    assert page.status_code == 200
    assert "An administrator set your password: choose your own to go on." in page.text
    assert "Your password was set by an administrator." in page.text
    assert person.post("/session/keepalive").status_code == 200
    return person


def _choose_own(person, current: str):
    response = person.post(
        "/account/password",
        data={"current_password": current, "new_password": OWN_PASSWORD, "confirm": OWN_PASSWORD},
    )
    assert response.status_code == 302
    return response


def test_a_new_account_chooses_its_own_password_before_anything_else(app, as_role, staff, site_id):
    admin = as_role("admin")
    admin.post("/admin/users/new", data=NEW_USER | {"sites": site_id})
    user = _user(app, "jsmith")
    assert user.must_change_password is True
    assert "they choose their own at the next sign-in" in admin.get(f"/admin/users/{user.id}").text
    person = _forced_to_choose(app, "jsmith", STRONG_PASSWORD)
    # A wrong current password or a weak new one is refused and they stay on the form.
    refused = person.post(
        "/account/password",
        data={"current_password": "wrong", "new_password": OWN_PASSWORD, "confirm": OWN_PASSWORD},
    )
    assert refused.status_code == 400
    assert person.get("/today").headers["Location"] == "/account/password"

    assert _choose_own(person, STRONG_PASSWORD).headers["Location"] == "/today"
    assert person.get("/today").status_code == 200
    assert _user(app, "jsmith").must_change_password is False
    assert sign_in(app.test_client(), "jsmith", OWN_PASSWORD).status_code == 302


def test_after_a_reset_the_user_chooses_again_and_can_still_sign_out(app, as_role, staff):
    as_role("admin").post(
        f"/admin/users/{staff['nurse']}/password",
        data={"new_password": STRONG_PASSWORD, "confirm": STRONG_PASSWORD},
    )
    person = _forced_to_choose(app, "nurse", STRONG_PASSWORD)
    assert person.post("/logout").status_code == 302
    assert to_login(person.get("/today"))
    person = _forced_to_choose(app, "nurse", STRONG_PASSWORD)
    _choose_own(person, STRONG_PASSWORD)
    assert person.get("/today").status_code == 200


def test_a_password_chosen_by_its_owner_is_never_forced(app, as_role, staff):
    nurse = as_role("nurse")
    assert nurse.get("/today").status_code == 200
    _choose_own(nurse, PASSWORD)
    assert _user(app, "nurse").must_change_password is False
    assert nurse.get("/today").status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"new_password": "tooshort", "confirm": "tooshort"}, "Use at least 12 characters."),
        ({"new_password": "nursenurse12", "confirm": "nursenurse12"}, "too easy to guess"),
        ({"new_password": STRONG_PASSWORD, "confirm": "different words here"}, "entries differ"),
    ],
)
def test_a_weak_reset_password_is_refused_with_a_field_error(app, as_role, staff, data, message):
    nurse = as_role("nurse")
    admin = as_role("admin")
    before = user_state(app, staff["nurse"])
    response = admin.post(f"/admin/users/{staff['nurse']}/password", data=data)
    assert response.status_code == 400
    assert message in response.data.decode()
    assert b"is-invalid" in response.data
    assert user_state(app, staff["nurse"]) == before
    assert nurse.get("/today").status_code == 200
    assert "user.password_reset" not in actions(app)


def test_an_admin_resets_their_own_password_from_their_account_not_here(app, as_role, staff):
    admin = as_role("admin")
    response = admin.post(
        f"/admin/users/{staff['admin']}/password",
        data={"new_password": STRONG_PASSWORD, "confirm": STRONG_PASSWORD},
    )
    assert response.status_code == 400
    assert b"Change your own password from Your account." in response.data
    assert sign_in(app.test_client(), "admin", PASSWORD).status_code == 302


# --- two-factor reset and unlock -----------------------------------------------------------


def _enable_totp(app, user_id) -> None:
    with app.app_context():
        user = db.session.get(User, user_id)
        mfa.store_new_secret(user)
        user.totp_enabled_at = utcnow()
        mfa.new_backup_codes(user)
        db.session.commit()


def _backup_codes(app, user_id) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).where(BackupCode.user_id == user_id))


def test_admin_resets_two_factor_for_a_lost_phone(app, as_role, staff):
    nurse = as_role("nurse")  # signed in before two-factor was turned on
    _enable_totp(app, staff["nurse"])
    assert _backup_codes(app, staff["nurse"]) == 10
    admin = as_role("admin")
    assert b"Reset two-factor" in admin.get(f"/admin/users/{staff['nurse']}").data

    response = admin.post(f"/admin/users/{staff['nurse']}/two-factor/reset")
    assert response.status_code == 302
    state = user_state(app, staff["nurse"])
    assert state["totp_enabled_at"] is None
    assert state["totp_secret_encrypted"] == ""
    assert _backup_codes(app, staff["nurse"]) == 0
    assert to_login(nurse.get("/today"))
    event = last_event(app, "user.mfa_reset")
    assert (event.user_id, event.role, event.entity_id) == (
        staff["admin"],
        "admin",
        staff["nurse"],
    )
    # Signing in now needs no code (two-factor is not required for nurses in this config).
    response = sign_in(app.test_client(), "nurse")
    assert response.headers["Location"] == "/today"


def test_admin_unlocks_a_locked_out_user(app, as_role, staff):
    with app.app_context():
        nurse = db.session.get(User, staff["nurse"])
        nurse.failed_logins = 7
        nurse.locked_until = utcnow() + timedelta(minutes=30)
        db.session.commit()
    assert sign_in(app.test_client(), "nurse").status_code == 401  # locked
    admin = as_role("admin")
    assert b"Unlock" in admin.get(f"/admin/users/{staff['nurse']}").data
    response = admin.post(f"/admin/users/{staff['nurse']}/unlock")
    assert response.status_code == 302
    state = user_state(app, staff["nurse"])
    assert (state["failed_logins"], state["locked_until"]) == (0, None)
    event = last_event(app, "user.unlock")
    assert (event.user_id, event.entity_id, event.detail) == (
        staff["admin"],
        staff["nurse"],
        {"was_locked": True},
    )
    assert sign_in(app.test_client(), "nurse").status_code == 302


# --- two-factor policy ---------------------------------------------------------------------


def test_two_factor_policy_is_stored_as_a_clinic_setting(app, as_role, staff):
    admin = as_role("admin")
    page = admin.get("/admin/two-factor")
    assert page.status_code == 200
    assert b"checked" not in page.data  # the testing default: no role required
    response = admin.post("/admin/two-factor", data={"roles": ["admin", "nurse"]})
    assert response.status_code == 302
    with app.app_context():
        setting = db.session.get(ClinicSetting, "mfa_required_roles")
        assert setting.value == ["nurse", "admin"]
        assert setting.updated_by_id == staff["admin"]
        assert utcnow() - setting.updated_at < timedelta(minutes=1)
        assert mfa_required_roles() == {"nurse", "admin"}
    event = last_event(app, "setting.update")
    assert event.user_id == staff["admin"]
    assert event.detail == {
        "key": "mfa_required_roles",
        "before": [],
        "after": ["nurse", "admin"],
    }
    page = admin.get("/admin/two-factor").data.decode()
    assert page.count("checked") == 2
    # A nurse now has to set up two-factor to finish signing in; the front desk does not.
    assert sign_in(app.test_client(), "nurse").headers["Location"] == "/login/enroll"
    assert sign_in(app.test_client(), "front_desk").headers["Location"] != "/login/enroll"

    assert admin.post("/admin/two-factor", data={}).status_code == 302
    with app.app_context():
        assert db.session.get(ClinicSetting, "mfa_required_roles").value == []
        assert mfa_required_roles() == set()


def test_two_factor_policy_refuses_an_unknown_role(app, as_role, staff):
    admin = as_role("admin")
    response = admin.post("/admin/two-factor", data={"roles": ["nurse", "owner"]})
    assert response.status_code == 400
    assert b"is-invalid" in response.data
    with app.app_context():
        assert db.session.get(ClinicSetting, "mfa_required_roles") is None
        assert (
            db.session.scalar(select(func.count()).where(AuditEvent.action == "setting.update"))
            == 0
        )
