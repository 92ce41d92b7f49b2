"""One way to handle a submitted form: validate, call one service, commit once and redirect.

When the input is bad or the service refuses, nothing is saved and the page is shown again with
the input kept and each message next to its field (flashed when it belongs to no field): 400 for
bad input or a refused rule, 409 when someone else saved first or a discharge or calendar check
refuses.
"""

from collections.abc import Callable, Mapping
from typing import Any

from flask import Response, flash, redirect
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy.orm.exc import StaleDataError

from clinic_app.errors import Conflict, DischargeBlocked, FieldErrors, RuleViolation, StaleRecord
from clinic_app.extensions import db

# page(status, refusal): the page again with the form; `refusal` is None for bad input (or a
# first GET), else the error, after the transaction was rolled back (load rows afresh).
Page = Callable[[int, Exception | None], ResponseReturnValue]

STALE_MESSAGE = "Someone else saved this record since you opened it; check it and save again."


def submit(
    form: FlaskForm,
    action: Callable[[], Any],
    *,
    page: Page,
    done: Callable[[Any], str | Response],
    success: str | Callable[[Any], str] | None = None,
    code_fields: Mapping[str, str] | None = None,
    attempt_field: str | None = None,
    stale_message: str = STALE_MESSAGE,
) -> ResponseReturnValue:
    """Run `action` (the service call) for a valid submission of `form` and commit.

    done(result): the URL to redirect to once committed (or a Response to send instead).
    success: flashed once committed: a text, or a function of the action's result.
    code_fields: the field of `form` each coded refusal belongs to (discharge blockers, calendar
        problems).
    attempt_field: a refusal on this field has recorded a failed attempt (a wrong password, a
        used code): it is committed so the audit row and the failure count stay.
    stale_message: flashed when someone else saved the record first (status 409).
    """
    if not form.validate_on_submit():
        if not form.is_submitted():
            return page(200, None)
        db.session.rollback()
        return page(400, None)
    try:
        result = action()
        db.session.commit()
    except (StaleRecord, StaleDataError):
        db.session.rollback()
        flash(stale_message, "warning")
        return page(409, StaleRecord())
    except (RuleViolation, FieldErrors) as error:
        if attempt_field is not None and getattr(error, "field", None) == attempt_field:
            db.session.commit()
        else:
            db.session.rollback()
        show_refusal(form, error, code_fields)
        return page(_refusal_status(error), error)
    if success is not None:
        flash(success(result) if callable(success) else success, "success")
    target = done(result)
    return redirect(target) if isinstance(target, str) else target


def _refusal_status(error: Exception) -> int:
    """409 when the record or the calendar changed under the user or discharge is blocked;
    400 for any other refusal."""
    return 409 if isinstance(error, StaleRecord | DischargeBlocked | Conflict) else 400


def show_refusal(
    form: FlaskForm,
    error: RuleViolation | FieldErrors,
    code_fields: Mapping[str, str] | None = None,
) -> None:
    """Put a service's refusal next to its fields of `form`; flash what belongs to none.

    Discharge blockers go only by their fields (the page lists them all); a calendar conflict is
    flashed and its first visit's problems go by their fields.
    """
    code_fields = code_fields or {}
    if isinstance(error, FieldErrors):
        for name, message in error.errors.items():
            _by_field(form, name, message)
    elif isinstance(error, DischargeBlocked):
        for blocker in error.blockers:
            _by_field(form, code_fields.get(blocker.code), blocker.message, flash_else=False)
    elif isinstance(error, Conflict):
        flash(error.message, "danger")
        if 0 in error.problems:
            code, message = error.problems[0]
            _by_field(form, code_fields.get(code), message, flash_else=False)
    else:
        _by_field(form, error.field, error.message)


def _by_field(form: FlaskForm, name: str | None, message: str, flash_else: bool = True) -> None:
    if name and name in form:
        form[name].errors = [*form[name].errors, message]
    elif flash_else:
        flash(message, "danger")
