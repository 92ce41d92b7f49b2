"""REMS pages: the board (`/rems`), a session's monitoring form and its print view, marking it
submitted, the CSV of forms due, SAE reports, and the chairside REMS forms of the session page."""

from datetime import date

from flask import Blueprint, Response, abort, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, role_required
from clinic_app.clinical.codes import Modality, Role
from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.form_flow import submit
from clinic_app.models import AdverseEvent, RemsMonitoringForm, RemsSubmission, TreatmentSession
from clinic_app.page_audit import record_listing
from clinic_app.records.render import pdf_response
from clinic_app.rems import answers, board, contact, monitoring, sae
from clinic_app.rems import forms as f
from clinic_app.settings import clinic_timezone, clinical_rules, local_to_utc
from clinic_app.site_scope import page_scope, show_site_times
from clinic_app.treatments.queries import load_session

# The session page's form handling (render with the kept input on refusal) is reused as is.
from clinic_app.treatments.views import submit_on_session_page

bp = Blueprint("rems", __name__)


def _month_start(scope) -> date:
    zone = monitoring.site_zone(scope.site) if scope.site is not None else clinic_timezone()
    return utcnow().astimezone(zone).date().replace(day=1)


@bp.get("/rems")
@role_required(Role.NURSE, Role.PSYCHIATRIST, Role.FRONT_DESK)
def board_page():
    """Forms due (overdue first), ready and submitted this month; enrollments to chase; SAEs
    not reported. The front desk sees only the enrollments to chase (name and visit date)."""
    scope = page_scope()
    now = utcnow()
    chases = board.enrollment_chases(scope.site_ids, now)
    forms = saes = None
    if current_user.role != Role.FRONT_DESK:
        forms = board.form_board(
            board.form_views(scope.site_ids, now, clinical_rules()), _month_start(scope)
        )
        saes = board.unreported_saes(scope.site_ids)
    record_listing("list.rems", site=scope.code)
    return render_template(
        "rems/board.html",
        site_scope=scope,
        chases=chases,
        forms=forms,
        saes=saes,
        sae_site=board.sae_site,
        now=now,
    )


@bp.get("/rems/forms.csv")
@role_required(*CLINICAL)
def due_csv():
    """The current site's forms still to submit, for batch entry on SPRAVATOrems.com."""
    scope = page_scope()
    views = board.form_views(scope.site_ids, utcnow(), clinical_rules())
    record_listing("export.rems_forms", site=scope.code)
    return Response(
        board.due_csv(views),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="rems-forms-due-{scope.code}.csv"'},
    )


def _esketamine(session_id: int) -> TreatmentSession:
    treatment = load_session(session_id)
    if treatment is None or treatment.modality != Modality.ESKETAMINE_NASAL:
        abort(404)
    return treatment


def _form_view(treatment: TreatmentSession) -> monitoring.FormView:
    """The session's built form; the page's times in its site's zone. 404 before the dose."""
    if treatment.dose_started_at is None:
        abort(404)
    row = db.session.scalar(
        select(RemsMonitoringForm)
        .where(RemsMonitoringForm.session_id == treatment.id)
        .options(
            joinedload(RemsMonitoringForm.site),
            selectinload(RemsMonitoringForm.submissions).joinedload(RemsSubmission.submitted_by),
        )
    )
    view = monitoring.form_view(
        treatment, row, monitoring.lookups([treatment]), clinical_rules(), utcnow()
    )
    if view.site is not None:
        show_site_times(view.site)
    return view


def _form_page(treatment: TreatmentSession, status: int = 200, submitted_form=None):
    view = _form_view(treatment)
    form = submitted_form or f.SubmittedForm(formdata=None, submitted_on=_today(view))
    return render_template("rems/form.html", t=treatment, view=view, submitted_form=form), status


def _today(view) -> date:
    return utcnow().astimezone(monitoring.site_zone(view.site)).date()


@bp.get("/sessions/<int:session_id>/rems-form")
@role_required(*CLINICAL)
def monitoring_form(session_id: int):
    """The session's monitoring form in the form's order, with what is missing; prints as the
    paper form."""
    treatment = _esketamine(session_id)
    audit.record(current_user, "rems.form_view", treatment, patient_id=treatment.patient_id)
    db.session.commit()
    return _form_page(treatment)


@bp.get("/sessions/<int:session_id>/rems-form.pdf")
@role_required(*CLINICAL)
def monitoring_form_pdf(session_id: int):
    """The monitoring form as a PDF (for the fax channel or the binder); DRAFT until the
    session is signed."""
    treatment = _esketamine(session_id)
    view = _form_view(treatment)
    draft = not treatment.is_locked
    audit.record(
        current_user, "pdf.rems_form", treatment, patient_id=treatment.patient_id, draft=draft
    )
    db.session.commit()
    return pdf_response(
        "records/rems_form.html",
        f"rems-form-{treatment.id}.pdf",
        t=treatment,
        view=view,
        draft=draft,
    )


@bp.post("/sessions/<int:session_id>/rems-form/submitted")
@role_required(*CLINICAL)
def mark_submitted(session_id: int):
    treatment = _esketamine(session_id)
    form = f.SubmittedForm()

    def page(status, refusal):
        return _form_page(_esketamine(session_id) if refusal else treatment, status, form)

    return submit(
        form,
        lambda: monitoring.mark_submitted(current_user, treatment, form.data, clinical_rules()),
        page=page,
        done=lambda _: url_for("rems.monitoring_form", session_id=session_id),
        success="Marked submitted.",
    )


@bp.post("/sessions/<int:session_id>/rems/medications")
@role_required(*CLINICAL)
def review_medications(session_id: int):
    """The pre-dose check's concomitant-medication review (reviewed today)."""
    treatment = _esketamine(session_id)
    form = f.MedicationReviewForm(prefix="remsmeds")
    return submit_on_session_page(
        treatment,
        "rems_meds_form",
        form,
        lambda: answers.review_medications(current_user, treatment, form.classes.data or []),
    )


@bp.post("/sessions/<int:session_id>/rems/answers")
@role_required(*CLINICAL)
def discharge_answers(session_id: int):
    """The REMS questions at discharge, confirmed by the nurse."""
    treatment = _esketamine(session_id)
    form = f.DischargeAnswersForm(prefix="rems")
    return submit_on_session_page(
        treatment,
        "rems_answers_form",
        form,
        lambda: answers.record_discharge_answers(current_user, treatment, form.answers()),
    )


def _serious_event(event_id: int) -> AdverseEvent:
    event = db.session.scalar(
        select(AdverseEvent)
        .where(AdverseEvent.id == event_id)
        .options(joinedload(AdverseEvent.treatment_session).joinedload(TreatmentSession.patient))
    )
    if (
        event is None
        or not event.serious
        or event.treatment_session.modality != Modality.ESKETAMINE_NASAL
    ):
        abort(404)
    return event


@bp.route("/adverse-events/<int:event_id>/sae-report", methods=["GET", "POST"])
@role_required(*CLINICAL)
def sae_report(event_id: int):
    """Report a serious adverse event (REMS, manufacturer, FDA MedWatch) and list the reports."""
    event = _serious_event(event_id)
    form = f.SaeReportForm()

    def page(status, refusal):
        shown = _serious_event(event_id) if refusal else event
        if not form.is_submitted():
            audit.record(
                current_user, "rems.sae_view", shown, patient_id=shown.treatment_session.patient_id
            )
            db.session.commit()
        return render_template(
            "rems/sae.html", event=shown, reports=sae.reports_of(shown), form=form
        ), status

    def action():
        reported_at = None
        if form.reported_on.data and form.reported_time.data:
            reported_at = local_to_utc(form.reported_on.data, form.reported_time.data)
        return sae.report_sae(current_user, event, dict(form.data, reported_at=reported_at))

    return submit(
        form,
        action,
        page=page,
        done=lambda _: url_for("rems.sae_report", event_id=event_id),
        success="Report recorded.",
    )


@bp.route("/account/rems-contact", methods=["GET", "POST"])
@role_required(*CLINICAL)
def contact_details():
    """The signed-in nurse's or psychiatrist's telephone and email for the REMS forms."""
    form = f.ContactForm(obj=current_user)
    return submit(
        form,
        lambda: contact.update_contact(current_user, form.phone.data or "", form.email.data or ""),
        page=lambda status, _: (render_template("rems/contact.html", form=form), status),
        done=lambda _: url_for("auth.account"),
        success="Contact details saved.",
    )
