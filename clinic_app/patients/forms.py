"""Patient registration (demographics), clinical screen and course prescription forms."""

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    EmailField,
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
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from clinic_app.clinical.addresses import US_STATES
from clinic_app.clinical.codes import CONTRAINDICATIONS, MEDICATION_CLASSES, Indication, Modality
from clinic_app.clinical.predose import CONSENT_IN_FUTURE, ENROLLMENT_IN_FUTURE
from clinic_app.forms import CheckboxListField, choices, version_field
from clinic_app.models import Patient
from clinic_app.settings import clinic_today

MRN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]*\Z"
MRN_MESSAGE = "Use letters, digits and dashes only, starting with a letter or a digit."
WEEKDAY_LABELS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class PatientForm(FlaskForm):
    """Demographics, contacts, the default driver and scheduling preferences (front desk,
    psychiatrist); the clinical screen has its own form."""

    mrn = StringField(
        "MRN",
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[
            DataRequired(),
            Length(max=32),
            # Nothing a spreadsheet could run as a formula when the MRN is exported.
            Regexp(MRN_PATTERN, message=MRN_MESSAGE),
        ],
        description="Letters, digits and dashes.",
    )
    first_name = StringField("First name", validators=[DataRequired(), Length(max=80)])
    last_name = StringField("Last name", validators=[DataRequired(), Length(max=80)])
    date_of_birth = DateField("Date of birth", validators=[InputRequired()])
    sex = SelectField(
        "Sex", choices=choices([("female", "Female"), ("male", "Male"), ("other", "Other")])
    )
    phone = StringField("Phone", validators=[Optional(), Length(max=32)])
    email = EmailField(
        "Email", validators=[Optional(), Email(check_deliverability=False), Length(max=120)]
    )
    address_line1 = StringField(
        "Street address",
        validators=[Length(max=120)],
        render_kw={"autocomplete": "address-line1"},
        description="Optional at registration; the controlled-substance log needs it.",
    )
    address_line2 = StringField(
        "Address line 2",
        validators=[Length(max=120)],
        render_kw={"autocomplete": "address-line2"},
        description="Apartment or unit. Optional.",
    )
    city = StringField(
        "City", validators=[Length(max=80)], render_kw={"autocomplete": "address-level2"}
    )
    state = SelectField(
        "State",
        choices=choices([("", "Choose…"), *((code, code) for code in US_STATES)]),
        default="",
    )
    zip_code = StringField(
        "ZIP code",
        validators=[Length(max=10)],
        render_kw={"autocomplete": "postal-code"},
        description="12345 or 12345-6789.",
    )
    driver_name = StringField("Default driver / escort", validators=[Length(max=120)])
    driver_phone = StringField("Driver phone", validators=[Length(max=32)])
    driver_relationship = StringField("Relationship", validators=[Length(max=40)])
    preferred_weekdays = CheckboxListField(
        "Preferred weekdays",
        choices=choices(list(enumerate(WEEKDAY_LABELS))),
        coerce=int,
        description="The series planner books these days first.",
    )
    preferred_time = TimeField(
        "Preferred start time",
        validators=[Optional()],
        description="Clinic time; leave blank for no preference.",
    )
    usual_site_id = SelectField(
        "Usual site",
        coerce=lambda value: int(value) if value not in ("", None) else None,
        validators=[Optional()],
        description="Where the series planner books the patient's visits unless the front desk "
        "picks another site. The chart is one record across the group.",
    )
    version_id = version_field()

    def set_sites(self, sites) -> None:
        """Offer `sites` (the active ones, and the patient's current one if it closed)."""
        self.usual_site_id.choices = [("", "Not known yet")] + [(s.id, s.label) for s in sites]

    def validate_date_of_birth(self, field):
        today = clinic_today()
        if field.data and (field.data > today or field.data.year < today.year - 120):
            raise ValidationError("Enter a real date of birth.")


def _not_after_today(message: str):
    def check(form, field):
        if field.data and field.data > clinic_today():
            raise ValidationError(message)

    return check


class ScreenForm(FlaskForm):
    """The clinical screen (nurses, psychiatrist): allergies, contraindications, concomitant
    medications, consent, esketamine REMS enrollment, failed trials and weight."""

    allergies = TextAreaField(
        "Allergies",
        validators=[
            DataRequired("Write the allergies, or NKDA when there are none."),
            Length(max=2000),
        ],
        description="Write NKDA when there are none.",
    )
    contraindications = CheckboxListField(
        "Contraindication screen",
        choices=choices(list(CONTRAINDICATIONS.items())),
        description="Tick every item the screen found; leave all clear when none.",
    )
    medication_classes = CheckboxListField(
        "Concomitant medication classes",
        choices=choices(list(MEDICATION_CLASSES.items())),
        description="Tick every class the patient takes; leave all clear when none.",
    )
    consent_date = DateField(
        "Consent signed on",
        validators=[Optional(), _not_after_today(CONSENT_IN_FUTURE)],
    )
    rems_enrolled_on = DateField(
        "Esketamine REMS enrollment date",
        validators=[Optional(), _not_after_today(ENROLLMENT_IN_FUTURE)],
        description="Required before the first esketamine dose.",
    )
    rems_patient_id = StringField(
        "REMS patient ID",
        validators=[Length(max=40)],
        filters=[lambda value: value.strip() if value else ""],
        description="The ID the SPRAVATO REMS gives at enrollment.",
    )
    failed_trials = IntegerField(
        "Failed antidepressant trials",
        validators=[InputRequired(), NumberRange(min=0, max=30)],
        description="Two or more: treatment-resistant.",
    )
    weight_kg = DecimalField(
        "Weight (kg)", places=1, validators=[Optional(), NumberRange(min=30, max=250)]
    )
    version_id = version_field()

    @classmethod
    def for_patient(cls, patient: Patient) -> "ScreenForm":
        """The form filled from the record; a first screen starts with failed trials blank
        rather than the registration default of 0, so nobody confirms a count never asked."""
        form = cls(obj=patient)
        if not patient.screened and not form.is_submitted():
            form.failed_trials.data = None
        return form


class CourseForm(FlaskForm):
    modality = RadioField(
        "Modality",
        choices=choices([(m.value, m.label) for m in Modality]),
        validators=[InputRequired()],
    )
    indication = SelectField(
        "Indication", choices=choices([(i.value, i.label) for i in Indication])
    )
    iv_mg_per_kg = DecimalField(
        "IV dose (mg/kg)",
        places=2,
        default=0.5,
        validators=[Optional(), NumberRange(min=0.1, max=2)],
    )
    iv_minutes = IntegerField(
        "IV infusion minutes", default=40, validators=[Optional(), NumberRange(min=20, max=120)]
    )
    esketamine_dose_mg = SelectField(
        "Esketamine dose", choices=choices([("56", "56 mg"), ("84", "84 mg")]), default="56"
    )
    started_on = DateField("Starts on", validators=[InputRequired()])
    indication_reason = TextAreaField(
        "Reason for TRD with fewer than two failed trials",
        validators=[Length(max=2000)],
        render_kw={"rows": 2},
    )
    dose_reason = TextAreaField(
        "Reason for a dose above the usual maximum",
        validators=[Length(max=2000)],
        render_kw={"rows": 2},
    )
    password = PasswordField(
        "Your password (confirms a dose above the usual maximum)",
        render_kw={"autocomplete": "current-password"},
    )
