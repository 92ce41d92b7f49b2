"""The dose step through the views: a large IV dose or a TRD indication confirmed by the
prescriber, today's weight, the IV pump and its pauses, esketamine devices one by one, and the
pre-dose additions."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import (
    DeviceAdministration,
    InfusionPause,
    Patient,
    TreatmentCourse,
    TreatmentSession,
)
from clinic_app.review.stored import store_summaries
from clinic_app.treatments import services
from tests import factories
from tests.helpers import (
    CLINIC_ZONE,
    PASSWORD,
    audit_rows,
    count,
    field_error,
    field_errors,
    freeze_local,
    soup,
    text,
    version,
)

# --- prescribing a course -----------------------------------------------------------------------

COURSE = {
    "modality": "iv_ketamine",
    "indication": "trd",
    "iv_mg_per_kg": "2.0",
    "iv_minutes": "40",
    "esketamine_dose_mg": "56",
    "started_on": "2026-01-05",
}


def _patient(app, **changes) -> int:
    with app.app_context():
        patient = factories.make_patient(**changes)
        db.session.commit()
        return patient.id


def _courses(app, patient_id) -> list[TreatmentCourse]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(TreatmentCourse).where(TreatmentCourse.patient_id == patient_id)
            )
        )
        db.session.expunge_all()
        return rows


def test_the_course_form_shows_the_usual_maximum(app, as_role):
    pid = _patient(app)
    page = text(as_role("psychiatrist").get(f"/patients/{pid}/courses/new"))
    assert "Usual maximum 1.0 mg/kg (hard limit 2 mg/kg)." in page
    assert "Reason for a dose above the usual maximum" in page


def test_2_mg_per_kg_without_password_and_reason_is_refused_and_nothing_saved(app, as_role):
    pid = _patient(app)
    response = as_role("psychiatrist").post(f"/patients/{pid}/courses/new", data=COURSE)
    assert response.status_code == 400
    assert field_error(response, "dose_reason") == (
        "2.0 mg/kg is above the usual maximum of 1.0 mg/kg: give the reason."
    )
    assert field_error(response, "password") == "Confirm 2.0 mg/kg with your password."
    assert _courses(app, pid) == []
    assert audit_rows(app, "course.open") == []


def test_2_mg_per_kg_with_password_and_reason_is_saved_and_audited(app, as_role, staff):
    pid = _patient(app)
    response = as_role("psychiatrist").post(
        f"/patients/{pid}/courses/new",
        data=dict(COURSE, dose_reason="No response at 1 mg/kg.", password=PASSWORD),
    )
    assert response.status_code == 302
    [course] = _courses(app, pid)
    assert course.iv_mg_per_kg == Decimal("2.00")
    assert course.dose_reason == "No response at 1 mg/kg."
    [event] = audit_rows(app, "course.open")
    assert (event.outcome, event.user_id, event.patient_id) == (
        "success",
        staff["psychiatrist"],
        pid,
    )
    assert event.detail["above_usual_dose"] is True


def test_a_wrong_password_is_refused_by_the_field_and_audited(app, as_role, staff):
    pid = _patient(app)
    response = as_role("psychiatrist").post(
        f"/patients/{pid}/courses/new",
        data=dict(COURSE, dose_reason="No response at 1 mg/kg.", password="not-my-password"),
    )
    assert response.status_code == 400
    assert field_error(response, "password") == "The password is not correct."
    assert "No response at 1 mg/kg.</textarea>" in response.get_data(as_text=True)
    assert _courses(app, pid) == []
    [event] = audit_rows(app, "course.open")
    assert (event.outcome, event.detail) == ("failure", {"reason": "bad_password"})
    assert (event.user_id, event.patient_id) == (staff["psychiatrist"], pid)


@pytest.mark.parametrize("mg_per_kg", ["0.5", "1.0"])
def test_up_to_the_usual_maximum_needs_no_confirmation(app, as_role, mg_per_kg):
    pid = _patient(app)
    response = as_role("psychiatrist").post(
        f"/patients/{pid}/courses/new", data=dict(COURSE, iv_mg_per_kg=mg_per_kg)
    )
    assert response.status_code == 302
    [course] = _courses(app, pid)
    assert course.dose_reason == ""


def test_above_the_hard_limit_is_still_refused(app, as_role):
    pid = _patient(app)
    response = as_role("psychiatrist").post(
        f"/patients/{pid}/courses/new",
        data=dict(COURSE, iv_mg_per_kg="2.5", dose_reason="More.", password=PASSWORD),
    )
    assert response.status_code == 400
    assert field_error(response, "iv_mg_per_kg") == "Number must be between 0.1 and 2."
    assert _courses(app, pid) == []


@pytest.mark.parametrize("failed_trials", [0, 1])
def test_trd_with_fewer_than_two_failed_trials_needs_a_reason(app, as_role, failed_trials):
    pid = _patient(app, failed_trials=failed_trials)
    psychiatrist = as_role("psychiatrist")
    assert "TRD usually means two or more" in text(psychiatrist.get(f"/patients/{pid}/courses/new"))
    data = dict(COURSE, iv_mg_per_kg="0.5")
    refused = psychiatrist.post(f"/patients/{pid}/courses/new", data=data)
    assert refused.status_code == 400
    assert field_error(refused, "indication_reason").startswith(
        f"TRD with {failed_trials} failed antidepressant trial"
    )
    assert _courses(app, pid) == []
    reason = "Two trials abroad, records pending."
    saved = psychiatrist.post(
        f"/patients/{pid}/courses/new", data=dict(data, indication_reason=reason)
    )
    assert saved.status_code == 302
    assert [c.indication_reason for c in _courses(app, pid)] == [reason]


def test_trd_with_two_failed_trials_needs_no_reason(app, as_role):
    pid = _patient(app, failed_trials=2)
    psychiatrist = as_role("psychiatrist")
    assert "TRD usually means" not in text(psychiatrist.get(f"/patients/{pid}/courses/new"))
    data = dict(COURSE, modality="esketamine_nasal")
    assert psychiatrist.post(f"/patients/{pid}/courses/new", data=data).status_code == 302


def test_both_reasons_are_asked_for_at_once(app, as_role):
    pid = _patient(app, failed_trials=0)
    response = as_role("psychiatrist").post(f"/patients/{pid}/courses/new", data=COURSE)
    assert response.status_code == 400
    assert {"indication_reason", "dose_reason", "password"} <= set(field_errors(response))


# --- the session: weight, pump, pauses ----------------------------------------------------------


def _session(app, modality="iv_ketamine", stage="baseline", **patient) -> int:
    """A session at 10:00 clinic time, charted up to the pre-dose vitals or the dose."""
    freeze_local(10, 0)
    with app.app_context():
        p = factories.make_patient(**patient)
        course = factories.make_course(p, modality)
        t = factories.start(p, course)
        nurse = factories.user("nurse")
        services.record_predose(nurse, t, factories.PREDOSE_OK, t.version_id)
        services.add_vitals(nurse, t, dict(factories.NORMAL_BP))
        if stage == "dosed":
            data = {"dose_mg": "56", "weight_kg": "80", "lot_number": "LOT-1", **factories.PUMP_OK}
            services.record_dose(nurse, t, data, t.version_id)
        db.session.commit()
        return t.id


def _dose(app, client, sid, **data):
    return client.post(f"/sessions/{sid}/dose", data=dict(data, version_id=version(app, sid)))


def test_the_weight_starts_empty_with_the_last_weighed_visit_as_hint(app, as_role):
    freeze_local(9, 0, days_ago=7)
    with app.app_context():
        patient = factories.make_patient(weight_kg=Decimal("80.0"))
        course = factories.make_course(patient, "iv_ketamine")
        past = factories.start(patient, course)
        past.weight_kg = Decimal("82.0")
        db.session.commit()
        patient_id, course_id, started = patient.id, course.id, past.started_at
    freeze_local(10, 0)
    with app.app_context():
        today = factories.start(
            db.session.get(Patient, patient_id), db.session.get(TreatmentCourse, course_id)
        )
        nurse = factories.user("nurse")
        services.record_predose(nurse, today, factories.PREDOSE_OK, today.version_id)
        services.add_vitals(nurse, today, dict(factories.NORMAL_BP))
        db.session.commit()
        sid = today.id
        assert today.weight_kg is None  # never carried from the record
    page = as_role("nurse").get(f"/sessions/{sid}")
    local = started.astimezone(CLINIC_ZONE)
    day = f"{local:%a} {local.day} {local:%b}"  # the short date, "Fri 28 Nov"
    assert f"Last: 82.0 kg on {day} — weigh today." in text(page)
    assert soup(page).find("input", id="weight_kg")["value"] == ""


def test_no_weight_on_record_says_so(app, as_role):
    sid = _session(app, weight_kg=None)
    assert "No weight on record — weigh today." in text(as_role("nurse").get(f"/sessions/{sid}"))


def test_todays_weight_becomes_the_patients_weight(app, as_role):
    sid = _session(app)
    response = _dose(
        app, as_role("nurse"), sid, weight_kg="76.4", lot_number="K-1",
        pump_concentration_mg_per_ml="1", pump_rate_ml_per_hour="57.3",
    )  # fmt: skip
    assert response.status_code == 302
    with app.app_context():
        t = db.session.get(TreatmentSession, sid)
        assert (t.weight_kg, t.patient.weight_kg, t.dose_mg) == (
            Decimal("76.4"),
            Decimal("76.4"),
            Decimal("38.2"),
        )
        assert (t.pump_concentration_mg_per_ml, t.pump_rate_ml_per_hour) == (
            Decimal("1.00"),
            Decimal("57.3"),
        )


def test_iv_dose_needs_the_pump_settings(app, as_role):
    sid = _session(app)
    response = _dose(app, as_role("nurse"), sid, weight_kg="80", lot_number="K-1")
    assert response.status_code == 400
    assert field_errors(response) == {
        "pump_concentration_mg_per_ml": "Record the concentration in the bag.",
        "pump_rate_ml_per_hour": "Record the pump rate.",
    }
    with app.app_context():
        t = db.session.get(TreatmentSession, sid)
        assert t.dose_started_at is None and t.patient.weight_kg == Decimal("80.0")


def test_a_pump_rate_that_does_not_give_the_dose_is_refused_by_the_field(app, as_role):
    sid = _session(app)
    response = _dose(
        app, as_role("nurse"), sid, weight_kg="80", lot_number="K-1",
        pump_concentration_mg_per_ml="10", pump_rate_ml_per_hour="60",
    )  # fmt: skip
    assert response.status_code == 400
    assert field_errors(response) == {
        "pump_rate_ml_per_hour": (
            "60 mL/h of 10 mg/mL for 40 min gives 400.0 mg, not 40.0 mg: set 6.0 mL/h."
        )
    }
    with app.app_context():
        assert db.session.get(TreatmentSession, sid).dose_started_at is None


def test_pause_resume_and_end_with_the_volume(app, as_role):
    sid = _session(app, stage="dosed")
    nurse = as_role("nurse")
    clock.advance(timedelta(minutes=10))
    refused = nurse.post(f"/sessions/{sid}/infusion-pause", data={"pause-reason": " "})
    assert refused.status_code == 400
    assert field_error(refused, "pause-reason") == "Give the reason for the pause."
    paused = nurse.post(f"/sessions/{sid}/infusion-pause", data={"pause-reason": "BP 168/102"})
    assert paused.status_code == 302
    page = text(nurse.get(f"/sessions/{sid}"))
    assert "Pump paused since" in page and "BP 168/102" in page
    assert "Record infusion end" not in page

    clock.advance(timedelta(minutes=5))
    end = {"infused_volume_ml": "40", "version_id": version(app, sid)}
    while_paused = nurse.post(f"/sessions/{sid}/infusion-end", data=end)
    assert while_paused.status_code == 400
    assert "The pump is paused" in text(while_paused)
    assert nurse.post(f"/sessions/{sid}/infusion-resume", data={}).status_code == 302

    clock.advance(timedelta(minutes=30))
    no_volume = nurse.post(f"/sessions/{sid}/infusion-end", data={"version_id": version(app, sid)})
    assert no_volume.status_code == 400
    assert field_error(no_volume, "infused_volume_ml") == "Record the volume infused."
    end["version_id"] = version(app, sid)
    assert nurse.post(f"/sessions/{sid}/infusion-end", data=end).status_code == 302
    with app.app_context():
        t = db.session.get(TreatmentSession, sid)
        [p] = t.infusion_pauses
        assert (p.resumed_at - p.paused_at, p.reason) == (timedelta(minutes=5), "BP 168/102")
        assert t.infused_volume_ml == Decimal("40.0")
    page = text(nurse.get(f"/sessions/{sid}"))
    # 45 minutes from start to end, 5 of them paused.
    assert "after 40 min running (pauses excluded); 40.0 mL infused." in page
    assert {e.action for e in audit_rows(app, "session.infusion_pause")} == {
        "session.infusion_pause"
    }
    assert len(audit_rows(app, "session.infusion_resume")) == 1


def test_a_short_infusion_is_flagged_for_review(app, as_role):
    sid = _session(app, stage="dosed")
    nurse = as_role("nurse")
    clock.advance(timedelta(minutes=10))
    nurse.post(f"/sessions/{sid}/infusion-pause", data={"pause-reason": "Nausea"})
    clock.advance(timedelta(minutes=10))
    nurse.post(f"/sessions/{sid}/infusion-resume", data={})
    clock.advance(timedelta(minutes=20))  # 40 minutes after the start, 30 running
    end = {"infused_volume_ml": "30", "version_id": version(app, sid)}
    assert nurse.post(f"/sessions/{sid}/infusion-end", data=end).status_code == 302
    with app.app_context():
        t = db.session.get(TreatmentSession, sid)
        # Discharged and signed directly: the review queue reads signed sessions.
        t.status, t.discharged_at = "signed", clock.utcnow()
        t.discharged_with, t.discharged_by_id = "Sam Tester", t.nurse_id
        t.signed_at, t.signed_by_id, t.signature_hash = clock.utcnow(), t.nurse_id, "a" * 64
        db.session.flush()
        store_summaries([sid])  # as signing does
        db.session.commit()
    queue = text(as_role("psychiatrist").get("/review"))
    assert "Infusion ran 30 min of the planned 40 min (10 min of pauses excluded)" in queue


def test_pause_refused_for_esketamine_and_before_the_dose(app, as_role):
    nurse = as_role("nurse")
    for sid in (_session(app, "esketamine_nasal", stage="dosed"), _session(app)):
        response = nurse.post(f"/sessions/{sid}/infusion-pause", data={"pause-reason": "x"})
        assert response.status_code == 400
        assert count(app, InfusionPause) == 0


# --- esketamine devices -------------------------------------------------------------------------


def _devices(app, sid) -> list[tuple]:
    with app.app_context():
        return [
            (d.device_number, d.lot_number, d.complete, d.note)
            for d in db.session.scalars(
                select(DeviceAdministration)
                .where(DeviceAdministration.session_id == sid)
                .order_by(DeviceAdministration.device_number)
            )
        ]


def test_devices_are_recorded_one_by_one_at_least_five_minutes_apart(app, as_role):
    sid = _session(app, "esketamine_nasal")
    nurse = as_role("nurse")
    assert _dose(app, nurse, sid, dose_mg="56", lot_number="ESK-1").status_code == 302
    assert _devices(app, sid) == [(1, "ESK-1", True, "")]
    page = text(nurse.get(f"/sessions/{sid}"))
    assert "Device 2 of 2" in page

    clock.advance(timedelta(minutes=3))
    early = nurse.post(f"/sessions/{sid}/devices", data={"lot_number": "ESK-1"})
    assert early.status_code == 400
    assert field_error(early, "given_at") == "Device 2 comes at least 5 min after device 1 (3 min)."
    clock.advance(timedelta(minutes=2))
    assert nurse.post(f"/sessions/{sid}/devices", data={"lot_number": "ESK-2"}).status_code == 302
    assert _devices(app, sid) == [(1, "ESK-1", True, ""), (2, "ESK-2", True, "")]
    assert "Device 3 of" not in text(nurse.get(f"/sessions/{sid}"))

    clock.advance(timedelta(minutes=5))
    extra = nurse.post(f"/sessions/{sid}/devices", data={"lot_number": "ESK-3"})
    assert extra.status_code == 400
    assert len(_devices(app, sid)) == 2
    with app.app_context():
        assert db.session.get(TreatmentSession, sid).lot_number == "ESK-1"


def test_a_partial_administration_needs_a_note_and_shows(app, as_role):
    sid = _session(app, "esketamine_nasal")
    nurse = as_role("nurse")
    refused = _dose(app, nurse, sid, dose_mg="56", lot_number="ESK-1", device_partial="y")
    assert refused.status_code == 400
    assert field_error(refused, "device_note") == (
        "Say what happened (sneezed, leaked, device failed...)."
    )
    assert _devices(app, sid) == []
    with app.app_context():
        assert db.session.get(TreatmentSession, sid).dose_started_at is None
    saved = _dose(
        app, nurse, sid, dose_mg="56", lot_number="ESK-1", device_partial="y",
        device_note="Sneezed right after the spray.",
    )  # fmt: skip
    assert saved.status_code == 302
    assert _devices(app, sid) == [(1, "ESK-1", False, "Sneezed right after the spray.")]
    assert "Partial Sneezed right after the spray." in text(nurse.get(f"/sessions/{sid}"))


# --- pre-dose additions -------------------------------------------------------------------------


def test_iv_predose_does_not_ask_about_nasal_sprays(app, as_role):
    freeze_local(10, 0)
    with app.app_context():
        p = factories.make_patient()
        t = factories.start(p, factories.make_course(p, "iv_ketamine"))
        db.session.commit()
        sid = t.id
    nurse = as_role("nurse")
    assert "nasal corticosteroid" not in text(nurse.get(f"/sessions/{sid}"))
    data = {k: "y" if v is True else v for k, v in factories.PREDOSE_OK.items()}
    data.pop("nasal_spray_checked")
    response = nurse.post(f"/sessions/{sid}/predose", data=dict(data, version_id=version(app, sid)))
    assert response.status_code == 302
    with app.app_context():
        t = db.session.get(TreatmentSession, sid)
        assert (t.nasal_spray_checked, t.prescriber_on_site, t.oximeter_available) == (
            False,
            True,
            True,
        )


@pytest.mark.parametrize(
    "field", ["nasal_spray_checked", "prescriber_on_site", "oximeter_available", "devices"]
)
def test_the_signature_covers_the_additions(app, staff, field):
    sid = _session(app, "esketamine_nasal", stage="dosed")
    with app.app_context():
        t = db.session.get(TreatmentSession, sid)
        before = services.content_hash(t)
        if field == "devices":
            t.devices[0].complete, t.devices[0].note = False, "Leaked."
        else:
            setattr(t, field, not getattr(t, field))
        assert services.content_hash(t) != before


def test_the_review_page_shows_devices_a_partial_one_and_the_pump(app, as_role):
    esk = _session(app, "esketamine_nasal")
    nurse = as_role("nurse")
    assert _dose(app, nurse, esk, dose_mg="56", lot_number="ESK-1").status_code == 302
    clock.advance(timedelta(minutes=5))
    partial = {"lot_number": "ESK-2", "device_partial": "y", "device_note": "Leaked."}
    assert nurse.post(f"/sessions/{esk}/devices", data=partial).status_code == 302
    iv = _session(app, stage="dosed")
    psychiatrist = as_role("psychiatrist")
    page = text(psychiatrist.get(f"/review/sessions/{esk}"))
    assert "Device 1 at" in page and "lot ESK-1" in page
    assert "lot ESK-2 — partial : Leaked." in page
    assert "1.00 mg/mL at 60.0 mL/h" in text(psychiatrist.get(f"/review/sessions/{iv}"))
