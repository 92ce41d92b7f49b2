"""The psychiatrist's review: the co-signature queue with same-day alerts, co-signing, course
decisions and clinic settings; and each patient's timeline (nurses read it too).

Views load or 404, check the role, validate, call one service, commit once and redirect. Bad
input re-renders the page with the message by the field and a 4xx status; nothing is saved."""

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, role_required
from clinic_app.clinical.codes import Indication, Modality, Role, SessionStatus
from clinic_app.clinical.review import session_flags
from clinic_app.clinical.scores import GAD7, PHQ9
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.models import Chair, ClinicalAlert, Patient
from clinic_app.page_audit import record_listing
from clinic_app.review import chairs as chair_rules
from clinic_app.review import forms as f
from clinic_app.review import queries, services
from clinic_app.review import setting_specs as specs
from clinic_app.settings import (
    clinic_timezone,
    clinic_today,
    clinical_rules,
    review_rules,
    scheduling_rules,
)
from clinic_app.treatments.services import FieldErrors

bp = Blueprint("review", __name__)


@bp.app_template_filter("local_date")
def local_date(value) -> str:
    """A UTC moment as the clinic-local date, "03 Mar 2026"."""
    return value.astimezone(clinic_timezone()).strftime("%d %b %Y") if value else ""


PSYCHIATRIST = Role.PSYCHIATRIST


def _actor():
    return current_user._get_current_object()


def _refused(form, error: RuleViolation) -> None:
    """Put a service's refusal by its field, or in a flash message."""
    if error.field and error.field in form:
        form[error.field].errors.append(error.message)
    else:
        flash(error.message, "danger")


# --- the queue -------------------------------------------------------------------------------


def _render_queue(status: int = 200, failed: tuple[int, f.AcknowledgeForm] | None = None):
    alerts = queries.open_alerts()
    forms = {a.id: f.AcknowledgeForm(prefix=f"alert{a.id}", formdata=None) for a in alerts}
    if failed is not None and failed[0] in forms:
        forms[failed[0]] = failed[1]
    queue = queries.review_queue(
        clinical_rules(), review_rules(), scheduling_rules(), request.args.get("page", 1, int)
    )
    record_listing("list.review_queue", page=queue.page)
    return (
        render_template(
            "review/queue.html",
            alerts=alerts,
            ack_forms=forms,
            queue=queue,
            alert_label=queries.alert_label,
            alert_detail=queries.alert_detail,
            reading_time=queries.alert_reading_time,
        ),
        status,
    )


@bp.get("/review")
@role_required(PSYCHIATRIST)
def queue():
    """Same-day alerts on top until acknowledged, then nurse-signed sessions, flagged first."""
    return _render_queue()


@bp.post("/review/alerts/<int:alert_id>/acknowledge")
@role_required(PSYCHIATRIST)
def acknowledge(alert_id: int):
    alert = db.get_or_404(ClinicalAlert, alert_id)
    form = f.AcknowledgeForm(prefix=f"alert{alert.id}")
    if form.validate_on_submit():
        try:
            services.acknowledge_alert(_actor(), alert, form.note.data)
        except RuleViolation as error:
            db.session.rollback()
            _refused(form, error)
        else:
            db.session.commit()
            flash(f"{queries.alert_label(alert.kind)} alert acknowledged.", "success")
            return redirect(url_for("review.queue"))
    db.session.rollback()
    return _render_queue(400, (alert_id, form))


# --- one session: review and co-sign ---------------------------------------------------------


def _load_session(session_id: int):
    treatment = queries.load_review_session(session_id)
    if treatment is None:
        abort(404)
    return treatment


def _render_session(treatment, status: int = 200, form: f.CosignForm | None = None):
    rules = clinical_rules()
    age = treatment.patient.age_on(queries.session_date(treatment))
    flags = []
    if treatment.status != SessionStatus.IN_PROGRESS:
        flags = session_flags(queries.loaded_session_facts(treatment, age), rules, review_rules())
    course_status = queries.course_statuses([treatment.course], review_rules(), scheduling_rules())[
        treatment.course_id
    ]
    return (
        render_template(
            "review/session.html",
            t=treatment,
            flags=flags,
            age=age,
            bp_chart=queries.bp_chart_for(treatment, age, rules),
            alerts=queries.session_alerts(treatment.id),
            status=course_status,
            form=form or f.CosignForm(formdata=None),
            alert_label=queries.alert_label,
            alert_detail=queries.alert_detail,
        ),
        status,
    )


@bp.get("/review/sessions/<int:session_id>")
@role_required(PSYCHIATRIST)
def session(session_id: int):
    treatment = _load_session(session_id)
    audit.record(_actor(), "session.view", treatment, patient_id=treatment.patient_id)
    db.session.commit()
    return _render_session(treatment)


@bp.post("/review/sessions/<int:session_id>/cosign")
@role_required(PSYCHIATRIST)
def cosign(session_id: int):
    treatment = _load_session(session_id)
    form = f.CosignForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _render_session(treatment, 400, form)
    try:
        services.cosign(_actor(), treatment, form.note.data, form.password.data)
        db.session.commit()
    except RuleViolation as error:
        if error.field == "password":
            db.session.commit()  # keeps only the audit row of the failed attempt
        else:
            db.session.rollback()
        _refused(form, error)
        return _render_session(_load_session(session_id), 400, form)
    except StaleDataError:
        db.session.rollback()
        flash("Someone else changed this session meanwhile; it is shown as it is now.", "warning")
        return _render_session(_load_session(session_id), 409, form)
    flash("Session co-signed.", "success")
    return redirect(url_for("review.queue"))


# --- the patient timeline --------------------------------------------------------------------


def _render_timeline(patient_id: int, status: int = 200, **forms):
    timeline = queries.load_timeline(
        patient_id,
        clinical_rules(),
        review_rules(),
        scheduling_rules(),
        request.args.get("page", 1, int),
    )
    if timeline is None:
        abort(404)
    defaults = {
        "phq9_form": f.OutsidePhq9Form(prefix="phq9", formdata=None),
        "gad7_form": f.OutsideGad7Form(prefix="gad7", formdata=None),
    }
    defaults.update(forms)
    return (
        render_template(
            "review/timeline.html",
            tl=timeline,
            rules=clinical_rules(),
            review=review_rules(),
            indication_label=lambda code: Indication(code).label,
            alert_label=queries.alert_label,
            alert_detail=queries.alert_detail,
            **defaults,
        ),
        status,
    )


@bp.get("/patients/<int:patient_id>/timeline")
@role_required(*CLINICAL)
def timeline(patient_id: int):
    """Courses, scales and charts of one patient's whole history; sessions newest first, a page
    at a time."""
    patient = db.get_or_404(Patient, patient_id)
    audit.record(_actor(), "patient.timeline", patient, patient_id=patient.id)
    db.session.commit()
    return _render_timeline(patient_id)


def _outside_scale(patient_id: int, form, form_name: str, instrument: str):
    patient = db.get_or_404(Patient, patient_id)
    if form.validate_on_submit():
        when = form.administered_at.data
        if when is not None:
            when = when.replace(tzinfo=clinic_timezone())
        try:
            services.record_scale(_actor(), patient, instrument, form.items(), when)
        except RuleViolation as error:
            db.session.rollback()
            _refused(form, error)
        else:
            db.session.commit()
            flash(f"{'PHQ-9' if instrument == PHQ9.code else 'GAD-7'} recorded.", "success")
            return redirect(url_for("review.timeline", patient_id=patient_id))
    db.session.rollback()
    return _render_timeline(patient_id, 400, **{form_name: form})


@bp.post("/patients/<int:patient_id>/questionnaires/phq9")
@role_required(*CLINICAL)
def phq9(patient_id: int):
    return _outside_scale(patient_id, f.OutsidePhq9Form(prefix="phq9"), "phq9_form", PHQ9.code)


@bp.post("/patients/<int:patient_id>/questionnaires/gad7")
@role_required(*CLINICAL)
def gad7(patient_id: int):
    return _outside_scale(patient_id, f.OutsideGad7Form(prefix="gad7"), "gad7_form", GAD7.code)


# --- course decisions ------------------------------------------------------------------------


def _load_course(course_id: int):
    course = queries.load_course(course_id)
    if course is None:
        abort(404)
    return course


def _render_course(course, status: int = 200, **forms):
    course_status = queries.course_statuses([course], review_rules(), scheduling_rules())[course.id]
    low, high = services.maintenance_range(course)
    defaults = {
        "review_form": f.InductionReviewForm(formdata=None),
        "maintenance_form": f.MaintenanceForm(
            formdata=None,
            interval_days=course.maintenance_interval_days
            or (
                scheduling_rules().iv_maintenance_interval_days
                if course.modality == Modality.IV_KETAMINE
                else low
            ),
        ),
        "dose_form": f.DoseChangeForm(
            formdata=None,
            esketamine_dose_mg=str(course.esketamine_dose_mg or ""),
            iv_mg_per_kg=course.iv_mg_per_kg,
        ),
        "stop_form": f.StopForm(formdata=None),
    }
    defaults.update(forms)
    return (
        render_template(
            "review/course.html",
            course=course,
            status=course_status,
            interval_range=(low, high),
            esketamine=course.modality == Modality.ESKETAMINE_NASAL,
            trd=course.indication == Indication.TRD,
            usual_max=clinical_rules().iv_usual_max_mg_per_kg,
            **defaults,
        ),
        status,
    )


@bp.get("/review/courses/<int:course_id>")
@role_required(PSYCHIATRIST)
def course(course_id: int):
    """A course's response status and the psychiatrist's decisions on it."""
    course = _load_course(course_id)
    audit.record(_actor(), "course.view", course, patient_id=course.patient_id)
    db.session.commit()
    return _render_course(course)


def _decide(course_id: int, form_name: str, form, action: Callable, message: str):
    course = _load_course(course_id)
    if form.validate_on_submit():
        try:
            action(course)
        except FieldErrors as error:
            db.session.rollback()
            for name, text in error.errors.items():
                form[name].errors.append(text)
            return _render_course(_load_course(course_id), 400, **{form_name: form})
        except RuleViolation as error:
            if error.field == "password":
                db.session.commit()  # keeps only the audit row of the failed attempt
            else:
                db.session.rollback()
            _refused(form, error)
            return _render_course(_load_course(course_id), 400, **{form_name: form})
        db.session.commit()
        flash(message, "success")
        return redirect(url_for("review.course", course_id=course_id))
    db.session.rollback()
    return _render_course(course, 400, **{form_name: form})


@bp.post("/review/courses/<int:course_id>/induction-review")
@role_required(PSYCHIATRIST)
def induction_review(course_id: int):
    form = f.InductionReviewForm()

    def act(course):
        status = queries.course_statuses([course], review_rules(), scheduling_rules())[course.id]
        services.induction_review(_actor(), course, status.outcome, form.note.data)

    return _decide(course_id, "review_form", form, act, "Induction review recorded.")


@bp.post("/review/courses/<int:course_id>/maintenance")
@role_required(PSYCHIATRIST)
def to_maintenance(course_id: int):
    form = f.MaintenanceForm()
    return _decide(
        course_id,
        "maintenance_form",
        form,
        lambda course: services.to_maintenance(
            _actor(), course, form.interval_days.data, form.reason.data or ""
        ),
        "Course moved to maintenance.",
    )


@bp.post("/review/courses/<int:course_id>/dose")
@role_required(PSYCHIATRIST)
def change_dose(course_id: int):
    form = f.DoseChangeForm()
    return _decide(
        course_id,
        "dose_form",
        form,
        lambda course: services.change_dose(_actor(), course, form.data),
        "Dose changed; it applies from the next session.",
    )


@bp.post("/review/courses/<int:course_id>/stop")
@role_required(PSYCHIATRIST)
def stop_course(course_id: int):
    form = f.StopForm()
    return _decide(
        course_id,
        "stop_form",
        form,
        lambda course: services.stop_course(_actor(), course, form.reason.data),
        "Course stopped.",
    )


# --- chairs --------------------------------------------------------------------------------


def _chair_row_form(chair: Chair, formdata=None) -> f.ChairForm:
    form = f.ChairForm(prefix=f"chair{chair.id}", formdata=formdata, obj=chair)
    form.name.description = ""
    return form


def _render_chairs(status: int = 200, add_form=None, failed=None):
    chairs = chair_rules.all_chairs()
    forms = {chair.id: _chair_row_form(chair) for chair in chairs}
    if failed is not None:
        forms[failed[0]] = failed[1]
    return (
        render_template(
            "review/chairs.html",
            chairs=chairs,
            booked=chair_rules.booked_ahead([chair.id for chair in chairs]),
            forms=forms,
            add_form=add_form or f.ChairForm(formdata=None),
        ),
        status,
    )


@bp.route("/settings/chairs", methods=["GET", "POST"])
@role_required(PSYCHIATRIST)
def chairs():
    """The clinic's chairs: add one, rename one, take one out of service or back."""
    if request.method == "GET":
        return _render_chairs()
    form = f.ChairForm()
    if form.validate_on_submit():
        try:
            chair = chair_rules.add_chair(_actor(), form.name.data)
        except RuleViolation as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(f"{chair.name} added; the front desk can book it now.", "success")
            return redirect(url_for("review.chairs"))
    db.session.rollback()
    return _render_chairs(400, add_form=form)


@bp.post("/settings/chairs/<int:chair_id>")
@role_required(PSYCHIATRIST)
def edit_chair(chair_id: int):
    chair = db.get_or_404(Chair, chair_id)
    form = _chair_row_form(chair, request.form)
    if form.validate_on_submit():
        try:
            changed = chair_rules.update_chair(_actor(), chair, form.name.data, form.active.data)
        except RuleViolation as error:
            _refused(form, error)
        else:
            db.session.commit()
            state = "in service" if chair.active else "out of service"
            message = f"{chair.name} saved ({state})." if changed else "Nothing changed."
            flash(message, "success" if changed else "info")
            return redirect(url_for("review.chairs"))
    db.session.rollback()
    return _render_chairs(400, failed=(chair_id, form))


# --- clinic settings -------------------------------------------------------------------------


def _settings_rows():
    rows = services.stored_settings()
    stored = {key: row.value for key, row in rows.items()}
    current = specs.effective(stored)
    changers = queries.setting_changers(row.updated_by_id for row in rows.values())
    groups = []
    for group, title in specs.GROUPS:
        entries = []
        for spec in specs.SPECS:
            if spec.group != group:
                continue
            row = rows.get(spec.key)
            entries.append(
                {
                    "spec": spec,
                    "current": specs.display(spec, current[spec.key]),
                    "default": specs.display(spec, specs.from_rules(spec, spec.default)),
                    "changed": row is not None,
                    "by": changers.get(row.updated_by_id) if row else None,
                    "at": row.updated_at if row else None,
                }
            )
        groups.append((group, title, entries))
    return current, groups


@bp.route("/settings/clinic", methods=["GET", "POST"])
@role_required(PSYCHIATRIST)
def settings():
    """Every clinical, review and scheduling threshold, with its default and last change."""
    current, groups = _settings_rows()
    form = f.SettingsForm(data=f.settings_form_data(current))
    status = 200
    if form.is_submitted():
        status = 400
        if form.validate():
            try:
                changed = services.update_settings(_actor(), form.values())
            except FieldErrors as error:
                db.session.rollback()
                for key, message in error.errors.items():
                    if key in form:
                        form[key].errors.append(message)
                    else:
                        flash(message, "danger")
            else:
                db.session.commit()
                if changed:
                    flash(f"{len(changed)} setting(s) changed: {', '.join(changed)}.", "success")
                else:
                    flash("Nothing changed.", "info")
                return redirect(url_for("review.settings"))
        db.session.rollback()
    return (
        render_template("review/settings.html", form=form, groups=groups, today=clinic_today()),
        status,
    )
