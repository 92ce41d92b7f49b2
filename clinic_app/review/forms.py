"""The psychiatrist's forms: co-signature, alert acknowledgement, course decisions, clinic
settings; and PHQ-9 / GAD-7 given outside a session."""

from datetime import datetime

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    DecimalField,
    Field,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from clinic_app.clinical.us_zones import zone_options
from clinic_app.forms import CheckboxListField, choices
from clinic_app.review import setting_specs as specs
from clinic_app.treatments.forms import Gad7Form, Phq9Form


class CosignForm(FlaskForm):
    note = TextAreaField(
        "Attestation note",
        validators=[DataRequired(message="Write the attestation note."), Length(max=2000)],
        description="What you reviewed and agree with; shown with your co-signature.",
    )
    password = PasswordField(
        "Your password",
        validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )


class ChairForm(FlaskForm):
    """A new chair, or (with prefix "chair<id>") one chair's row on the chairs page."""

    name = StringField(
        "Chair name",
        validators=[DataRequired(message="Give the chair a name."), Length(max=40)],
        description="As staff say it, for example Chair 5 or Recliner B.",
    )
    active = BooleanField("In service", default=True)


class NewChairForm(ChairForm):
    """A new chair and the open site it is at (the view sets the choices)."""

    site_id = SelectField("Site", coerce=int, validators=[InputRequired()])


class AcknowledgeForm(FlaskForm):
    """One per alert on the queue (built with prefix "alert<id>" so ids stay unique)."""

    note = StringField(
        "Action taken",
        validators=[DataRequired(message="Say what was done."), Length(max=500)],
        description="For example: called the patient, safety plan reviewed.",
    )


OUTSIDE_HINT = "Leave blank for now; earlier dates are fine."


class OutsidePhq9Form(Phq9Form):
    administered_at = DateTimeLocalField(
        "Given at", format="%Y-%m-%dT%H:%M", validators=[Optional()], description=OUTSIDE_HINT
    )


class OutsideGad7Form(Gad7Form):
    administered_at = DateTimeLocalField(
        "Given at", format="%Y-%m-%dT%H:%M", validators=[Optional()], description=OUTSIDE_HINT
    )


# --- course decisions ----------------------------------------------------------------------


class InductionReviewForm(FlaskForm):
    note = TextAreaField(
        "Review note",
        validators=[DataRequired(message="Write the review note."), Length(max=2000)],
    )


class MaintenanceForm(FlaskForm):
    interval_days = IntegerField(
        "Maintenance every (days)",
        validators=[InputRequired(message="Give the interval in days."), NumberRange(1, 90)],
    )
    reason = TextAreaField("Note", validators=[Optional(), Length(max=2000)])


class DoseChangeForm(FlaskForm):
    esketamine_dose_mg = SelectField(
        "New dose",
        choices=choices([("56", "56 mg (2 devices)"), ("84", "84 mg (3 devices)")]),
        validators=[Optional()],
    )
    iv_mg_per_kg = DecimalField(
        "New dose (mg/kg)",
        places=2,
        validators=[Optional(), NumberRange(min=0.1, max=2)],
        description="0.1–2 mg/kg.",
    )
    reason = TextAreaField(
        "Reason",
        validators=[DataRequired(message="Give the reason for the change."), Length(max=2000)],
    )
    password = PasswordField(
        "Your password (confirms a dose above the usual maximum)",
        render_kw={"autocomplete": "current-password"},
    )


class StopForm(FlaskForm):
    reason = StringField(
        "Reason for stopping",
        validators=[DataRequired(message="Give the reason for stopping."), Length(max=200)],
    )


# --- clinic settings -------------------------------------------------------------------------

WEEKDAY_CHOICES = choices(list(enumerate(specs.WEEKDAY_LABELS)))


class ClosedDatesField(TextAreaField):
    """ISO dates (YYYY-MM-DD) separated by commas, spaces or new lines."""

    def process_formdata(self, valuelist):
        if valuelist:
            self.raw_text = valuelist[0]
            good, bad = specs.parse_dates(valuelist[0])
            self.data = good
            self.bad_entries = bad

    def _value(self) -> str:
        if getattr(self, "raw_text", None) is not None:
            return self.raw_text
        return "\n".join(day.isoformat() for day in self.data or [])

    def pre_validate(self, form) -> None:
        bad = getattr(self, "bad_entries", [])
        if bad:
            raise ValidationError(f"Not a date (YYYY-MM-DD): {', '.join(bad[:5])}.")


def _setting_field(spec: specs.SettingSpec) -> Field:
    label = spec.label
    hint = spec.hint
    if spec.kind == specs.INT:
        return IntegerField(
            label,
            validators=[InputRequired(), NumberRange(spec.low, spec.high)],
            description=hint,
            render_kw={"inputmode": "numeric", "min": spec.low, "max": spec.high},
        )
    if spec.kind == specs.FLOAT:
        return DecimalField(
            label,
            places=2,
            validators=[InputRequired(), NumberRange(spec.low, spec.high)],
            description=hint,
        )
    if spec.kind == specs.TIME:
        return TimeField(label, validators=[InputRequired()], description="Clinic-local time.")
    if spec.kind == specs.WEEKDAYS:
        return CheckboxListField(label, coerce=int, choices=WEEKDAY_CHOICES)
    if spec.kind == specs.TEXT:
        required = [InputRequired()] if spec.low else [Optional()]
        return StringField(label, validators=[*required, Length(max=int(spec.high or 0))])
    if spec.kind == specs.DATES:
        return ClosedDatesField(
            label,
            description="Dates as YYYY-MM-DD, one per line or separated by commas.",
            render_kw={"rows": 2},
        )
    return SelectField(
        label,
        choices=choices(zone_options()),
        description="A US time zone, as the sites' are; each site's pages show its own zone.",
    )


class SettingsForm(FlaskForm):
    """One field per setting, named by its key (built below from the specs)."""

    def keep_zone(self, stored: str) -> None:
        """List the stored clinic zone when it is not a US one (set before the picker offered
        only US zones), so the form shows it and it can be kept or changed."""
        self["timezone"].choices = choices(zone_options(stored))

    def values(self) -> dict:
        """Each setting as it would be stored."""
        return {spec.key: specs.to_stored(spec, self[spec.key].data) for spec in specs.SPECS}


for _spec in specs.SPECS:
    setattr(SettingsForm, _spec.key, _setting_field(_spec))


def settings_form_data(values: dict) -> dict:
    """Form defaults from normalised (stored-form) values."""
    data = {}
    for spec in specs.SPECS:
        value = values[spec.key]
        if spec.kind == specs.TIME:
            value = datetime.strptime(value, "%H:%M").time()
        elif spec.kind == specs.DATES:
            value = [datetime.strptime(day, "%Y-%m-%d").date() for day in value]
        data[spec.key] = value
    return data
