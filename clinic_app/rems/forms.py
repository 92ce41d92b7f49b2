"""The REMS forms: the pre-dose medication review, the discharge answers, marking a monitoring
form submitted, an SAE report and the monitoring HCP's contact details."""

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, IntegerField, RadioField, StringField, TimeField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from clinic_app.clinical.codes import MEDICATION_CLASSES
from clinic_app.clinical.rems_form import REMS_MEDICATION_CLASSES
from clinic_app.forms import CheckboxListField, choices
from clinic_app.models.rems import SaeRecipient, SubmissionChannel

YES_NO = choices([("yes", "Yes"), ("no", "No")])
# The yes/no discharge answers, by the names the answers row and the form share.
YES_NO_ANSWERS = (
    "vitals_ok_pre",
    "vitals_ok_completion",
    "sedation_observed",
    "sedation_resolved",
    "dissociation_observed",
    "dissociation_resolved",
    "respiratory_observed",
    "respiratory_resolved",
)


def _yes_no(label: str, required: bool = True) -> RadioField:
    return RadioField(
        label, choices=YES_NO, validators=[InputRequired() if required else Optional()]
    )


def as_bool(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


def as_choice(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


class MedicationReviewForm(FlaskForm):
    classes = CheckboxListField(
        "Currently taking (REMS classes)",
        choices=choices([(c, MEDICATION_CLASSES[c]) for c in REMS_MEDICATION_CLASSES]),
        validators=[Optional()],
        description="Tick what the patient takes today; none ticked means none of these.",
    )


class DischargeAnswersForm(FlaskForm):
    ready_minutes = IntegerField(
        "Without the 2-hour rule, ready to leave after (minutes from the first device)",
        validators=[InputRequired(), NumberRange(min=0, max=720)],
        render_kw={"inputmode": "numeric", "min": 0, "max": 720},
    )
    vitals_ok_pre = _yes_no("Vital signs acceptable before administration?")
    vitals_ok_completion = _yes_no("Vital signs acceptable before the session ended?")
    sedation_observed = _yes_no("Sedation observed?")
    sedation_resolved = _yes_no("If yes: resolved before discharge?", required=False)
    dissociation_observed = _yes_no("Dissociation observed?")
    dissociation_resolved = _yes_no("If yes: resolved before discharge?", required=False)
    respiratory_observed = _yes_no("Respiratory depression observed?")
    respiratory_resolved = _yes_no("If yes: resolved before discharge?", required=False)

    def answers(self) -> dict[str, Any]:
        """The answers as the service takes them (booleans; None unanswered)."""
        data: dict[str, Any] = {"ready_minutes": self.ready_minutes.data}
        for name in YES_NO_ANSWERS:
            data[name] = as_bool(self[name].data)
        return data


class SubmittedForm(FlaskForm):
    submitted_on = DateField("Submitted on", validators=[InputRequired()])
    channel = RadioField(
        "How",
        choices=choices((c.value, c.label) for c in SubmissionChannel),
        validators=[InputRequired()],
    )
    confirmation_number = StringField(
        "Confirmation number", validators=[InputRequired(), Length(max=60)]
    )


class SaeReportForm(FlaskForm):
    reported_to = RadioField(
        "Reported to",
        choices=choices((r.value, r.label) for r in SaeRecipient),
        validators=[InputRequired()],
    )
    reported_on = DateField("Date reported", validators=[InputRequired()])
    reported_time = TimeField("Time reported", validators=[InputRequired()])
    reference = StringField(
        "Reference or case number", validators=[InputRequired(), Length(max=60)]
    )


class ContactForm(FlaskForm):
    phone = StringField(
        "Telephone",
        validators=[Length(max=32)],
        description="Printed on the REMS monitoring forms of the sessions you monitor.",
    )
    email = EmailField("Email", validators=[Optional(), Length(max=120)])
