"""A nurse charts whole sessions through the views, with the clock moved forward."""

from datetime import timedelta

from sqlalchemy import select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, TreatmentSession
from tests import factories


def _setup_patient(app, modality="esketamine_nasal", **overrides):
    with app.app_context():
        patient = factories.make_patient(**overrides)
        course = factories.make_course(patient, modality)
        db.session.commit()
        return patient.id, course.id


def _start(nurse, patient_id, course_id) -> int:
    response = nurse.post(
        "/sessions/start", data={"patient_id": patient_id, "course_id": course_id}
    )
    assert response.status_code == 302
    return int(response.headers["Location"].rsplit("/", 1)[1])


PREDOSE = {k: "y" if v is True else v for k, v in factories.PREDOSE_OK.items()}


def _assess_awake(nurse, sid):
    assert nurse.post(f"/sessions/{sid}/sedation", data={"score": 5}).status_code == 302
    items = {f"item{n}": 0 for n in range(1, 7)}
    assert nurse.post(f"/sessions/{sid}/dissociation", data=items).status_code == 302


def _vitals(nurse, sid, systolic=122, diastolic=78, spo2=98):
    return nurse.post(
        f"/sessions/{sid}/vitals",
        data={
            "systolic": systolic,
            "diastolic": diastolic,
            "heart_rate": 70,
            "spo2": spo2,
            "resp_rate": 14,
        },
    )


def _version(app, sid) -> int:
    with app.app_context():
        return db.session.get(TreatmentSession, sid).version_id


def test_full_esketamine_session(app, as_role):
    nurse = as_role("nurse")
    patient_id, course_id = _setup_patient(app)
    clock.freeze(
        clock.utcnow().replace(hour=17, minute=0, second=0, microsecond=0)
    )  # 09:00/10:00 LA
    sid = _start(nurse, patient_id, course_id)
    page = nurse.get(f"/sessions/{sid}")
    assert page.status_code == 200
    assert b"Pre-dose checks" in page.data

    assert (
        nurse.post(
            f"/sessions/{sid}/predose", data=dict(PREDOSE, version_id=_version(app, sid))
        ).status_code
        == 302
    )
    assert _vitals(nurse, sid).status_code == 302
    response = nurse.post(
        f"/sessions/{sid}/dose",
        data={"dose_mg": "56", "lot_number": "A123", "version_id": _version(app, sid)},
    )
    assert response.status_code == 302, response.data

    clock.advance(timedelta(minutes=40))
    assert _vitals(nurse, sid, 150, 92).status_code == 302
    device = nurse.post(f"/sessions/{sid}/devices", data={"lot_number": "A123"})
    assert device.status_code == 302  # the second 28 mg device, charted late but charted
    _assess_awake(nurse, sid)
    clock.advance(timedelta(minutes=50))
    assert _vitals(nurse, sid, 128, 80).status_code == 302
    discharge = dict(factories.DISCHARGE_FORM, version_id=_version(app, sid))
    refused = nurse.post(f"/sessions/{sid}/discharge", data=discharge)
    assert refused.status_code == 409
    assert b"Observed 90 of 120 minutes" in refused.data

    clock.advance(timedelta(minutes=31))
    assert _vitals(nurse, sid, 126, 80).status_code == 302
    refused = nurse.post(f"/sessions/{sid}/discharge", data=discharge)
    assert refused.status_code == 409
    assert b"Assess sedation (MOAA/S) again before discharge." in refused.data
    _assess_awake(nurse, sid)
    assert nurse.post(f"/sessions/{sid}/discharge", data=discharge).status_code == 302
    owed = nurse.post(f"/sessions/{sid}/sign", data={"password": "correct-horse-battery"})
    assert owed.status_code == 400
    assert b"for the REMS before signing" in owed.data
    assert nurse.post(f"/sessions/{sid}/rems/medications", data={}).status_code == 302
    answered = {
        "rems-ready_minutes": "110",
        "rems-vitals_ok_pre": "yes",
        "rems-vitals_ok_completion": "yes",
        "rems-sedation_observed": "no",
        "rems-dissociation_observed": "no",
        "rems-respiratory_observed": "no",
    }
    assert nurse.post(f"/sessions/{sid}/rems/answers", data=answered).status_code == 302
    signed = nurse.post(f"/sessions/{sid}/sign", data={"password": "correct-horse-battery"})
    assert signed.status_code == 302
    with app.app_context():
        treatment = db.session.get(TreatmentSession, sid)
        assert treatment.status == "signed"
        assert len(treatment.signature_hash) == 64
        actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {
        "session.start",
        "session.predose",
        "vitals.add",
        "session.dose",
        "session.discharge",
        "session.sign",
    } <= actions
    locked = _vitals(nurse, sid)
    assert locked.status_code == 400
    assert b"signed and locked" in locked.data
