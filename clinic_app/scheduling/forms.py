"""Forms of the front desk's calendar. Dates and times are clinic-local."""

from contextlib import suppress
from datetime import date, time, timedelta

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TimeField,
    widgets,
)
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange, Optional, ValidationError

from clinic_app.clinical.attendance import DRIVER_LABELS, CancelReason, NoShowReason
from clinic_app.clinical.codes import DriverStatus, VisitKind
from clinic_app.forms import CheckboxListField, choices, hidden_id
from clinic_app.patients.forms import WEEKDAY_LABELS
from clinic_app.settings import clinic_today

MAX_VISITS = 24
PLAN_AHEAD_DAYS = 366
WEEKDAYS = choices(list(enumerate(WEEKDAY_LABELS)))
SCOPE_CHOICES = choices(
    [("this", "This visit only"), ("following", "This and the following visits of the series")]
)


class ClockField(TimeField):
    """A clinic time typed as 24-hour HH:MM, as every page shows times: a browser's time picker
    follows the viewer's locale and may show AM/PM."""

    widget = widgets.TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        render_kw = {
            "inputmode": "numeric",
            "pattern": r"([01]?\d|2[0-3]):[0-5]\d",
            "placeholder": "HH:MM",
            "maxlength": 5,
            "autocomplete": "off",
            **kwargs.pop("render_kw", {}),
        }
        super().__init__(
            label,
            validators,
            format="%H:%M",
            invalid_value_message="Enter the time as HH:MM, 24-hour (e.g. 14:30).",
            render_kw=render_kw,
            **kwargs,
        )


def optional_int(value) -> int | None:
    """Coerce a select's value to an id; the blank placeholder stays None."""
    if value in ("", None):
        return None
    return int(value)


def _not_in_the_past(form, field) -> None:
    if field.data and field.data < clinic_today():
        raise ValidationError("This date has passed.")
    if field.data and field.data > clinic_today() + timedelta(days=PLAN_AHEAD_DAYS):
        raise ValidationError("Plan at most a year ahead.")


class PlanForm(FlaskForm):
    """What to plan: which course, induction or maintenance, from when, and preferences."""

    course_id = SelectField("Course", coerce=optional_int, validators=[InputRequired()])
    site_id = SelectField(
        "Site",
        coerce=optional_int,
        validators=[Optional()],
        description="The patient's usual site unless you pick another; each visit's chair can "
        "still be changed to another site's.",
    )
    visit_kind = RadioField(
        "Visits to plan",
        choices=choices(
            [
                (VisitKind.INDUCTION.value, "Induction series (protocol)"),
                (VisitKind.MAINTENANCE.value, "Maintenance visits"),
            ]
        ),
        validators=[InputRequired()],
    )
    first_date = DateField(
        "First visit on or after", validators=[InputRequired(), _not_in_the_past]
    )
    preferred_time = ClockField(
        "Preferred start time", validators=[InputRequired()], description="Clinic time, 24-hour."
    )
    preferred_weekdays = CheckboxListField(
        "Preferred weekdays",
        choices=WEEKDAYS,
        coerce=int,
        description="Leave all clear for the protocol's default days.",
    )
    count = IntegerField(
        "Maintenance visits",
        default=4,
        validators=[Optional(), NumberRange(min=1, max=12)],
        description="Only for maintenance; an induction books the protocol's number of visits.",
    )

    def validate_count(self, field) -> None:
        if self.visit_kind.data == VisitKind.MAINTENANCE and not field.data:
            raise ValidationError("How many maintenance visits?")

    def validate_first_date(self, field) -> None:
        if field.data and field.data <= clinic_today():
            raise ValidationError("Plan from tomorrow on.")


class VisitRowForm(Form):
    """One visit of the series being booked (a sub-form: the page's form carries the CSRF)."""

    target = HiddenField()
    day = DateField("Date", validators=[InputRequired(message="Enter a date.")])
    start = ClockField("Start", validators=[InputRequired(message="Enter a start time.")])
    chair_id = SelectField(
        "Chair", coerce=optional_int, validators=[InputRequired(message="Choose a chair.")]
    )

    @property
    def target_date(self) -> date | None:
        try:
            return date.fromisoformat(self.target.data or "")
        except ValueError:
            return None


class BookForm(FlaskForm):
    """The whole series as proposed and adjusted; booked in one transaction."""

    course_id = hidden_id()
    visit_kind = HiddenField(
        validators=[AnyOf([VisitKind.INDUCTION.value, VisitKind.MAINTENANCE.value])]
    )
    visits = FieldList(FormField(VisitRowForm), min_entries=1, max_entries=MAX_VISITS)
    driver_name = StringField(
        "Driver / escort",
        validators=[Optional(), Length(max=120)],
        description="From the patient record; change it for this series if needed.",
    )
    driver_phone = StringField("Driver phone", validators=[Optional(), Length(max=32)])
    # What was planned, so the plan form shows it again after "Check again" or a refusal.
    plan_first_date = HiddenField()
    plan_time = HiddenField()
    plan_weekdays = HiddenField()
    plan_count = HiddenField()
    plan_site = HiddenField()

    def planned(self) -> dict:
        """The plan form's values carried in the hidden fields (those that parse)."""
        values: dict = {}
        with suppress(ValueError):
            values["first_date"] = date.fromisoformat(self.plan_first_date.data or "")
        with suppress(ValueError):
            values["preferred_time"] = time.fromisoformat(self.plan_time.data or "")
        days = (self.plan_weekdays.data or "").split(",")
        values["preferred_weekdays"] = [int(d) for d in days if d.isdigit() and int(d) < 7]
        if (self.plan_count.data or "").isdigit():
            values["count"] = int(self.plan_count.data)
        if (self.plan_site.data or "").isdigit():
            values["site_id"] = int(self.plan_site.data)
        return values

    def set_chairs(self, chair_choices) -> None:
        for row in self.visits:
            row.form.chair_id.choices = chair_choices


CONSULT_MINUTES = choices([(30, "30 min"), (45, "45 min"), (60, "60 min"), (90, "90 min")])


class ConsultForm(FlaskForm):
    """A consult or intake visit, with or without a course."""

    day = DateField("Date", validators=[InputRequired(), _not_in_the_past])
    start = ClockField("Start", validators=[InputRequired()], description="Clinic time, 24-hour.")
    minutes = SelectField("Length", choices=CONSULT_MINUTES, coerce=int, default=60)
    chair_id = SelectField(
        "Chair or room", coerce=optional_int, validators=[Optional()], validate_choice=True
    )


class MoveForm(FlaskForm):
    day = DateField("New date", validators=[InputRequired(), _not_in_the_past])
    start = ClockField(
        "New start time", validators=[InputRequired()], description="Clinic time, 24-hour."
    )
    chair_id = SelectField(
        "Chair", coerce=optional_int, validators=[Optional()], validate_choice=True
    )
    scope = RadioField(
        "Which visits", choices=SCOPE_CHOICES, default="this", validators=[InputRequired()]
    )


def _reason_other(form, field) -> None:
    if form.reason.data == "other" and not (field.data or "").strip():
        raise ValidationError("Say what the other reason is.")


class CancelForm(FlaskForm):
    reason = SelectField(
        "Reason",
        choices=choices([("", "Choose a reason")] + [(r.value, r.label) for r in CancelReason]),
        validators=[InputRequired(message="Choose a reason.")],
    )
    other = StringField(
        "Other reason",
        validators=[Length(max=150), _reason_other],
        description="Only when the reason is Other.",
    )
    scope = RadioField(
        "Which visits", choices=SCOPE_CHOICES, default="this", validators=[InputRequired()]
    )


class NoShowForm(FlaskForm):
    reason = SelectField(
        "Reason",
        choices=choices([("", "Choose a reason")] + [(r.value, r.label) for r in NoShowReason]),
        validators=[InputRequired(message="Choose a reason.")],
    )
    other = StringField(
        "Other reason",
        validators=[Length(max=150), _reason_other],
        description="Only when the reason is Other.",
    )


DRIVER_CHOICES = choices(
    [
        (status.value, DRIVER_LABELS[status])
        for status in (DriverStatus.CONFIRMED, DriverStatus.UNREACHABLE, DriverStatus.NO_DRIVER)
    ]
)


class DriverForm(FlaskForm):
    driver_status = RadioField(
        "Result of the call",
        choices=DRIVER_CHOICES,
        validators=[InputRequired(message="Choose one.")],
    )
    driver_name = StringField("Driver / escort", validators=[Optional(), Length(max=120)])
    driver_phone = StringField("Driver phone", validators=[Optional(), Length(max=32)])
    return_to = HiddenField(validators=[Optional(), AnyOf(["drivers", "appointment"])])


class MakeupForm(FlaskForm):
    """The offered make-up visit, booked with one click."""

    day = DateField(widget=widgets.HiddenInput(), validators=[InputRequired()])
    start = TimeField(widget=widgets.HiddenInput(), validators=[InputRequired()])
    chair_id = hidden_id()


class CsrfOnly(FlaskForm):
    """A one-button action: only the CSRF token."""


class JumpForm(Form):
    """Go to a date on the calendar (a GET form, no CSRF)."""

    date = DateField("Go to date", validators=[Optional()])
