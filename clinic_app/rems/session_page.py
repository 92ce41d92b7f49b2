"""The REMS parts of the chairside session page (esketamine only): the medication review at the
pre-dose check and the discharge answers, pre-filled from the chart."""

from dataclasses import dataclass
from typing import Any

from clinic_app.clinical.codes import Modality
from clinic_app.clinical.rems_chart import SuggestedAnswers, suggested_answers
from clinic_app.clinical.rems_form import REMS_MEDICATION_CLASSES
from clinic_app.models import RemsMedicationReview, TreatmentSession
from clinic_app.rems.answers import medication_review
from clinic_app.rems.forms import (
    YES_NO_ANSWERS,
    DischargeAnswersForm,
    MedicationReviewForm,
    as_choice,
)
from clinic_app.rems.monitoring import esketamine_chart
from clinic_app.settings import clinical_rules


@dataclass(frozen=True)
class RemsPanel:
    """What the page shows beside the forms: the review on file and the chart's suggestion."""

    review: RemsMedicationReview | None
    suggested: SuggestedAnswers | None


def _answers_form(treatment: TreatmentSession, suggested: SuggestedAnswers | None):
    saved = treatment.rems_answers
    source: Any = saved if saved is not None else suggested
    values: dict[str, Any] = {}
    if source is not None:
        values = {name: as_choice(getattr(source, name)) for name in YES_NO_ANSWERS}
    if saved is not None:
        values["ready_minutes"] = saved.ready_minutes
    return DischargeAnswersForm(formdata=None, prefix="rems", **values)


def session_forms(treatment: TreatmentSession) -> dict[str, Any]:
    """Template values for the session page: `rems` (None unless esketamine) and its forms."""
    if treatment.modality != Modality.ESKETAMINE_NASAL:
        return {"rems": None}
    review = medication_review(treatment)
    taking = review.classes if review is not None else treatment.patient.medication_classes
    suggested = None
    if treatment.dose_started_at is not None:
        suggested = suggested_answers(esketamine_chart(treatment), clinical_rules())
    return {
        "rems": RemsPanel(review, suggested),
        "rems_meds_form": MedicationReviewForm(
            formdata=None,
            prefix="remsmeds",
            classes=[c for c in taking if c in REMS_MEDICATION_CLASSES],
        ),
        "rems_answers_form": _answers_form(treatment, suggested),
    }
