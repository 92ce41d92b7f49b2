"""What the nurse adds for the REMS at the chair: the concomitant-medication review at the
pre-dose check and the discharge answers. Each service takes the acting user, checks, audits
and flushes; the caller commits."""

from typing import Any

from sqlalchemy import select

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, require_role
from clinic_app.clinical.codes import Modality, SessionStatus
from clinic_app.clinical.rems_form import REMS_MEDICATION_CLASSES
from clinic_app.clinical.respiratory import RespiratoryAnswer
from clinic_app.clock import utcnow
from clinic_app.errors import FieldErrors, RuleViolation
from clinic_app.extensions import db
from clinic_app.models import RemsDischargeAnswers, RemsMedicationReview, TreatmentSession, User
from clinic_app.settings import clinical_rules

EFFECTS = ("sedation", "dissociation", "respiratory")


def rems_respiratory_answer(treatment: TreatmentSession) -> RespiratoryAnswer | None:
    """The nurse's respiratory answer as the discharge rules take it (answers loaded)."""
    answers = treatment.rems_answers
    if answers is None:
        return None
    return RespiratoryAnswer(answers.respiratory_observed, bool(answers.respiratory_resolved))


def _require_esketamine(treatment: TreatmentSession) -> None:
    if treatment.modality != Modality.ESKETAMINE_NASAL:
        raise RuleViolation("The REMS questions are for esketamine sessions only.")
    if treatment.status == SessionStatus.NOT_DOSED:
        raise RuleViolation("This session ended without a dose: no REMS form is owed.")


def medication_review(treatment: TreatmentSession) -> RemsMedicationReview | None:
    return db.session.scalar(
        select(RemsMedicationReview).where(RemsMedicationReview.session_id == treatment.id)
    )


def missing_before_signing(treatment: TreatmentSession) -> list[str]:
    """What the nurse still owes the REMS monitoring form before signing a dosed esketamine
    session (empty for any other session)."""
    if treatment.modality != Modality.ESKETAMINE_NASAL or treatment.dose_started_at is None:
        return []
    missing = []
    if medication_review(treatment) is None:
        missing.append("the concomitant-medication review")
    if treatment.rems_answers is None:
        missing.append("the discharge answers")
    return missing


def review_medications(
    actor: User, treatment: TreatmentSession, classes: list[str]
) -> RemsMedicationReview:
    """Confirm (or change) the patient's REMS medication classes at this session's pre-dose
    check. The patient's list follows; its other classes (antidepressants) stay."""
    require_role(actor, *CLINICAL)
    _require_esketamine(treatment)
    # After signing, a review left out is still recorded (late, on the audit trail), or the
    # monitoring form could never be completed; one already recorded is corrected by addendum.
    late = treatment.is_locked
    if late and medication_review(treatment) is not None:
        raise RuleViolation("The session is signed: correct the review with an addendum.")
    unknown = set(classes) - set(REMS_MEDICATION_CLASSES)
    if unknown:
        raise FieldErrors({"classes": "Choose from the listed classes."})
    chosen = [c for c in REMS_MEDICATION_CLASSES if c in classes]
    patient = treatment.patient
    others = [c for c in patient.medication_classes if c not in REMS_MEDICATION_CLASSES]
    before = sorted(c for c in patient.medication_classes if c in REMS_MEDICATION_CLASSES)
    if before != sorted(chosen):
        patient.medication_classes = others + chosen
    review = medication_review(treatment)
    if review is None:
        review = RemsMedicationReview(session_id=treatment.id)
        db.session.add(review)
    review.classes = chosen
    review.reviewed_by_id = actor.id
    review.reviewed_at = utcnow()
    db.session.flush()
    audit.record(
        actor,
        "rems.medications_reviewed",
        review,
        patient_id=patient.id,
        classes=chosen,
        changed=before != sorted(chosen),
        after_signing=late,
    )
    return review


def _answer_problems(data: dict[str, Any]) -> dict[str, str]:
    errors = {}
    ready = data.get("ready_minutes")
    if ready is None or not 0 <= ready <= 720:
        errors["ready_minutes"] = "Give the minutes from the first device (0 to 720)."
    for name in ("vitals_ok_pre", "vitals_ok_completion"):
        if data.get(name) is None:
            errors[name] = "Answer yes or no."
    for effect in EFFECTS:
        observed = data.get(f"{effect}_observed")
        if observed is None:
            errors[f"{effect}_observed"] = "Answer yes or no."
        elif observed and data.get(f"{effect}_resolved") is None:
            errors[f"{effect}_resolved"] = "Did it resolve before discharge?"
    return errors


def record_discharge_answers(
    actor: User, treatment: TreatmentSession, data: dict[str, Any]
) -> RemsDischargeAnswers:
    """Save the nurse's confirmed REMS discharge answers (yes/no values as booleans), before the
    session is signed; a session signed without them (before signing needed them) gets them
    once, late."""
    require_role(actor, *CLINICAL)
    _require_esketamine(treatment)
    if treatment.dose_started_at is None:
        raise RuleViolation("Record the dose first.")
    # Signing needs the answers, so they are locked with the record from then on (corrections
    # are addenda); answers left out of a session signed before that rule are recorded late.
    late = treatment.is_locked
    if late and treatment.rems_answers is not None:
        raise RuleViolation("The session is signed: correct the REMS answers with an addendum.")
    # The answers describe the whole monitoring period: they are confirmed at its end, not
    # before the minimum observation is over (they would go stale as readings come in).
    now = utcnow()
    observed_for = int((now - treatment.dose_started_at).total_seconds() // 60)
    minimum = clinical_rules().esketamine_min_observation_minutes
    if observed_for < minimum and treatment.discharged_at is None:
        raise RuleViolation(
            f"Confirm the REMS answers at the end of monitoring: {minimum} min after the first "
            f"device ({observed_for} min so far)."
        )
    errors = _answer_problems(data)
    if not errors and data["ready_minutes"] > observed_for:
        errors["ready_minutes"] = (
            f"Only {observed_for} min have passed since the first device: give a time up to then."
        )
    if errors:
        raise FieldErrors(errors)
    answers = treatment.rems_answers
    if answers is None:
        answers = RemsDischargeAnswers(session_id=treatment.id)
        treatment.rems_answers = answers
    answers.ready_minutes = data["ready_minutes"]
    answers.vitals_ok_pre = data["vitals_ok_pre"]
    answers.vitals_ok_completion = data["vitals_ok_completion"]
    for effect in EFFECTS:
        observed = bool(data[f"{effect}_observed"])
        setattr(answers, f"{effect}_observed", observed)
        setattr(answers, f"{effect}_resolved", data.get(f"{effect}_resolved") if observed else None)
    answers.answered_by_id = actor.id
    answers.answered_at = now
    db.session.flush()
    audit.record(
        actor,
        "rems.discharge_answers",
        answers,
        patient_id=treatment.patient_id,
        after_signing=late,
    )
    return answers
