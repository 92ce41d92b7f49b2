"""One session's REMS monitoring form: the facts the pure builder takes, read from a loaded
session; the form row a dosed esketamine session owes; where the form stands; and marking it
submitted (append-only, audited)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, require_role
from clinic_app.clinical.codes import Modality
from clinic_app.clinical.discharge import Score
from clinic_app.clinical.rems_chart import EsketamineChart, charted_session
from clinic_app.clinical.rems_deadline import (
    FormState,
    days_left,
    due_on,
    form_state,
    late_from,
    treatment_day,
)
from clinic_app.clinical.rems_form import CURRENT_EDITION, BuiltForm, MonitoringFacts, build_form
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.scores import CADSS6, MOAAS
from clinic_app.clock import utcnow
from clinic_app.errors import FieldErrors, RuleViolation
from clinic_app.extensions import db
from clinic_app.models import (
    RemsMedicationReview,
    RemsMonitoringForm,
    RemsSubmission,
    Site,
    TreatmentSession,
)
from clinic_app.models.rems import SubmissionChannel
from clinic_app.settings import clinic_timezone, clinic_today


@dataclass(frozen=True)
class Lookups:
    """What the facts need beyond the loaded session, fetched once for many sessions: each
    patient's first esketamine dose, and each session's medication review."""

    first_doses: dict[int, datetime]
    reviews: dict[int, RemsMedicationReview]


def lookups(sessions: Iterable[TreatmentSession]) -> Lookups:
    """Two statements for any number of sessions."""
    sessions = list(sessions)
    patient_ids = {t.patient_id for t in sessions}
    session_ids = [t.id for t in sessions]
    if not sessions:
        return Lookups({}, {})
    firsts = db.session.execute(
        select(TreatmentSession.patient_id, func.min(TreatmentSession.dose_started_at))
        .where(
            TreatmentSession.patient_id.in_(patient_ids),
            TreatmentSession.modality == Modality.ESKETAMINE_NASAL,
            TreatmentSession.dose_started_at.is_not(None),
        )
        .group_by(TreatmentSession.patient_id)
    )
    reviews = db.session.scalars(
        select(RemsMedicationReview).where(RemsMedicationReview.session_id.in_(session_ids))
    )
    # min() over rows filtered to doses given is never NULL.
    first_doses = {pid: at for pid, at in firsts if at is not None}
    return Lookups(first_doses, {r.session_id: r for r in reviews})


def session_site(treatment: TreatmentSession) -> Site | None:
    """Where the dose was given: the visit's chair's site, else the patient's usual site."""
    if treatment.appointment is not None and treatment.appointment.site is not None:
        return treatment.appointment.site
    return treatment.patient.usual_site


def site_zone(site: Site | None) -> ZoneInfo:
    return ZoneInfo(site.timezone) if site is not None else clinic_timezone()


def esketamine_chart(treatment: TreatmentSession) -> EsketamineChart:
    """The chart as the pure form rules read it (vitals, scores, devices and events loaded)."""
    assert treatment.dose_started_at is not None

    def scores(code: str) -> list[Score]:
        return [
            Score(a.administered_at, a.total) for a in treatment.assessments if a.instrument == code
        ]

    return EsketamineChart(
        dose_started_at=treatment.dose_started_at,
        discharged_at=treatment.discharged_at,
        dose_mg=int(treatment.dose_mg) if treatment.dose_mg is not None else None,
        # The lot of each device given, as the dose step recorded it.
        device_lots=tuple(d.lot_number for d in treatment.devices),
        readings=[r.as_vitals() for r in treatment.vitals],
        age_years=treatment.patient.age_on(treatment.dose_started_at.date()),
        sedation=scores(MOAAS.code),
        dissociation=scores(CADSS6.code),
        dissociation_attested=treatment.dissociation_attested,
        respiratory_events=[
            e.resolved for e in treatment.adverse_events if e.kind == "respiratory_depression"
        ],
    )


def _name_parts(full_name: str) -> tuple[str, str]:
    first, _, last = full_name.strip().rpartition(" ")
    return (first, last) if first else (last, "")


def monitoring_facts(
    treatment: TreatmentSession, site: Site | None, found: Lookups, rules: ClinicalRules
) -> MonitoringFacts:
    """Everything the form shows, from the session, its site and the REMS answers."""
    patient = treatment.patient
    session = charted_session(esketamine_chart(treatment), site_zone(site), rules)
    first_dose = found.first_doses.get(patient.id)
    first = first_dose is not None and first_dose >= (treatment.dose_started_at or first_dose)
    review = found.reviews.get(treatment.id)
    answers = treatment.rems_answers
    hcp_first, hcp_last = _name_parts(treatment.nurse.full_name)
    dose_at = treatment.dose_started_at
    answered: dict[str, Any] = {}
    if answers is not None:
        answered = {
            k: getattr(answers, k)
            for k in (
                "ready_minutes",
                "vitals_ok_pre",
                "vitals_ok_completion",
                "sedation_observed",
                "sedation_resolved",
                "dissociation_observed",
                "dissociation_resolved",
                "respiratory_observed",
                "respiratory_resolved",
            )
        }
    return MonitoringFacts(
        patient_first_name=patient.first_name,
        patient_last_name=patient.last_name,
        patient_birthdate=patient.date_of_birth,
        patient_sex=patient.sex,
        first_treatment=first,
        rems_enrolled=patient.rems_enrolled_on is not None
        and patient.rems_enrolled_on <= session.treatment_date,
        medications=frozenset(review.classes) if review is not None else None,
        hcp_first_name=hcp_first,
        hcp_last_name=hcp_last,
        hcp_phone=treatment.nurse.phone,
        hcp_email=treatment.nurse.email,
        setting_name=site.name if site else "",
        setting_address1=site.address_line1 if site else "",
        setting_address2=site.address_line2 if site else "",
        setting_city=site.city if site else "",
        setting_state=site.state if site else "",
        setting_zip=site.zip_code if site else "",
        pulse_oximetry_checked=any(
            dose_at is not None and r.taken_at > dose_at for r in treatment.vitals
        ),
        sae_occurred=any(e.serious for e in treatment.adverse_events),
        **vars(session),
        **answered,
    )


@dataclass
class FormView:
    """A session's form as the pages show it: built, with its row (None until one is owed or
    created), state and deadline."""

    treatment: TreatmentSession
    row: RemsMonitoringForm | None
    site: Site | None
    built: BuiltForm
    due: date
    days_left: int
    changed: bool
    state: FormState

    @property
    def last_submission(self) -> RemsSubmission | None:
        return self.row.last_submission if self.row is not None else None


def changed_since(
    treatment: TreatmentSession, review: RemsMedicationReview | None, at: datetime
) -> bool:
    """Whether anything the form reads from after signing changed after `at`: an addendum, the
    discharge answers or the medication review."""
    moments = [a.created_at for a in treatment.addenda]
    if treatment.rems_answers is not None:
        moments.append(treatment.rems_answers.answered_at)
    if review is not None:
        moments.append(review.reviewed_at)
    return any(moment > at for moment in moments)


def form_view(
    treatment: TreatmentSession,
    row: RemsMonitoringForm | None,
    found: Lookups,
    rules: ClinicalRules,
    now: datetime,
) -> FormView:
    """Build the form and place it on the deadline."""
    site = row.site if row is not None else session_site(treatment)
    edition = row.edition if row is not None else CURRENT_EDITION
    built = build_form(monitoring_facts(treatment, site, found, rules), edition)
    assert treatment.dose_started_at is not None
    zone = site_zone(site)
    due = (
        row.due_on
        if row is not None
        else due_on(treatment_day(treatment.dose_started_at, zone), rules.rems_form_due_days)
    )
    last = row.last_submission if row is not None else None
    changed = last is not None and changed_since(
        treatment, found.reviews.get(treatment.id), last.created_at
    )
    left = days_left(due, now, zone)
    state = form_state(
        signed=treatment.is_locked,
        missing=len(built.missing),
        submitted=last is not None,
        changed=changed,
        days_left=left,
    )
    return FormView(treatment, row, site, built, due, left, changed, state)


def owed_form(treatment: TreatmentSession, rules: ClinicalRules) -> RemsMonitoringForm:
    """The form row of a dosed esketamine session, created (current edition, due on the site's
    calendar) when it has none; flushed."""
    existing = db.session.scalar(
        select(RemsMonitoringForm).where(RemsMonitoringForm.session_id == treatment.id)
    )
    if existing is not None:
        return existing
    assert treatment.dose_started_at is not None
    site = session_site(treatment)
    day = treatment_day(treatment.dose_started_at, site_zone(site))
    row = RemsMonitoringForm(
        session_id=treatment.id,
        site_id=site.id if site else None,
        edition=CURRENT_EDITION,
        treatment_date=day,
        due_on=due_on(day, rules.rems_form_due_days),
        late_from=late_from(day, rules.rems_form_due_days, site_zone(site)),
    )
    db.session.add(row)
    db.session.flush()
    return row


def open_form(treatment: TreatmentSession, rules: ClinicalRules) -> None:
    """At discharge: an esketamine session now owes its monitoring form."""
    if treatment.modality == Modality.ESKETAMINE_NASAL and treatment.dose_started_at is not None:
        owed_form(treatment, rules)


def mark_submitted(
    actor, treatment: TreatmentSession, data: dict[str, Any], rules: ClinicalRules
) -> RemsSubmission:
    """Record that the form went to the REMS (date, channel, confirmation number): only for a
    signed session whose form misses nothing required, and not twice for the same content."""
    require_role(actor, *CLINICAL)
    if treatment.modality != Modality.ESKETAMINE_NASAL or treatment.dose_started_at is None:
        raise RuleViolation("Only a dosed esketamine session has a REMS monitoring form.")
    if not treatment.is_locked:
        raise RuleViolation("Sign the session first: the form is built from the signed chart.")
    row = owed_form(treatment, rules)
    # Two people marking the same form at once: the row lock makes the second wait, then read
    # the first one's submission and be refused (no duplicate row).
    db.session.execute(
        select(RemsMonitoringForm.id).where(RemsMonitoringForm.id == row.id).with_for_update()
    )
    db.session.expire(row, ["submissions"])
    view = form_view(treatment, row, lookups([treatment]), rules, utcnow())
    if view.built.missing:
        raise RuleViolation("The form is not complete: " + "; ".join(view.built.missing) + ".")
    if view.state == FormState.SUBMITTED:
        raise RuleViolation("This form is already submitted and nothing changed since.")
    errors = _submission_problems(data, row.treatment_date)
    if errors:
        raise FieldErrors(errors)
    submission = RemsSubmission(
        form_id=row.id,
        submitted_on=data["submitted_on"],
        channel=SubmissionChannel(data["channel"]),
        confirmation_number=data["confirmation_number"].strip(),
        edition=row.edition,
        sent_values=view.built.values,
        fingerprint=view.built.fingerprint,
        submitted_by_id=actor.id,
    )
    row.submissions.append(submission)
    db.session.flush()
    audit.record(
        actor,
        "rems.form_submitted",
        submission,
        patient_id=treatment.patient_id,
        channel=submission.channel.value,
        resubmission=len(row.submissions) > 1,
    )
    return submission


def _submission_problems(data: dict[str, Any], treatment_date: date) -> dict[str, str]:
    errors = {}
    submitted_on = data.get("submitted_on")
    if submitted_on is None:
        errors["submitted_on"] = "Give the date it was submitted."
    elif submitted_on < treatment_date:
        errors["submitted_on"] = "The form cannot be submitted before the treatment date."
    elif submitted_on > clinic_today() + timedelta(days=1):
        # A day's grace: a form sent this evening at a site west of the clinic is its today.
        errors["submitted_on"] = "This date is in the future."
    if data.get("channel") not in list(SubmissionChannel):
        errors["channel"] = "Choose online or fax."
    if not (data.get("confirmation_number") or "").strip():
        errors["confirmation_number"] = "Give the confirmation number the REMS returned."
    return errors
