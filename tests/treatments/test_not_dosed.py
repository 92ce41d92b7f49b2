"""A session that ends without a dose: the reason is kept, the visit is marked and the chair
freed, the nurse signs it, and the psychiatrist sees it in the co-signature queue."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from clinic_app import clock
from clinic_app.clinical.codes import AppointmentStatus, SessionStatus
from clinic_app.extensions import db
from clinic_app.models import Appointment, AuditEvent, Chair, TreatmentSession
from clinic_app.treatments import services
from tests import factories
from tests.helpers import PASSWORD, audit_actions, field_errors, flashes, freeze_local, version
from tests.treatments.builders import make_session, session_state


def _booked_session(app, slot_minutes: int = 120, stage: str = "baseline") -> tuple[int, int]:
    """(session id, appointment id): a 10:00 visit in Chair 1, checked in at 10:00, with the
    pre-dose checks and pre-dose vitals done."""
    now = freeze_local(10, 0)
    with app.app_context():
        patient = factories.make_patient()
        course = factories.make_course(patient)
        chair = Chair(name="Chair 1", site=factories.site())
        db.session.add(chair)
        appointment = Appointment(
            patient_id=patient.id,
            course_id=course.id,
            chair=chair,
            starts_at=now,
            ends_at=now + timedelta(minutes=slot_minutes),
            visit_kind="induction",
            status="confirmed",
            driver_name="Sam Tester",
            driver_confirmed_at=now,
        )
        db.session.add(appointment)
        db.session.flush()
        nurse = factories.user("nurse")
        treatment = services.start_session(nurse, patient, course, appointment)
        services.record_predose(nurse, treatment, factories.PREDOSE_OK, treatment.version_id)
        services.add_vitals(nurse, treatment, dict(factories.NORMAL_BP, systolic=165))
        db.session.commit()
        return treatment.id, appointment.id


def _end(app, client, sid, reason="bp_hold", note=""):
    return client.post(
        f"/sessions/{sid}/not-dosed",
        data={"reason": reason, "note": note, "version_id": version(app, sid)},
    )


def test_not_dosed_frees_the_chair_and_marks_the_visit(app, as_role):
    sid, appointment_id = _booked_session(app)
    clock.advance(timedelta(minutes=25))
    nurse = as_role("nurse")
    response = _end(app, nurse, sid, "bp_hold", "Rechecked twice, still 165/100.")
    assert response.status_code == 302
    with app.app_context():
        t = db.session.get(TreatmentSession, sid)
        assert t.status == SessionStatus.NOT_DOSED
        assert t.not_dosed_at == clock.utcnow()
        assert (t.not_dosed_reason, t.not_dosed_note) == (
            "bp_hold",
            "Rechecked twice, still 165/100.",
        )
        appointment = db.session.get(Appointment, appointment_id)
        assert appointment.status == AppointmentStatus.NOT_DOSED
        assert appointment.ends_at == clock.utcnow()
        row = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "session.not_dosed"))
        assert row.entity_id == sid and row.detail == {"reason": "bp_hold"}
    page = nurse.get(f"/sessions/{sid}").get_data(as_text=True)
    assert "Ended without a dose" in page
    assert "Blood-pressure hold not overridden" in page
    assert f'action="/sessions/{sid}/discharge"' not in page
    board = nurse.get("/today").get_data(as_text=True)
    assert '<span class="badge status-not_dosed">Not dosed</span>' in board


def test_the_freed_rest_of_the_slot_can_be_booked_again(app, as_role):
    sid, appointment_id = _booked_session(app)
    clock.advance(timedelta(minutes=30))
    assert _end(app, as_role("nurse"), sid, "patient_declined").status_code == 302
    with app.app_context():
        booked = db.session.get(Appointment, appointment_id)
        other = factories.make_patient(last_name="Later")
        db.session.add(
            Appointment(
                patient_id=other.id,
                chair_id=booked.chair_id,
                starts_at=clock.utcnow() + timedelta(minutes=5),
                ends_at=clock.utcnow() + timedelta(minutes=65),
                visit_kind="consult",
            )
        )
        db.session.commit()  # the chair no longer holds the old slot: no overlap refused


def test_the_visit_shows_not_dosed_on_the_schedule(app, as_role):
    sid, appointment_id = _booked_session(app)
    assert _end(app, as_role("nurse"), sid, "patient_declined").status_code == 302
    page = as_role("front_desk").get(f"/schedule/appointments/{appointment_id}")
    assert page.status_code == 200
    assert '<span class="badge appt-not_dosed">Not dosed</span>' in page.get_data(as_text=True)


def test_a_slot_already_over_keeps_its_end(app, as_role):
    sid, appointment_id = _booked_session(app, slot_minutes=20)
    clock.advance(timedelta(minutes=45))
    with app.app_context():
        before = db.session.get(Appointment, appointment_id).ends_at
    assert _end(app, as_role("nurse"), sid, "unwell").status_code == 302
    with app.app_context():
        assert db.session.get(Appointment, appointment_id).ends_at == before


@pytest.mark.parametrize(
    "data, errors",
    [
        ({"reason": ""}, {"reason": "Choose why no dose was given."}),
        ({"reason": "other", "note": " "}, {"note": "Say why no dose was given."}),
        ({"reason": "bored"}, {"reason": "Not a valid choice."}),
    ],
    ids=["no-reason", "other-without-note", "unknown"],
)
def test_not_dosed_needs_a_known_reason_and_a_note_for_other(app, as_role, data, errors):
    sid = make_session(app, stage="baseline")
    before = session_state(app, sid)
    response = as_role("nurse").post(
        f"/sessions/{sid}/not-dosed", data=dict(data, version_id=version(app, sid))
    )
    assert response.status_code == 400
    assert field_errors(response) == errors
    assert session_state(app, sid) == before
    assert "session.not_dosed" not in audit_actions(app)


def test_not_dosed_is_refused_once_the_dose_is_recorded(app, as_role):
    sid = make_session(app, stage="dosed")
    before = session_state(app, sid)
    response = _end(app, as_role("nurse"), sid, "patient_declined")
    assert response.status_code == 400
    assert ("danger", "The dose is recorded; discharge the patient instead.") in flashes(response)
    assert session_state(app, sid) == before


def test_front_desk_cannot_end_a_session(app, as_role):
    sid = make_session(app, stage="baseline")
    before = session_state(app, sid)
    assert _end(app, as_role("front_desk"), sid).status_code == 403
    assert session_state(app, sid) == before


def test_nothing_more_is_charted_after_the_ending(app, as_role):
    sid = make_session(app, stage="baseline")
    nurse = as_role("nurse")
    assert _end(app, nurse, sid, "rems_not_met").status_code == 302
    response = nurse.post(
        f"/sessions/{sid}/dose",
        data={"dose_mg": "56", "lot_number": "L-1", "version_id": version(app, sid)},
    )
    assert response.status_code == 400
    assert (
        "danger",
        "This session ended without a dose; only signing and addenda remain.",
    ) in flashes(response)


def test_signed_not_dosed_session_reaches_the_queue_with_its_reason(app, as_role):
    sid, _ = _booked_session(app)
    nurse = as_role("nurse")
    assert _end(app, nurse, sid, "other", "Patient too anxious today.").status_code == 302
    psychiatrist = as_role("psychiatrist")
    assert "Patient too anxious" not in psychiatrist.get("/review").get_data(as_text=True)

    assert nurse.post(f"/sessions/{sid}/sign", data={"password": PASSWORD}).status_code == 302
    with app.app_context():
        t = db.session.get(TreatmentSession, sid)
        assert t.status == SessionStatus.SIGNED
        assert t.signature_hash == services.content_hash(t)
    queue = psychiatrist.get("/review").get_data(as_text=True)
    assert "Not dosed: Other (Patient too anxious today)." in queue
    review = psychiatrist.get(f"/review/sessions/{sid}").get_data(as_text=True)
    assert "Not dosed: Other (Patient too anxious today)." in review
    header = nurse.get(f"/sessions/{sid}").get_data(as_text=True)
    assert '<span class="badge sig-signed">Signed</span>' in header
    assert "Not dosed</span>" in header


def test_the_reason_is_part_of_the_signed_content(app, staff):
    with app.app_context():
        patient = factories.make_patient()
        treatment = factories.start(patient, factories.make_course(patient))
        treatment.not_dosed_reason = "patient_declined"
        declined = services.content_hash(treatment)
        treatment.not_dosed_reason = "unwell"
        assert services.content_hash(treatment) != declined


def test_vitals_table_asks_for_pre_dose_vitals_only_while_dosing_is_ahead(app, as_role):
    sid = make_session(app, stage="checked")  # pre-dose checks done, no reading yet
    nurse = as_role("nurse")

    def empty_row() -> str:
        page = nurse.get(f"/sessions/{sid}").get_data(as_text=True)
        table = page.split('id="vitals-h"', 1)[1].split("</table>", 1)[0]
        return table.split('<td colspan="8">', 1)[1].split("</td>", 1)[0]

    assert empty_row() == "No readings yet. Record pre-dose vitals before dosing."
    assert _end(app, nurse, sid, "patient_declined").status_code == 302
    assert empty_row() == "No readings."
