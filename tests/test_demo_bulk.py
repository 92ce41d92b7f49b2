"""The bulk history generator (`demo-data --patients N`): a small run loads, satisfies every
database constraint and its own invariants, and the invariant checks do catch broken data."""

from sqlalchemy import func, select, text

from clinic_app.demo.bulk import TIMELINE_MRNS, add_patients, check_invariants, generate
from clinic_app.extensions import db
from clinic_app.models import Appointment, Patient, TreatmentSession, User


def _failed(results):
    return [name for name, holds, _ in results if not holds]


def test_small_bulk_history_holds_its_invariants(app):
    with app.app_context():
        counts = generate(25, progress=False)
        db.session.commit()

        assert _failed(check_invariants()) == []
        # 25 patients plus the three timeline patients, with their exact session counts.
        assert counts["patients"] == 28
        for sessions, mrn in TIMELINE_MRNS.items():
            patient_id = db.session.scalar(select(Patient.id).where(Patient.mrn == mrn))
            count = db.session.scalar(
                select(func.count()).where(TreatmentSession.patient_id == patient_id)
            )
            assert count == sessions
        assert db.session.scalar(select(func.count()).select_from(User)) > 4
        # Every generated patient was screened by a clinician.
        unscreened = select(func.count()).where(Patient.screened_at.is_(None))
        assert db.session.scalar(unscreened) == 0
        screeners = select(User.role).join(Patient, Patient.screened_by_id == User.id).distinct()
        assert set(db.session.scalars(screeners)) == {"psychiatrist"}
        # Today has a clinic day: visits in the board's states are timed from now.
        assert db.session.scalar(
            select(func.count()).where(TreatmentSession.status == "in_progress")
        ) or db.session.scalar(
            select(func.count()).where(Appointment.status.in_(["scheduled", "confirmed"]))
        )


def test_invariant_checks_catch_broken_data(app):
    with app.app_context():
        generate(10, progress=False, timeline_patients=())
        db.session.commit()
        closed = db.session.scalar(
            select(TreatmentSession.id).where(TreatmentSession.status == "cosigned").limit(1)
        )
        db.session.execute(
            text("DELETE FROM assessments WHERE session_id = :id AND instrument = 'phq9'"),
            {"id": closed},
        )
        db.session.commit()

        assert _failed(check_invariants()) == [
            "closed sessions have dose, discharge, vitals and a PHQ-9"
        ]


def test_invariant_checks_catch_a_screen_without_its_clinician(app):
    with app.app_context():
        generate(10, progress=False, timeline_patients=())
        db.session.commit()
        db.session.execute(
            text(
                "UPDATE patients SET screened_by_id = NULL"
                " WHERE id = (SELECT min(id) FROM patients)"
            )
        )
        db.session.commit()

        assert _failed(check_invariants()) == ["every clinical screen names who screened, and when"]


def test_patients_only_insert_for_search_scale(app):
    with app.app_context():
        add_patients(500)
        db.session.commit()

        assert db.session.scalar(select(func.count()).select_from(Patient)) == 500
        # Registered, not screened: the screen is for a clinician to record.
        screened = select(func.count()).where(Patient.screened_at.is_not(None))
        assert db.session.scalar(screened) == 0
        assert db.session.scalar(select(func.count()).where(Patient.allergies != "")) == 0
