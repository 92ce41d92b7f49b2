"""Sign-in, two-factor and password forms."""

import re

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

CODE_CHARACTERS = re.compile(r"[0-9A-Za-z\- ]*")
CODE_ATTRS = {"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}


class LoginForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired(), Length(max=64)],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(max=128)],
        render_kw={"autocomplete": "current-password"},
    )


def _plain_characters(form, field) -> None:
    """Only ASCII digits, letters, dashes and spaces: what TOTP and backup codes are made of."""
    if not CODE_CHARACTERS.fullmatch(field.data or ""):
        raise ValidationError("Type the code with the digits 0-9 (backup codes: letters a-z).")


class CodeForm(FlaskForm):
    code = StringField(
        "Code from the authenticator app",
        validators=[DataRequired(), Length(max=20), _plain_characters],
        render_kw=CODE_ATTRS,
        description="Six digits. Lost the phone? Enter one of your backup codes.",
    )


class PasswordCheckForm(FlaskForm):
    password = PasswordField(
        "Your password",
        validators=[DataRequired(), Length(max=128)],
        render_kw={"autocomplete": "current-password"},
    )


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired(), Length(max=128)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(max=128)],
        render_kw={"autocomplete": "new-password"},
        description="At least 12 characters. A few unrelated words are easy to remember.",
    )
    confirm = PasswordField(
        "New password again",
        validators=[DataRequired(), EqualTo("new_password", "The two entries differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class SiteChoiceForm(FlaskForm):
    """The header's site picker: a site code, or ALL; `next` is the page to go back to."""

    site = StringField("Site", validators=[DataRequired(), Length(max=12)])
    next = HiddenField()
