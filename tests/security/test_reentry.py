"""Password re-entry (signing, co-signing, a dose above the usual maximum, the two-factor and
password pages) counts wrong passwords with the sign-in lockout: a stolen session cannot guess
the password for ever. The failure that locks signs the user out, and every failure is audited."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, User, UserSession
from tests import factories
from tests.helpers import PASSWORD, sign_in
from tests.review import builders

START = datetime(2030, 3, 4, 17, 0, tzinfo=UTC)
WRONG = "not-my-password-at-all"


@dataclass
class Reentry:
    role: str
    url: str
    form: dict[str, Any]  # the rest of the form; the password goes in `field`
    action: str
    field: str = "password"


def _reentry(app, name: str) -> Reentry:
    """A page that asks `role` for the password again, with everything else filled in right."""
    with app.app_context():
        if name == "sign":
            patient, course = builders.patient_with_course()
            treatment = builders.add_session(patient, course, status="discharged", days_ago=0.1)
            factories.rems_answered(treatment)
            sid = treatment.id
            spec = Reentry("nurse", f"/sessions/{sid}/sign", {}, "session.sign")
        elif name == "cosign":
            patient, course = builders.patient_with_course()
            sid = builders.add_session(patient, course, status="signed").id
            spec = Reentry(
                "psychiatrist",
                f"/review/sessions/{sid}/cosign",
                {"note": "Reviewed the readings; agree."},
                "session.cosign",
            )
        elif name == "course_above_usual_dose":
            patient, _ = builders.patient_with_course()
            spec = Reentry(
                "psychiatrist",
                f"/patients/{patient.id}/courses/new",
                {
                    "modality": "iv_ketamine",
                    "indication": "trd",
                    "iv_mg_per_kg": "2.0",
                    "iv_minutes": "40",
                    "esketamine_dose_mg": "56",
                    "started_on": "2030-03-04",
                    "dose_reason": "No response at 1 mg/kg.",
                },
                "course.open",
            )
        elif name == "dose_change_above_usual":
            _, course = builders.patient_with_course("iv_ketamine")
            spec = Reentry(
                "psychiatrist",
                f"/review/courses/{course.id}/dose",
                {"iv_mg_per_kg": "2.0", "reason": "No response at 1 mg/kg."},
                "course.decision",
            )
        elif name == "two_factor_start":
            spec = Reentry("psychiatrist", "/account/two-factor/start", {}, "user.mfa_start")
        elif name == "two_factor_disable":
            spec = Reentry(
                "psychiatrist",
                "/account/two-factor/disable",
                {},
                "user.mfa_disable",
                field="off-password",
            )
        else:
            assert name == "password_change"
            spec = Reentry(
                "nurse",
                "/account/password",
                {"new_password": "purple tractor whispers", "confirm": "purple tractor whispers"},
                "user.password_change",
                field="current_password",
            )
        db.session.commit()
    return spec


PAGES = (
    "sign",
    "cosign",
    "course_above_usual_dose",
    "dose_change_above_usual",
    "two_factor_start",
    "two_factor_disable",
    "password_change",
)


def _user(app, username: str) -> User:
    with app.app_context():
        return db.session.scalar(select(User).where(User.username == username))


def _failures(app, action: str) -> list[dict]:
    with app.app_context():
        return [
            e.detail
            for e in db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.outcome == "failure")
                .order_by(AuditEvent.id)
            )
        ]


@pytest.mark.parametrize("name", PAGES)
def test_wrong_passwords_lock_the_account_and_sign_the_user_out(app, staff, name):
    clock.freeze(START)
    spec = _reentry(app, name)
    client = app.test_client()
    assert sign_in(client, spec.role).status_code == 302
    other_browser = app.test_client()
    assert sign_in(other_browser, spec.role).status_code == 302
    for attempt in range(1, 6):
        response = client.post(spec.url, data={**spec.form, spec.field: WRONG})
        assert response.status_code in (302, 400), (attempt, response.status_code)
        assert _user(app, spec.role).failed_logins == attempt
    user = _user(app, spec.role)
    assert user.locked_until == START + timedelta(minutes=1)
    # Signed out everywhere: this browser and the other one go to the sign-in page.
    for browser in (client, other_browser):
        gone = browser.get("/account")
        assert gone.status_code == 302 and gone.headers["Location"].startswith("/login")
    with app.app_context():
        live = db.session.scalars(
            select(UserSession).where(
                UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
            )
        ).all()
        assert live == []
    # Every failure is in the trail; the fifth says it locked the account.
    failures = _failures(app, spec.action)
    assert [f["reason"] for f in failures] == ["bad_password"] * 5
    assert [f.get("locked", False) for f in failures] == [False] * 4 + [True]
    # The right password does not sign in until the lock has passed.
    assert sign_in(app.test_client(), spec.role).status_code == 401
    clock.advance(timedelta(minutes=1, seconds=1))
    assert sign_in(app.test_client(), spec.role).status_code == 302


def test_a_locked_account_cannot_reenter_even_the_right_password(app, staff):
    """Someone guessing at the sign-in page locks the account: a browser signed in before
    cannot then confirm anything with a password until the lock passes."""
    clock.freeze(START)
    spec = _reentry(app, "cosign")
    client = app.test_client()
    sign_in(client, "psychiatrist")
    for _ in range(5):
        assert sign_in(app.test_client(), "psychiatrist", WRONG).status_code == 401
    refused = client.post(spec.url, data={**spec.form, "password": PASSWORD})
    assert refused.status_code == 400
    assert b"the account is locked for a few minutes" in refused.data
    assert _user(app, "psychiatrist").failed_logins == 5  # not checked, not counted
    assert [f["reason"] for f in _failures(app, "session.cosign")] == ["locked"]
    clock.advance(timedelta(minutes=1, seconds=1))
    assert client.post(spec.url, data={**spec.form, "password": PASSWORD}).status_code == 302


def test_wrong_reentries_and_wrong_sign_ins_share_one_counter(app, staff):
    clock.freeze(START)
    spec = _reentry(app, "sign")
    client = app.test_client()
    sign_in(client, "nurse")
    for _ in range(2):
        assert client.post(spec.url, data={"password": WRONG}).status_code == 400
    for _ in range(2):
        assert sign_in(app.test_client(), "nurse", WRONG).status_code == 401
    assert _user(app, "nurse").failed_logins == 4
    # A right re-entry is not a sign-in: it does not forgive the failures either.
    start = client.post("/account/two-factor/start", data={"password": PASSWORD})
    assert start.headers["Location"] == "/account/two-factor"
    assert _user(app, "nurse").failed_logins == 4
    assert client.post(spec.url, data={"password": WRONG}).status_code == 400
    assert _user(app, "nurse").locked_until == START + timedelta(minutes=1)
    assert client.get("/today").headers["Location"].startswith("/login")
