"""PDF downloads: the session record, the treatment summary and the patient's handout.

Each download is audited like a page view (a row naming the patient, committed before the PDF
is made). Clinicians only, except the handout, which the front desk prints too. URLs carry
numeric ids and dates only."""

from zoneinfo import ZoneInfo

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from clinic_app import audit
from clinic_app.auth.permissions import CLINICAL, require_role, role_required
from clinic_app.clinical.codes import Role
from clinic_app.extensions import db
from clinic_app.models import Patient
from clinic_app.records.forms import SummaryRangeForm
from clinic_app.records.render import pdf_response
from clinic_app.records.sessions import session_record
from clinic_app.records.summary import load_summary
from clinic_app.scheduling.handout import handout_context
from clinic_app.settings import (
    clinic_timezone,
    clinical_rules,
    page_timezone,
    review_rules,
    scheduling_rules,
)
from clinic_app.site_scope import open_visit
from clinic_app.treatments.queries import load_session

bp = Blueprint("records", __name__)

HANDOUT_READERS = (Role.FRONT_DESK, Role.NURSE, Role.PSYCHIATRIST)


def _audit(roles: tuple[Role, ...], action: str, entity, patient_id: int, **detail) -> None:
    """Check the role again and audit the download like a page view, committed at once."""
    actor = current_user._get_current_object()
    require_role(actor, *roles)
    audit.record(actor, action, entity, patient_id=patient_id, **detail)
    db.session.commit()


@bp.get("/sessions/<int:session_id>.pdf")
@role_required(*CLINICAL)
def session_pdf(session_id: int):
    """The session record; DRAFT on every page until the nurse signs it."""
    treatment = load_session(session_id)
    if treatment is None:
        abort(404)
    open_visit(current_user, treatment)  # its site's staff, on its site's clock
    zone = ZoneInfo(page_timezone())
    record = session_record(treatment, clinical_rules(), scheduling_rules(), zone)
    _audit(CLINICAL, "pdf.session", treatment, treatment.patient_id, draft=record.draft)
    return pdf_response(
        "records/session.html",
        f"session-{treatment.id}.pdf",
        r=record,
        draft=record.draft,
    )


@bp.get("/patients/<int:patient_id>/summary.pdf")
@role_required(*CLINICAL)
def summary_pdf(patient_id: int):
    """The treatment summary over ?from=&to= (clinic-local dates, both optional)."""
    patient = db.get_or_404(Patient, patient_id)
    form = SummaryRangeForm(request.args)
    if not form.validate():
        return render_template("records/summary_range.html", patient=patient, form=form), 400
    summary = load_summary(
        patient_id,
        form.period,
        clinical_rules(),
        review_rules(),
        scheduling_rules(),
        clinic_timezone(),
    )
    assert summary is not None  # the patient exists
    _audit(
        CLINICAL,
        "pdf.summary",
        patient,
        patient.id,
        first=form.period.first.isoformat() if form.period.first else None,
        last=form.period.last.isoformat() if form.period.last else None,
    )
    return pdf_response("records/summary.html", f"summary-{patient.id}.pdf", s=summary)


@bp.get("/schedule/patients/<int:patient_id>/handout.pdf")
@role_required(*HANDOUT_READERS)
def handout_pdf(patient_id: int):
    """The patient's handout of upcoming visits, the printable page as a PDF."""
    patient = db.get_or_404(Patient, patient_id)
    _audit(HANDOUT_READERS, "pdf.handout", patient, patient.id)
    return pdf_response(
        "records/handout.html", f"visits-{patient.id}.pdf", **handout_context(patient)
    )
