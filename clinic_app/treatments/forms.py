"""Chairside charting forms. Times are HH:MM today on the session's site clock; blank means
now."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    PasswordField,
    RadioField,
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

from clinic_app.clinical.adverse_events import description_problem
from clinic_app.clinical.codes import (
    ADVERSE_EVENT_KINDS,
    ESCORT_KINDS,
    NOT_DOSED_REASONS,
    EventSeverity,
)
from clinic_app.clinical.discharge import Attestation, Escort
from clinic_app.clinical.vitals import LIMITS, implausible_fields
from clinic_app.clock import utcnow
from clinic_app.forms import choices, hidden_id, version_field
from clinic_app.settings import page_timezone

NOW_HINT = "Leave blank for now; earlier today is fine."


def charted_time(field: TimeField, day: date | None = None) -> datetime | None:
    """A form's HH:MM on the page's clock (the session's site) as UTC on `day` (default today
    there), or None for "now"."""
    if not field.data:
        return None
    zone = ZoneInfo(page_timezone())
    day = day or utcnow().astimezone(zone).date()
    return datetime.combine(day, field.data, tzinfo=zone).astimezone(UTC)


def _vital(label: str, name: str, required: bool = True) -> IntegerField:
    low, high = LIMITS[name]
    return IntegerField(
        label,
        validators=[InputRequired() if required else Optional(), NumberRange(min=low, max=high)],
        render_kw={"inputmode": "numeric", "min": low, "max": high},
    )


class StartSessionForm(FlaskForm):
    patient_id = hidden_id()
    course_id = hidden_id()
    appointment_id = hidden_id(required=False)


class PredoseForm(FlaskForm):
    identity_confirmed = BooleanField("Identity confirmed with two identifiers")
    consent_confirmed = BooleanField("Signed consent on file")
    fasting_confirmed = BooleanField("Fasting per protocol")
    pregnancy_status = RadioField(
        "Pregnancy",
        choices=choices(
            [("not_pregnant", "Not pregnant (test or report)"), ("pregnant", "Pregnant")]
        ),
        validators=[Optional()],
    )
    medications_reviewed = BooleanField("Today's medications reviewed")
    rems_confirmed = BooleanField("Esketamine REMS enrollment confirmed")
    driver_name = StringField("Driver name", validators=[Length(max=120)])
    driver_phone = StringField("Driver phone", validators=[Length(max=32)])
    driver_confirmed = BooleanField("Driver confirmed for the trip home")
    nasal_spray_checked = BooleanField("No nasal corticosteroid or decongestant in the last hour")
    prescriber_on_site = BooleanField("Prescriber on site")
    oximeter_available = BooleanField("Pulse oximeter available")
    version_id = version_field()


class VitalsForm(FlaskForm):
    taken_at = TimeField("Taken at", validators=[Optional()], description=NOW_HINT)
    systolic = _vital("Systolic", "systolic")
    diastolic = _vital("Diastolic", "diastolic")
    heart_rate = _vital("Heart rate", "heart_rate")
    spo2 = _vital("SpO₂ %", "spo2")
    resp_rate = _vital("Resp. rate", "resp_rate", required=False)

    def validate_diastolic(self, field: IntegerField) -> None:
        """Diastolic at or above systolic shows here along with any other field's error (the
        service checks it again, but only once every field is valid)."""
        if field.errors or self.systolic.errors:
            return
        message = implausible_fields(self.systolic.data, field.data, None, None, None).get(
            "diastolic"
        )
        if message:
            raise ValidationError(message)


class OverrideForm(FlaskForm):
    reason = TextAreaField(
        "Reason to dose despite the hold", validators=[DataRequired(), Length(max=1000)]
    )


def _partial_fields() -> tuple[BooleanField, TextAreaField]:
    return (
        BooleanField("Device not fully given (sneezed, leaked, failed)"),
        TextAreaField(
            "What happened",
            validators=[Length(max=1000)],
            description="Required when the device was not fully given.",
            render_kw={"rows": 2},
        ),
    )


def stock_pick(label: str) -> SelectField:
    """A container picked from the site's stock; the view fills the choices, the service
    checks the pick (site, expiry, what it holds)."""
    return SelectField(
        label,
        coerce=lambda v: int(v) if v else None,
        validate_choice=False,
        validators=[Optional()],
    )


class DoseForm(FlaskForm):
    weight_kg = DecimalField(
        "Weight today (kg)", places=1, validators=[Optional(), NumberRange(min=30, max=250)]
    )
    pump_concentration_mg_per_ml = DecimalField(
        "Concentration (mg/mL)",
        places=2,
        validators=[Optional(), NumberRange(min=0.1, max=100)],
        render_kw={"inputmode": "decimal"},
    )
    pump_rate_ml_per_hour = DecimalField(
        "Pump rate (mL/h)",
        places=1,
        validators=[Optional(), NumberRange(min=0.1, max=2000)],
        render_kw={"inputmode": "decimal"},
    )
    device_partial, device_note = _partial_fields()
    dose_mg = SelectField(
        "Dose",
        choices=choices([("56", "56 mg (2 devices)"), ("84", "84 mg (3 devices)")]),
        validators=[Optional()],
    )
    # Required unless the dose is drawn from stock, which gives the lot (the service decides).
    lot_number = StringField("Lot number", validators=[Optional(), Length(max=40)])
    vial_id = stock_pick("Vial drawn from")
    second_vial_id = stock_pick("Second vial (if the first runs out)")
    device_id = stock_pick("Device 1")
    dose_started_at = TimeField(
        "Dose started at",
        validators=[Optional()],
        description="First device or infusion start. " + NOW_HINT,
    )
    version_id = version_field()


class InfusionEndForm(FlaskForm):
    infusion_ended_at = TimeField(
        "Infusion ended at", validators=[Optional()], description=NOW_HINT
    )
    infused_volume_ml = DecimalField(
        "Volume infused (mL)",
        places=1,
        validators=[
            InputRequired(message="Record the volume infused."),
            NumberRange(min=0.1, max=2000),
        ],
        render_kw={"inputmode": "decimal"},
    )
    version_id = version_field()


class PauseForm(FlaskForm):
    paused_at = TimeField("Paused at", validators=[Optional()], description=NOW_HINT)
    reason = StringField(
        "Reason for the pause",
        validators=[DataRequired(message="Give the reason for the pause."), Length(max=200)],
    )


class ResumeForm(FlaskForm):
    resumed_at = TimeField("Resumed at", validators=[Optional()], description=NOW_HINT)


class DeviceForm(FlaskForm):
    """The next esketamine device, recorded as it is given."""

    given_at = TimeField("Given at", validators=[Optional()], description=NOW_HINT)
    lot_number = StringField("Lot number", validators=[Optional(), Length(max=40)])
    device_id = stock_pick("Device")
    device_partial, device_note = _partial_fields()


def _chosen(low: int, high: int):
    """A required answer between low and high: a blank "Choose…" is refused, never read as 0."""

    def check(form, field) -> None:
        if field.data is None:
            raise ValidationError("Answer this item.")
        if not low <= field.data <= high:
            raise ValidationError(f"Answers run from {low} to {high}.")

    return check


def _answer(value):
    """A submitted answer: None when blank, -1 when not a whole number (refused as out of range)."""
    if value in ("", None):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _scored(label: str, pairs: list[tuple[int, str]], low: int, high: int) -> SelectField:
    return SelectField(
        label,
        coerce=_answer,
        choices=choices([("", "Choose…"), *pairs]),
        validate_choice=False,
        validators=[_chosen(low, high)],
    )


class SedationForm(FlaskForm):
    score = _scored(
        "MOAA/S",
        [
            (5, "5 — responds readily to name"),
            (4, "4 — lethargic response to name"),
            (3, "3 — only to loud or repeated name"),
            (2, "2 — only to prodding or shaking"),
            (1, "1 — only to painful trapezius squeeze"),
            (0, "0 — no response to painful squeeze"),
        ],
        0,
        5,
    )
    administered_at = TimeField(
        "Assessed at", validators=[Optional()], description=NOW_HINT, id="moaas_administered_at"
    )


# CADSS-6 (Rodrigues et al. 2021) keeps items 1, 2, 6, 7, 15 and 22 of Bremner's CADSS. Plain
# summaries so the rater knows which item is which; the questions are asked as worded on the
# clinic's form. Item 22's wording could not be confirmed from the sources at hand, so it is
# named by number only.
CADSS6_ITEMS = (
    "1. Things seem to move in slow motion",
    "2. Things seem unreal, as if in a dream",
    "6. Feels disconnected from their own body",
    "7. Sense of their own body feels changed (larger or smaller)",
    "15. Spaces out or loses track of what is going on",
    "22. CADSS item 22, as worded on the clinic's form",
)
CADSS_PAIRS = [
    (0, "0 Not at all"),
    (1, "1 Slightly"),
    (2, "2 Moderately"),
    (3, "3 Considerably"),
    (4, "4 Extremely"),
]


class DissociationForm(FlaskForm):
    item1 = _scored(CADSS6_ITEMS[0], CADSS_PAIRS, 0, 4)
    item2 = _scored(CADSS6_ITEMS[1], CADSS_PAIRS, 0, 4)
    item3 = _scored(CADSS6_ITEMS[2], CADSS_PAIRS, 0, 4)
    item4 = _scored(CADSS6_ITEMS[3], CADSS_PAIRS, 0, 4)
    item5 = _scored(CADSS6_ITEMS[4], CADSS_PAIRS, 0, 4)
    item6 = _scored(CADSS6_ITEMS[5], CADSS_PAIRS, 0, 4)
    administered_at = TimeField(
        "Assessed at", validators=[Optional()], description=NOW_HINT, id="cadss_administered_at"
    )

    def items(self) -> list[int]:
        return [self[f"item{n}"].data for n in range(1, 7)]


DESCRIPTION_HINT = 'What happened, in your words; required for "Other" and a serious event.'


class AdverseEventEditForm(FlaskForm):
    """The correctable fields of an adverse event."""

    # Both start on "Choose…": a default would save an untouched form as a wrong event.
    kind = SelectField(
        "Event",
        choices=choices([("", "Choose…"), *ADVERSE_EVENT_KINDS.items()]),
        validators=[DataRequired(message="Choose the event.")],
    )
    description = TextAreaField(
        "Description", validators=[Length(max=2000)], description=DESCRIPTION_HINT
    )
    severity = SelectField(
        "Severity",
        choices=choices([("", "Choose…"), *((s, s.capitalize()) for s in EventSeverity)]),
        validators=[DataRequired(message="Choose the severity.")],
    )
    onset_at = TimeField("Onset", validators=[Optional()], description=NOW_HINT)
    intervention = TextAreaField("Intervention", validators=[Length(max=2000)])
    serious = BooleanField("Serious adverse event")

    def validate_description(self, field: TextAreaField) -> None:
        """The service checks this too; here it shows beside the other fields' errors."""
        serious = self.serious.data or self.severity.data == EventSeverity.SEVERE
        problem = description_problem(self.kind.data or "", serious, field.data or "")
        if problem:
            raise ValidationError(problem)


class AdverseEventForm(AdverseEventEditForm):
    resolved = BooleanField("Already resolved")
    resolved_at = TimeField("Resolved at", validators=[Optional()], description=NOW_HINT)


class ResolveEventForm(FlaskForm):
    resolved_at = TimeField("Resolved at", validators=[Optional()], description=NOW_HINT)


class ClearEventForm(FlaskForm):
    note = TextAreaField(
        "Why the patient may leave with this event",
        validators=[DataRequired(), Length(max=1000)],
    )


class NotDosedForm(FlaskForm):
    reason = SelectField(
        "Why no dose",
        choices=choices([("", "Choose…"), *NOT_DOSED_REASONS.items()]),
        validators=[DataRequired(message="Choose why no dose was given.")],
    )
    note = TextAreaField("Note", validators=[Length(max=1000)], description='Required for "Other".')
    version_id = version_field()


class DischargeForm(FlaskForm):
    alert_oriented = BooleanField("Alert and oriented")
    gait_steady = BooleanField("Steady gait")
    vomiting = BooleanField("Actively vomiting")
    dissociation_resolved = BooleanField(
        "Dissociation has resolved (my assessment)",
        description="Needed only when no CADSS-6 was recorded after the dose.",
    )
    escort_kind = RadioField(
        "Leaving with", choices=choices(list(ESCORT_KINDS.items())), validators=[Optional()]
    )
    escort_name = StringField("Name of the adult", validators=[Length(max=120)])
    escort_phone = StringField("Their phone", validators=[Length(max=32)])
    escort_relationship = StringField(
        "Relationship to the patient", validators=[Length(max=40)], description="E.g. sister."
    )
    version_id = version_field()

    def attestation(self) -> Attestation:
        """The bedside assessment as the discharge rules take it."""
        return Attestation(
            alert_oriented=self.alert_oriented.data,
            gait_steady=self.gait_steady.data,
            vomiting=self.vomiting.data,
            escort=Escort(
                self.escort_kind.data or "",
                (self.escort_name.data or "").strip(),
                (self.escort_phone.data or "").strip(),
                (self.escort_relationship.data or "").strip(),
            ),
            dissociation_resolved=self.dissociation_resolved.data,
        )


class DischargeOverrideForm(FlaskForm):
    reason = TextAreaField(
        "Reason to discharge despite the blockers", validators=[DataRequired(), Length(max=1000)]
    )


class SignForm(FlaskForm):
    password = PasswordField(
        "Your password", validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )


class AddendumForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired(), Length(max=200)])
    body = TextAreaField("Correction", validators=[DataRequired(), Length(max=4000)])


# PHQ-9 and GAD-7 (both free to reproduce) entered item by item; every item needs an answer, so
# a skipped item (item 9 above all) is never saved as 0.
ANSWER_PAIRS = [
    (0, "0 Not at all"),
    (1, "1 Several days"),
    (2, "2 More than half the days"),
    (3, "3 Nearly every day"),
]
PHQ9_ITEMS = (
    "Little interest or pleasure in doing things",
    "Feeling down, depressed or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself, or that you are a failure",
    "Trouble concentrating on things",
    "Moving or speaking slowly, or being fidgety or restless",
    "Thoughts that you would be better off dead, or of hurting yourself",
)
GAD7_ITEMS = (
    "Feeling nervous, anxious or on edge",
    "Not being able to stop or control worrying",
    "Worrying too much about different things",
    "Trouble relaxing",
    "Being so restless that it is hard to sit still",
    "Becoming easily annoyed or irritable",
    "Feeling afraid as if something awful might happen",
)


def _item(number: int, text: str) -> SelectField:
    return _scored(f"{number}. {text}", ANSWER_PAIRS, 0, 3)


class QuestionnaireForm(FlaskForm):
    """Items item1..itemN; subclasses list them."""

    item_count = 0

    def items(self) -> list[int]:
        return [self[f"item{n}"].data for n in range(1, self.item_count + 1)]


class Phq9Form(QuestionnaireForm):
    item_count = 9
    administered_at = TimeField("Given at", validators=[Optional()], description=NOW_HINT)


class Gad7Form(QuestionnaireForm):
    item_count = 7
    administered_at = TimeField("Given at", validators=[Optional()], description=NOW_HINT)


for _number, _text in enumerate(PHQ9_ITEMS, start=1):
    setattr(Phq9Form, f"item{_number}", _item(_number, _text))
for _number, _text in enumerate(GAD7_ITEMS, start=1):
    setattr(Gad7Form, f"item{_number}", _item(_number, _text))
