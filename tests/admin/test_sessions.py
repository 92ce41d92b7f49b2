"""Signed-in sessions: the list of live browsers and ending one of them."""

from datetime import timedelta

from sqlalchemy import select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import UserSession
from tests.admin import last_event, live_sessions, to_login


def _session_ids(app, user_id) -> list[int]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(UserSession.id)
                .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
                .order_by(UserSession.id)
            )
        )


def test_sessions_page_lists_live_sessions(app, staff):
    nurse = app.test_client()
    nurse.post(
        "/login",
        data={"username": "nurse", "password": "correct-horse-battery"},
        headers={"User-Agent": "ChairsideTablet/1.0"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    admin = app.test_client()
    admin.post("/login", data={"username": "admin", "password": "correct-horse-battery"})
    page = admin.get("/admin/sessions")
    assert page.status_code == 200
    html = page.data.decode()
    assert f'/admin/users/{staff["nurse"]}">nurse</a>' in html
    assert "10.1.2.3" in html
    assert "ChairsideTablet/1.0" in html
    assert "this browser" in html  # the admin's own row, without an End button
    assert html.count("End session") == 1


def test_revoked_and_expired_sessions_are_not_listed(app, as_role, staff):
    as_role("nurse")
    psychiatrist = as_role("psychiatrist")
    psychiatrist.post("/logout")
    admin = as_role("admin")
    with app.app_context():
        # The nurse's browser has been idle past the limit (it is revoked on its next request).
        row = db.session.scalar(select(UserSession).where(UserSession.user_id == staff["nurse"]))
        row.last_seen_at -= timedelta(minutes=app.config["IDLE_TIMEOUT_MINUTES"] + 1)
        db.session.commit()
    html = admin.get("/admin/sessions").data.decode()
    assert f'/admin/users/{staff["nurse"]}"' not in html
    assert f'/admin/users/{staff["psychiatrist"]}"' not in html
    assert f'/admin/users/{staff["admin"]}"' in html


def test_ending_a_session_makes_that_browsers_cookie_useless(app, as_role, staff):
    nurse = as_role("nurse")
    other_nurse_browser = as_role("nurse")
    assert nurse.get("/today").status_code == 200
    first, second = _session_ids(app, staff["nurse"])
    admin = as_role("admin")

    response = admin.post(f"/admin/sessions/{first}/end")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/sessions"
    with app.app_context():
        row = db.session.get(UserSession, first)
        assert row.revoked_at is not None
        assert row.revoked_reason == "ended_by_admin"
    event = last_event(app, "session.end")
    assert (event.user_id, event.entity_type, event.entity_id) == (
        staff["admin"],
        "UserSession",
        first,
    )
    assert event.detail == {"of_user_id": staff["nurse"]}
    # Replaying the ended browser's cookie: sent to sign in. The other browser is unaffected.
    assert to_login(nurse.get("/today"))
    assert other_nurse_browser.get("/today").status_code == 200
    assert _session_ids(app, staff["nurse"]) == [second]


def test_ending_from_the_users_page_returns_there(app, as_role, staff):
    as_role("nurse")
    (sid,) = _session_ids(app, staff["nurse"])
    admin = as_role("admin")
    page = admin.get(f"/admin/users/{staff['nurse']}")
    assert f"/admin/sessions/{sid}/end" in page.data.decode()
    response = admin.post(f"/admin/sessions/{sid}/end", data={"back": staff["nurse"]})
    assert response.headers["Location"] == f"/admin/users/{staff['nurse']}"
    assert live_sessions(app, staff["nurse"]) == 0


def test_an_admin_cannot_end_their_own_session_here_or_an_ended_one(app, as_role, staff):
    nurse = as_role("nurse")
    admin = as_role("admin")
    (own,) = _session_ids(app, staff["admin"])
    response = admin.post(f"/admin/sessions/{own}/end")
    assert response.status_code == 400
    assert b"use Sign out instead" in response.data
    assert admin.get("/admin/sessions").status_code == 200

    nurse.post("/logout")
    (ended,) = [r.id for r in _all_sessions(app, staff["nurse"]) if r.revoked_reason == "logout"]
    response = admin.post(f"/admin/sessions/{ended}/end")
    assert response.status_code == 400
    assert b"already ended" in response.data
    assert admin.post("/admin/sessions/9999/end").status_code == 404


def _all_sessions(app, user_id) -> list[UserSession]:
    with app.app_context():
        rows = db.session.scalars(select(UserSession).where(UserSession.user_id == user_id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def test_a_session_ended_while_the_clock_runs_on_stays_ended(app, as_role, staff):
    nurse = as_role("nurse")
    (sid,) = _session_ids(app, staff["nurse"])
    as_role("admin").post(f"/admin/sessions/{sid}/end")
    clock.advance(timedelta(minutes=5))
    assert to_login(nurse.get("/today"))
    assert to_login(nurse.get("/today"))
