"""The bulk history generator (`demo-data --patients N`): a small run loads, satisfies every
database constraint and its own invariants, the invariant checks do catch broken data, and the
visits follow the clinic's scheduling rules."""

from datetime import time

from sqlalchemy import func, select, text

from clinic_app.demo.bulk import TIMELINE_MRNS, add_patients, check_invariants, generate
from clinic_app.extensions import db
from clinic_app.models import (
    Appointment,
    ClinicSetting,
    Patient,
    TreatmentCourse,
    TreatmentSession,
    User,
)
from clinic_app.settings import clinic_timezone, clinic_today


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


def test_bulk_history_is_spread_over_three_sites_with_their_chairs_and_staff(app):
    from collections import Counter

    from clinic_app.clinical.addresses import address_problems
    from clinic_app.demo.clinic import DEMO_LOGINS
    from clinic_app.models import Chair, Site

    with app.app_context():
        counts = generate(25, progress=False, timeline_patients=())
        db.session.commit()
        sites = {site.id: site for site in db.session.scalars(select(Site))}
        assert counts["sites"] == len(sites) == 3
        chairs = Counter(chair.site_id for chair in db.session.scalars(select(Chair)))
        assert set(chairs) == set(sites) and sum(chairs.values()) == counts["chairs"]
        visits = Counter(
            appointment.site.id
            for appointment in db.session.scalars(
                select(Appointment).where(Appointment.chair_id.is_not(None))
            )
        )
        assert set(visits) == set(sites)
        patients = Counter(p.usual_site_id for p in db.session.scalars(select(Patient)))
        assert set(patients) == set(sites)
        for patient in db.session.scalars(select(Patient)):
            assert address_problems(patient.postal_address, required=True) == {}, patient.mrn
            assert patient.city == sites[patient.usual_site_id].city
        for user in db.session.scalars(select(User)):
            expected = len(sites) if user.username in {d.username for d in DEMO_LOGINS} else 1
            assert len(user.sites) == expected, user.username


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


def test_invariant_checks_catch_a_serious_event_left_undescribed(app):
    with app.app_context():
        generate(10, progress=False, timeline_patients=())
        db.session.commit()
        assert _failed(check_invariants()) == []
        db.session.execute(
            text(
                "UPDATE adverse_events SET serious = :yes, description = '' "
                "WHERE id = (SELECT min(id) FROM adverse_events)"
            ),
            {"yes": True},
        )
        db.session.commit()
        assert _failed(check_invariants()) == [
            "serious, severe and 'other' adverse events are described"
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


def test_generated_visits_follow_the_clinics_scheduling_rules(app):
    """Visit lengths, opening hours and induction series sizes come from the clinic's scheduling
    settings, not from copies in the generator."""
    settings = {
        "opening_time": "09:00",
        "closing_time": "17:00",
        "iv_setup_minutes": 20,  # IV block 20 + 40 + 30 + 10 = 100 min
        "esketamine_turnover_minutes": 25,  # esketamine block 15 + 120 + 25 = 160 min
        "iv_induction_count": 4,
        "esketamine_induction_weeks": 3,  # 2 a week for 3 weeks = 6 doses
    }
    with app.app_context():
        db.session.add_all(ClinicSetting(key=k, value=v) for k, v in settings.items())
        db.session.commit()
        generate(40, progress=False, timeline_patients=(15,))
        db.session.commit()
        zone = clinic_timezone()
        today = clinic_today()
        rows = db.session.execute(
            select(Appointment, TreatmentCourse.modality)
            .join(TreatmentCourse, Appointment.course_id == TreatmentCourse.id)
            .where(Appointment.status.not_in(["cancelled", "no_show"]))
        ).all()
        assert rows
        induction: dict[int, int] = {}
        for appointment, modality in rows:
            minutes = (appointment.ends_at - appointment.starts_at).total_seconds() / 60
            assert minutes == {"iv_ketamine": 100, "esketamine_nasal": 160}[modality]
            start = appointment.starts_at.astimezone(zone)
            end = appointment.ends_at.astimezone(zone)
            if start.date() != today:  # today's visits are timed around now
                assert time(9, 0) <= start.time() and end.time() <= time(17, 0)
            if appointment.visit_kind == "induction":
                induction[appointment.course_id] = induction.get(appointment.course_id, 0) + 1
        modalities = {appointment.course_id: modality for appointment, modality in rows}
        sizes = {"iv_ketamine": set(), "esketamine_nasal": set()}
        for course_id, visits in induction.items():
            sizes[modalities[course_id]].add(visits)
        assert max(sizes["iv_ketamine"]) == 4
        assert max(sizes["esketamine_nasal"]) == 6
