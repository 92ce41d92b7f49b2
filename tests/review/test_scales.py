"""PHQ-9 and GAD-7 item by item, on the session page before the dose and from the timeline; PHQ-9
item 9 above 0 and serious adverse events raise the same-day alert in the same transaction."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import Assessment, ClinicalAlert, TreatmentSession
from clinic_app.review import services as review_services
from clinic_app.treatments import services
from tests import factories
from tests.helpers import audit_rows, count, field_error, text
from tests.review import builders


def _open_session(app) -> tuple[int, int]:
    """A session just started (no dose yet): (session id, patient id)."""
    with app.app_context():
        patient, course = builders.patient_with_course(last_name="Scales")
        treatment = factories.start(patient, course)
        db.session.commit()
        return treatment.id, patient.id


def _answers(prefix: str, items: list) -> dict[str, str]:
    return {f"{prefix}-item{n}": str(v) for n, v in enumerate(items, start=1)}


def test_nurse_enters_phq9_item_by_item_before_the_dose(app, as_role, staff):
    sid, patient_id = _open_session(app)
    nurse = as_role("nurse")
    page = nurse.get(f"/sessions/{sid}")
    assert "9. Thoughts that you would be better off dead, or of hurting yourself" in text(page)
    response = nurse.post(
        f"/sessions/{sid}/phq9", data=_answers("phq9", [2, 2, 1, 1, 2, 1, 1, 0, 0])
    )
    assert response.status_code == 302
    with app.app_context():
        [a] = db.session.scalars(select(Assessment)).all()
        assert (a.instrument, a.items, a.total, a.band) == (
            "phq9",
            [2, 2, 1, 1, 2, 1, 1, 0, 0],
            10,
            "moderate",
        )
        assert a.session_id == sid
    assert count(app, ClinicalAlert) == 0
    page = text(nurse.get(f"/sessions/{sid}"))
    assert "PHQ-9 10 (moderate) · item 9: 0" in page


def test_item9_above_zero_raises_the_alert_in_the_same_transaction(app, as_role, staff):
    sid, patient_id = _open_session(app)
    nurse = as_role("nurse")
    items = [3, 3, 2, 2, 1, 1, 1, 0, 1]
    assert nurse.post(f"/sessions/{sid}/phq9", data=_answers("phq9", items)).status_code == 302
    with app.app_context():
        [alert] = db.session.scalars(select(ClinicalAlert)).all()
        assessment = db.session.scalars(select(Assessment)).one()
        assert alert.kind == "phq9_item9"
        assert (alert.patient_id, alert.session_id) == (patient_id, sid)
        assert alert.detail == {"item9": 1, "total": 14, "assessment_id": assessment.id}
        assert alert.acknowledged_at is None
    [event] = audit_rows(app, "alert.raise")
    assert event.detail == {"kind": "phq9_item9"}
    assert "psychiatrist alerted" in text(nurse.get(f"/sessions/{sid}"))
    queue = text(as_role("psychiatrist").get("/review"))
    assert "PHQ-9 item 9 above 0: Alex Scales" in queue
    # A second positive PHQ-9 while the alert is open does not stack a second alert.
    assert nurse.post(f"/sessions/{sid}/phq9", data=_answers("phq9", items)).status_code == 302
    assert count(app, ClinicalAlert) == 1
    assert count(app, Assessment) == 2


def test_alert_and_score_commit_or_roll_back_together(app, staff):
    sid, _ = _open_session(app)
    with app.app_context():
        treatment = db.session.get(TreatmentSession, sid)
        services.add_assessment(factories.user("nurse"), treatment, "phq9", [1] * 8 + [2])
        assert db.session.scalar(select(ClinicalAlert.kind)) == "phq9_item9"
        db.session.rollback()
    assert count(app, Assessment) == 0
    assert count(app, ClinicalAlert) == 0


@pytest.mark.parametrize(
    ("items", "field", "message"),
    [
        ([1, 1, 1, 7, 1, 1, 1, 1, 0], "phq9-item4", "Answers run from 0 to 3."),
        ([1, 1, 1, -1, 1, 1, 1, 1, 0], "phq9-item4", "Answers run from 0 to 3."),
        ([1, 1, 1, "x", 1, 1, 1, 1, 0], "phq9-item4", "Answers run from 0 to 3."),
        ([1, 1, 1, "", 1, 1, 1, 1, 0], "phq9-item4", "Answer this item."),
        ([1, 1, 1, 1, 1, 1, 1, 1, ""], "phq9-item9", "Answer this item."),
    ],
)
def test_bad_phq9_items_are_refused_and_nothing_is_saved(
    app, as_role, staff, items, field, message
):
    sid, _ = _open_session(app)
    response = as_role("nurse").post(f"/sessions/{sid}/phq9", data=_answers("phq9", items))
    assert response.status_code == 400
    assert field_error(response, field) == message
    assert count(app, Assessment) == 0
    assert count(app, ClinicalAlert) == 0


def test_gad7_on_the_session_page(app, as_role, staff):
    sid, _ = _open_session(app)
    nurse = as_role("nurse")
    assert (
        nurse.post(
            f"/sessions/{sid}/gad7", data=_answers("gad7", [2, 2, 2, 2, 2, 1, 1])
        ).status_code
        == 302
    )
    with app.app_context():
        a = db.session.scalars(select(Assessment)).one()
        assert (a.instrument, a.total, a.band) == ("gad7", 12, "moderate")
    bad = nurse.post(f"/sessions/{sid}/gad7", data=_answers("gad7", [2, 2, 2, 2, 2, 1, 9]))
    assert bad.status_code == 400
    assert field_error(bad, "gad7-item7") == "Answers run from 0 to 3."
    assert count(app, Assessment) == 1


def test_questionnaires_stay_on_the_session_page_after_the_dose(app, as_role, staff):
    with app.app_context():
        treatment = factories.dosed_session()
        db.session.commit()
        sid = treatment.id
    nurse = as_role("nurse")
    page = text(nurse.get(f"/sessions/{sid}"))
    assert "Add PHQ-9" in page
    assert "Add GAD-7" in page
    assert "Add CADSS-6" in page
    response = nurse.post(f"/sessions/{sid}/gad7", data=_answers("gad7", [1] * 7))
    assert response.status_code == 302
    with app.app_context():
        assert [a.instrument for a in db.session.scalars(select(Assessment))] == ["gad7"]


def test_front_desk_cannot_enter_scales(app, as_role, staff):
    sid, patient_id = _open_session(app)
    desk = as_role("front_desk")
    data = _answers("phq9", [1] * 8 + [2])
    assert desk.post(f"/sessions/{sid}/phq9", data=data).status_code == 403
    assert desk.post(f"/patients/{patient_id}/questionnaires/phq9", data=data).status_code == 403
    gad = _answers("gad7", [1] * 7)
    assert desk.post(f"/patients/{patient_id}/questionnaires/gad7", data=gad).status_code == 403
    assert count(app, Assessment) == 0
    assert count(app, ClinicalAlert) == 0


# --- outside a session (from the timeline) ---------------------------------------------------


def test_phq9_outside_a_session_from_the_timeline(app, as_role, staff):
    _, patient_id = _open_session(app)
    nurse = as_role("nurse")
    page = text(nurse.get(f"/patients/{patient_id}/timeline"))
    assert "Record a scale outside a session" in page
    yesterday = (clock.utcnow() - timedelta(days=1)).astimezone(ZoneInfo("America/Los_Angeles"))
    data = _answers("phq9", [3, 3, 3, 2, 2, 2, 1, 1, 3])
    data["phq9-administered_at"] = yesterday.strftime("%Y-%m-%dT%H:%M")
    response = nurse.post(f"/patients/{patient_id}/questionnaires/phq9", data=data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/patients/{patient_id}/timeline")
    with app.app_context():
        a = db.session.scalars(select(Assessment)).one()
        assert a.session_id is None
        assert (a.total, a.band) == (20, "severe")
        assert a.administered_at == yesterday.replace(second=0, microsecond=0)
        alert = db.session.scalars(select(ClinicalAlert)).one()
        assert (alert.kind, alert.session_id, alert.detail["item9"]) == ("phq9_item9", None, 3)
    page = text(nurse.get(f"/patients/{patient_id}/timeline"))
    assert "Item 9 (thoughts of self-harm) answered 3; PHQ-9 total 20." in page
    assert "Not yet acknowledged." in page


def test_gad7_outside_a_session(app, as_role, staff):
    _, patient_id = _open_session(app)
    response = as_role("psychiatrist").post(
        f"/patients/{patient_id}/questionnaires/gad7", data=_answers("gad7", [1, 1, 1, 1, 1, 0, 0])
    )
    assert response.status_code == 302
    with app.app_context():
        a = db.session.scalars(select(Assessment)).one()
        assert (a.instrument, a.total, a.band, a.session_id) == ("gad7", 5, "mild", None)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"phq9-item4": "4"}, "phq9-item4", "Answers run from 0 to 3."),
        ({"phq9-item4": ""}, "phq9-item4", "Answer this item."),
        ({"phq9-administered_at": "yesterday"}, "phq9-administered_at", None),
        (
            {"phq9-administered_at": "2100-01-01T09:00"},
            "phq9-administered_at",
            "This time is in the future.",
        ),
        (
            {"phq9-administered_at": "2000-01-01T09:00"},
            "phq9-administered_at",
            "Record scales from the last 60 days only.",
        ),
    ],
)
def test_bad_outside_phq9_is_refused(app, as_role, staff, change, field, message):
    _, patient_id = _open_session(app)
    data = {**_answers("phq9", [1] * 8 + [1]), **change}
    response = as_role("nurse").post(f"/patients/{patient_id}/questionnaires/phq9", data=data)
    assert response.status_code == 400
    error = field_error(response, field)
    assert error if message is None else error == message
    assert count(app, Assessment) == 0
    assert count(app, ClinicalAlert) == 0


def test_record_scale_service_checks_role_and_instrument(app, staff):
    _, patient_id = _open_session(app)
    from clinic_app.errors import PermissionDenied, RuleViolation
    from clinic_app.models import Patient

    with app.app_context():
        patient = db.session.get(Patient, patient_id)
        with pytest.raises(PermissionDenied):
            review_services.record_scale(factories.user("front_desk"), patient, "phq9", [0] * 9)
        with pytest.raises(RuleViolation):
            review_services.record_scale(factories.user("nurse"), patient, "moaas", [3])
        with pytest.raises(RuleViolation):
            review_services.record_scale(factories.user("nurse"), patient, "phq9", [0] * 8)


# --- serious adverse events ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "alerted"),
    [
        (
            {
                "kind": "respiratory_depression",
                "severity": "moderate",
                "serious": "y",
                "description": "SpO2 88 % for four minutes.",
            },
            True,
        ),
        # severe counts as serious
        ({"kind": "emergence", "severity": "severe", "description": "Agitated."}, True),
        ({"kind": "nausea", "severity": "mild"}, False),
    ],
)
def test_a_serious_adverse_event_raises_the_alert(app, as_role, staff, data, alerted):
    with app.app_context():
        treatment = factories.dosed_session()
        db.session.commit()
        sid, patient_id = treatment.id, treatment.patient_id
    assert as_role("nurse").post(f"/sessions/{sid}/adverse-events", data=data).status_code == 302
    with app.app_context():
        alerts = db.session.scalars(select(ClinicalAlert)).all()
        if not alerted:
            assert alerts == []
            return
        [alert] = alerts
        assert (alert.kind, alert.patient_id, alert.session_id) == ("serious_ae", patient_id, sid)
        assert alert.detail["kind"] == data["kind"]
    queue = text(as_role("psychiatrist").get("/review"))
    assert "Serious adverse event: Alex Tester" in queue
