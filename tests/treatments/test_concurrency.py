"""Optimistic locking: two people save the same record from pages loaded at the same version."""

import html
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, Patient, TreatmentSession
from clinic_app.treatments import services
from tests import factories
from tests.helpers import flashes, form_values, freeze_local, sign_in, soup

PREDOSE = {k: "y" if v is True else v for k, v in factories.PREDOSE_OK.items()}
SESSION_STALE = "Someone else saved this session since you opened it."
PATIENT_STALE = "Someone else saved this record while you were editing."


def form_version(response, action: str) -> str:
    """The version_id hidden in the form that posts to `action`."""
    values = form_values(response, action)
    assert "version_id" in values, f"no version_id in the form posting to {action}"
    return values["version_id"]


def has_flash(response, category: str, start: str) -> bool:
    return any(c == category and m.startswith(start) for c, m in flashes(response))


def audit_count(app, action: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        )


@pytest.fixture
def two_nurses(app, as_role, staff):
    """The staff nurse and a second nurse, each signed in through the login form."""
    with app.app_context():
        factories.make_user("nurse", username="nurse2")
        db.session.commit()
    second = app.test_client()
    assert sign_in(second, "nurse2").status_code == 302
    return as_role("nurse"), second


def _session(app, modality="esketamine_nasal", dosed=False) -> int:
    freeze_local(10, 0)
    with app.app_context():
        patient = factories.make_patient()
        course = factories.make_course(patient, modality)
        treatment = factories.start(patient, course)
        if dosed:
            nurse = factories.user("nurse")
            services.record_predose(nurse, treatment, factories.PREDOSE_OK, treatment.version_id)
            services.add_vitals(nurse, treatment, dict(factories.NORMAL_BP))
            data = {"dose_mg": "56", "weight_kg": "80", "lot_number": "LOT-1", **factories.PUMP_OK}
            services.record_dose(nurse, treatment, data, treatment.version_id)
        db.session.commit()
        return treatment.id


def _state(app, sid) -> tuple:
    with app.app_context():
        t = db.session.get(TreatmentSession, sid)
        return (t.version_id, t.driver_name, t.driver_phone, t.status, t.infusion_ended_at)


# --- the pre-dose checklist ----------------------------------------------------------------


def _predose_conflict(app, two_nurses):
    first, second = two_nurses
    sid = _session(app)
    action = f"/sessions/{sid}/predose"
    loaded_first = first.get(f"/sessions/{sid}")
    loaded_second = second.get(f"/sessions/{sid}")
    version = form_version(loaded_first, action)
    assert form_version(loaded_second, action) == version == "1"

    saved = first.post(action, data=dict(PREDOSE, version_id=version))
    assert saved.status_code == 302
    late = second.post(
        action,
        data=dict(
            PREDOSE, driver_name="Robin Latecomer", driver_phone="555-0777", version_id=version
        ),
    )
    return sid, late


def test_second_predose_save_on_an_old_version_gets_409(app, two_nurses):
    sid, late = _predose_conflict(app, two_nurses)
    assert late.status_code == 409
    assert has_flash(late, "warning", SESSION_STALE)
    assert "The page now shows their changes" in html.unescape(late.get_data(as_text=True))
    # The page shows what the first nurse saved; nothing of the second one's was written.
    assert "Sam Tester" in late.get_data(as_text=True)
    assert _state(app, sid)[:3] == (2, "Sam Tester", "555-0199")
    assert audit_count(app, "session.predose") == 1


def test_second_predose_save_keeps_what_the_nurse_typed(app, two_nurses):
    _, late = _predose_conflict(app, two_nurses)
    assert late.status_code == 409
    assert 'value="Robin Latecomer"' in late.get_data(as_text=True)


# --- the discharge form, while the other nurse records the infusion end --------------------


def _discharge_conflict(app, two_nurses):
    first, second = two_nurses
    sid = _session(app, "iv_ketamine", dosed=True)  # infusion started at 10:00
    clock.advance(timedelta(minutes=40))
    page = second.get(f"/sessions/{sid}")  # the second nurse opens the page mid-infusion
    old_version = form_version(page, f"/sessions/{sid}/discharge")

    assert first.post(f"/sessions/{sid}/vitals", data=factories.NORMAL_BP).status_code == 302
    response = first.post(
        f"/sessions/{sid}/infusion-end",
        data={"infused_volume_ml": "40", "version_id": _state(app, sid)[0]},
    )
    assert response.status_code == 302
    clock.advance(timedelta(minutes=1))
    assert first.post(f"/sessions/{sid}/sedation", data={"score": 5}).status_code == 302
    items = {f"item{n}": 0 for n in range(1, 7)}
    assert first.post(f"/sessions/{sid}/dissociation", data=items).status_code == 302
    clock.advance(timedelta(minutes=30))
    assert first.post(f"/sessions/{sid}/vitals", data=factories.NORMAL_BP).status_code == 302

    discharge = factories.DISCHARGE_FORM
    late = second.post(f"/sessions/{sid}/discharge", data=dict(discharge, version_id=old_version))
    return sid, second, discharge, late


def test_discharge_on_an_old_version_gets_409(app, two_nurses):
    sid, _, _, late = _discharge_conflict(app, two_nurses)
    assert late.status_code == 409
    assert has_flash(late, "warning", SESSION_STALE)
    state = _state(app, sid)
    assert state[3] == "in_progress"
    assert state[4] is not None  # the first nurse's infusion end stands
    assert audit_count(app, "session.discharge") == 0


def test_discharge_resubmitted_after_a_conflict_succeeds(app, two_nurses):
    sid, second, discharge, late = _discharge_conflict(app, two_nurses)
    assert late.status_code == 409
    current = str(_state(app, sid)[0])
    assert form_version(late, f"/sessions/{sid}/discharge") == current
    again = second.post(
        f"/sessions/{sid}/discharge",
        data=dict(discharge, version_id=form_version(late, f"/sessions/{sid}/discharge")),
    )
    assert again.status_code == 302
    assert _state(app, sid)[3] == "discharged"


# --- the patient record --------------------------------------------------------------------

PATIENT_FORM = {
    "mrn": "LOCK-1",
    "first_name": "Alex",
    "last_name": "Tester",
    "date_of_birth": "1980-05-17",
    "sex": "male",
    "phone": "555-0100",
    "driver_name": "Sam Tester",
    "driver_phone": "555-0199",
    "driver_relationship": "spouse",
}


def test_second_patient_edit_on_an_old_version_gets_409_and_keeps_the_input(app, as_role):
    with app.app_context():
        pid = factories.make_patient(mrn="LOCK-1", screened=False).id
        db.session.commit()
    desk, psychiatrist = as_role("front_desk"), as_role("psychiatrist")
    url = f"/patients/{pid}/edit"
    versions = {
        soup(page).find("input", attrs={"name": "version_id"})["value"]
        for page in (psychiatrist.get(url), desk.get(url))
    }
    assert versions == {"1"}
    version = "1"

    saved = psychiatrist.post(url, data=dict(PATIENT_FORM, phone="555-0111", version_id=version))
    assert saved.status_code == 302
    late = desk.post(
        url, data=dict(PATIENT_FORM, driver_name="Jordan Newdriver", version_id=version)
    )
    assert late.status_code == 409
    assert has_flash(late, "warning", PATIENT_STALE)
    body = late.get_data(as_text=True)
    assert 'value="Jordan Newdriver"' in body  # what the front desk typed is still there
    # ...with the current version, so saving again knowingly replaces the other change.
    assert 'name="version_id" type="hidden" value="2"' in body
    with app.app_context():
        patient = db.session.get(Patient, pid)
        assert (patient.version_id, patient.phone, patient.driver_name) == (
            2,
            "555-0111",
            "Sam Tester",
        )
    assert audit_count(app, "patient.update") == 1

    again = desk.post(url, data=dict(PATIENT_FORM, driver_name="Jordan Newdriver", version_id="2"))
    assert again.status_code == 302
    with app.app_context():
        patient = db.session.get(Patient, pid)
        assert (patient.version_id, patient.driver_name) == (3, "Jordan Newdriver")
