"""`GET /patients/<id>/export.fhir.json`: the patient's chart as FHIR R4 JSON, for clinicians."""

import json

from flask import Blueprint, Response, abort
from flask_login import current_user

from clinic_app.auth.permissions import CLINICAL, role_required
from clinic_app.extensions import db
from clinic_app.fhir.services import patient_bundle

bp = Blueprint("fhir", __name__)


@bp.get("/patients/<int:patient_id>/export.fhir.json")
@role_required(*CLINICAL)
def patient_export(patient_id: int):
    """A download named by the record id only, so no PHI lands in the browser's file list."""
    document = patient_bundle(current_user, patient_id)
    if document is None:
        abort(404)
    db.session.commit()
    return Response(
        json.dumps(document, ensure_ascii=False, separators=(",", ":")),
        mimetype="application/fhir+json",
        headers={"Content-Disposition": f'attachment; filename="patient-{patient_id}.fhir.json"'},
    )
