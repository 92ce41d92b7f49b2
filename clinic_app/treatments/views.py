"""The nurse's day: the Today board and the chairside session page."""

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, role_required
from clinic_app.clinical.codes import Modality, Role
from clinic_app.clinical.discharge import OVERRIDABLE
from clinic_app.clock import utcnow
from clinic_app.dates import format_local
from clinic_app.errors import StaleRecord
from clinic_app.extensions import db
from clinic_app.form_flow import submit
from clinic_app.forms import refresh_version
from clinic_app.inventory.dispensing import session_draws, stock_choices
from clinic_app.models import Appointment, Patient, TreatmentCourse
from clinic_app.page_audit import record_listing
from clinic_app.rems.session_page import session_forms as rems_session_forms
from clinic_app.review.session_review import bp_chart_for
from clinic_app.scheduling import site_days
from clinic_app.settings import clinic_today, clinical_rules, page_timezone
from clinic_app.site_scope import open_visit, page_scope
from clinic_app.treatments import forms as f
from clinic_app.treatments import services
from clinic_app.treatments.queries import last_edits, last_weight, load_session, today_board
from clinic_app.treatments.summary import summarize

bp = Blueprint("treatments", __name__)

# Discharge blockers that belong to one field of the discharge form: shown there too.
BLOCKER_FIELDS = {
    "not_alert": "alert_oriented",
    "gait": "gait_steady",
    "vomiting": "vomiting",
    "dissociation_unassessed": "dissociation_resolved",
    "no_escort": "escort_kind",
    "no_confirmed_driver": "escort_kind",
    "escort_not_allowed": "escort_name",
    "escort_name": "escort_name",
    "escort_phone": "escort_phone",
    "escort_relationship": "escort_relationship",
}

STALE_MESSAGE = (
    "Someone else saved this session since you opened it. The page now shows their "
    "changes; check them and enter yours again."
)


@bp.get("/today")
@role_required(*CLINICAL)
def today():
    """Everyone expected or in a chair today, with status and the next vitals check."""
    scope = page_scope()
    rows = today_board(utcnow(), clinical_rules(), scope)
    record_listing("list.today", date=site_days.today(scope).isoformat(), site=scope.code)
    return render_template(
        "treatments/today.html",
        rows=rows,
        start_form=f.StartSessionForm(),
        now=utcnow(),
        site_scope=scope,
        mixed_zones=site_days.mixed_zones(scope),
    )


@bp.post("/sessions/start")
@role_required(*CLINICAL)
def start():
    """Open a session for a patient's active course (and today's appointment, if any)."""
    form = f.StartSessionForm()
    if not form.validate_on_submit():
        abort(400)
    patient = db.get_or_404(Patient, form.patient_id.data)
    course = db.get_or_404(TreatmentCourse, form.course_id.data)
    appointment = None
    if form.appointment_id.data:
        appointment = db.get_or_404(Appointment, form.appointment_id.data)
    open_session = appointment.treatment_session if appointment is not None else None
    if open_session is not None and open_session.patient_id == patient.id:
        # A second "Check in" (another device, a double click): go to the session it opened.
        flash(f"{patient.full_name} is already checked in; this is the session.", "info")
        return redirect(url_for("treatments.session", session_id=open_session.id))
    return submit(
        form,
        lambda: services.start_session(current_user, patient, course, appointment),
        page=lambda _, refusal: redirect(url_for("treatments.today")),
        done=lambda treatment: url_for("treatments.session", session_id=treatment.id),
    )


def _load(session_id: int):
    """The session, or 404; its page (and the times charted on it) on its site's clock."""
    treatment = load_session(session_id)
    if treatment is None:
        abort(404)
    open_visit(current_user, treatment)
    return treatment


def _event_forms(treatment, forms: dict) -> dict[str, dict]:
    """Per adverse event: its edit, resolve and clear forms, fresh unless one was passed in."""
    zone = ZoneInfo(page_timezone())
    found: dict[str, dict] = {"edit": {}, "resolve": {}, "clear": {}}
    for e in treatment.adverse_events:
        found["edit"][e.id] = forms.pop(f"edit_event_{e.id}", None) or f.AdverseEventEditForm(
            formdata=None,
            prefix=f"event{e.id}",
            kind=e.kind,
            description=e.description,
            severity=e.severity,
            onset_at=e.onset_at.astimezone(zone).time(),
            intervention=e.intervention,
            serious=e.serious,
        )
        found["resolve"][e.id] = forms.pop(f"resolve_event_{e.id}", None) or f.ResolveEventForm(
            formdata=None, prefix=f"resolve{e.id}"
        )
        found["clear"][e.id] = forms.pop(f"clear_event_{e.id}", None) or f.ClearEventForm(
            formdata=None, prefix=f"clear{e.id}"
        )
    return found


def _fresh_forms(treatment) -> dict[str, Any]:
    """Every chart form of the session page, empty or with the session's current values."""
    return {
        "predose_form": f.PredoseForm(obj=treatment, formdata=None),
        "vitals_form": f.VitalsForm(formdata=None),
        "override_form": f.OverrideForm(formdata=None),
        "contraindication_form": f.OverrideForm(prefix="ci", formdata=None),
        # The weight starts empty: it is weighed today, never carried from the last visit.
        "dose_form": f.DoseForm(
            formdata=None,
            dose_mg=str(treatment.course.esketamine_dose_mg or ""),
            version_id=treatment.version_id,
        ),
        "infusion_form": f.InfusionEndForm(formdata=None, version_id=treatment.version_id),
        "pause_form": f.PauseForm(prefix="pause", formdata=None),
        "resume_form": f.ResumeForm(formdata=None),
        "device_form": f.DeviceForm(formdata=None, lot_number=treatment.lot_number),
        "sedation_form": f.SedationForm(formdata=None),
        "dissociation_form": f.DissociationForm(formdata=None),
        "event_form": f.AdverseEventForm(formdata=None),
        "not_dosed_form": f.NotDosedForm(formdata=None, version_id=treatment.version_id),
        "discharge_form": f.DischargeForm(formdata=None, version_id=treatment.version_id),
        "discharge_override_form": f.DischargeOverrideForm(formdata=None),
        "sign_form": f.SignForm(formdata=None),
        "addendum_form": f.AddendumForm(formdata=None),
        "phq9_form": f.Phq9Form(prefix="phq9", formdata=None),
        "gad7_form": f.Gad7Form(prefix="gad7", formdata=None),
    }


def _render(treatment, status: int = 200, blockers=None, **forms):
    """The session page with fresh forms, except those passed in (with their input and errors)."""
    event_forms = _event_forms(treatment, forms)
    now = utcnow()
    rules = clinical_rules()
    summary = summarize(treatment, treatment.patient.age_on(clinic_today()), now, rules)
    iv = treatment.modality == Modality.IV_KETAMINE
    defaults = _fresh_forms(treatment)
    defaults.update(rems_session_forms(treatment))
    defaults.update(forms)
    stock = stock_choices(treatment)
    if stock is not None:
        dose_form, device_form = defaults["dose_form"], defaults["device_form"]
        for pick in (dose_form.vial_id, dose_form.second_vial_id, dose_form.device_id):
            pick.choices = stock
        device_form.device_id.choices = stock
    if iv and treatment.dose_started_at is None and treatment.is_open:
        defaults["dose_form"].weight_kg.description = _weight_hint(treatment)
    return render_template(
        "treatments/session.html",
        t=treatment,
        s=summary,
        rules=rules,
        now=now,
        blockers=blockers,
        pregnancy_relevant=services.pregnancy_relevant(treatment.patient),
        stock_picks=stock is not None,
        draws=session_draws(treatment),
        predose_resubmitted="predose_form" in forms,
        iv=iv,
        bp_chart=bp_chart_for(treatment, summary.age, rules),
        overridable=OVERRIDABLE,
        event_forms=event_forms,
        event_edits=last_edits(treatment),
        **defaults,
    ), status


def _weight_hint(treatment) -> str:
    """The weight hint, from the last weighed visit or the record: "Last: 82.0 kg on 28 Nov"."""
    last = last_weight(treatment)
    if last is None:
        return "No weight on record — weigh today."
    weight, day = last
    when = f" on {format_local(day, 'short_date')}" if day else " on the patient record"
    return f"Last: {weight} kg{when} — weigh today."


def submit_on_session_page(treatment, form_name: str, form, action, **options):
    """Run a service for a valid session-page form (here and in the REMS cards) and come back
    to the session page; on refusal show the page again (reloaded) with the input kept and the
    messages by the fields."""
    session_id = treatment.id

    def page(status: int, refusal):
        if refusal is None:
            return _render(treatment, status, **{form_name: form})
        fresh = _load(session_id)
        if isinstance(refusal, StaleRecord):
            # Saving the kept input again now knowingly applies it on top of the other change.
            refresh_version(form, fresh.version_id)
        blockers = getattr(refusal, "blockers", None)
        return _render(fresh, status, blockers=blockers, **{form_name: form})

    return submit(
        form,
        action,
        page=page,
        done=lambda _: url_for("treatments.session", session_id=session_id),
        code_fields=BLOCKER_FIELDS,
        stale_message=STALE_MESSAGE,
        **options,
    )


@bp.get("/sessions/<int:session_id>")
@role_required(*CLINICAL)
def session(session_id: int):
    treatment = _load(session_id)
    audit.record(current_user, "session.view", treatment, patient_id=treatment.patient_id)
    db.session.commit()
    return _render(treatment)


@bp.post("/sessions/<int:session_id>/predose")
@role_required(*CLINICAL)
def predose(session_id: int):
    treatment = _load(session_id)
    form = f.PredoseForm()
    return submit_on_session_page(
        treatment,
        "predose_form",
        form,
        lambda: services.record_predose(current_user, treatment, form.data, form.version_id.data),
    )


@bp.post("/sessions/<int:session_id>/vitals")
@role_required(*CLINICAL)
def vitals(session_id: int):
    treatment = _load(session_id)
    form = f.VitalsForm()

    def add():
        data = dict(form.data, taken_at=f.charted_time(form.taken_at))
        _, alerts = services.add_vitals(current_user, treatment, data)
        for alert in alerts:
            flash(alert.message, "danger" if alert.tier >= 2 else "warning")

    return submit_on_session_page(treatment, "vitals_form", form, add)


@bp.post("/sessions/<int:session_id>/override")
@role_required(Role.PSYCHIATRIST)
def override(session_id: int):
    treatment = _load(session_id)
    form = f.OverrideForm()
    return submit_on_session_page(
        treatment,
        "override_form",
        form,
        lambda: services.override_hold(current_user, treatment, form.reason.data),
    )


@bp.post("/sessions/<int:session_id>/dose")
@role_required(*CLINICAL)
def dose(session_id: int):
    treatment = _load(session_id)
    form = f.DoseForm()
    return submit_on_session_page(
        treatment,
        "dose_form",
        form,
        lambda: services.record_dose(
            current_user,
            treatment,
            dict(form.data, dose_started_at=f.charted_time(form.dose_started_at)),
            form.version_id.data,
        ),
    )


@bp.post("/sessions/<int:session_id>/infusion-end")
@role_required(*CLINICAL)
def infusion_end(session_id: int):
    treatment = _load(session_id)
    form = f.InfusionEndForm()
    return submit_on_session_page(
        treatment,
        "infusion_form",
        form,
        lambda: services.end_infusion(
            current_user,
            treatment,
            f.charted_time(form.infusion_ended_at),
            form.infused_volume_ml.data,
            form.version_id.data,
        ),
    )


@bp.post("/sessions/<int:session_id>/infusion-pause")
@role_required(*CLINICAL)
def infusion_pause(session_id: int):
    treatment = _load(session_id)
    form = f.PauseForm(prefix="pause")
    return submit_on_session_page(
        treatment,
        "pause_form",
        form,
        lambda: services.pause_infusion(
            current_user, treatment, f.charted_time(form.paused_at), form.reason.data
        ),
    )


@bp.post("/sessions/<int:session_id>/infusion-resume")
@role_required(*CLINICAL)
def infusion_resume(session_id: int):
    treatment = _load(session_id)
    form = f.ResumeForm()
    return submit_on_session_page(
        treatment,
        "resume_form",
        form,
        lambda: services.resume_infusion(current_user, treatment, f.charted_time(form.resumed_at)),
    )


@bp.post("/sessions/<int:session_id>/devices")
@role_required(*CLINICAL)
def device(session_id: int):
    """The next esketamine device, as it is given."""
    treatment = _load(session_id)
    form = f.DeviceForm()
    return submit_on_session_page(
        treatment,
        "device_form",
        form,
        lambda: services.add_device(
            current_user, treatment, dict(form.data, given_at=f.charted_time(form.given_at))
        ),
    )


@bp.post("/sessions/<int:session_id>/sedation")
@role_required(*CLINICAL)
def sedation(session_id: int):
    treatment = _load(session_id)
    form = f.SedationForm()
    return submit_on_session_page(
        treatment,
        "sedation_form",
        form,
        lambda: services.add_assessment(
            current_user,
            treatment,
            "moaas",
            [form.score.data],
            f.charted_time(form.administered_at),
        ),
    )


@bp.post("/sessions/<int:session_id>/dissociation")
@role_required(*CLINICAL)
def dissociation(session_id: int):
    treatment = _load(session_id)
    form = f.DissociationForm()
    return submit_on_session_page(
        treatment,
        "dissociation_form",
        form,
        lambda: services.add_assessment(
            current_user, treatment, "cadss6", form.items(), f.charted_time(form.administered_at)
        ),
    )


def _questionnaire(session_id: int, form, form_name: str, instrument: str):
    treatment = _load(session_id)
    return submit_on_session_page(
        treatment,
        form_name,
        form,
        lambda: services.add_assessment(
            current_user, treatment, instrument, form.items(), f.charted_time(form.administered_at)
        ),
    )


@bp.post("/sessions/<int:session_id>/phq9")
@role_required(*CLINICAL)
def phq9(session_id: int):
    """PHQ-9 item by item, before the dose; item 9 above 0 raises the same-day alert."""
    return _questionnaire(session_id, f.Phq9Form(prefix="phq9"), "phq9_form", "phq9")


@bp.post("/sessions/<int:session_id>/gad7")
@role_required(*CLINICAL)
def gad7(session_id: int):
    return _questionnaire(session_id, f.Gad7Form(prefix="gad7"), "gad7_form", "gad7")


@bp.post("/sessions/<int:session_id>/adverse-events")
@role_required(*CLINICAL)
def adverse_event(session_id: int):
    treatment = _load(session_id)
    form = f.AdverseEventForm()
    return submit_on_session_page(
        treatment,
        "event_form",
        form,
        lambda: services.add_adverse_event(
            current_user,
            treatment,
            dict(
                form.data,
                onset_at=f.charted_time(form.onset_at),
                resolved_at=f.charted_time(form.resolved_at),
            ),
        ),
    )


def _event(treatment, event_id: int):
    event = next((e for e in treatment.adverse_events if e.id == event_id), None)
    if event is None:
        abort(404)
    return event


def _session_day(treatment):
    return treatment.started_at.astimezone(ZoneInfo(page_timezone())).date()


@bp.post("/sessions/<int:session_id>/adverse-events/<int:event_id>")
@role_required(*CLINICAL)
def edit_adverse_event(session_id: int, event_id: int):
    """Correct an adverse event until the session is signed."""
    treatment = _load(session_id)
    event = _event(treatment, event_id)
    form = f.AdverseEventEditForm(prefix=f"event{event_id}")
    return submit_on_session_page(
        treatment,
        f"edit_event_{event_id}",
        form,
        lambda: services.edit_adverse_event(
            current_user,
            treatment,
            event,
            dict(form.data, onset_at=f.charted_time(form.onset_at, _session_day(treatment))),
        ),
    )


@bp.post("/sessions/<int:session_id>/adverse-events/<int:event_id>/resolve")
@role_required(*CLINICAL)
def resolve_adverse_event(session_id: int, event_id: int):
    treatment = _load(session_id)
    event = _event(treatment, event_id)
    form = f.ResolveEventForm(prefix=f"resolve{event_id}")
    return submit_on_session_page(
        treatment,
        f"resolve_event_{event_id}",
        form,
        lambda: services.resolve_adverse_event(
            current_user,
            treatment,
            event,
            f.charted_time(form.resolved_at, _session_day(treatment)),
        ),
    )


@bp.post("/sessions/<int:session_id>/adverse-events/<int:event_id>/clear")
@role_required(Role.PSYCHIATRIST)
def clear_adverse_event(session_id: int, event_id: int):
    """The psychiatrist clears an unresolved event for discharge, with a note."""
    treatment = _load(session_id)
    event = _event(treatment, event_id)
    form = f.ClearEventForm(prefix=f"clear{event_id}")
    return submit_on_session_page(
        treatment,
        f"clear_event_{event_id}",
        form,
        lambda: services.clear_adverse_event(current_user, treatment, event, form.note.data),
    )


@bp.post("/sessions/<int:session_id>/not-dosed")
@role_required(*CLINICAL)
def not_dosed(session_id: int):
    """End the session without a dose; the visit is marked and the chair freed."""
    treatment = _load(session_id)
    form = f.NotDosedForm()
    return submit_on_session_page(
        treatment,
        "not_dosed_form",
        form,
        lambda: services.end_not_dosed(
            current_user, treatment, form.reason.data, form.note.data or "", form.version_id.data
        ),
    )


@bp.post("/sessions/<int:session_id>/discharge")
@role_required(*CLINICAL)
def discharge(session_id: int):
    treatment = _load(session_id)
    form = f.DischargeForm()
    return submit_on_session_page(
        treatment,
        "discharge_form",
        form,
        lambda: services.discharge(
            current_user, treatment, form.attestation(), form.version_id.data
        ),
    )


@bp.post("/sessions/<int:session_id>/contraindication-override")
@role_required(Role.PSYCHIATRIST)
def contraindication_override(session_id: int):
    """The psychiatrist doses despite a contraindication on the screen, with a reason."""
    treatment = _load(session_id)
    form = f.OverrideForm(prefix="ci")
    return submit_on_session_page(
        treatment,
        "contraindication_form",
        form,
        lambda: services.override_contraindication(current_user, treatment, form.reason.data),
    )


@bp.post("/sessions/<int:session_id>/discharge-override")
@role_required(Role.PSYCHIATRIST)
def discharge_override(session_id: int):
    """The psychiatrist lets the patient leave despite the clinical blockers, with a reason."""
    treatment = _load(session_id)
    form = f.DischargeOverrideForm()
    return submit_on_session_page(
        treatment,
        "discharge_override_form",
        form,
        lambda: services.override_discharge(current_user, treatment, form.reason.data),
    )


@bp.post("/sessions/<int:session_id>/sign")
@role_required(Role.NURSE)
def sign(session_id: int):
    treatment = _load(session_id)
    form = f.SignForm()
    return submit_on_session_page(
        treatment,
        "sign_form",
        form,
        lambda: services.sign(current_user, treatment, form.password.data),
        success="Session signed and locked.",
        attempt_field="password",  # the failed attempt's audit row stays
    )


@bp.post("/sessions/<int:session_id>/addenda")
@role_required(*CLINICAL)
def addendum(session_id: int):
    treatment = _load(session_id)
    form = f.AddendumForm()
    return submit_on_session_page(
        treatment,
        "addendum_form",
        form,
        lambda: services.add_addendum(current_user, treatment, form.reason.data, form.body.data),
    )
