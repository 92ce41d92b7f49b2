"""The one way a form view handles a submission (clinic_app.form_flow): commit and redirect on
success; otherwise nothing saved (except a recorded failed attempt), the messages by their
fields or flashed, and the status the refusal calls for."""

import pytest
from flask import get_flashed_messages
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from clinic_app.clinical.discharge import Blocker
from clinic_app.errors import Conflict, DischargeBlocked, FieldErrors, RuleViolation, StaleRecord
from clinic_app.extensions import db
from clinic_app.form_flow import show_refusal, submit
from clinic_app.models import ClinicSetting


class NoteForm(FlaskForm):
    note = StringField(validators=[DataRequired()])
    password = PasswordField()


def _stored_keys() -> set[str]:
    return set(db.session.scalars(select(ClinicSetting.key)))


def _run(app, action, data=None, method="POST", **options):
    """Submit NoteForm with `data` through `submit`; (status, refusal seen by the page, form,
    flashed messages, Location) after the request."""
    seen = {}
    with app.test_request_context("/", method=method, data=data or {"note": "ok"}):
        form = NoteForm()

        def page(status, refusal):
            seen["refusal"] = refusal
            return "page", status

        response = submit(form, action, page=page, done=lambda _: "/done", **options)
        flashes = get_flashed_messages(with_categories=True)
        if isinstance(response, tuple):
            return response[1], seen["refusal"], form, flashes, None
        return response.status_code, None, form, flashes, response.headers["Location"]


def _write_then(error):
    def action():
        db.session.add(ClinicSetting(key="written", value=1))
        db.session.flush()
        if error is not None:
            raise error
        return "result"

    return action


def test_success_commits_flashes_and_redirects(app):
    status, _, _, flashes, location = _run(
        app, _write_then(None), success=lambda result: f"Saved {result}."
    )
    assert (status, location) == (302, "/done")
    assert flashes == [("success", "Saved result.")]
    with app.app_context():
        assert _stored_keys() == {"written"}


def test_a_first_get_shows_the_page_without_running_the_service(app):
    status, refusal, form, _, _ = _run(app, _write_then(None), method="GET")
    assert (status, refusal, form.errors) == (200, None, {})
    with app.app_context():
        assert _stored_keys() == set()


def test_bad_input_is_a_400_and_the_service_does_not_run(app):
    status, refusal, form, _, _ = _run(app, _write_then(None), data={"note": ""})
    assert (status, refusal) == (400, None)
    assert form.note.errors
    with app.app_context():
        assert _stored_keys() == set()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (RuleViolation("No.", "note"), 400),
        (FieldErrors({"note": "No."}), 400),
        (DischargeBlocked([Blocker("gait", "Not steady.")]), 409),
        (Conflict("Chair taken.", {0: ("chair", "Chair taken.")}), 409),
    ],
)
def test_a_refusal_saves_nothing(app, error, status):
    got, refusal, _, _, _ = _run(app, _write_then(error))
    assert (got, refusal) == (status, error)
    with app.app_context():
        assert _stored_keys() == set()


@pytest.mark.parametrize("stale", [StaleRecord(), StaleDataError()])
def test_someone_else_saving_first_is_a_409_with_the_message(app, stale):
    status, refusal, _, flashes, _ = _run(app, _write_then(stale), stale_message="Changed.")
    assert status == 409 and isinstance(refusal, StaleRecord)
    assert flashes == [("warning", "Changed.")]
    with app.app_context():
        assert _stored_keys() == set()


def test_a_recorded_failed_attempt_is_kept(app):
    wrong = RuleViolation("The password is not correct.", "password")
    status, _, form, _, _ = _run(app, _write_then(wrong), attempt_field="password")
    assert status == 400
    assert form.password.errors == ["The password is not correct."]
    with app.app_context():
        assert _stored_keys() == {"written"}
    # Any other refusal still rolls back.
    other = RuleViolation("No.", "note")
    with app.app_context():
        db.session.execute(ClinicSetting.__table__.delete())
        db.session.commit()
    _run(app, _write_then(other), attempt_field="password")
    with app.app_context():
        assert _stored_keys() == set()


def _shown(app, error, **options):
    with app.test_request_context("/", method="POST", data={"note": "ok"}):
        form = NoteForm()
        form.validate()
        show_refusal(form, error, **options)
        return form.errors, get_flashed_messages(with_categories=True)


def test_a_refusal_goes_by_its_field_or_is_flashed(app):
    assert _shown(app, RuleViolation("Too short.", "note")) == ({"note": ["Too short."]}, [])
    assert _shown(app, RuleViolation("Locked.")) == ({}, [("danger", "Locked.")])
    assert _shown(app, RuleViolation("Elsewhere.", "missing")) == ({}, [("danger", "Elsewhere.")])
    assert _shown(app, FieldErrors({"note": "Bad.", "__all__": "Contradicts."})) == (
        {"note": ["Bad."]},
        [("danger", "Contradicts.")],
    )


def test_coded_refusals_go_by_the_field_their_code_names(app):
    blocked = DischargeBlocked([Blocker("gait", "Not steady."), Blocker("stay", "Too early.")])
    # The page lists every blocker; only those with a field are repeated there, none flashed.
    assert _shown(app, blocked, code_fields={"gait": "note"}) == ({"note": ["Not steady."]}, [])
    conflict = Conflict("Not booked.", {0: ("chair", "Chair taken."), 1: ("hours", "Late.")})
    assert _shown(app, conflict, code_fields={"chair": "note"}) == (
        {"note": ["Chair taken."]},
        [("danger", "Not booked.")],
    )
