"""The psychiatrist's review: the co-signature queue with same-day alerts, co-signing, course
decisions and clinic settings; and each patient's timeline (nurses read it too).

Views load or 404, check the role, validate, call one service, commit once and redirect. Bad
input re-renders the page with the message by the field and a 4xx status; nothing is saved."""

from collections.abc import Callable
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_login import current_user

from clinic_app import audit
from clinic_app.admin import sites as site_rules
from clinic_app.auth.permissions import CLINICAL, role_required
from clinic_app.clinical.codes import Indication, Modality, Role
from clinic_app.clinical.scores import GAD7, PHQ9
from clinic_app.extensions import db
from clinic_app.form_flow import submit
from clinic_app.forms import choices
from clinic_app.models import Chair, ClinicalAlert, Patient
from clinic_app.page_audit import record_listing
from clinic_app.review import alerts, courses, services
from clinic_app.review import chairs as chair_rules
from clinic_app.review import forms as f
from clinic_app.review import queue as review_queue
from clinic_app.review import session_review as sessions
from clinic_app.review import setting_specs as specs
from clinic_app.review.scale_items import scale_items
from clinic_app.review.timeline import load_timeline
from clinic_app.settings import (
    clinic_timezone,
    clinic_today,
    clinical_rules,
    review_rules,
    scheduling_rules,
)
from clinic_app.site_scope import open_visit, page_scope

bp = Blueprint("review", __name__)


PSYCHIATRIST = Role.PSYCHIATRIST


def _actor():
    return current_user._get_current_object()


# --- the queue -------------------------------------------------------------------------------


def _render_queue(status: int = 200, failed: tuple[int, f.AcknowledgeForm] | None = None):
    open_alerts = alerts.open_alerts()
    forms = {a.id: f.AcknowledgeForm(prefix=f"alert{a.id}", formdata=None) for a in open_alerts}
    if failed is not None and failed[0] in forms:
        forms[failed[0]] = failed[1]
    scope = page_scope()
    queue = review_queue.review_queue(
        review_rules(), scheduling_rules(), scope.site_ids, request.args.get("page", 1, int)
    )
    record_listing("list.review_queue", page=queue.page, site=scope.code)
    return (
        render_template(
            "review/queue.html",
            site_scope=scope,
            alerts=open_alerts,
            ack_forms=forms,
            queue=queue,
            alert_detail=alerts.alert_detail,
            reading_time=alerts.alert_reading_time,
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
    return submit(
        form,
        lambda: services.acknowledge_alert(_actor(), alert, form.note.data),
        page=lambda status, _: _render_queue(status, (alert_id, form)),
        done=lambda _: url_for("review.queue"),
        success=f"{alert.kind_label} alert acknowledged.",
    )


# --- one session: review and co-sign ---------------------------------------------------------


def _load_session(session_id: int):
    treatment = sessions.load_review_session(session_id)
    if treatment is None:
        abort(404)
    open_visit(_actor(), treatment)
    return treatment


def _render_session(treatment, status: int = 200, form: f.CosignForm | None = None):
    rules = clinical_rules()
    age = treatment.patient.age_on(sessions.session_date(treatment))
    flags = sessions.review_flags(treatment, age, rules, review_rules())
    course_status = courses.course_statuses([treatment.course], review_rules(), scheduling_rules())[
        treatment.course_id
    ]
    return (
        render_template(
            "review/session.html",
            t=treatment,
            flags=flags,
            age=age,
            bp_chart=sessions.bp_chart_for(treatment, age, rules),
            alerts=alerts.session_alerts(treatment.id),
            status=course_status,
            form=form or f.CosignForm(formdata=None),
            alert_detail=alerts.alert_detail,
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
    return submit(
        form,
        lambda: services.cosign(_actor(), treatment, form.note.data, form.password.data),
        page=lambda status, refusal: _render_session(
            treatment if refusal is None else _load_session(session_id), status, form
        ),
        done=lambda _: url_for("review.queue"),
        success="Session co-signed.",
        attempt_field="password",  # the failed attempt's audit row stays
        stale_message="Someone else changed this session meanwhile; it is shown as it is now.",
    )


# --- the patient timeline --------------------------------------------------------------------


def _render_timeline(patient_id: int, status: int = 200, **forms):
    timeline = load_timeline(
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
            alert_detail=alerts.alert_detail,
            scale_items=scale_items,
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

    def record():
        when = form.administered_at.data
        if when is not None:  # typed on the clock the timeline shows it on: the usual site's
            site = patient.usual_site
            when = when.replace(tzinfo=ZoneInfo(site.timezone) if site else clinic_timezone())
        services.record_scale(_actor(), patient, instrument, form.items(), when)

    return submit(
        form,
        record,
        page=lambda status, _: _render_timeline(patient_id, status, **{form_name: form}),
        done=lambda _: url_for("review.timeline", patient_id=patient_id),
        success=f"{'PHQ-9' if instrument == PHQ9.code else 'GAD-7'} recorded.",
    )


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
    course = courses.load_course(course_id)
    if course is None:
        abort(404)
    return course


def _render_course(course, status: int = 200, **forms):
    course_status = courses.course_statuses([course], review_rules(), scheduling_rules())[course.id]
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
    return submit(
        form,
        lambda: action(course),
        page=lambda status, refusal: _render_course(
            course if refusal is None else _load_course(course_id), status, **{form_name: form}
        ),
        done=lambda _: url_for("review.course", course_id=course_id),
        success=message,
        attempt_field="password",  # a dose confirmation's failed attempt keeps its audit row
    )


@bp.post("/review/courses/<int:course_id>/induction-review")
@role_required(PSYCHIATRIST)
def induction_review(course_id: int):
    form = f.InductionReviewForm()

    def act(course):
        status = courses.course_statuses([course], review_rules(), scheduling_rules())[course.id]
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


def _new_chair_form(formdata=None) -> f.NewChairForm:
    """The add-a-chair form offering the open sites."""
    form = f.NewChairForm(formdata=formdata)
    form.site_id.choices = choices((site.id, site.label) for site in site_rules.active_sites())
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
            sites=site_rules.all_sites(),
            booked=chair_rules.booked_ahead([chair.id for chair in chairs]),
            forms=forms,
            add_form=add_form or _new_chair_form(),
        ),
        status,
    )


@bp.route("/settings/chairs", methods=["GET", "POST"])
@role_required(PSYCHIATRIST)
def chairs():
    """The clinic's chairs: add one, rename one, take one out of service or back."""
    if request.method == "GET":
        return _render_chairs()
    form = _new_chair_form(request.form)
    return submit(
        form,
        lambda: chair_rules.add_chair(_actor(), form.name.data, form.site_id.data),
        page=lambda status, _: _render_chairs(status, add_form=form),
        done=lambda _: url_for("review.chairs"),
        success=lambda chair: (
            f"{chair.name} added at {chair.site.name}; the front desk can book it now."
        ),
    )


@bp.post("/settings/chairs/<int:chair_id>")
@role_required(PSYCHIATRIST)
def edit_chair(chair_id: int):
    chair = db.get_or_404(Chair, chair_id)
    form = _chair_row_form(chair, request.form)

    def saved(changed: bool) -> str:
        state = "in service" if chair.active else "out of service"
        message = f"{chair.name} saved ({state})." if changed else "Nothing changed."
        flash(message, "success" if changed else "info")
        return url_for("review.chairs")

    return submit(
        form,
        lambda: chair_rules.update_chair(_actor(), chair, form.name.data, form.active.data),
        page=lambda status, _: _render_chairs(status, failed=(chair_id, form)),
        done=saved,
    )


# --- clinic settings -------------------------------------------------------------------------


def _settings_rows():
    rows = services.stored_settings()
    stored = {key: row.value for key, row in rows.items()}
    current = specs.effective(stored)
    changers = services.setting_changers(row.updated_by_id for row in rows.values())
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
    form.keep_zone(current["timezone"])

    def saved(changed: list[str]) -> str:
        if changed:
            flash(f"{len(changed)} setting(s) changed: {', '.join(changed)}.", "success")
        else:
            flash("Nothing changed.", "info")
        return url_for("review.settings")

    return submit(
        form,
        lambda: services.update_settings(_actor(), form.values()),
        page=lambda status, _: (
            render_template("review/settings.html", form=form, groups=groups, today=clinic_today()),
            status,
        ),
        done=saved,
    )
