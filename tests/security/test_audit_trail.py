"""The audit trail: one chained row per action in the same transaction as the change, reads of
charts recorded, refusals recorded, tampering detected by `flask audit verify` (also a rewrite
recomputed without the key, and against heads recorded elsewhere), and the migrated database
refusing UPDATE and DELETE outright, on PostgreSQL also to the app's limited role."""

import hashlib
import json
import os
import uuid
from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from clinic_app import audit, create_app
from clinic_app.extensions import db
from clinic_app.keys import derived_audit_key
from clinic_app.models import (
    AuditChainHead,
    AuditEvent,
    Patient,
    TreatmentSession,
    VitalsReading,
)
from clinic_app.patients import views as patient_views
from clinic_app.treatments import services as treatment_services
from config import TestingConfig
from tests import factories
from tests.helpers import make_staff, sign_in, signed_in

VITALS = {k: str(v) for k, v in factories.NORMAL_BP.items()}
NEW_PATIENT = {
    "mrn": "AUD-1",
    "first_name": "Audra",
    "last_name": "Trail",
    "date_of_birth": "1981-04-05",
    "sex": "female",
    "failed_trials": "2",
    "version_id": "0",
}


def _rows(app) -> list[AuditEvent]:
    with app.app_context():
        return db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()


def _new_actions(app, since: int) -> list[str]:
    return [row.action for row in _rows(app)[since:]]


def _verify(app) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def _execute(app, sql: str, **params) -> None:
    with app.app_context():
        db.session.execute(text(sql), params)
        db.session.commit()


def test_each_action_writes_one_chained_row(app, staff):
    with app.app_context():
        patient = factories.make_patient()
        course = factories.make_course(patient)
        db.session.commit()
        pid, cid = patient.id, course.id
    nurse = signed_in(app, "nurse")
    desk = signed_in(app, "front_desk")
    steps = []

    def step(expected: list[str], client, method: str, url: str, data=None):
        before = len(_rows(app))
        response = client.open(url, method=method, data=data)
        steps.append((url, response.status_code, _new_actions(app, before), expected))

    step(["session.start"], nurse, "POST", "/sessions/start", {"patient_id": pid, "course_id": cid})
    with app.app_context():
        treatment = db.session.scalar(select(TreatmentSession))
        sid, version = treatment.id, treatment.version_id
    predose = {k: "y" if v is True else v for k, v in factories.PREDOSE_OK.items()}
    step(
        ["session.predose"],
        nurse,
        "POST",
        f"/sessions/{sid}/predose",
        {**predose, "version_id": version},
    )
    step(["vitals.add"], nurse, "POST", f"/sessions/{sid}/vitals", VITALS)
    step(["session.view"], nurse, "GET", f"/sessions/{sid}")
    step(["patient.view"], nurse, "GET", f"/patients/{pid}")
    step(["patient.create"], desk, "POST", "/patients/new", NEW_PATIENT)
    with app.app_context():
        version = db.session.get(Patient, pid).version_id
    screen = {"allergies": "NKDA", "failed_trials": "2", "version_id": version}
    step(["patient.screen"], nurse, "POST", f"/patients/{pid}/screen", screen)
    step(["access.denied"], desk, "GET", f"/sessions/{sid}")
    step(["logout"], desk, "POST", "/logout")
    step(["login"], app.test_client(), "POST", "/login", {"username": "nurse", "password": "nope"})
    # A page listing patients is one row naming what it listed; one's own account is none.
    step(["list.today"], nurse, "GET", "/today")
    step(["patient.search"], nurse, "GET", "/patients/")
    step([], nurse, "GET", "/account")
    problems = [s for s in steps if s[2] != s[3]]
    assert not problems, problems

    rows = _rows(app)
    previous = audit.GENESIS
    with app.app_context():  # the key is the app's
        for row in rows:
            assert row.prev_hash == previous, row.id
            assert audit.row_hash(row) == row.row_hash, row.id
            assert row.row_hash != _plain_hash(row), row.id
            previous = row.row_hash
        assert audit.verify_chain() == (len(rows), None)
        head = db.session.get(AuditChainHead, 1)
        assert (head.head_hash, head.length) == (previous, len(rows))
    code, output = _verify(app)
    assert code == 0 and f"{len(rows)} rows verified" in output


def test_a_failing_request_leaves_neither_the_change_nor_its_audit_row(make_app, monkeypatch):
    app = make_app(TESTING=False)
    make_staff(app)
    with app.app_context():
        treatment = factories.dosed_session()
        db.session.commit()
        sid = treatment.id
    original_vitals = treatment_services.add_vitals
    original_create = patient_views.create_patient

    def vitals_then_fail(*args, **kwargs):
        original_vitals(*args, **kwargs)
        db.session.flush()  # the reading and its audit row are in the transaction now
        raise RuntimeError("failure after the service wrote")

    def create_then_fail(*args, **kwargs):
        original_create(*args, **kwargs)
        db.session.flush()
        raise RuntimeError("failure after the service wrote")

    monkeypatch.setattr(treatment_services, "add_vitals", vitals_then_fail)
    monkeypatch.setattr(patient_views, "create_patient", create_then_fail)
    before = _rows(app)
    with app.app_context():
        readings = db.session.scalar(select(func.count()).select_from(VitalsReading))

    nurse = signed_in(app, "nurse")
    after_login = len(_rows(app))
    assert nurse.post(f"/sessions/{sid}/vitals", data=VITALS).status_code == 500
    assert signed_in(app, "front_desk").post("/patients/new", data=NEW_PATIENT).status_code == 500

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(VitalsReading)) == readings
        assert db.session.scalar(select(func.count()).select_from(Patient)) == 1
        assert audit.verify_chain()[1] is None
    actions = [row.action for row in _rows(app)[len(before) :]]
    assert "vitals.add" not in actions and "patient.create" not in actions
    assert len(_rows(app)) == after_login + 1  # only the front desk's sign-in


ON_POSTGRESQL = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


def _history(app) -> list[int]:
    """A dozen chained rows; returns their ids."""
    make_staff(app)
    with app.app_context():
        factories.dosed_session()
        db.session.commit()
    rows = _rows(app)
    assert len(rows) >= 8
    assert _verify(app)[0] == 0
    return [row.id for row in rows]


def test_verify_detects_an_edited_row(app):
    ids = _history(app)
    middle = ids[len(ids) // 2]
    _execute(app, "UPDATE audit_events SET action = 'patient.view' WHERE id = :id", id=middle)
    code, output = _verify(app)
    assert code != 0
    assert f"row id {middle}" in output


def test_verify_detects_an_edited_row_with_its_hash_recomputed(app):
    ids = _history(app)
    middle = ids[len(ids) // 2]
    with app.app_context():
        row = db.session.get(AuditEvent, middle)
        row.outcome = "denied"
        forged = audit.row_hash(row)
        db.session.rollback()
    _execute(
        app,
        "UPDATE audit_events SET outcome = 'denied', row_hash = :h WHERE id = :id",
        h=forged,
        id=middle,
    )
    code, output = _verify(app)
    assert code != 0
    assert f"row id {ids[ids.index(middle) + 1]}" in output  # the next row no longer links


def test_verify_detects_a_deleted_middle_row(app):
    ids = _history(app)
    middle = ids[len(ids) // 2]
    _execute(app, "DELETE FROM audit_events WHERE id = :id", id=middle)
    code, output = _verify(app)
    assert code != 0
    assert f"row id {ids[ids.index(middle) + 1]}" in output


def test_verify_detects_rows_deleted_from_the_end(app):
    ids = _history(app)
    _execute(app, "DELETE FROM audit_events WHERE id >= :id", id=ids[-2])
    code, output = _verify(app)
    assert code != 0
    assert "removed from or added at the end" in output


def test_verify_detects_a_row_appended_behind_the_chain_head(app):
    ids = _history(app)
    with app.app_context():
        last = db.session.get(AuditEvent, ids[-1])
        fake = AuditEvent(
            occurred_at=last.occurred_at,
            user_id=None,
            role="",
            action="patient.view",
            entity_type="",
            entity_id=None,
            patient_id=None,
            outcome="success",
            request_id="forged",
            detail={},
            prev_hash=last.row_hash,
        )
        fake.row_hash = audit.row_hash(fake)
        db.session.add(fake)  # written without moving the chain head
        db.session.commit()
    assert _verify(app)[0] != 0


@pytest.mark.skipif(not ON_POSTGRESQL, reason="server-side cursors: PostgreSQL only")
def test_verify_closes_its_cursor_when_it_finds_a_broken_row(app):
    ids = _history(app)
    _execute(app, "UPDATE audit_events SET action = 'patient.view' WHERE id = :id", id=ids[2])
    with app.app_context():
        assert audit.verify_chain()[1] == ids[2]
        open_cursors = db.session.execute(text("SELECT count(*) FROM pg_cursors")).scalar_one()
        db.session.rollback()
    assert open_cursors == 0


def test_chart_and_session_views_name_the_patient(app, staff):
    ids_ = _history_ids(app)
    nurse = signed_in(app, "nurse")
    desk = signed_in(app, "front_desk")
    for client, url, action, user in (
        (nurse, f"/patients/{ids_['patient_id']}", "patient.view", "nurse"),
        (desk, f"/patients/{ids_['patient_id']}", "patient.view", "front_desk"),
        (nurse, f"/sessions/{ids_['session_id']}", "session.view", "nurse"),
    ):
        assert client.get(url).status_code == 200
        row = _rows(app)[-1]
        assert row.action == action, url
        assert row.patient_id == ids_["patient_id"], url
        assert row.user_id == staff[user] and row.role == user, url
        assert row.request_id and row.outcome == "success"


def _history_ids(app) -> dict[str, int]:
    with app.app_context():
        treatment = factories.dosed_session()
        db.session.commit()
        return {"patient_id": treatment.patient_id, "session_id": treatment.id}


def test_refused_access_is_recorded(app, staff):
    ids_ = _history_ids(app)
    desk = signed_in(app, "front_desk")
    assert desk.get(f"/sessions/{ids_['session_id']}").status_code == 403
    row = _rows(app)[-1]
    assert (row.action, row.outcome, row.user_id) == (
        "access.denied",
        "denied",
        staff["front_desk"],
    )
    assert row.detail == {
        "endpoint": "treatments.session",
        "method": "GET",
        "asked": {"session_id": ids_["session_id"]},
    }
    assert signed_in(app, "admin").post(f"/sessions/{ids_['session_id']}/vitals").status_code == 403
    row = _rows(app)[-1]
    assert (row.action, row.user_id) == ("access.denied", staff["admin"])
    assert row.detail == {
        "endpoint": "treatments.vitals",
        "method": "POST",
        "asked": {"session_id": ids_["session_id"]},
    }
    # Nothing else of the refused request was kept.
    assert [r.action for r in _rows(app)[-3:]] == ["access.denied", "login", "access.denied"]


# --- the database itself refuses edits (migrated schema) ----------------------------------


def test_the_migrated_database_refuses_update_and_delete(empty_database_url):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    try:
        with app.app_context():
            factories.make_user("admin", username="audit.admin")
            audit.record(None, "test.event")
            db.session.commit()
            count = db.session.scalar(select(func.count()).select_from(AuditEvent))
            for statement in (
                "UPDATE audit_events SET action = 'forged'",
                "UPDATE audit_events SET occurred_at = occurred_at",
                "DELETE FROM audit_events",
                "DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)",
            ):
                with pytest.raises(DBAPIError, match="append-only"):
                    db.session.execute(text(statement))
                    db.session.flush()
                db.session.rollback()
            assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == count
            assert "forged" not in db.session.scalars(select(AuditEvent.action)).all()
            assert audit.verify_chain() == (count, None)
            # Inserting is still allowed: the trail grows.
            audit.record(None, "test.event", when=str(date.today()))
            db.session.commit()
        code, output = _verify(app)
        assert code == 0, output
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_sign_in_failure_rows_verify_too(app, staff):
    for _ in range(3):
        sign_in(app.test_client(), "nurse", "wrong-password-here")
    with app.app_context():
        assert audit.verify_chain()[1] is None


# --- the chain is keyed, and its head can be anchored outside the database ----------------


def _plain_hash(event: AuditEvent) -> str:
    """The unkeyed SHA-256 recipe anyone can recompute from the database alone."""
    content = {name: getattr(event, name) for name in audit.HASHED_FIELDS}
    content["occurred_at"] = event.occurred_at.isoformat()
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def _rewrite(app, position: int, hash_of: Callable[[AuditEvent], str]) -> None:
    """What someone with database access does: edit one row (trigger dropped), then recompute
    every hash and the chain head so that the chain links again."""
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        events[position].outcome = "denied"
        previous = audit.GENESIS
        for event in events:
            event.prev_hash = previous
            event.row_hash = previous = hash_of(event)
        head = db.session.get(AuditChainHead, 1)
        head.head_hash = previous
        db.session.commit()


def test_a_rewrite_recomputed_with_the_plain_hash_is_detected(app):
    ids = _history(app)
    _rewrite(app, len(ids) // 2, _plain_hash)
    code, output = _verify(app)
    assert code != 0
    assert f"row id {ids[0]}" in output  # no row carries the keyed hash any more


def test_verify_prints_the_head_and_checks_heads_recorded_elsewhere(app):
    ids = _history(app)
    code, output = _verify(app)
    with app.app_context():
        last = db.session.get(AuditEvent, ids[-1]).row_hash
    assert code == 0 and output.splitlines()[-1] == f"Head: {len(ids)}:{last}"
    anchor = f"{len(ids)}:{last}"
    with app.app_context():
        audit.record(None, "test.event")
        db.session.commit()
    later = app.test_cli_runner().invoke(args=["audit", "verify", "--anchor", anchor])
    assert later.exit_code == 0, later.output
    assert f"Head: {len(ids) + 1}:" in later.output

    # Someone who also holds the key can recompute a valid chain, but not the recorded head.
    _rewrite(app, 1, audit.row_hash)
    assert _verify(app)[0] == 0
    rewritten = app.test_cli_runner().invoke(args=["audit", "verify", "--anchor", anchor])
    assert rewritten.exit_code != 0
    assert f"does not contain the recorded head {anchor}" in rewritten.output
    beyond = app.test_cli_runner().invoke(args=["audit", "verify", "--anchor", f"999:{last}"])
    assert beyond.exit_code != 0


def test_the_chain_is_keyed_by_audit_key_not_by_the_database(make_app):
    _history(make_app(AUDIT_KEY="k" * 32))
    assert _verify(make_app(AUDIT_KEY="k" * 32, SECRET_KEY="other-secret", empty=False))[0] == 0
    code, output = _verify(make_app(AUDIT_KEY="j" * 32, empty=False))
    assert code != 0 and "broken at row id" in output


def test_an_unset_audit_key_is_derived_from_secret_key(make_app):
    _history(make_app(SECRET_KEY="s" * 40))
    assert _verify(make_app(SECRET_KEY="t" * 40, empty=False))[0] != 0
    pinned = derived_audit_key("s" * 40)
    assert _verify(make_app(SECRET_KEY="t" * 40, AUDIT_KEY=pinned, empty=False))[0] == 0


def _migrated(url: str, **overrides):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url, **overrides)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return app


def _dispose(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_rekey_moves_the_trail_to_a_new_audit_key(empty_database_url):
    old = _migrated(empty_database_url, AUDIT_KEY="o" * 32)
    new = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url, AUDIT_KEY="n" * 32)
    try:
        with old.app_context():
            for _ in range(3):
                audit.record(None, "test.event")
            db.session.commit()
        assert _verify(new)[0] != 0
        wrong = new.test_cli_runner().invoke(args=["audit", "rekey"], input="x" * 32 + "\n")
        assert wrong.exit_code != 0 and "nothing was changed" in wrong.output
        assert _verify(old)[0] == 0

        done = new.test_cli_runner().invoke(args=["audit", "rekey"], input="o" * 32 + "\n")
        assert done.exit_code == 0 and "Re-keyed 3 audit rows" in done.output, done.output
        assert _verify(new)[0] == 0 and _verify(old)[0] != 0
        with new.app_context():  # the append-only trigger is back
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text("DELETE FROM audit_events"))
            db.session.rollback()
    finally:
        _dispose(old)
        _dispose(new)


def test_the_migration_rekeys_a_plain_chain_and_refuses_a_broken_one(
    empty_database_url, monkeypatch
):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    runner = app.test_cli_runner()
    try:
        assert runner.invoke(args=["db", "upgrade", "5a7c0e2d9b14"]).exit_code == 0
        with app.app_context(), monkeypatch.context() as old_recipe:
            old_recipe.setattr(audit, "row_hash", _plain_hash)
            # Rows through the audit trail only: the users table of this old revision lacks
            # columns today's model has.
            audit.record(None, "test.event", note="before keying")
            audit.record(None, "test.event", note="still before keying")
            db.session.commit()
            plain = db.session.scalars(select(AuditEvent.row_hash).order_by(AuditEvent.id)).all()
        assert len(plain) >= 2

        result = runner.invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        code, output = _verify(app)
        assert code == 0 and f"{len(plain)} rows verified" in output
        with app.app_context():
            keyed = db.session.scalars(select(AuditEvent.row_hash).order_by(AuditEvent.id)).all()
        assert not set(keyed) & set(plain)

        # Down again gives back the plain chain exactly.
        assert runner.invoke(args=["db", "downgrade", "5a7c0e2d9b14"]).exit_code == 0
        with app.app_context():
            again = db.session.scalars(select(AuditEvent.row_hash).order_by(AuditEvent.id)).all()
            assert again == plain
            # A link changed behind the trigger's back stops the upgrade.
            tampered = again[len(again) // 2]
            with audit._append_only_lifted():
                db.session.execute(
                    text("UPDATE audit_events SET prev_hash = :p WHERE row_hash = :h"),
                    {"p": "f" * 64, "h": tampered},
                )
            db.session.commit()
            tampered_id = db.session.scalar(
                select(AuditEvent.id).where(AuditEvent.row_hash == tampered)
            )
        broken = runner.invoke(args=["db", "upgrade"])
        assert broken.exit_code != 0
        assert f"audit trail broken at row id {tampered_id}" in broken.output, broken.output
    finally:
        _dispose(app)


# --- PostgreSQL: the app's login role cannot lift the protection --------------------------


@pytest.mark.skipif(not ON_POSTGRESQL, reason="database roles: PostgreSQL only")
def test_the_app_role_may_add_to_the_trail_but_not_change_or_unprotect_it(empty_database_url):
    owner = _migrated(empty_database_url)
    role = f"clinic_app_{uuid.uuid4().hex[:8]}"
    with owner.app_context():
        db.session.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        db.session.commit()
    limited = None
    try:
        refused = owner.test_cli_runner().invoke(args=["db", "grant-app-role", "postgres"])
        assert refused.exit_code != 0 and "superuser or owns the tables" in refused.output
        script = owner.test_cli_runner().invoke(args=["db", "grant-app-role", role, "--print-sql"])
        assert (
            script.exit_code == 0
            and f'REVOKE UPDATE, DELETE ON "public"."audit_events" FROM "{role}"' in script.output
        )
        granted = owner.test_cli_runner().invoke(args=["db", "grant-app-role", role])
        assert granted.exit_code == 0, granted.output

        url = make_url(empty_database_url).set(username=role, password=None)
        limited = create_app(
            TestingConfig, SQLALCHEMY_DATABASE_URI=url.render_as_string(hide_password=False)
        )
        with limited.app_context():  # the app works: rows written, the trail grows
            factories.make_user("admin", username="role.admin")
            audit.record(None, "test.event")
            db.session.commit()
            for statement in (
                "UPDATE audit_events SET action = 'forged'",
                "DELETE FROM audit_events",
                "TRUNCATE audit_events",
                "DROP TRIGGER audit_events_append_only ON audit_events",
                "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
                "ALTER TABLE audit_events DISABLE TRIGGER ALL",
                "DROP TABLE audit_events",
                "UPDATE alembic_version SET version_num = 'x'",
            ):
                with pytest.raises(DBAPIError, match="permission denied|must be owner"):
                    db.session.execute(text(statement))
                db.session.rollback()
        assert _verify(limited)[0] == 0
    finally:
        if limited is not None:
            _dispose(limited)
        with owner.app_context():
            db.session.execute(text(f'DROP OWNED BY "{role}"'))
            db.session.execute(text(f'DROP ROLE "{role}"'))
            db.session.commit()
        _dispose(owner)
