"""Bad input on every form: a 4xx, the message next to the field (or in the alert for
whole-form refusals), and nothing saved."""

from datetime import timedelta

import pytest
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
from tests.helpers import (
    CLINIC_ZONE,
    PASSWORD,
    audit_actions,
    clinic_today,
    count,
    discharge_blockers,
    field_error,
    field_errors,
    flashes,
    freeze_local,
    version,
    years_ago,
)
from tests.treatments.builders import make_session, session_state

PREDOSE = {k: "y" if v is True else v for k, v in factories.PREDOSE_OK.items()}
VITALS = {k: str(v) for k, v in factories.NORMAL_BP.items()}


# --- helpers -------------------------------------------------------------------------------


# --- patient registration ------------------------------------------------------------------

PATIENT_FORM = {
    "mrn": "NEW-1",
    "first_name": "Robin",
    "last_name": "Newcomer",
    "date_of_birth": "1979-04-02",
    "sex": "female",
    "phone": "555-0142",
    "email": "",
    "driver_name": "Kim Newcomer",
    "driver_phone": "555-0143",
    "driver_relationship": "sister",
    "version_id": "0",
}


def test_registration_with_good_input_saves(app, as_role):
    desk = as_role("front_desk")
    response = desk.post("/patients/new", data=PATIENT_FORM)
    assert response.status_code == 302
    with app.app_context():
        patient = db.session.scalar(select(Patient).where(Patient.mrn == "NEW-1"))
        assert (patient.last_name, patient.driver_name) == ("Newcomer", "Kim Newcomer")
        assert patient.screened_at is None  # registration never screens


@pytest.mark.parametrize(
    "changes, errors",
    [
        (
            {"first_name": "", "last_name": "  "},
            {"first_name": "This field is required.", "last_name": "This field is required."},
        ),
        ({"mrn": ""}, {"mrn": "This field is required."}),
        ({"date_of_birth": ""}, {"date_of_birth": "This field is required."}),
        ({"date_of_birth": "1979-13-40"}, {"date_of_birth": "Not a valid date value."}),
        ({"date_of_birth": "1850-01-01"}, {"date_of_birth": "Enter a real date of birth."}),
        ({"sex": "unknown"}, {"sex": "Not a valid choice."}),
        (
            {"preferred_weekdays": "9"},
            {"preferred_weekdays": "'9' is not a valid choice for this field."},
        ),
    ],
    ids=[
        "names-missing",
        "mrn-missing",
        "dob-missing",
        "dob-malformed",
        "dob-too-old",
        "sex-unknown",
        "weekday-unknown",
    ],
)
def test_registration_refuses_bad_input(app, as_role, changes, errors):
    desk = as_role("front_desk")
    response = desk.post("/patients/new", data=dict(PATIENT_FORM, **changes))
    assert response.status_code == 400
    assert field_errors(response) == errors
    assert count(app, Patient) == 0
    assert "patient.create" not in audit_actions(app)


def test_registration_refuses_a_future_date_of_birth(app, as_role):
    freeze_local(10)
    desk = as_role("front_desk")
    tomorrow = (clinic_today() + timedelta(days=1)).isoformat()
    response = desk.post("/patients/new", data=dict(PATIENT_FORM, date_of_birth=tomorrow))
    assert response.status_code == 400
    assert field_error(response, "date_of_birth") == "Enter a real date of birth."
    assert count(app, Patient) == 0
    # Today is a real (if unusual) date of birth: the boundary is "after today".
    today = clinic_today().isoformat()
    assert (
        desk.post("/patients/new", data=dict(PATIENT_FORM, date_of_birth=today)).status_code == 302
    )


def test_registration_refuses_a_duplicate_mrn(app, as_role):
    with app.app_context():
        factories.make_patient(mrn="DUP-7", last_name="Original")
        db.session.commit()
    desk = as_role("front_desk")
    response = desk.post("/patients/new", data=dict(PATIENT_FORM, mrn="DUP-7"))
    assert response.status_code == 400
    assert field_error(response, "mrn") == "Another patient has this MRN."
    assert 'value="Newcomer"' in response.get_data(as_text=True)  # the input is kept
    assert count(app, Patient) == 1
    assert count(app, Patient, Patient.last_name == "Newcomer") == 0


def test_registration_with_an_email_address_saves(app, as_role):
    desk = as_role("front_desk")
    response = desk.post("/patients/new", data=dict(PATIENT_FORM, email="robin@example.org"))
    assert response.status_code == 302
    assert count(app, Patient, Patient.email == "robin@example.org") == 1


def test_registration_refuses_a_malformed_email(app, as_role):
    desk = as_role("front_desk")
    response = desk.post("/patients/new", data=dict(PATIENT_FORM, email="not-an-address"))
    assert response.status_code == 400
    assert field_error(response, "email") == "Invalid email address."
    assert count(app, Patient) == 0


# --- patient edit --------------------------------------------------------------------------


def _existing_patient(app) -> tuple[int, int]:
    with app.app_context():
        other = factories.make_patient(mrn="OTHER-1", screened=False)
        patient = factories.make_patient(mrn="EDIT-1", last_name="Before", screened=False)
        db.session.commit()
        return patient.id, other.id


def _edit_form(**changes) -> dict:
    data = dict(PATIENT_FORM, mrn="EDIT-1", last_name="After", version_id="1")
    data.update(changes)
    return data


def test_patient_edit_with_good_input_saves(app, as_role):
    pid, _ = _existing_patient(app)
    response = as_role("front_desk").post(f"/patients/{pid}/edit", data=_edit_form())
    assert response.status_code == 302
    with app.app_context():
        patient = db.session.get(Patient, pid)
        assert (patient.last_name, patient.version_id) == ("After", 2)


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"last_name": ""}, "last_name", "This field is required."),
        ({"email": "not-an-address"}, "email", "Invalid email address."),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth", "Enter a real date of birth."),
        ({"mrn": "OTHER-1"}, "mrn", "Another patient has this MRN."),
        ({"preferred_time": "25:00"}, "preferred_time", "Not a valid time value."),
    ],
    ids=["last-name-missing", "email-malformed", "dob-future", "mrn-taken", "time-malformed"],
)
@pytest.mark.parametrize("role", ["front_desk", "psychiatrist"])
def test_patient_edit_refuses_bad_input(app, as_role, role, changes, field, message):
    pid, _ = _existing_patient(app)
    response = as_role(role).post(f"/patients/{pid}/edit", data=_edit_form(**changes))
    assert response.status_code == 400
    assert field_error(response, field) == message
    assert set(field_errors(response)) == {field}
    with app.app_context():
        patient = db.session.get(Patient, pid)
        assert (patient.mrn, patient.last_name, patient.version_id) == ("EDIT-1", "Before", 1)
        assert patient.email == ""
    assert "patient.update" not in audit_actions(app)


# --- course prescription -------------------------------------------------------------------


def _course_form(**changes) -> dict:
    data = {
        "modality": "esketamine_nasal",
        "indication": "trd",
        "iv_mg_per_kg": "0.5",
        "iv_minutes": "40",
        "esketamine_dose_mg": "56",
        "started_on": clinic_today().isoformat(),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _patient_without_course(app) -> int:
    with app.app_context():
        patient = factories.make_patient()
        db.session.commit()
        return patient.id


def test_course_with_good_input_saves(app, as_role):
    pid = _patient_without_course(app)
    psychiatrist = as_role("psychiatrist")
    response = psychiatrist.post(f"/patients/{pid}/courses/new", data=_course_form())
    assert response.status_code == 302
    assert count(app, TreatmentCourse, TreatmentCourse.esketamine_dose_mg == 56) == 1


@pytest.mark.parametrize(
    "changes, field, message",
    [
        (
            {"esketamine_dose_mg": "84"},
            "esketamine_dose_mg",
            "A TRD esketamine course starts at 56 mg.",
        ),
        ({"esketamine_dose_mg": "112"}, "esketamine_dose_mg", "Not a valid choice."),
        ({"modality": None}, "modality", "This field is required."),
        ({"indication": "anxiety"}, "indication", "Not a valid choice."),
        ({"started_on": ""}, "started_on", "This field is required."),
        (
            {"modality": "iv_ketamine", "iv_mg_per_kg": ""},
            "iv_mg_per_kg",
            "An IV course needs mg/kg and infusion minutes.",
        ),
        (
            {"modality": "iv_ketamine", "iv_mg_per_kg": "3"},
            "iv_mg_per_kg",
            "Number must be between 0.1 and 2.",
        ),
        (
            {"modality": "iv_ketamine", "iv_minutes": "10"},
            "iv_minutes",
            "Number must be between 20 and 120.",
        ),
    ],
    ids=[
        "trd-84mg",
        "dose-112",
        "modality-missing",
        "indication-unknown",
        "start-missing",
        "iv-without-mg-per-kg",
        "iv-3mg-per-kg",
        "iv-10-minutes",
    ],
)
def test_course_refuses_bad_input(app, as_role, changes, field, message):
    freeze_local(10)
    pid = _patient_without_course(app)
    response = as_role("psychiatrist").post(
        f"/patients/{pid}/courses/new", data=_course_form(**changes)
    )
    assert response.status_code == 400
    assert field_error(response, field) == message
    assert count(app, TreatmentCourse) == 0
    assert "course.open" not in audit_actions(app)


def test_course_refuses_a_second_active_course_of_the_same_modality(app, as_role):
    freeze_local(10)
    pid = _patient_without_course(app)
    psychiatrist = as_role("psychiatrist")
    assert psychiatrist.post(f"/patients/{pid}/courses/new", data=_course_form()).status_code == 302
    response = psychiatrist.post(f"/patients/{pid}/courses/new", data=_course_form())
    assert response.status_code == 400
    assert (
        field_error(response, "modality")
        == "Alex Tester already has an active Esketamine nasal course."
    )
    assert count(app, TreatmentCourse) == 1


# --- pre-dose checklist --------------------------------------------------------------------

PREDOSE_MESSAGES = {
    "identity_confirmed": "Confirm the patient's identity (two identifiers).",
    "consent_confirmed": "Confirm consent is on file.",
    "fasting_confirmed": "Confirm the patient has fasted per protocol.",
    "medications_reviewed": "Review today's medications.",
    "rems_confirmed": "Confirm REMS enrollment.",
    "driver_confirmed": "Confirm the driver for the trip home.",
    "nasal_spray_checked": "Confirm no nasal corticosteroid or decongestant in the last hour.",
    "prescriber_on_site": "A prescriber must be on site before dosing.",
    "oximeter_available": "A pulse oximeter must be at the chair before dosing.",
    "driver_name": "Name the driver.",
    "driver_phone": "Give the driver's phone.",
}


def _post_predose(app, client, sid, **changes):
    data = dict(PREDOSE, version_id=str(version(app, sid)))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return client.post(f"/sessions/{sid}/predose", data=data)


def _assert_predose_not_saved(app, sid, before):
    assert session_state(app, sid) == before
    assert "session.predose" not in audit_actions(app)


@pytest.mark.parametrize("item", sorted(PREDOSE_MESSAGES))
def test_predose_refuses_each_missing_item(app, as_role, item):
    sid = make_session(app, stage="started")
    before = session_state(app, sid)
    missing = "  " if item in ("driver_name", "driver_phone") else None
    response = _post_predose(app, as_role("nurse"), sid, **{item: missing})
    assert response.status_code == 400
    assert field_errors(response) == {item: PREDOSE_MESSAGES[item]}
    _assert_predose_not_saved(app, sid, before)


def test_predose_lists_every_missing_item_at_once(app, as_role):
    sid = make_session(app, stage="started")
    before = session_state(app, sid)
    nurse = as_role("nurse")
    response = nurse.post(
        f"/sessions/{sid}/predose",
        data={"driver_name": "", "driver_phone": "", "version_id": str(version(app, sid))},
    )
    assert response.status_code == 400
    assert field_errors(response) == PREDOSE_MESSAGES
    _assert_predose_not_saved(app, sid, before)


def test_predose_with_every_item_saves(app, as_role):
    sid = make_session(app, stage="started")
    assert _post_predose(app, as_role("nurse"), sid).status_code == 302
    state = session_state(app, sid)
    assert state["predose_checked_at"] is not None
    assert state["driver_name"] == "Sam Tester"


def test_predose_hard_stop_when_not_enrolled_in_rems(app, as_role):
    sid = make_session(app, stage="started", rems_enrolled_on=None)
    before = session_state(app, sid)
    nurse = as_role("nurse")
    page = nurse.get(f"/sessions/{sid}")
    assert "Hard stop:" in page.get_data(as_text=True)
    response = _post_predose(app, nurse, sid)  # everything ticked, REMS included
    assert response.status_code == 400
    assert field_errors(response) == {
        "rems_confirmed": "Not enrolled in the esketamine REMS: no dose until enrolled."
    }
    _assert_predose_not_saved(app, sid, before)


def test_predose_without_rems_is_fine_for_iv_ketamine(app, as_role):
    sid = make_session(app, "iv_ketamine", stage="started", rems_enrolled_on=None)
    response = _post_predose(app, as_role("nurse"), sid, rems_confirmed=None)
    assert response.status_code == 302
    assert session_state(app, sid)["predose_checked_at"] is not None


@pytest.mark.parametrize(
    "status, message",
    [
        ("pregnant", "Pregnancy is a contraindication; do not dose."),
        (None, "Record the pregnancy status."),
        ("unsure", "Not a valid choice."),
    ],
)
def test_predose_pregnancy_hard_stop_for_a_woman_of_30(app, as_role, status, message):
    freeze_local(10)
    sid = make_session(app, stage="started", sex="female", date_of_birth=years_ago(30))
    before = session_state(app, sid)
    nurse = as_role("nurse")
    assert 'name="pregnancy_status"' in nurse.get(f"/sessions/{sid}").get_data(as_text=True)
    response = _post_predose(app, nurse, sid, pregnancy_status=status)
    assert response.status_code == 400
    assert field_errors(response) == {"pregnancy_status": message}
    _assert_predose_not_saved(app, sid, before)
    # Not pregnant: saved, and recorded as such.
    assert _post_predose(app, nurse, sid, pregnancy_status="not_pregnant").status_code == 302
    with app.app_context():
        assert db.session.get(TreatmentSession, sid).pregnancy_status == "not_pregnant"


def test_predose_refuses_consent_when_none_is_on_file(app, as_role):
    sid = make_session(app, stage="started", consent_date=None)
    before = session_state(app, sid)
    nurse = as_role("nurse")
    assert "— none recorded" in nurse.get(f"/sessions/{sid}").get_data(as_text=True)
    response = _post_predose(app, nurse, sid)
    assert response.status_code == 400
    assert field_errors(response) == {
        "consent_confirmed": "No signed consent is on file; record its date on the clinical screen."
    }
    _assert_predose_not_saved(app, sid, before)


# --- vitals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, errors",
    [
        (
            {"systolic": "120", "diastolic": "120"},
            {"diastolic": "Diastolic must be lower than systolic."},
        ),
        (
            {"systolic": "110", "diastolic": "130"},
            {"diastolic": "Diastolic must be lower than systolic."},
        ),
        (
            {"systolic": "80", "diastolic": "120", "spo2": "101", "heart_rate": ""},
            {
                "diastolic": "Diastolic must be lower than systolic.",
                "heart_rate": "This field is required.",
                "spo2": "Number must be between 50 and 100.",
            },
        ),
        ({"spo2": "101"}, {"spo2": "Number must be between 50 and 100."}),
        ({"systolic": "20"}, {"systolic": "Number must be between 50 and 300."}),
        ({"heart_rate": ""}, {"heart_rate": "This field is required."}),
        ({"resp_rate": "2"}, {"resp_rate": "Number must be between 4 and 60."}),
        (
            {"systolic": "12O"},
            {"systolic": "Not a valid integer value. Number must be between 50 and 300."},
        ),
        ({"taken_at": "11:30"}, {"taken_at": "This time is in the future."}),
        ({"taken_at": "25:99"}, {"taken_at": "Not a valid time value."}),
    ],
    ids=[
        "diastolic-equal",
        "diastolic-higher",
        "diastolic-higher-with-other-errors",
        "spo2-101",
        "systolic-20",
        "heart-rate-missing",
        "resp-rate-2",
        "systolic-typo",
        "time-future",
        "time-malformed",
    ],
)
def test_vitals_refuse_bad_input(app, as_role, changes, errors):
    sid = make_session(app, stage="checked")  # clock at 10:00 clinic time
    before = session_state(app, sid)
    response = as_role("nurse").post(f"/sessions/{sid}/vitals", data=dict(VITALS, **changes))
    assert response.status_code == 400
    assert field_errors(response) == errors
    assert count(app, VitalsReading) == 0
    assert "vitals.add" not in audit_actions(app)
    assert session_state(app, sid) == before


def test_vitals_with_good_input_and_an_earlier_time_save(app, as_role):
    sid = make_session(app, stage="checked")  # checked in at 10:00
    clock.advance(timedelta(minutes=10))
    response = as_role("nurse").post(f"/sessions/{sid}/vitals", data=dict(VITALS, taken_at="10:05"))
    assert response.status_code == 302
    with app.app_context():
        reading = db.session.scalar(select(VitalsReading))
        local = reading.taken_at.astimezone(CLINIC_ZONE)
        assert (local.hour, local.minute) == (10, 5)


def test_vitals_before_check_in_are_refused(app, as_role):
    sid = make_session(app, stage="checked")  # checked in at 10:00
    clock.advance(timedelta(minutes=10))
    response = as_role("nurse").post(f"/sessions/{sid}/vitals", data=dict(VITALS, taken_at="09:55"))
    assert response.status_code == 400
    assert field_errors(response) == {"taken_at": "This time is before check-in at 10:00."}
    assert count(app, VitalsReading) == 0


# --- dose ----------------------------------------------------------------------------------


def _assert_no_dose(app, sid, before):
    state = session_state(app, sid)
    assert state == before
    assert state["dose_started_at"] is None and state["dose_mg"] is None
    assert "session.dose" not in audit_actions(app)


def _post_dose(app, client, sid, **data):
    return client.post(f"/sessions/{sid}/dose", data=dict(data, version_id=str(version(app, sid))))


def test_dose_refuses_a_missing_lot_number(app, as_role):
    sid = make_session(app, stage="baseline")
    before = session_state(app, sid)
    response = _post_dose(app, as_role("nurse"), sid, dose_mg="56", lot_number=" ")
    assert response.status_code == 400
    assert field_errors(response) == {"lot_number": "Record the lot number."}
    _assert_no_dose(app, sid, before)


@pytest.mark.parametrize(
    "weight, message",
    [
        ("10", "Number must be between 30 and 250."),
        ("", "Weigh the patient today."),
        ("eighty", "Not a valid decimal value. Number must be between 30 and 250."),
    ],
)
def test_iv_dose_refuses_an_implausible_or_missing_weight(app, as_role, weight, message):
    sid = make_session(app, "iv_ketamine", stage="baseline")
    before = session_state(app, sid)
    response = _post_dose(app, as_role("nurse"), sid, weight_kg=weight, lot_number="IV-1")
    assert response.status_code == 400
    assert field_errors(response) == {"weight_kg": message}
    _assert_no_dose(app, sid, before)


def test_esketamine_84mg_refused_in_a_trd_course_without_an_earlier_56mg_dose(app, as_role):
    sid = make_session(app, stage="baseline")
    with app.app_context():  # the psychiatrist raised the course dose (no earlier dose given)
        db.session.get(TreatmentSession, sid).course.esketamine_dose_mg = 84
        db.session.commit()
    before = session_state(app, sid)
    response = _post_dose(app, as_role("nurse"), sid, dose_mg="84", lot_number="ESK-1")
    assert response.status_code == 400
    assert field_errors(response) == {
        "dose_mg": "84 mg needs an earlier 56 mg dose in this TRD course; the first dose is 56 mg."
    }
    _assert_no_dose(app, sid, before)


def test_dose_must_match_the_course_prescription(app, as_role):
    sid = make_session(app, stage="baseline")
    before = session_state(app, sid)
    response = _post_dose(app, as_role("nurse"), sid, dose_mg="84", lot_number="ESK-1")
    assert response.status_code == 400
    assert field_errors(response) == {
        "dose_mg": "The course prescribes 56 mg; a different dose needs the psychiatrist."
    }
    _assert_no_dose(app, sid, before)


@pytest.mark.parametrize(
    "stage, message",
    [
        ("started", "Complete the pre-dose checklist first."),
        ("checked", "Record pre-dose vitals first."),
    ],
)
def test_dose_refused_before_the_checklist_or_the_vitals(app, as_role, stage, message):
    sid = make_session(app, stage=stage)
    before = session_state(app, sid)
    response = _post_dose(app, as_role("nurse"), sid, dose_mg="56", lot_number="ESK-1")
    assert response.status_code == 400
    assert ("danger", message) in flashes(response)
    _assert_no_dose(app, sid, before)


def test_dose_time_before_the_pre_dose_vitals_is_refused(app, as_role):
    sid = make_session(app, stage="baseline")  # checked in at 10:00
    clock.advance(timedelta(minutes=15))
    with app.app_context():
        treatment = db.session.get(TreatmentSession, sid)
        services.add_vitals(factories.user("nurse"), treatment, dict(factories.NORMAL_BP))
        db.session.commit()  # the pre-dose reading that counts is now the 10:15 one
    before = session_state(app, sid)
    response = _post_dose(
        app, as_role("nurse"), sid, dose_mg="56", lot_number="ESK-1", dose_started_at="10:05"
    )
    assert response.status_code == 400
    assert field_errors(response) == {"dose_started_at": "This time is before the step it follows."}
    _assert_no_dose(app, sid, before)


# --- infusion end --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ended, message",
    [
        ("09:30", "This time is before check-in at 10:00."),
        ("10:00", "The infusion must end after it started."),
        ("11:30", "This time is in the future."),
    ],
)
def test_infusion_end_refused_before_its_start_or_in_the_future(app, as_role, ended, message):
    sid = make_session(app, "iv_ketamine", stage="dosed")  # infusion started 10:00
    clock.advance(timedelta(minutes=40))
    before = session_state(app, sid)
    response = as_role("nurse").post(
        f"/sessions/{sid}/infusion-end",
        data={
            "infusion_ended_at": ended,
            "infused_volume_ml": "40",
            "version_id": str(version(app, sid)),
        },
    )
    assert response.status_code == 400
    assert field_errors(response) == {"infusion_ended_at": message}
    assert session_state(app, sid) == before
    assert "session.infusion_end" not in audit_actions(app)


def test_infusion_end_refused_for_esketamine(app, as_role):
    sid = make_session(app, stage="dosed")
    before = session_state(app, sid)
    response = as_role("nurse").post(
        f"/sessions/{sid}/infusion-end",
        data={"infused_volume_ml": "40", "version_id": str(version(app, sid))},
    )
    assert response.status_code == 400
    assert ("danger", "Only IV sessions have an infusion.") in flashes(response)
    assert session_state(app, sid) == before


# --- sedation, dissociation, adverse events ------------------------------------------------


@pytest.mark.parametrize(
    "data, errors",
    [
        ({"score": "6"}, {"score": "Answers run from 0 to 5."}),
        ({"score": "-1"}, {"score": "Answers run from 0 to 5."}),
        ({"score": "five"}, {"score": "Answers run from 0 to 5."}),
        ({}, {"score": "Answer this item."}),
        ({"score": ""}, {"score": "Answer this item."}),
        (
            {"score": "5", "administered_at": "11:30"},
            {"moaas_administered_at": "This time is in the future."},
        ),
    ],
    ids=["6", "minus-1", "text", "missing", "blank", "future"],
)
def test_moaas_refuses_invalid_values(app, as_role, data, errors):
    sid = make_session(app, stage="dosed")
    response = as_role("nurse").post(f"/sessions/{sid}/sedation", data=data)
    assert response.status_code == 400
    assert field_errors(response) == errors
    assert count(app, Assessment) == 0


CADSS_OK = {f"item{n}": "1" for n in range(1, 7)}


@pytest.mark.parametrize(
    "changes, errors",
    [
        ({"item3": "5"}, {"item3": "Answers run from 0 to 4."}),
        ({"item6": None}, {"item6": "Answer this item."}),
        ({"item2": ""}, {"item2": "Answer this item."}),
        ({"item1": "x"}, {"item1": "Answers run from 0 to 4."}),
    ],
    ids=["item3-5", "item6-missing", "item2-blank", "item1-text"],
)
def test_cadss_refuses_invalid_values(app, as_role, changes, errors):
    sid = make_session(app, stage="dosed")
    data = {k: v for k, v in dict(CADSS_OK, **changes).items() if v is not None}
    response = as_role("nurse").post(f"/sessions/{sid}/dissociation", data=data)
    assert response.status_code == 400
    assert field_errors(response) == errors
    assert count(app, Assessment) == 0


def test_scales_with_good_input_save(app, as_role):
    sid = make_session(app, stage="dosed")
    nurse = as_role("nurse")
    assert nurse.post(f"/sessions/{sid}/sedation", data={"score": "4"}).status_code == 302
    assert nurse.post(f"/sessions/{sid}/dissociation", data=CADSS_OK).status_code == 302
    with app.app_context():
        totals = {a.instrument: a.total for a in db.session.scalars(select(Assessment))}
    assert totals == {"moaas": 4, "cadss6": 6}


@pytest.mark.parametrize(
    "changes, errors",
    [
        ({"severity": "critical"}, {"severity": "Not a valid choice."}),
        ({"kind": "alien_abduction"}, {"kind": "Not a valid choice."}),
        ({"onset_at": "11:30"}, {"onset_at": "This time is in the future."}),
    ],
    ids=["severity-critical", "kind-unknown", "onset-future"],
)
def test_adverse_event_refuses_invalid_values(app, as_role, changes, errors):
    sid = make_session(app, stage="dosed")
    data = dict({"kind": "nausea", "severity": "mild", "intervention": "Ondansetron"}, **changes)
    response = as_role("nurse").post(f"/sessions/{sid}/adverse-events", data=data)
    assert response.status_code == 400
    assert field_errors(response) == errors
    assert count(app, AdverseEvent) == 0
    assert "adverse_event.add" not in audit_actions(app)


# --- discharge -----------------------------------------------------------------------------

DISCHARGE_OK = factories.DISCHARGE_FORM
ATTESTATION_MESSAGES = {
    "alert_oriented": "The patient is not alert and oriented.",
    "gait_steady": "The patient's gait is not steady.",
    "vomiting": "The patient is actively vomiting.",
    "escort_kind": "Choose who the patient leaves with.",
}


def _post_discharge(app, client, sid, **changes):
    data = dict(DISCHARGE_OK, version_id=str(version(app, sid)))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return client.post(f"/sessions/{sid}/discharge", data=data)


@pytest.mark.parametrize(
    "changes, blocker",
    [
        ({"alert_oriented": None}, "alert_oriented"),
        ({"gait_steady": None}, "gait_steady"),
        ({"vomiting": "y"}, "vomiting"),
        ({"escort_kind": None}, "escort_kind"),
    ],
)
def test_discharge_lists_each_failed_attestation(app, as_role, changes, blocker):
    sid = make_session(app, stage="observed")  # 121 min, vitals fine: only attestations block
    before = session_state(app, sid)
    response = _post_discharge(app, as_role("nurse"), sid, **changes)
    assert response.status_code == 409
    assert discharge_blockers(response) == [ATTESTATION_MESSAGES[blocker]]
    assert field_error(response, blocker) == ATTESTATION_MESSAGES[blocker]
    assert session_state(app, sid) == before
    assert "session.discharge" not in audit_actions(app)


def test_discharge_lists_every_failed_attestation_together(app, as_role):
    sid = make_session(app, stage="observed")
    before = session_state(app, sid)
    response = _post_discharge(
        app, as_role("nurse"), sid, alert_oriented=None, vomiting="y", escort_kind=None
    )
    assert response.status_code == 409
    assert discharge_blockers(response) == [
        ATTESTATION_MESSAGES["alert_oriented"],
        ATTESTATION_MESSAGES["vomiting"],
        ATTESTATION_MESSAGES["escort_kind"],
    ]
    assert session_state(app, sid) == before


def test_discharge_with_every_attestation_succeeds(app, as_role):
    sid = make_session(app, stage="observed")
    assert _post_discharge(app, as_role("nurse"), sid).status_code == 302
    state = session_state(app, sid)
    assert state["status"] == "discharged"


# --- sign ----------------------------------------------------------------------------------


def test_sign_with_a_wrong_password_is_refused_and_audited(app, as_role, staff):
    sid = make_session(app, stage="discharged")
    before = session_state(app, sid)
    response = as_role("nurse").post(f"/sessions/{sid}/sign", data={"password": "wrong-horse"})
    assert response.status_code == 400
    assert field_errors(response) == {"password": "The password is not correct."}
    assert "wrong-horse" not in response.get_data(as_text=True)
    state = session_state(app, sid)
    assert state == before
    assert state["status"] == "discharged"
    with app.app_context():
        attempts = db.session.execute(
            select(AuditEvent.outcome, AuditEvent.user_id, AuditEvent.entity_id).where(
                AuditEvent.action == "session.sign"
            )
        ).all()
    assert attempts == [("failure", staff["nurse"], sid)]


def test_sign_without_a_password_is_refused(app, as_role):
    sid = make_session(app, stage="discharged")
    before = session_state(app, sid)
    response = as_role("nurse").post(f"/sessions/{sid}/sign", data={"password": ""})
    assert response.status_code == 400
    assert field_errors(response) == {"password": "This field is required."}
    assert session_state(app, sid) == before
    assert "session.sign" not in audit_actions(app)


def test_sign_refused_before_discharge(app, as_role):
    sid = make_session(app, stage="observed")
    before = session_state(app, sid)
    response = as_role("nurse").post(f"/sessions/{sid}/sign", data={"password": PASSWORD})
    assert response.status_code == 400
    assert ("danger", "Only a discharged or not-dosed, unsigned session can be signed.") in flashes(
        response
    )
    assert session_state(app, sid) == before


# --- addendum ------------------------------------------------------------------------------


def test_addendum_refused_on_an_unsigned_session(app, as_role):
    sid = make_session(app, stage="discharged")
    response = as_role("nurse").post(
        f"/sessions/{sid}/addenda", data={"reason": "Typo", "body": "Lot was LOT-2."}
    )
    assert response.status_code == 400
    assert ("danger", "The session is not signed yet; correct it directly.") in flashes(response)
    assert count(app, Addendum) == 0


@pytest.mark.parametrize(
    "data, errors",
    [
        ({"reason": "", "body": "Lot was LOT-2."}, {"addendum_form-reason": None}),
        ({"reason": "   ", "body": "Lot was LOT-2."}, {"addendum_form-reason": None}),
        ({"reason": "Typo", "body": ""}, {"addendum_form-body": None}),
    ],
    ids=["reason-empty", "reason-blank", "body-empty"],
)
def test_addendum_refused_without_reason_or_text(app, as_role, data, errors):
    sid = make_session(app, stage="signed")
    response = as_role("nurse").post(f"/sessions/{sid}/addenda", data=data)
    assert response.status_code == 400
    field = next(iter(errors)).removeprefix("addendum_form-")
    assert field_errors(response) == {field: "This field is required."}
    assert "<details open>" in response.get_data(as_text=True)  # the form is shown, not folded
    assert count(app, Addendum) == 0


# --- override ------------------------------------------------------------------------------


def test_override_refused_without_a_hold(app, as_role):
    sid = make_session(app, stage="baseline")  # pre-dose 122/78: no hold
    response = as_role("psychiatrist").post(
        f"/sessions/{sid}/override", data={"reason": "Just in case."}
    )
    assert response.status_code == 400
    assert ("danger", "There is no blood-pressure hold to override.") in flashes(response)
    assert count(app, Override) == 0


def test_override_refused_without_a_reason(app, as_role):
    sid = make_session(app, stage="checked")
    with app.app_context():
        services.add_vitals(
            factories.user("nurse"),
            db.session.get(TreatmentSession, sid),
            dict(factories.NORMAL_BP, systolic=158, diastolic=96),
        )
        db.session.commit()
    response = as_role("psychiatrist").post(f"/sessions/{sid}/override", data={"reason": " "})
    assert response.status_code == 400
    assert field_errors(response) == {"reason": "This field is required."}
    assert count(app, Override) == 0


# --- start session and hidden fields -------------------------------------------------------


def test_start_refuses_an_unknown_patient_or_course(app, as_role):
    sid = make_session(app, stage="started")
    with app.app_context():
        t = db.session.get(TreatmentSession, sid)
        pid, cid = t.patient_id, t.course_id
    nurse = as_role("nurse")
    assert (
        nurse.post("/sessions/start", data={"patient_id": "9999", "course_id": cid}).status_code
        == 404
    )
    assert (
        nurse.post("/sessions/start", data={"patient_id": pid, "course_id": ""}).status_code == 400
    )
    assert count(app, TreatmentSession) == 1


@pytest.mark.parametrize("target", ["start", "predose", "patient_edit"])
def test_non_numeric_hidden_ids_are_refused_with_400(app, as_role, target):
    sid = make_session(app, stage="started")
    with app.app_context():
        t = db.session.get(TreatmentSession, sid)
        pid, cid, version = t.patient_id, t.course_id, t.patient.version_id
    if target == "start":
        client = as_role("nurse")
        response = client.post("/sessions/start", data={"patient_id": "1 OR 1=1", "course_id": cid})
    elif target == "predose":
        client = as_role("nurse")
        response = client.post(f"/sessions/{sid}/predose", data=dict(PREDOSE, version_id="v1"))
    else:
        client = as_role("front_desk")
        form = dict(PATIENT_FORM, mrn="T-X", version_id="one")
        response = client.post(f"/patients/{pid}/edit", data=form)
    assert response.status_code == 400
    assert session_state(app, sid)["predose_checked_at"] is None
    with app.app_context():
        assert db.session.get(Patient, pid).version_id == version
