"""Issue #10's walkthrough cases through the pages: sedated patients cannot leave, urgent blood
pressure reaches the board and the psychiatrist, a pre-dose hold waits visibly for an override,
the escort is the confirmed driver or a named adult, never a ride-hail."""

import re

from sqlalchemy import select

from clinic_app.extensions import db
from clinic_app.models import AuditEvent, ClinicalAlert, TreatmentSession
from clinic_app.treatments import services
from tests import factories
from tests.helpers import (
    count_statements,
    discharge_blockers,
    field_error,
    freeze_local,
    markup,
    soup,
    text,
)
from tests.treatments.builders import chart, dosed_in_chair, in_chair, ready_to_leave

READY = {"alert_oriented": "y", "gait_steady": "y"}


def discharge(app, client, sid, **fields):
    with app.app_context():
        version = db.session.get(TreatmentSession, sid).version_id
    return client.post(f"/sessions/{sid}/discharge", data=dict(READY, version_id=version, **fields))


def status(app, sid) -> str:
    with app.app_context():
        return db.session.get(TreatmentSession, sid).status


# --- sedated patients stay -------------------------------------------------------------------


def test_moaas_3_at_45_minutes_and_two_open_events_block_discharge_at_120(app, as_role):
    sid = dosed_in_chair(
        app,
        ("moaas", 5),
        ("cadss", 1),
        ("event", {"kind": "nausea", "severity": "moderate"}),
        ("event", {"kind": "dizziness", "severity": "moderate"}),
        ("wait", 35),
        ("moaas", 3),
        ("wait", 40),
        ("vitals", {}),
        ("wait", 5),
    )
    nurse = as_role("nurse")
    page = nurse.get(f"/sessions/{sid}")
    assert "Deep sedation" not in markup(page)  # the board marks it; the page lists blockers
    refused = discharge(app, nurse, sid, escort_kind="confirmed_driver")
    assert refused.status_code == 409
    assert discharge_blockers(refused) == [
        "Assess sedation (MOAA/S) again before discharge.",
        "Last MOAA/S is 3 (75 min after the dose): discharge needs a MOAA/S of 5 recorded "
        "after it.",
        "Nausea (moderate) is not resolved: mark it resolved, or the psychiatrist clears it.",
        "Dizziness or vertigo (moderate) is not resolved: mark it resolved, or the "
        "psychiatrist clears it.",
    ]
    assert status(app, sid) == "in_progress"
    board = markup(nurse.get("/today"))
    assert "Deep sedation: MOAA/S 3" in board


def test_iv_last_moaas_4_blocks_and_a_5_after_it_clears(app, as_role):
    freeze_local(9, 0)
    sid = in_chair(app, "iv_ketamine")
    pump = {"pump_concentration_mg_per_ml": "1", "pump_rate_ml_per_hour": "60"}
    chart(app, sid, ("vitals", {}), ("dose", pump), ("wait", 40))
    with app.app_context():
        treatment = db.session.get(TreatmentSession, sid)
        services.end_infusion(factories.user("nurse"), treatment, None, 40, treatment.version_id)
        db.session.commit()
    chart(app, sid, ("wait", 1), ("moaas", 4), ("cadss", 0), ("wait", 30), ("vitals", {}))
    nurse = as_role("nurse")
    refused = discharge(app, nurse, sid, escort_kind="confirmed_driver")
    assert refused.status_code == 409
    assert discharge_blockers(refused) == [
        "Last MOAA/S is 4 (41 min after the dose): discharge needs a MOAA/S of 5 recorded after it."
    ]
    chart(app, sid, ("moaas", 5))
    assert discharge(app, nurse, sid, escort_kind="confirmed_driver").status_code == 302
    assert status(app, sid) == "discharged"


def test_nothing_assessed_blocks_with_every_missing_assessment_named(app, as_role):
    freeze_local(9, 0)
    sid = in_chair(app)
    chart(app, sid, ("vitals", {}), ("dose", {}), ("wait", 40), ("devices", None), ("vitals", {}))
    chart(app, sid, ("wait", 80), ("vitals", {}))
    refused = discharge(app, as_role("nurse"), sid, escort_kind="confirmed_driver")
    assert refused.status_code == 409
    assert discharge_blockers(refused) == [
        "No MOAA/S since the dose: assess sedation.",
        "No CADSS-6 since the dose: record one, or attest that dissociation has resolved.",
    ]


# --- the escort ------------------------------------------------------------------------------


def test_uber_driver_is_refused_next_to_the_field_with_the_reason(app, as_role):
    sid = ready_to_leave(app)
    refused = discharge(
        app,
        as_role("nurse"),
        sid,
        escort_kind="other_adult",
        escort_name="Uber driver",
        escort_phone="555-0111",
        escort_relationship="driver",
    )
    assert refused.status_code == 409
    assert field_error(refused, "escort_name").startswith(
        "A ride-hail or taxi, public transport or leaving alone is "
        "not allowed: the patient must not drive until the next day"
    )
    assert status(app, sid) == "in_progress"


def test_another_adult_leaves_with_phone_and_relationship_and_is_flagged(app, as_role):
    sid = ready_to_leave(app)
    nurse = as_role("nurse")
    missing = discharge(app, nurse, sid, escort_kind="other_adult", escort_name="Jo Park")
    assert missing.status_code == 409
    assert discharge_blockers(missing) == [
        "Give that adult's phone number.",
        "Give that adult's relationship.",
    ]
    done = discharge(
        app,
        nurse,
        sid,
        escort_kind="other_adult",
        escort_name="Jo Park",
        escort_phone="555-0111",
        escort_relationship="sister",
    )
    assert done.status_code == 302
    with app.app_context():
        treatment = db.session.get(TreatmentSession, sid)
        assert (treatment.escort_kind, treatment.discharged_with) == ("other_adult", "Jo Park")
        assert (treatment.escort_phone, treatment.escort_relationship) == ("555-0111", "sister")
        services.sign(factories.user("nurse"), treatment, "correct-horse-battery")
        db.session.commit()
    queue = markup(as_role("psychiatrist").get("/review"))
    assert (
        "Left with Jo Park (sister, 555-0111), not the driver confirmed before the dose." in queue
    )


def test_the_confirmed_driver_is_taken_from_the_pre_dose_check(app, as_role):
    sid = ready_to_leave(app)
    done = discharge(app, as_role("nurse"), sid, escort_kind="confirmed_driver")
    assert done.status_code == 302
    with app.app_context():
        treatment = db.session.get(TreatmentSession, sid)
        assert treatment.discharged_with == "Sam Tester"
        assert treatment.escort_kind == "confirmed_driver"


# --- urgent blood pressure escalates ---------------------------------------------------------


def test_176_104_then_184_112_reaches_the_board_and_the_psychiatrist(app, as_role):
    freeze_local(9, 0)
    sid = in_chair(app, chair="Recliner 3", last_name="Okafor")
    chart(
        app,
        sid,
        ("vitals", {}),
        ("dose", {}),
        ("wait", 40),
        ("vitals", {"systolic": 176, "diastolic": 104}),
        ("wait", 10),
        ("vitals", {"systolic": 184, "diastolic": 112}),
    )
    nurse = as_role("nurse")
    board = markup(nurse.get("/today"))
    assert "Urgent BP 184/112" in board
    assert "Urgent BP recheck" in board  # the next check is the recheck, 5 min on
    assert "Before discharge" not in board

    psychiatrist = as_role("psychiatrist")
    review = markup(psychiatrist.get("/review"))
    chair_section = review.split("At the chair now")[1].split("Alerts needing action today")[0]
    assert "Urgent blood pressure: Alex Okafor" in chair_section
    assert "BP 184/112." in chair_section
    assert "Blood pressure: notify prescriber: Alex Okafor" in chair_section
    assert "BP 176/104." in chair_section
    assert "Recliner 3" in chair_section
    assert "reading at 09:50" in chair_section
    # The urgent alert is listed before the older notify-line one.
    assert chair_section.index("BP 184/112.") < chair_section.index("BP 176/104.")
    # The count badge in the navigation, on any page.
    assert (
        soup(psychiatrist.get("/patients/")).select_one(".badge.nav-alerts").text == "2 open alerts"
    )

    # Acknowledging needs a note.
    with app.app_context():
        urgent = db.session.scalar(select(ClinicalAlert).where(ClinicalAlert.kind == "bp_urgent"))
        urgent_id = urgent.id
    refused = psychiatrist.post(f"/review/alerts/{urgent_id}/acknowledge", data={})
    assert refused.status_code == 400
    done = psychiatrist.post(
        f"/review/alerts/{urgent_id}/acknowledge",
        data={f"alert{urgent_id}-note": "Labetalol 10 mg IV given; recheck in 5."},
    )
    assert done.status_code == 302
    assert (
        soup(psychiatrist.get("/patients/")).select_one(".badge.nav-alerts").text == "1 open alert"
    )


def test_the_recheck_stays_due_until_a_reading_is_back_under_the_line(app, as_role):
    freeze_local(9, 0)
    sid = in_chair(app)
    chart(app, sid, ("vitals", {}), ("dose", {}), ("wait", 40))
    chart(app, sid, ("vitals", {"systolic": 166, "diastolic": 96}), ("wait", 20))
    nurse = as_role("nurse")
    board = markup(nurse.get("/today"))
    assert re.search(r'BP recheck · 09:55\s*<span class="check-word">overdue', board)
    assert "BP 166/96" in board
    chart(app, sid, ("vitals", {"systolic": 150, "diastolic": 88}))
    board = markup(nurse.get("/today"))
    assert "BP recheck" not in board
    assert "BP 166/96" not in board


def test_a_predose_hold_is_marked_on_the_board_and_waits_on_the_psychiatrists_page(app, as_role):
    freeze_local(9, 0)
    sid = in_chair(app, last_name="Hold")
    chart(app, sid, ("vitals", {"systolic": 165, "diastolic": 102}))
    assert "BP hold: waiting for the psychiatrist" in markup(as_role("nurse").get("/today"))
    psychiatrist = as_role("psychiatrist")
    review = markup(psychiatrist.get("/review"))
    assert "Pre-dose BP hold: override or not: Alex Hold" in review
    assert "BP 165/102 before the dose, over the hold line 140/90" in review

    override = psychiatrist.post(
        f"/sessions/{sid}/override", data={"reason": "Anxious at arrival; recheck was 158/96."}
    )
    assert override.status_code == 302
    with app.app_context():
        hold = db.session.scalar(select(ClinicalAlert).where(ClinicalAlert.kind == "predose_hold"))
        assert hold.acknowledged_at is not None
        assert hold.acknowledge_note.startswith("Overridden: Anxious at arrival")
    assert "BP hold: waiting" not in markup(as_role("nurse").get("/today"))
    # The override reads with its label on the session page and the psychiatrist's review page.
    session_page = markup(as_role("nurse").get(f"/sessions/{sid}"))
    assert "Override (pre-dose BP hold) by Test psychiatrist, MD at 09:00: Anxious" in session_page
    review_page = markup(psychiatrist.get(f"/review/sessions/{sid}"))
    assert "<li>pre-dose BP hold by Test psychiatrist, MD at 09:00: Anxious" in review_page
    assert "predose bp hold" not in review_page.lower()


def test_a_recheck_under_the_hold_line_closes_the_hold_alert(app, as_role):
    freeze_local(9, 0)
    sid = in_chair(app)
    chart(app, sid, ("vitals", {"systolic": 150, "diastolic": 92}), ("wait", 10), ("vitals", {}))
    with app.app_context():
        hold = db.session.scalar(select(ClinicalAlert).where(ClinicalAlert.kind == "predose_hold"))
        assert hold.acknowledged_at is not None
        assert "under the hold line" in hold.acknowledge_note
        actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"alert.raise", "alert.close"} <= actions


# --- the psychiatrist's discharge override ---------------------------------------------------


def test_psychiatrist_overrides_clinical_blockers_and_the_discharge_is_flagged(app, as_role):
    sid = dosed_in_chair(
        app,
        ("moaas", 4),
        ("cadss", 0),
        ("wait", 81),
        ("moaas", 4),
        ("vitals", {}),
        ("rems", None),
    )
    psychiatrist = as_role("psychiatrist")
    assert psychiatrist.post(f"/sessions/{sid}/discharge-override", data={}).status_code == 400
    response = psychiatrist.post(
        f"/sessions/{sid}/discharge-override",
        data={"reason": "Baseline MOAA/S 4 from a known hearing impairment."},
    )
    assert response.status_code == 302
    nurse = as_role("nurse")
    assert discharge(app, nurse, sid, escort_kind="confirmed_driver").status_code == 302
    with app.app_context():
        services.sign(
            factories.user("nurse"),
            db.session.get(TreatmentSession, sid),
            "correct-horse-battery",
        )
        db.session.commit()
    queue = markup(psychiatrist.get("/review"))
    assert "Override used: discharge despite clinical blockers." in queue


def test_nurse_cannot_override_discharge(app, as_role):
    freeze_local(9, 0)
    sid = in_chair(app)
    response = as_role("nurse").post(f"/sessions/{sid}/discharge-override", data={"reason": "x"})
    assert response.status_code == 403


def test_ending_without_a_dose_closes_the_hold_alert(app, as_role):
    freeze_local(9, 0)
    sid = in_chair(app)
    chart(app, sid, ("vitals", {"systolic": 172, "diastolic": 104}))
    with app.app_context():
        treatment = db.session.get(TreatmentSession, sid)
        services.end_not_dosed(
            factories.user("nurse"), treatment, "bp_hold", "", treatment.version_id
        )
        db.session.commit()
        hold = db.session.scalar(select(ClinicalAlert).where(ClinicalAlert.kind == "predose_hold"))
    assert hold.acknowledged_at is not None
    assert hold.acknowledge_note == (
        "Session ended without a dose: Blood-pressure hold not overridden."
    )
    review = markup(as_role("psychiatrist").get("/review"))
    assert "Pre-dose BP hold: override or not" not in review


def test_review_page_does_not_grow_with_chair_alerts(app, as_role):
    """The alerts load with their patient, session and chair in one statement, and the
    navigation badge is one COUNT, however many chairs raise alerts."""
    freeze_local(9, 0)
    first = in_chair(app, chair="Chair A", last_name="First")
    chart(app, first, ("vitals", {"systolic": 184, "diastolic": 112}))
    psychiatrist = as_role("psychiatrist")
    psychiatrist.get("/review")
    with count_statements(app) as one:
        assert psychiatrist.get("/review").status_code == 200
    for n in range(5):
        sid = in_chair(app, chair=f"Chair {n}", last_name=f"More{n}")
        chart(app, sid, ("vitals", {"systolic": 184, "diastolic": 112}))
    psychiatrist.get("/review")
    with count_statements(app) as six:
        page = psychiatrist.get("/review")
    assert "Chair 4" in markup(page)
    assert len(six) == len(one)


def test_the_board_shows_the_next_check_right_after_an_infusion_ends(app, as_role):
    """A reading at the infusion end covers the 45-minute slot; the board names the next one
    instead of going blank."""
    freeze_local(9, 0)
    sid = in_chair(app, "iv_ketamine")
    pump = {"pump_concentration_mg_per_ml": "1", "pump_rate_ml_per_hour": "60"}
    chart(app, sid, ("vitals", {}), ("dose", pump))
    for _ in range(2):
        chart(app, sid, ("wait", 15), ("vitals", {}))
    chart(app, sid, ("wait", 10), ("vitals", {}))
    with app.app_context():
        treatment = db.session.get(TreatmentSession, sid)
        services.end_infusion(factories.user("nurse"), treatment, None, 40, treatment.version_id)
        db.session.commit()
    chart(app, sid, ("wait", 1))
    board = markup(as_role("nurse").get("/today"))
    assert re.search(r"60 min · 10:00\s*<span class=\"check-word\">upcoming", board)


# --- the walkthrough's second round ----------------------------------------------------------


def test_n_a_is_not_a_responsible_adult(app, as_role):
    sid = ready_to_leave(app)
    refused = discharge(
        app,
        as_role("nurse"),
        sid,
        escort_kind="other_adult",
        escort_name="N/A",
        escort_phone="n/a",
        escort_relationship="n/a",
    )
    assert refused.status_code == 409
    assert discharge_blockers(refused) == [
        "Name the adult the patient leaves with.",
        "Give that adult's phone number.",
        "Give that adult's relationship.",
    ]
    assert status(app, sid) == "in_progress"


def test_a_ride_hail_is_never_the_confirmed_driver(app, as_role):
    freeze_local(9, 0)
    with app.app_context():
        person = factories.make_patient()
        treatment = factories.start(person, factories.make_course(person))
        db.session.commit()
        sid, version = treatment.id, treatment.version_id
    data = {k: "y" if v is True else v for k, v in factories.PREDOSE_OK.items()}
    data.update(driver_name="Lyft", driver_phone="555", version_id=version)
    refused = as_role("nurse").post(f"/sessions/{sid}/predose", data=data)
    assert refused.status_code == 400
    assert field_error(refused, "driver_name").startswith("A ride-hail or taxi")
    assert field_error(refused, "driver_phone").startswith("Give the driver's phone.")
    with app.app_context():
        assert db.session.get(TreatmentSession, sid).predose_checked_at is None


def test_an_unscreened_patient_cannot_pass_the_pre_dose_check(app, as_role):
    freeze_local(9, 0)
    with app.app_context():
        person = factories.make_patient(screened=False)
        course = factories.make_course(person, indication_reason="Referral letter.")
        treatment = factories.start(person, course)
        db.session.commit()
        sid, version = treatment.id, treatment.version_id
    data = {k: "y" if v is True else v for k, v in factories.PREDOSE_OK.items()}
    refused = as_role("nurse").post(f"/sessions/{sid}/predose", data=dict(data, version_id=version))
    assert refused.status_code == 400
    assert "The clinical screen (allergies, contraindications, medications) has not been" in (
        markup(refused)
    )


def test_a_contraindication_on_the_screen_stops_the_dose_until_overridden(app, as_role):
    freeze_local(9, 0)
    sid = in_chair(app, "iv_ketamine", contraindications=["uncontrolled_hypertension"])
    chart(app, sid, ("vitals", {}))
    nurse = as_role("nurse")
    response = nurse.get(f"/sessions/{sid}")
    page, words = markup(response), text(response)
    assert "No dose: the clinical screen lists Uncontrolled hypertension ." in words
    assert f'action="/sessions/{sid}/dose"' not in page
    with app.app_context():
        version = db.session.get(TreatmentSession, sid).version_id
    dose = {"weight_kg": "80", "lot_number": "K-1", "version_id": version}
    dose.update(factories.PUMP_OK)
    refused = nurse.post(f"/sessions/{sid}/dose", data=dose)
    assert refused.status_code == 400
    assert "A contraindication is on the clinical screen" in markup(refused)

    psychiatrist = as_role("psychiatrist")
    assert nurse.post(f"/sessions/{sid}/contraindication-override", data={}).status_code == 403
    missing = psychiatrist.post(f"/sessions/{sid}/contraindication-override", data={})
    assert missing.status_code == 400
    done = psychiatrist.post(
        f"/sessions/{sid}/contraindication-override",
        data={"ci-reason": "BP controlled on amlodipine since October; cardiology agrees."},
    )
    assert done.status_code == 302
    assert nurse.post(f"/sessions/{sid}/dose", data=dose).status_code == 302
