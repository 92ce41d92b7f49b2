"""Who may open and post what (DESIGN §2): deny by default, one explicit role list per route."""

from datetime import timedelta
from urllib.parse import urlsplit

from flask import url_for
from sqlalchemy import select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import (
    Addendum,
    AdverseEvent,
    Assessment,
    AuditEvent,
    Override,
    Patient,
    TreatmentCourse,
    TreatmentSession,
    VitalsReading,
)
from clinic_app.treatments import services
from tests import factories
from tests.helpers import PASSWORD, actions_by, count

PUBLIC_ENDPOINTS = {"static", "health.healthz", "auth.login"}
CLINICAL_ENDPOINTS = {
    "treatments.today",
    "treatments.start",
    "treatments.session",
    "treatments.predose",
    "treatments.vitals",
    "treatments.override",
    "treatments.dose",
    "treatments.infusion_end",
    "treatments.sedation",
    "treatments.dissociation",
    "treatments.adverse_event",
    "treatments.discharge",
    "treatments.sign",
    "treatments.addendum",
}
PATIENT_ENDPOINTS = {
    "patients.index",
    "patients.new",
    "patients.detail",
    "patients.edit",
    "patients.screen",
    "patients.new_course",
}

# Valid-looking input for every clinical POST, so a 403 cannot come from bad input.
CLINICAL_POST_DATA = {
    "treatments.start": {"patient_id": "{patient_id}", "course_id": "{course_id}"},
    "treatments.predose": {
        **{k: "y" if v is True else v for k, v in factories.PREDOSE_OK.items()},
        "version_id": "{version_id}",
    },
    "treatments.vitals": {k: str(v) for k, v in factories.NORMAL_BP.items()},
    "treatments.override": {"reason": "Benefit outweighs the risk."},
    "treatments.dose": {"dose_mg": "56", "lot_number": "LOT-9", "version_id": "{version_id}"},
    "treatments.infusion_end": {"version_id": "{version_id}"},
    "treatments.sedation": {"score": "5"},
    "treatments.dissociation": {f"item{n}": "1" for n in range(1, 7)},
    "treatments.adverse_event": {"kind": "nausea", "severity": "mild"},
    "treatments.discharge": {**factories.DISCHARGE_FORM, "version_id": "{version_id}"},
    "treatments.discharge_override": {"reason": "Baseline MOAA/S 4 (known)."},
    "treatments.contraindication_override": {"ci-reason": "Benefit outweighs the risk."},
    "treatments.sign": {"password": PASSWORD},
    "treatments.addendum": {"reason": "Typo", "body": "Lot was LOT-2."},
}


def _routes(app, endpoints, ids):
    """(method, url, endpoint) for every method of every rule of `endpoints`, with real ids."""
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint not in endpoints:
                continue
            args = {name: ids.get(name, 1) for name in rule.arguments}
            url = url_for(rule.endpoint, **args)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((method, url, rule.endpoint))
    return found


def _fill(data, ids):
    return {k: v.format(**ids) for k, v in data.items()}


def _session_ids(app, **patient_overrides) -> dict[str, int]:
    """A dosed esketamine session (checks, pre-dose vitals, dose) and its ids."""
    with app.app_context():
        treatment = factories.dosed_session(**patient_overrides)
        db.session.commit()
        return {
            "session_id": treatment.id,
            "patient_id": treatment.patient_id,
            "course_id": treatment.course_id,
            "version_id": treatment.version_id,
        }


def _session_row(app, session_id) -> dict:
    with app.app_context():
        t = db.session.get(TreatmentSession, session_id)
        return {
            "status": t.status,
            "version_id": t.version_id,
            "lot_number": t.lot_number,
            "infusion_ended_at": t.infusion_ended_at,
            "discharged_at": t.discharged_at,
            "signed_at": t.signed_at,
        }


def _refusals(app, user_id) -> int:
    """How many refused accesses of this user the audit trail holds."""
    with app.app_context():
        return len(
            db.session.scalars(
                select(AuditEvent.id).where(
                    AuditEvent.user_id == user_id,
                    AuditEvent.action == "access.denied",
                    AuditEvent.outcome == "denied",
                )
            ).all()
        )


# --- anonymous -----------------------------------------------------------------------------


def test_every_non_public_route_redirects_anonymous_users_to_login(app, client, staff):
    ids = _session_ids(app)
    audit_rows = count(app, AuditEvent)
    routes = _routes(app, set(app.view_functions) - PUBLIC_ENDPOINTS, ids)
    endpoints = {endpoint for _, _, endpoint in routes}
    assert CLINICAL_ENDPOINTS | PATIENT_ENDPOINTS | {"auth.logout", "auth.account"} <= endpoints
    for method, url, _ in routes:
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url, response.status_code)
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login", (method, url, response.headers["Location"])
    assert count(app, VitalsReading) == 1  # the dosed session's own pre-dose reading only
    assert count(app, AuditEvent) == audit_rows


def test_healthz_login_and_static_files_are_public(client):
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.is_json
    assert health.get_json() == {"status": "ok", "database": "ok"}

    login = client.get("/login")
    assert login.status_code == 200
    assert b'name="password"' in login.data

    with client.get("/static/css/app.css") as static:
        assert static.status_code == 200


# --- front desk ----------------------------------------------------------------------------


def test_front_desk_gets_403_on_every_clinical_route(app, as_role, staff):
    ids = _session_ids(app)
    before = _session_row(app, ids["session_id"])
    desk = as_role("front_desk")
    routes = _routes(app, CLINICAL_ENDPOINTS, ids)
    assert {endpoint for _, _, endpoint in routes} == CLINICAL_ENDPOINTS
    for method, url, endpoint in routes:
        data = _fill(CLINICAL_POST_DATA.get(endpoint, {}), ids) if method == "POST" else None
        response = desk.open(url, method=method, data=data)
        assert response.status_code == 403, (method, url, response.status_code)
        assert b"Forbidden" in response.data
    assert count(app, TreatmentSession) == 1
    assert count(app, VitalsReading) == 1
    assert count(app, Override) + count(app, Addendum) == 0
    assert count(app, Assessment) + count(app, AdverseEvent) == 0
    assert _session_row(app, ids["session_id"]) == before
    assert actions_by(app, staff["front_desk"]) == set()
    assert _refusals(app, staff["front_desk"]) > 0


def test_a_forbidden_vitals_post_writes_nothing(app, as_role, staff):
    ids = _session_ids(app)
    desk = as_role("front_desk")
    response = desk.post(
        f"/sessions/{ids['session_id']}/vitals",
        data={"systolic": "190", "diastolic": "120", "heart_rate": "90", "spo2": "97"},
    )
    assert response.status_code == 403
    assert count(app, VitalsReading, VitalsReading.systolic == 190) == 0
    assert count(app, VitalsReading) == 1
    # The same post by a nurse is accepted, so the 403 above is the role gate, not the input.
    nurse = as_role("nurse")
    assert (
        nurse.post(
            f"/sessions/{ids['session_id']}/vitals",
            data={"systolic": "190", "diastolic": "120", "heart_rate": "90", "spo2": "97"},
        ).status_code
        == 302
    )
    assert count(app, VitalsReading, VitalsReading.systolic == 190) == 1


def test_front_desk_registers_and_edits_patients_but_does_not_prescribe(app, as_role):
    ids = _session_ids(app)
    desk = as_role("front_desk")
    pid = ids["patient_id"]
    assert desk.get("/patients/").status_code == 200
    assert desk.get("/patients/new").status_code == 200
    assert desk.get(f"/patients/{pid}/edit").status_code == 200
    assert desk.get(f"/patients/{pid}/courses/new").status_code == 403
    response = desk.post(
        f"/patients/{pid}/courses/new",
        data={"modality": "iv_ketamine", "indication": "trd", "started_on": "2030-01-01"},
    )
    assert response.status_code == 403
    assert count(app, TreatmentCourse) == 1


def _signed_session_for_patient_page(app) -> dict[str, int]:
    ids = _session_ids(app)
    with app.app_context():
        treatment = db.session.get(TreatmentSession, ids["session_id"])
        treatment.lot_number = "LOT-SECRET-77"
        db.session.commit()
    return ids


def test_front_desk_sees_the_patient_record_without_sessions_or_doses(app, as_role):
    ids = _signed_session_for_patient_page(app)
    url = f"/patients/{ids['patient_id']}"

    nurse_page = as_role("nurse").get(url)
    assert nurse_page.status_code == 200
    assert b"Recent sessions" in nurse_page.data
    assert f"/sessions/{ids['session_id']}".encode() in nurse_page.data
    assert b"56.0 mg" in nurse_page.data  # the session's dose in the sessions table

    page = as_role("front_desk").get(url)
    assert page.status_code == 200
    assert b"Alex Tester" in page.data
    assert b"Sam Tester" in page.data  # the driver is front-desk business
    assert b"Recent sessions" not in page.data
    assert b"/sessions/" not in page.data
    assert b"56.0 mg" not in page.data
    assert b"LOT-SECRET-77" not in page.data
    assert b"Start session now" not in page.data
    assert b"Prescribe course" not in page.data


def test_front_desk_does_not_see_the_prescribed_dose_plan(app, as_role):
    ids = _signed_session_for_patient_page(app)
    url = f"/patients/{ids['patient_id']}"
    assert b"56 mg" in as_role("nurse").get(url).data
    page = as_role("front_desk").get(url)
    assert page.status_code == 200
    assert b"Esketamine nasal" in page.data  # the modality is scheduling information
    assert b"56 mg" not in page.data


# --- admin ---------------------------------------------------------------------------------


def test_admin_gets_403_on_clinical_and_patient_routes(app, as_role, staff):
    ids = _session_ids(app)
    before = _session_row(app, ids["session_id"])
    admin = as_role("admin")
    assert admin.get("/account").status_code == 200
    routes = _routes(app, CLINICAL_ENDPOINTS | PATIENT_ENDPOINTS, ids)
    assert {endpoint for _, _, endpoint in routes} == CLINICAL_ENDPOINTS | PATIENT_ENDPOINTS
    for method, url, endpoint in routes:
        data = _fill(CLINICAL_POST_DATA.get(endpoint, {}), ids) if method == "POST" else None
        response = admin.open(url, method=method, data=data)
        assert response.status_code == 403, (method, url, response.status_code)
    assert count(app, Patient) == 1
    assert count(app, VitalsReading) == 1
    assert _session_row(app, ids["session_id"]) == before
    assert actions_by(app, staff["admin"]) == set()
    assert _refusals(app, staff["admin"]) > 0


# --- nurse ---------------------------------------------------------------------------------

NEW_PATIENT = {
    "mrn": "N-1",
    "first_name": "Nina",
    "last_name": "Nurseadded",
    "date_of_birth": "1985-02-03",
    "sex": "female",
    "failed_trials": "2",
    "version_id": "0",
}


def test_nurse_cannot_register_edit_demographics_or_prescribe(app, as_role, staff):
    ids = _session_ids(app)
    pid = ids["patient_id"]
    with app.app_context():
        version = db.session.get(Patient, pid).version_id
    nurse = as_role("nurse")
    before = actions_by(app, staff["nurse"])
    assert nurse.get(f"/patients/{pid}").status_code == 200
    assert nurse.get("/today").status_code == 200

    assert nurse.get("/patients/new").status_code == 403
    assert nurse.post("/patients/new", data=NEW_PATIENT).status_code == 403
    assert nurse.get(f"/patients/{pid}/edit").status_code == 403
    edit = dict(NEW_PATIENT, mrn="T-EDIT", version_id=str(version))
    assert nurse.post(f"/patients/{pid}/edit", data=edit).status_code == 403
    assert nurse.get(f"/patients/{pid}/courses/new").status_code == 403
    course = {"modality": "iv_ketamine", "indication": "trd", "started_on": "2030-01-01"}
    assert nurse.post(f"/patients/{pid}/courses/new", data=course).status_code == 403

    assert count(app, Patient) == 1
    assert count(app, Patient, Patient.mrn == "T-EDIT") == 0
    assert count(app, TreatmentCourse) == 1
    with app.app_context():
        assert db.session.get(Patient, pid).version_id == version
    assert actions_by(app, staff["nurse"]) - before == {"patient.view", "list.today"}


def test_nurse_gets_403_on_override(app, as_role):
    with app.app_context():
        patient = factories.make_patient()
        course = factories.make_course(patient)
        treatment = factories.start(patient, course)
        nurse_user = factories.user("nurse")
        services.record_predose(nurse_user, treatment, factories.PREDOSE_OK, treatment.version_id)
        services.add_vitals(
            nurse_user, treatment, dict(factories.NORMAL_BP, systolic=152, diastolic=96)
        )
        db.session.commit()
        sid = treatment.id
    nurse = as_role("nurse")
    assert b"Dosing on hold" in nurse.get(f"/sessions/{sid}").data
    response = nurse.post(f"/sessions/{sid}/override", data={"reason": "I think it is fine."})
    assert response.status_code == 403
    assert count(app, Override) == 0
    # The psychiatrist may.
    psychiatrist = as_role("psychiatrist")
    response = psychiatrist.post(f"/sessions/{sid}/override", data={"reason": "Rechecked, fine."})
    assert response.status_code == 302
    assert count(app, Override) == 1


# --- psychiatrist --------------------------------------------------------------------------


def test_psychiatrist_gets_403_on_sign(app, as_role, staff):
    ids = _session_ids(app)
    sid = ids["session_id"]
    with app.app_context():
        treatment = db.session.get(TreatmentSession, sid)
        nurse_user = factories.user("nurse")
        clock.advance(timedelta(minutes=40))
        services.add_vitals(nurse_user, treatment, dict(factories.NORMAL_BP))
        factories.chart_settled(treatment)
        clock.advance(timedelta(minutes=81))
        services.add_vitals(nurse_user, treatment, dict(factories.NORMAL_BP))
        factories.chart_settled(treatment)
        factories.rems_answered(treatment)
        services.discharge(nurse_user, treatment, factories.GOOD_ATTESTATION, treatment.version_id)
        db.session.commit()
    psychiatrist = as_role("psychiatrist")
    page = psychiatrist.get(f"/sessions/{sid}")
    assert page.status_code == 200
    assert b"Waiting for the nurse's signature" in page.data
    response = psychiatrist.post(f"/sessions/{sid}/sign", data={"password": PASSWORD})
    assert response.status_code == 403
    row = _session_row(app, sid)
    assert row["status"] == "discharged"
    assert row["signed_at"] is None
    assert "session.sign" not in actions_by(app, staff["psychiatrist"])
    # The nurse signs the same session.
    nurse = as_role("nurse")
    assert nurse.post(f"/sessions/{sid}/sign", data={"password": PASSWORD}).status_code == 302
    assert _session_row(app, sid)["status"] == "signed"


def test_psychiatrist_views_and_charts_the_clinical_record(app, as_role):
    ids = _session_ids(app)
    psychiatrist = as_role("psychiatrist")
    assert psychiatrist.get("/today").status_code == 200
    assert psychiatrist.get(f"/sessions/{ids['session_id']}").status_code == 200
    assert psychiatrist.get(f"/patients/{ids['patient_id']}/edit").status_code == 200
    assert psychiatrist.get(f"/patients/{ids['patient_id']}/courses/new").status_code == 200
    response = psychiatrist.post(
        f"/sessions/{ids['session_id']}/vitals",
        data={k: str(v) for k, v in factories.NORMAL_BP.items()},
    )
    assert response.status_code == 302
    assert count(app, VitalsReading) == 2
