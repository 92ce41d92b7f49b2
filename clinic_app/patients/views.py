"""Patient list, registration, record and course prescription."""

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from clinic_app import audit
from clinic_app.auth.permissions import (
    CLINICAL,
    DEMOGRAPHICS_EDIT,
    DEMOGRAPHICS_VIEW,
    SCREEN_EDIT,
    role_required,
)
from clinic_app.clinical.codes import Role
from clinic_app.errors import StaleRecord
from clinic_app.extensions import db
from clinic_app.form_flow import submit
from clinic_app.forms import refresh_version
from clinic_app.ids import id_arg
from clinic_app.models import Patient, Site, TreatmentCourse, TreatmentSession
from clinic_app.page_audit import QUERY_KEPT, record_listing
from clinic_app.patients.forms import CourseForm, PatientForm, ScreenForm
from clinic_app.patients.services import (
    create_patient,
    open_course,
    record_screen,
    search_patients,
    update_patient,
)
from clinic_app.settings import clinic_today, clinical_rules

bp = Blueprint("patients", __name__, url_prefix="/patients")


def _load(patient_id: int) -> Patient:
    patient = db.session.scalar(
        select(Patient)
        .where(Patient.id == patient_id)
        .options(
            selectinload(Patient.courses).selectinload(TreatmentCourse.prescriber),
            joinedload(Patient.screened_by),
            joinedload(Patient.usual_site),
        )
    )
    if patient is None:
        abort(404)
    return patient


def _usual_site_choices(current: int | None) -> list[Site]:
    """The active sites by name, and the patient's current usual site if it has closed."""
    return list(
        db.session.scalars(
            select(Site).where(or_(Site.active, Site.id == current)).order_by(Site.name)
        )
    )


def _form_data(form) -> dict:
    return {
        name: field.data
        for name, field in form._fields.items()
        if name not in ("csrf_token", "version_id")
    }


@bp.route("/", methods=["GET", "POST"])
@role_required(*DEMOGRAPHICS_VIEW)
def index():
    """Patient list; the search text comes by POST so names stay out of URLs and logs."""
    text = request.form.get("q", "") if request.method == "POST" else ""
    patients = search_patients(text)
    record_listing("patient.search", query=text[:QUERY_KEPT], found=len(patients))
    return render_template("patients/index.html", patients=patients, q=text)


@bp.route("/new", methods=["GET", "POST"])
@role_required(*DEMOGRAPHICS_EDIT)
def new():
    form = PatientForm(version_id=0)
    sites = _usual_site_choices(None)
    form.set_sites(sites)
    if request.method == "GET":
        mine = [site.id for site in current_user.sites if site.active]
        offered = [site.id for site in sites]
        form.usual_site_id.data = next(iter(mine if len(mine) == 1 else offered[:1]), None)
    return _save(
        form,
        lambda: create_patient(current_user, _form_data(form)),
        "Patient registered.",
        "patients/form.html",
        patient=None,
    )


@bp.get("/<int:patient_id>")
@role_required(*DEMOGRAPHICS_VIEW)
def detail(patient_id: int):
    """The patient's record; the clinical part only for nurses and the psychiatrist."""
    patient = _load(patient_id)
    sessions = []
    if current_user.role in CLINICAL:
        sessions = list(
            db.session.scalars(
                select(TreatmentSession)
                .where(TreatmentSession.patient_id == patient.id)
                .order_by(TreatmentSession.started_at.desc())
                .limit(20)
                .options(selectinload(TreatmentSession.nurse))
            )
        )
    audit.record(current_user, "patient.view", patient, patient_id=patient.id)
    db.session.commit()
    return render_template(
        "patients/detail.html",
        patient=patient,
        sessions=sessions,
        age=patient.age_on(clinic_today()),
    )


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
@role_required(*DEMOGRAPHICS_EDIT)
def edit(patient_id: int):
    patient = _load(patient_id)
    form = PatientForm(obj=patient)
    form.set_sites(_usual_site_choices(patient.usual_site_id))
    return _save(
        form,
        lambda: update_patient(current_user, patient, _form_data(form), form.version_id.data),
        "Patient record saved.",
        "patients/form.html",
        patient=patient,
    )


@bp.route("/<int:patient_id>/screen", methods=["GET", "POST"])
@role_required(*SCREEN_EDIT)
def screen(patient_id: int):
    """The clinical screen; from a session page (?session_id=) it returns to that session."""
    patient = _load(patient_id)
    back = _patient_session(patient, id_arg("session_id"))
    form = ScreenForm.for_patient(patient)
    return _save(
        form,
        lambda: record_screen(current_user, patient, _form_data(form), form.version_id.data),
        "Clinical screen saved.",
        "patients/screen_form.html",
        patient=patient,
        done_url=url_for("treatments.session", session_id=back) if back else None,
    )


def _patient_session(patient: Patient, session_id: int | None) -> int | None:
    """`session_id` when it is one of this patient's sessions, else None."""
    if session_id is None:
        return None
    return db.session.scalar(
        select(TreatmentSession.id).where(
            TreatmentSession.id == session_id, TreatmentSession.patient_id == patient.id
        )
    )


@bp.route("/<int:patient_id>/courses/new", methods=["GET", "POST"])
@role_required(Role.PSYCHIATRIST)
def new_course(patient_id: int):
    patient = _load(patient_id)
    form = CourseForm(started_on=clinic_today())
    return _save(
        form,
        lambda: open_course(current_user, patient, _form_data(form)).patient,
        "Course prescribed.",
        "patients/course_form.html",
        patient=patient,
        usual_max=clinical_rules().iv_usual_max_mg_per_kg,
    )


def _save(
    form,
    action,
    success: str,
    template: str,
    patient: Patient | None,
    done_url: str | None = None,
    **context,
):
    """Validate, run the service (returning the patient), commit and go to the record (or
    `done_url`); otherwise re-render with the input kept and errors by the fields: 400, or 409
    when someone else saved. A wrong confirmation password keeps only the audit row of the
    failed attempt."""

    def page(status: int, refusal):
        if isinstance(refusal, StaleRecord):
            # Keep what this user typed; saving again now knowingly replaces the other change.
            refresh_version(form, patient.version_id)
        html = render_template(template, form=form, patient=patient, done_url=done_url, **context)
        return html, status

    return submit(
        form,
        action,
        page=page,
        done=lambda saved: done_url or url_for("patients.detail", patient_id=saved.id),
        success=success,
        attempt_field="password",
        stale_message=(
            "Someone else saved this record while you were editing. Check the fields "
            "and save again to keep your version."
        ),
    )
