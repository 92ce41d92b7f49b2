"""The clinical rules of DESIGN §4 as the nurse and the psychiatrist meet them through the views,
and the number of SQL statements the busiest pages run."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import (
    Addendum,
    Appointment,
    AuditEvent,
    Chair,
    Patient,
    TreatmentCourse,
    TreatmentSession,
    VitalsReading,
)
from clinic_app.treatments import services
from clinic_app.treatments.queries import load_session
from tests import factories
from tests.helpers import (
    PASSWORD,
    count,
    discharge_blockers,
    flashes,
    freeze_local,
    markup,
    page_statements,
    soup,
    version,
    years_ago,
)

PREDOSE = {k: "y" if v is True else v for k, v in factories.PREDOSE_OK.items()}
DISCHARGE = factories.DISCHARGE_FORM


# --- helpers -------------------------------------------------------------------------------


def setup_patient(app, modality="esketamine_nasal", **patient) -> tuple[int, int]:
    with app.app_context():
        p = factories.make_patient(**patient)
        course = factories.make_course(p, modality)
        db.session.commit()
        return p.id, course.id


def start(client, patient_id, course_id) -> int:
    response = client.post(
        "/sessions/start", data={"patient_id": patient_id, "course_id": course_id}
    )
    assert response.status_code == 302, response.status_code
    assert "/sessions/" in response.headers["Location"]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def predose(app, client, sid):
    response = client.post(
        f"/sessions/{sid}/predose", data=dict(PREDOSE, version_id=version(app, sid))
    )
    assert response.status_code == 302, response.status_code
    return response


def vitals(client, sid, systolic=122, diastolic=78, spo2=98, heart_rate=72):
    return client.post(
        f"/sessions/{sid}/vitals",
        data={
            "systolic": systolic,
            "diastolic": diastolic,
            "heart_rate": heart_rate,
            "spo2": spo2,
            "resp_rate": 14,
        },
    )


def assess_awake(client, sid):
    """MOAA/S 5 and CADSS-6 0 through the session page's forms."""
    assert client.post(f"/sessions/{sid}/sedation", data={"score": 5}).status_code == 302
    items = {f"item{n}": 0 for n in range(1, 7)}
    assert client.post(f"/sessions/{sid}/dissociation", data=items).status_code == 302


def dose(app, client, sid, **data):
    return client.post(f"/sessions/{sid}/dose", data=dict(data, version_id=version(app, sid)))


def discharge(app, client, sid, **changes):
    return client.post(
        f"/sessions/{sid}/discharge", data=dict(DISCHARGE, version_id=version(app, sid), **changes)
    )


def load(app, sid) -> TreatmentSession:
    """A detached copy with vitals and overrides loaded (for assertions)."""
    with app.app_context():
        treatment = load_session(sid)
        db.session.expunge_all()
        return treatment


# --- full IV session -----------------------------------------------------------------------


def test_full_iv_session(app, as_role):
    nurse = as_role("nurse")
    patient_id, course_id = setup_patient(app, "iv_ketamine", weight_kg=Decimal("75.0"))
    t0 = freeze_local(9, 0)
    sid = start(nurse, patient_id, course_id)
    predose(app, nurse, sid)
    assert vitals(nurse, sid).status_code == 302

    session_page = nurse.get(f"/sessions/{sid}")
    page = markup(session_page)
    # The weight starts empty: weighed today, with the weight on file as a hint only.
    assert "0.50 mg/kg over 40 min</p>" in page
    assert "Last: 75.0 kg on the patient record — weigh today." in page
    weight = soup(session_page).find("input", id="weight_kg")
    assert weight["value"] == "", weight
    response = dose(app, nurse, sid, weight_kg="80", lot_number="KET-0042", **factories.PUMP_OK)
    assert response.status_code == 302, markup(response)
    page = nurse.get(f"/sessions/{sid}")
    assert "<strong>40.0 mg</strong> IV (0.50 mg/kg × 80.0 kg) over 40 min" in markup(page)
    treatment = load(app, sid)
    assert treatment.dose_mg == Decimal("40.0")
    assert treatment.weight_kg == Decimal("80.0")
    assert treatment.dose_mg_per_kg == Decimal("0.50")
    assert treatment.dose_started_at == t0
    assert treatment.devices_used is None

    for minutes in (15, 30, 45):
        clock.freeze(t0 + timedelta(minutes=minutes))
        assert vitals(nurse, sid, 128, 82).status_code == 302
    response = nurse.post(
        f"/sessions/{sid}/infusion-end",
        data={"infused_volume_ml": "40", "version_id": version(app, sid)},
    )
    assert response.status_code == 302
    assert "after 45 min running; 40.0 mL infused" in markup(nurse.get(f"/sessions/{sid}"))
    clock.freeze(t0 + timedelta(minutes=46))
    assess_awake(nurse, sid)

    clock.freeze(t0 + timedelta(minutes=60))
    assert vitals(nurse, sid, 124, 80).status_code == 302
    refused = discharge(app, nurse, sid)
    assert refused.status_code == 409
    assert discharge_blockers(refused) == ["Recovery: 30 min after the infusion; 15 to go."]

    clock.freeze(t0 + timedelta(minutes=76))  # recovery over, last vitals 16 min old
    refused = discharge(app, nurse, sid)
    assert refused.status_code == 409
    assert discharge_blockers(refused) == [
        "Take vitals again: the last reading is older than 15 minutes."
    ]
    assert load(app, sid).status == "in_progress"

    assert vitals(nurse, sid, 120, 78).status_code == 302
    assert discharge(app, nurse, sid).status_code == 302
    treatment = load(app, sid)
    assert treatment.status == "discharged"
    assert treatment.discharged_at == t0 + timedelta(minutes=76)
    assert treatment.discharged_with == "Sam Tester"
    phases = [(r.taken_at - t0, r.phase) for r in treatment.vitals]
    assert phases == [
        (timedelta(0), "pre_dose"),
        (timedelta(minutes=15), "intra"),
        (timedelta(minutes=30), "intra"),
        (timedelta(minutes=45), "intra"),
        (timedelta(minutes=60), "post_dose"),
        (timedelta(minutes=76), "post_dose"),
    ]

    page = nurse.get(f"/sessions/{sid}")
    body = page.get_data(as_text=True)
    # Pre-dose plus every 15 min up to discharge: all done, none overdue.
    assert body.count('<li class="check-done">') == 6
    assert "check-overdue" not in body

    signed = nurse.post(f"/sessions/{sid}/sign", data={"password": PASSWORD})
    assert signed.status_code == 302
    assert load(app, sid).status == "signed"


# --- pre-dose blood-pressure hold ----------------------------------------------------------


def test_predose_hold_blocks_dosing_until_the_psychiatrist_overrides(app, as_role):
    freeze_local(10, 0)
    patient_id, course_id = setup_patient(app, date_of_birth=years_ago(50))
    nurse = as_role("nurse")
    sid = start(nurse, patient_id, course_id)
    predose(app, nurse, sid)
    assert vitals(nurse, sid, 150, 95).status_code == 302

    page = nurse.get(f"/sessions/{sid}")
    assert "Dosing on hold:" in markup(page)
    assert "pre-dose BP 150/95 is over the hold line 140/90" in markup(page)
    assert f'action="/sessions/{sid}/dose"' not in page.get_data(as_text=True)
    refused = dose(app, nurse, sid, dose_mg="56", lot_number="ESK-1")
    assert refused.status_code == 400
    assert (
        "danger",
        "Pre-dose BP 150/95 is over the hold line 140/90: recheck, or a psychiatrist records "
        "an override.",
    ) in flashes(refused)
    assert load(app, sid).dose_started_at is None

    psychiatrist = as_role("psychiatrist")
    assert f'action="/sessions/{sid}/override"' in psychiatrist.get(f"/sessions/{sid}").get_data(
        as_text=True
    )
    clock.advance(timedelta(minutes=5))
    response = psychiatrist.post(
        f"/sessions/{sid}/override", data={"reason": "Long-standing 150/95; cardiology cleared."}
    )
    assert response.status_code == 302
    treatment = load(app, sid)
    [override] = treatment.overrides
    assert override.rule == "predose_bp_hold"
    assert override.reason == "Long-standing 150/95; cardiology cleared."
    assert override.decided_by.username == "psychiatrist"

    page = nurse.get(f"/sessions/{sid}")
    assert "Dosing on hold:" not in markup(page)
    assert "the psychiatrist recorded an override" in markup(page)
    assert "Long-standing 150/95; cardiology cleared." in markup(page)
    response = dose(app, nurse, sid, dose_mg="56", lot_number="ESK-1")
    assert response.status_code == 302
    assert load(app, sid).dose_mg == Decimal("56")


def test_override_before_a_new_high_reading_does_not_cover_it(app, as_role):
    """An override answers the reading it was given for; a later, higher baseline holds again."""
    freeze_local(10, 0)
    patient_id, course_id = setup_patient(app, date_of_birth=years_ago(50))
    nurse, psychiatrist = as_role("nurse"), as_role("psychiatrist")
    sid = start(nurse, patient_id, course_id)
    predose(app, nurse, sid)
    assert vitals(nurse, sid, 146, 88).status_code == 302
    assert psychiatrist.post(f"/sessions/{sid}/override", data={"reason": "OK"}).status_code == 302
    clock.advance(timedelta(minutes=10))
    assert vitals(nurse, sid, 172, 104).status_code == 302
    assert "Dosing on hold:" in markup(nurse.get(f"/sessions/{sid}"))
    assert dose(app, nurse, sid, dose_mg="56", lot_number="ESK-1").status_code == 400


@pytest.mark.parametrize(
    "age, systolic, diastolic, held",
    [
        (70, 145, 85, False),
        (65, 150, 90, False),
        (64, 145, 85, True),
        (50, 140, 90, False),
        (50, 141, 85, True),
        (70, 151, 85, True),
        (70, 130, 91, True),
    ],
)
def test_hold_line_depends_on_age(app, as_role, age, systolic, diastolic, held):
    freeze_local(10, 0)
    patient_id, course_id = setup_patient(app, date_of_birth=years_ago(age))
    nurse = as_role("nurse")
    sid = start(nurse, patient_id, course_id)
    predose(app, nurse, sid)
    assert vitals(nurse, sid, systolic, diastolic).status_code == 302
    page = nurse.get(f"/sessions/{sid}")
    assert f"{age} y" in markup(page)
    assert ("Dosing on hold:" in markup(page)) is held
    response = dose(app, nurse, sid, dose_mg="56", lot_number="ESK-1")
    assert response.status_code == (400 if held else 302)
    assert (load(app, sid).dose_started_at is None) is held


# --- intra- and post-dose alerts -----------------------------------------------------------


def _dosed(app, nurse, systolic=122, diastolic=78, **patient) -> int:
    patient_id, course_id = setup_patient(app, **patient)
    sid = start(nurse, patient_id, course_id)
    predose(app, nurse, sid)
    assert vitals(nurse, sid, systolic, diastolic).status_code == 302
    assert dose(app, nurse, sid, dose_mg="56", lot_number="ESK-1").status_code == 302
    return sid


def test_alarming_reading_is_accepted_and_flashed_as_urgent(app, as_role):
    freeze_local(10, 0)
    nurse = as_role("nurse")
    sid = _dosed(app, nurse)
    clock.advance(timedelta(minutes=20))
    response = vitals(nurse, sid, 185, 112)
    assert response.status_code == 302
    assert count(app, VitalsReading, VitalsReading.systolic == 185) == 1
    page = nurse.get(response.headers["Location"])
    assert (
        "danger",
        "BP 185/112 at or above 180/110: urgent, assess for hypertensive crisis now.",
    ) in flashes(page)
    assert ("warning", "BP up +63/+34 over pre-dose 122/78.") in flashes(page)
    with app.app_context():
        detail = db.session.scalar(
            select(AuditEvent.detail)
            .where(AuditEvent.action == "vitals.add")
            .order_by(AuditEvent.id.desc())
        )
    assert detail == {"alerts": ["bp_urgent", "bp_rise"]}
    # The flash is shown once; the reading stays flagged on the page.
    again = nurse.get(f"/sessions/{sid}")
    assert flashes(again) == []
    assert '<tr class="reading-alert">' in again.get_data(as_text=True)


def test_notify_level_and_low_spo2_are_flashed(app, as_role):
    freeze_local(10, 0)
    nurse = as_role("nurse")
    sid = _dosed(app, nurse)
    clock.advance(timedelta(minutes=20))
    response = vitals(nurse, sid, 162, 90, spo2=90)
    assert response.status_code == 302
    messages = flashes(nurse.get(f"/sessions/{sid}"))
    assert ("danger", "BP 162/90 at or above 160/100: notify the prescriber.") in messages
    assert ("danger", "SpO₂ 90 % is below 92 %.") in messages


def test_a_rise_of_40_systolic_over_pre_dose_is_flagged(app, as_role):
    freeze_local(10, 0)
    nurse = as_role("nurse")
    sid = _dosed(app, nurse, 110, 70)
    clock.advance(timedelta(minutes=20))
    assert vitals(nurse, sid, 149, 72).status_code == 302  # +39: no flag
    clock.advance(timedelta(minutes=20))
    assert vitals(nurse, sid, 150, 72).status_code == 302  # +40: flagged
    response = nurse.get(f"/sessions/{sid}")
    body = markup(response)
    assert "BP up +40/+2 over pre-dose 110/70." in body
    assert "BP up +39" not in body
    table = soup(response).find(id="vitals-h").find_parent("section")
    rows = [row.get("class", []) for row in table.find_all("tr") if row.find("td")]
    assert rows == [[], [], ["reading-alert"]]  # pre-dose, +39, +40


def test_a_rise_of_25_diastolic_is_flagged(app, as_role):
    freeze_local(10, 0)
    nurse = as_role("nurse")
    sid = _dosed(app, nurse, 110, 70)
    clock.advance(timedelta(minutes=20))
    assert vitals(nurse, sid, 118, 95).status_code == 302
    assert "BP up +8/+25 over pre-dose 110/70." in markup(nurse.get(f"/sessions/{sid}"))


# --- esketamine dose steps -----------------------------------------------------------------


def _chart_signed_session_on_a_past_day(app, patient_id, course_id, days_ago, dose_mg="56"):
    """A whole esketamine session charted through the services with the clock on a past day."""
    t0 = freeze_local(9, 0, days_ago=days_ago)
    with app.app_context():
        nurse = factories.user("nurse")
        treatment = services.start_session(
            nurse, db.session.get(Patient, patient_id), db.session.get(TreatmentCourse, course_id)
        )
        services.record_predose(nurse, treatment, factories.PREDOSE_OK, treatment.version_id)
        services.add_vitals(nurse, treatment, dict(factories.NORMAL_BP))
        services.record_dose(
            nurse, treatment, {"dose_mg": dose_mg, "lot_number": "OLD-1"}, treatment.version_id
        )
        clock.freeze(t0 + timedelta(minutes=40))
        services.add_vitals(nurse, treatment, dict(factories.NORMAL_BP))
        factories.chart_settled(treatment)
        clock.freeze(t0 + timedelta(minutes=121))
        services.add_vitals(nurse, treatment, dict(factories.NORMAL_BP))
        factories.chart_settled(treatment)
        factories.rems_answered(treatment)
        services.discharge(nurse, treatment, factories.GOOD_ATTESTATION, treatment.version_id)
        services.sign(nurse, treatment, PASSWORD)
        db.session.commit()
        return treatment.id


def test_esketamine_84mg_allowed_after_an_earlier_56mg_dose_in_the_trd_course(app, as_role):
    patient_id, course_id = setup_patient(app)
    earlier = _chart_signed_session_on_a_past_day(app, patient_id, course_id, days_ago=4)
    with app.app_context():
        assert db.session.get(TreatmentSession, earlier).status == "signed"
        # The psychiatrist steps the course up to 84 mg (no dose-change screen exists yet).
        db.session.get(TreatmentSession, earlier).course.esketamine_dose_mg = 84
        db.session.commit()

    freeze_local(10, 0)
    nurse = as_role("nurse")
    sid = start(nurse, patient_id, course_id)
    predose(app, nurse, sid)
    assert vitals(nurse, sid).status_code == 302
    response = dose(app, nurse, sid, dose_mg="84", lot_number="ESK-84")
    assert response.status_code == 302, markup(response)
    treatment = load(app, sid)
    assert (treatment.dose_mg, treatment.devices_used) == (Decimal("84"), 3)
    assert "<strong>84 mg</strong> esketamine, 3 devices of 28 mg" in markup(
        nurse.get(f"/sessions/{sid}")
    )


def test_esketamine_84mg_needs_the_56mg_dose_in_the_same_course(app, as_role):
    """A 56 mg dose in another (stopped) course of the patient does not count."""
    patient_id, old_course = setup_patient(app)
    _chart_signed_session_on_a_past_day(app, patient_id, old_course, days_ago=30)
    with app.app_context():
        db.session.get(TreatmentCourse, old_course).phase = "completed"
        patient = db.session.get(Patient, patient_id)
        new_course = factories.make_course(patient).id
        db.session.get(TreatmentCourse, new_course).esketamine_dose_mg = 84
        db.session.commit()
    freeze_local(10, 0)
    nurse = as_role("nurse")
    sid = start(nurse, patient_id, new_course)
    predose(app, nurse, sid)
    assert vitals(nurse, sid).status_code == 302
    response = dose(app, nurse, sid, dose_mg="84", lot_number="ESK-84")
    assert response.status_code == 400
    assert (
        '<div id="dose_mg-error" class="invalid-feedback d-block">84 mg needs an earlier 56 mg '
        "dose in this TRD course; the first dose is 56 mg.</div>"
    ) in response.get_data(as_text=True)
    assert load(app, sid).dose_started_at is None


# --- signed sessions are locked ------------------------------------------------------------


def test_signed_session_refuses_changes_and_accepts_an_addendum(app, as_role):
    patient_id, course_id = setup_patient(app)
    sid = _chart_signed_session_on_a_past_day(app, patient_id, course_id, days_ago=0)
    before = load(app, sid)
    nurse = as_role("nurse")
    version_id = version(app, sid)
    attempts = {
        "vitals": vitals(nurse, sid, 130, 80),
        "dose": nurse.post(
            f"/sessions/{sid}/dose",
            data={"dose_mg": "56", "lot_number": "NEW-LOT", "version_id": version_id},
        ),
        "discharge": nurse.post(
            f"/sessions/{sid}/discharge", data=dict(DISCHARGE, version_id=version_id)
        ),
        "predose": nurse.post(
            f"/sessions/{sid}/predose", data=dict(PREDOSE, version_id=version_id)
        ),
        "adverse-events": nurse.post(
            f"/sessions/{sid}/adverse-events", data={"kind": "nausea", "severity": "mild"}
        ),
    }
    for name, response in attempts.items():
        assert response.status_code == 400, name
        assert (
            "danger",
            "This session is signed and locked; add an addendum instead.",
        ) in flashes(response), name
    after = load(app, sid)
    assert len(after.vitals) == len(before.vitals) == 3
    assert after.lot_number == "OLD-1"
    assert after.version_id == before.version_id
    assert after.signature_hash == before.signature_hash
    assert after.discharged_at == before.discharged_at

    response = nurse.post(
        f"/sessions/{sid}/addenda",
        data={"reason": "Wrong lot recorded", "body": "The lot was OLD-2, not OLD-1."},
    )
    assert response.status_code == 302
    page = markup(nurse.get(f"/sessions/{sid}"))
    assert "Wrong lot recorded" in page
    assert "The lot was OLD-2, not OLD-1." in page
    assert "Lot OLD-1." in page  # the signed record itself is unchanged
    with app.app_context():
        addendum = db.session.scalar(select(Addendum))
        assert addendum.author_id == factories.user("nurse").id
    assert load(app, sid).signature_hash == before.signature_hash


# --- one session a day ---------------------------------------------------------------------


def test_never_two_sessions_the_same_day(app, as_role):
    freeze_local(9, 0)
    patient_id, course_id = setup_patient(app)
    with app.app_context():
        iv_course = factories.make_course(db.session.get(Patient, patient_id), "iv_ketamine").id
        db.session.commit()
    nurse = as_role("nurse")
    start(nurse, patient_id, course_id)
    clock.freeze(clock.utcnow() + timedelta(hours=8))  # 17:00, same clinic day
    for course in (course_id, iv_course):
        response = nurse.post(
            "/sessions/start", data={"patient_id": patient_id, "course_id": course}
        )
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/today")
        board = nurse.get("/today")
        assert (
            "danger",
            "This patient already has a session today; never two doses in one day.",
        ) in flashes(board)
    assert count(app, TreatmentSession) == 1
    # The next clinic day is fine.
    clock.freeze(clock.utcnow() + timedelta(hours=16))  # 09:00 the day after
    start(nurse, patient_id, course_id)
    assert count(app, TreatmentSession) == 2


# --- SQL statement counts ------------------------------------------------------------------

STATEMENT_LIMIT = 25


def _add_past_sessions(app, patient_id, course_id, days, vitals_each=10):
    """Signed esketamine sessions on past days, inserted directly (fast), with their vitals."""
    with app.app_context():
        nurse_id = factories.user("nurse").id
        now = clock.utcnow()
        sessions = []
        for d in days:
            started = now - timedelta(days=d)
            dosed = started + timedelta(minutes=15)
            sessions.append(
                TreatmentSession(
                    patient_id=patient_id,
                    course_id=course_id,
                    modality="esketamine_nasal",
                    nurse_id=nurse_id,
                    status="signed",
                    started_at=started,
                    predose_checked_at=started + timedelta(minutes=5),
                    identity_confirmed=True,
                    consent_confirmed=True,
                    fasting_confirmed=True,
                    medications_reviewed=True,
                    rems_confirmed=True,
                    driver_confirmed=True,
                    driver_name="Sam Tester",
                    driver_phone="555-0199",
                    pregnancy_status="not_applicable",
                    weight_kg=Decimal("80.0"),
                    dose_mg=Decimal("56"),
                    devices_used=2,
                    lot_number=f"PAST-{d}",
                    dose_started_at=dosed,
                    discharged_at=dosed + timedelta(minutes=125),
                    discharged_with="Sam Tester",
                    discharged_by_id=nurse_id,
                    signed_by_id=nurse_id,
                    signed_at=dosed + timedelta(minutes=130),
                    signature_hash="0" * 64,
                )
            )
        db.session.add_all(sessions)
        db.session.flush()
        rows = [
            {
                "session_id": s.id,
                "taken_at": s.dose_started_at + timedelta(minutes=15 * i - 10),
                "phase": "pre_dose" if i == 0 else "post_dose",
                "systolic": 120 + i,
                "diastolic": 78,
                "heart_rate": 70,
                "spo2": 98,
                "resp_rate": 14,
                "recorded_by_id": nurse_id,
                "created_at": now,
            }
            for s in sessions
            for i in range(vitals_each)
        ]
        db.session.execute(insert(VitalsReading), rows)
        db.session.commit()


def _today_session(app, patient_id, course_id) -> int:
    """Today's session for the patient: checks, pre-dose vitals, dose, two readings after."""
    with app.app_context():
        nurse = factories.user("nurse")
        treatment = services.start_session(
            nurse, db.session.get(Patient, patient_id), db.session.get(TreatmentCourse, course_id)
        )
        services.record_predose(nurse, treatment, factories.PREDOSE_OK, treatment.version_id)
        services.add_vitals(nurse, treatment, dict(factories.NORMAL_BP))
        services.record_dose(
            nurse, treatment, {"dose_mg": "56", "lot_number": "TODAY"}, treatment.version_id
        )
        db.session.commit()
        return treatment.id


def test_today_board_and_session_page_do_not_grow_with_past_sessions(app, as_role):
    freeze_local(10, 0)
    patient_id, course_id = setup_patient(app)
    _add_past_sessions(app, patient_id, course_id, days=[1])
    sid = _today_session(app, patient_id, course_id)
    nurse = as_role("nurse")
    for url in ("/today", f"/sessions/{sid}"):
        nurse.get(url)  # warm up
    board_one = page_statements(app, nurse, "/today")
    session_one = page_statements(app, nurse, f"/sessions/{sid}")

    _add_past_sessions(app, patient_id, course_id, days=range(2, 101))
    assert count(app, TreatmentSession) == 101
    assert count(app, VitalsReading) == 1 + 100 * 10
    board_many = page_statements(app, nurse, "/today")
    session_many = page_statements(app, nurse, f"/sessions/{sid}")

    assert board_many == board_one <= STATEMENT_LIMIT
    assert session_many == session_one <= STATEMENT_LIMIT
    page = markup(nurse.get(f"/sessions/{sid}"))
    assert "Lot TODAY." in page
    assert "PAST-" not in page


def _patients_in_chairs(app, first: int, n: int, kind: str) -> None:
    """n patients started today, each with vitals before and after the dose (and an override
    for every other one); by appointment in a chair, or as walk-ins."""
    with app.app_context():
        nurse = factories.user("nurse")
        psychiatrist = factories.user("psychiatrist")
        for i in range(first, first + n):
            patient = factories.make_patient(last_name=f"Chair{i:02d}")
            course = factories.make_course(patient, "iv_ketamine" if i % 2 else "esketamine_nasal")
            appointment = None
            if kind == "appointment":
                chair = Chair(name=f"Chair {i}", site=factories.site())
                db.session.add(chair)
                now = clock.utcnow()
                appointment = Appointment(
                    patient_id=patient.id,
                    course_id=course.id,
                    chair=chair,
                    starts_at=now,
                    ends_at=now + timedelta(hours=2),
                    visit_kind="induction",
                    status="checked_in",
                    driver_name="Sam Tester",
                    driver_confirmed_at=now,
                )
                db.session.add(appointment)
                db.session.flush()
            treatment = services.start_session(nurse, patient, course, appointment)
            services.record_predose(nurse, treatment, factories.PREDOSE_OK, treatment.version_id)
            high = i % 2 == 0
            services.add_vitals(
                nurse, treatment, dict(factories.NORMAL_BP, systolic=150 if high else 122)
            )
            if high:
                services.override_hold(psychiatrist, treatment, "Cleared.")
            services.record_dose(
                nurse,
                treatment,
                {"dose_mg": "56", "weight_kg": "80", "lot_number": f"L{i}", **factories.PUMP_OK},
                treatment.version_id,
            )
            services.add_vitals(nurse, treatment, dict(factories.NORMAL_BP))
        db.session.commit()


@pytest.mark.parametrize("kind", ["walk_in", "appointment"])
def test_today_board_does_not_grow_with_patients(app, as_role, kind):
    freeze_local(10, 0)
    _patients_in_chairs(app, 1, 1, kind)
    nurse = as_role("nurse")
    nurse.get("/today")
    one = page_statements(app, nurse, "/today")
    clock.advance(timedelta(minutes=1))
    _patients_in_chairs(app, 2, 7, kind)
    nurse.get("/today")  # the sign-in session's activity touch, outside the count
    eight = page_statements(app, nurse, "/today")
    page = markup(nurse.get("/today"))
    assert "8 patients" in page
    assert all(f"Chair{i:02d}" in page for i in range(1, 9))
    if kind == "appointment":
        assert all(f"Chair {i}<" in page for i in range(1, 9))
    assert eight == one <= STATEMENT_LIMIT


def test_patient_record_page_does_not_grow_with_sessions(app, as_role):
    freeze_local(10, 0)
    patient_id, course_id = setup_patient(app)
    _add_past_sessions(app, patient_id, course_id, days=[1], vitals_each=1)
    nurse = as_role("nurse")
    nurse.get(f"/patients/{patient_id}")
    one = page_statements(app, nurse, f"/patients/{patient_id}")
    _add_past_sessions(app, patient_id, course_id, days=range(2, 31), vitals_each=1)
    many = page_statements(app, nurse, f"/patients/{patient_id}")
    assert many == one <= STATEMENT_LIMIT
