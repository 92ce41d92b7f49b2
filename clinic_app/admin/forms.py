"""Forms for the admin screens: accounts, the two-factor policy and the audit trail search."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from clinic_app.clinical.addresses import US_STATES
from clinic_app.clinical.codes import Role
from clinic_app.clinical.dea import EXAMPLE as DEA_EXAMPLE
from clinic_app.clinical.us_zones import zone_options
from clinic_app.forms import CheckboxListField, choices
from clinic_app.ids import MAX_ID

ROLE_CHOICES = [(r.value, r.label) for r in Role]
# Accounts belong to one person: names that read like a post or a team are refused.
SHARED_NAMES = frozenset(
    {
        "admin",
        "administrator",
        "clinic",
        "desk",
        "doctor",
        "front_desk",
        "frontdesk",
        "guest",
        "nurse",
        "nurses",
        "psychiatrist",
        "reception",
        "root",
        "shared",
        "staff",
        "test",
        "user",
    }
)
# Action codes are dotted lower-case words; nothing else may reach a URL or a query.
ACTION_PATTERN = r"^[a-z_.]*$"
NEW_PASSWORD_HINT = (
    "At least 12 characters. Tell the person privately; they choose their own at the next sign-in."
)


class ActionForm(FlaskForm):
    """A button that posts: only the CSRF token."""


def _personal_username(form, field) -> None:
    if (field.data or "").strip().lower() in SHARED_NAMES:
        raise ValidationError(
            "Use a personal username (for example jsmith), not a shared name like this."
        )


def sites_field() -> CheckboxListField:
    """The sites a person works at; the view sets the choices (the open sites)."""
    return CheckboxListField("Sites", coerce=int, description="Where they work; at least one.")


class UserCreateForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[
            DataRequired(),
            Length(max=64),
            Regexp(r"^[A-Za-z0-9._-]+$", message="Letters, digits, dot, dash and underscore."),
            _personal_username,
        ],
        render_kw={"autocomplete": "off"},
        description="One person per account; never shared.",
    )
    full_name = StringField("Full name", validators=[DataRequired(), Length(max=120)])
    credentials = StringField(
        "Credentials", validators=[Length(max=32)], description="E.g. RN, MD. Optional."
    )
    role = SelectField("Role", choices=choices(ROLE_CHOICES), validators=[InputRequired()])
    password = PasswordField(
        "Initial password",
        validators=[DataRequired(), Length(max=128)],
        render_kw={"autocomplete": "new-password"},
        description=NEW_PASSWORD_HINT,
    )
    confirm = PasswordField(
        "Initial password again",
        validators=[DataRequired(), EqualTo("password", "The two entries differ.")],
        render_kw={"autocomplete": "new-password"},
    )
    sites = sites_field()


class UserSitesForm(FlaskForm):
    sites = sites_field()


class PasswordResetForm(FlaskForm):
    new_password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(max=128)],
        render_kw={"autocomplete": "new-password"},
        description=NEW_PASSWORD_HINT,
    )
    confirm = PasswordField(
        "New password again",
        validators=[DataRequired(), EqualTo("new_password", "The two entries differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class MfaPolicyForm(FlaskForm):
    roles = CheckboxListField(
        "Roles that must use two-factor sign-in",
        choices=choices(ROLE_CHOICES),
        description="People in a ticked role set up an authenticator app at their next sign-in.",
    )


class AuditSearchForm(FlaskForm):
    """What the admin types; posted, so a typed MRN never appears in a URL."""

    user_id = SelectField("User", coerce=int, validators=[Optional()])
    mrn = StringField(
        "Patient MRN", validators=[Optional(), Length(max=32)], render_kw={"autocomplete": "off"}
    )
    start = DateField("From", validators=[Optional()])
    end = DateField("To", validators=[Optional()])
    action = StringField(
        "Action",
        validators=[
            Optional(),
            Length(max=40),
            Regexp(ACTION_PATTERN, message="An action code, e.g. patient.view or user."),
        ],
        description="Starts with; e.g. patient.view, login, user.",
        render_kw={"autocomplete": "off"},
    )

    def validate_end(self, field):
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError("The end date is before the start date.")


class AuditFilterForm(FlaskForm):
    """The same filter as query parameters: numeric ids, ISO dates and an action code only."""

    class Meta:
        csrf = False

    user_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    patient_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    start = DateField(validators=[Optional()])
    end = DateField(validators=[Optional()])
    action = StringField(validators=[Optional(), Length(max=40), Regexp(ACTION_PATTERN)])
    before_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_ID)])

    def validate_end(self, field):
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError("The end date is before the start date.")


class AccessLookupForm(FlaskForm):
    mrn = StringField(
        "Patient MRN",
        validators=[DataRequired(), Length(max=32)],
        render_kw={"autocomplete": "off"},
        id="access-mrn",  # the audit page also has the search form's "mrn"
    )


def _text(label: str, max_length: int, description: str = "", **kwargs) -> StringField:
    return StringField(
        label, validators=[Length(max=max_length)], description=description, **kwargs
    )


class SiteForm(FlaskForm):
    """A site's details; the service checks each rule and puts its message by the field."""

    name = _text("Name", 120, "As patients and staff know it, for example Downtown LA.")
    code = _text(
        "Short code",
        12,
        "2 to 12 capital letters, digits or dashes (for example DTLA); used in links and filters.",
        render_kw={"autocomplete": "off"},
    )
    address_line1 = _text("Street address", 120, render_kw={"autocomplete": "address-line1"})
    address_line2 = _text(
        "Address line 2",
        120,
        "Suite or floor. Optional.",
        render_kw={"autocomplete": "address-line2"},
    )
    city = _text("City", 80, render_kw={"autocomplete": "address-level2"})
    state = SelectField(
        "State", choices=choices([("", "Choose…"), *((code, code) for code in US_STATES)])
    )
    zip_code = _text(
        "ZIP code", 10, "12345 or 12345-6789.", render_kw={"autocomplete": "postal-code"}
    )
    phone = _text("Phone", 32, "Optional.", render_kw={"autocomplete": "tel"})
    timezone = SelectField(
        "Time zone",
        choices=choices([("", "Choose…"), *zone_options()]),
        description="A zone of the site's state; the site's pages will show times in it.",
    )
    rems_certified = BooleanField("Certified in the SPRAVATO REMS as a healthcare setting")
    rems_setting_id = _text(
        "REMS healthcare setting ID",
        40,
        "From the REMS certification letter.",
        render_kw={"autocomplete": "off"},
    )
    rems_certified_on = DateField(
        "Certified on", validators=[Optional()], description="Not in the future."
    )
    dea_number = _text(
        "DEA registration number",
        12,
        f"This location's registration: two letters and seven digits, for example {DEA_EXAMPLE}. "
        "Optional.",
        render_kw={"autocomplete": "off"},
    )

    def keep_zone(self, name: str) -> None:
        """List a zone kept from before (not a US one) so the form shows what is stored; the
        service refuses to save it again."""
        self.timezone.choices = choices([("", "Choose…"), *zone_options(name)])
