"""Every admin route is the admin's alone: anonymous users go to sign in, other roles get 403
and change nothing (the refusal itself is audited)."""

from datetime import timedelta

import pytest
from flask import url_for
from sqlalchemy import func, select

from clinic_app.clinical.codes import Role
from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, Chair, ClinicSetting, Site, User, UserSession
from tests import factories
from tests.admin import (
    GOOD_SITE,
    NON_ADMIN_ROLES,
    STRONG_PASSWORD,
    actions,
    to_login,
    user_state,
)
from tests.helpers import sign_in

# Valid input for every admin POST, so a 403 cannot come from bad input.
POST_DATA = {
    "admin.new_user": {
        "username": "jsmith",
        "full_name": "Jo Smith",
        "role": "nurse",
        "password": STRONG_PASSWORD,
        "confirm": STRONG_PASSWORD,
        "sites": "{site_id}",
    },
    "admin.user_sites": {"sites": "{site_id}"},
    "admin.new_site": GOOD_SITE,
    "admin.edit_site": GOOD_SITE,
    "admin.reset_password": {"new_password": STRONG_PASSWORD, "confirm": STRONG_PASSWORD},
    "admin.mfa_policy": {"roles": ["nurse", "admin"]},
    "admin.audit_trail": {"user_id": "0", "mrn": "{mrn}"},
    "admin.access_lookup": {"mrn": "{mrn}"},
}


@pytest.fixture
def target(app, staff):
    """A second nurse, locked out, with two-factor on and a signed-in browser; a patient."""
    with app.app_context():
        from clinic_app.auth import mfa

        site = factories.site("MAIN")
        db.session.add(Chair(name="Chair 1", site=site))
        user = factories.make_user("nurse", username="target.nurse")
        user.failed_logins = 9
        user.locked_until = utcnow() + timedelta(minutes=30)
        mfa.store_new_secret(user)
        user.totp_enabled_at = utcnow()
        patient = factories.make_patient()
        db.session.flush()
        row = UserSession(
            token_hash="a" * 64, user_id=user.id, created_at=utcnow(), last_seen_at=utcnow()
        )
        db.session.add(row)
        db.session.commit()
        ids = {
            "user_id": user.id,
            "session_id": row.id,
            "patient_id": patient.id,
            "site_id": site.id,
        }
        return ids, patient.mrn


def _routes(app, ids):
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("admin."):
                continue
            url = url_for(rule.endpoint, **{name: ids[name] for name in rule.arguments})
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((method, url, rule.endpoint))
    return found


def _data(endpoint, mrn, site_id=None):
    data = POST_DATA.get(endpoint, {})
    return {
        k: v.format(mrn=mrn, site_id=site_id) if isinstance(v, str) else v for k, v in data.items()
    }


def _snapshot(app, ids):
    with app.app_context():
        return {
            "users": db.session.scalar(select(func.count()).select_from(User)),
            "settings": db.session.scalar(select(func.count()).select_from(ClinicSetting)),
            "revoked": db.session.scalar(
                select(func.count()).where(UserSession.revoked_at.is_not(None))
            ),
            "sites": db.session.execute(select(Site.code, Site.name, Site.active)).all(),
            "chairs in service": db.session.scalar(select(func.count()).where(Chair.active)),
            "user sites": [s.code for s in db.session.get(User, ids["user_id"]).sites],
        } | user_state(app, ids["user_id"])


def test_every_admin_view_is_gated_to_the_admin_role(app):
    views = {e: v for e, v in app.view_functions.items() if e.startswith("admin.")}
    assert len(views) == 21
    for endpoint, view in views.items():
        assert view.allowed_roles == frozenset({Role.ADMIN}), endpoint


def test_anonymous_users_are_sent_to_sign_in(app, client, target):
    ids, mrn = target
    before = len(actions(app, exclude=()))
    for method, url, endpoint in _routes(app, ids):
        data = _data(endpoint, mrn) if method == "POST" else None
        response = client.open(url, method=method, data=data)
        assert to_login(response), (method, url, response.status_code)
    assert len(actions(app, exclude=())) == before


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_get_403_and_change_nothing(app, as_role, staff, target, role):
    ids, mrn = target
    before = _snapshot(app, ids)
    other = as_role(role)
    own_before = actions(app, staff[role])
    routes = _routes(app, ids)
    for method, url, endpoint in routes:
        data = _data(endpoint, mrn, ids["site_id"]) if method == "POST" else None
        response = other.open(url, method=method, data=data)
        assert response.status_code == 403, (method, url, response.status_code)
    assert _snapshot(app, ids) == before
    written = actions(app, staff[role])[len(own_before) :]
    assert written == ["access.denied"] * len(routes)
    with app.app_context():
        denied = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.user_id == staff[role], AuditEvent.action == "access.denied"
            )
        ).all()
        assert {e.outcome for e in denied} == {"denied"}
        assert {e.detail["endpoint"] for e in denied} == {e for _, _, e in routes}
    # The refused user is still signed in and their own pages work.
    assert other.get("/account").status_code == 200


def test_admin_starts_on_the_users_page(app, client, staff):
    response = sign_in(client, "admin")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/users"
    page = client.get("/admin/users")
    assert page.status_code == 200
    for label in (b">Users<", b">Sites<", b">Sessions<", b">Audit<"):
        assert label in page.data


def test_other_roles_do_not_see_the_admin_menu(app, as_role):
    page = as_role("nurse").get("/patients/")
    assert page.status_code == 200
    assert b"/admin/" not in page.data
