"""Flags and peaks stored when a session is signed: written by signing (and by the migration for
sessions signed before it), read by the queue, the timeline and the review page, in the order
the pure queue rule gives."""

import random
from datetime import timedelta

from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from clinic_app import clock, create_app
from clinic_app.clinical.review import queue_order, session_flags
from clinic_app.extensions import db
from clinic_app.models import ClinicalAlert, ClinicSetting, SessionReview, TreatmentSession
from clinic_app.review import facts as review_facts
from clinic_app.review.queue import NOT_STORED, review_queue
from clinic_app.review.session_review import load_review_session
from clinic_app.review.summary import from_row
from clinic_app.settings import clinical_rules, review_rules, scheduling_rules
from clinic_app.treatments import services
from config import TestingConfig
from tests import factories
from tests.helpers import PASSWORD, text
from tests.review import builders

NOTIFY = ((40, 166, 96, 97), (90, 140, 86, 98), (125, 128, 80, 98))
URGENT = ((40, 184, 104, 97), (125, 130, 82, 98))


def test_signing_stores_what_the_rules_make_of_the_session(app, staff):
    with app.app_context():
        patient, course = builders.patient_with_course(last_name="Signed")
        treatment = builders.add_session(
            patient, course, status="discharged", after=NOTIFY, moaas=3, cadss=[2, 1, 0, 0, 0, 0]
        )
        assert treatment.review is None
        factories.rems_answered(treatment)
        services.sign(factories.user("nurse"), treatment, PASSWORD)
        db.session.commit()
        review = db.session.get(SessionReview, treatment.id)
        summary = from_row(review)
        loaded = load_review_session(treatment.id)
        age = patient.age_on(loaded.started_at.date())
        live = session_flags(
            review_facts.loaded_session_facts(loaded, age), clinical_rules(), review_rules()
        )
    assert (summary.pre, summary.peak) == ((122, 78), (166, 96))
    assert (summary.lowest_spo2, summary.lowest_moaas, summary.max_cadss) == (97, 3, 3)
    assert list(summary.flags) == live
    assert [f.code for f in summary.flags] == ["bp_notify"]
    assert (review.flag_rank, review.same_day) == (1, False)


def test_signed_flags_stay_as_signed_when_a_threshold_changes_later(app, as_role, staff):
    with app.app_context():
        patient, course = builders.patient_with_course(last_name="Threshold")
        builders.add_session(patient, course, after=NOTIFY)
        db.session.add(ClinicSetting(key="notify_systolic", value=170))
        db.session.commit()
    psychiatrist = as_role("psychiatrist")
    assert "at or above the notify-prescriber line 160/100" in text(psychiatrist.get("/review"))


def test_a_signed_session_without_stored_flags_is_not_shown_as_unflagged(app, as_role, staff):
    with app.app_context():
        patient, course = builders.patient_with_course(last_name="Unstored")
        treatment = builders.add_session(patient, course, after=URGENT)
        db.session.delete(treatment.review)
        calm, calm_course = builders.patient_with_course(last_name="Calm")
        builders.add_session(calm, calm_course, days_ago=5)
        db.session.commit()
        sid = treatment.id
    psychiatrist = as_role("psychiatrist")
    queue = text(psychiatrist.get("/review"))
    assert NOT_STORED.reason in queue
    assert queue.index("Unstored") < queue.index("Calm")
    # The review page works the flags out from the records instead.
    review = text(psychiatrist.get(f"/review/sessions/{sid}"))
    assert "at or above the urgent line 180/110" in review


def test_queue_order_in_sql_is_the_pure_queue_rule(app, staff):
    """Sessions with every mix of flags and alert states: the queue's SQL order is the order
    `clinical.review.queue_order` gives for the same flags, times and acknowledgements."""
    rng = random.Random(12)
    with app.app_context():
        ids = []
        for n in range(24):
            patient, course = builders.patient_with_course(last_name=f"Order{n}")
            kind = rng.choice(["calm", "notify", "urgent", "item9", "late", "serious"])
            treatment = builders.add_session(
                patient,
                course,
                days_ago=1 + rng.randint(0, 3) + n / 100,
                after={"notify": NOTIFY, "urgent": URGENT}.get(kind, builders.CALM),
                phq9=builders.phq9_items(12, 1) if kind == "item9" else None,
                discharge_minutes=200 if kind == "late" else 128,
                events=[("respiratory_depression", "severe", True)] if kind == "serious" else (),
            )
            for _ in range(rng.choice([0, 0, 1, 2])):
                alert = builders.add_alert(
                    patient, rng.choice(["phq9_item9", "bp_notify"]), treatment
                )
                if rng.random() < 0.5:
                    alert.acknowledged_at = clock.utcnow() - timedelta(minutes=5)
                    alert.acknowledge_note = "Seen."
            ids.append(treatment.id)
        db.session.commit()
        rows = db.session.execute(
            select(TreatmentSession.id, TreatmentSession.signed_at, SessionReview).join(
                SessionReview, SessionReview.session_id == TreatmentSession.id
            )
        ).all()
        raised = db.session.execute(select(ClinicalAlert.session_id, ClinicalAlert.acknowledged_at))
        opened: dict[int, list[bool]] = {}
        for session_id, acknowledged_at in raised:
            opened.setdefault(session_id, []).append(acknowledged_at is None)
        acknowledged = {i for i, states in opened.items() if not any(states)}
        expected = queue_order(
            sorted(((i, at, list(from_row(r).flags)) for i, at, r in rows), key=lambda e: e[0]),
            acknowledged,
        )
        site_ids = (factories.site().id,)
        page = review_queue(review_rules(), scheduling_rules(), site_ids, per_page=100)
    assert [row.treatment.id for row in page.rows] == expected
    assert any(row.pinned for row in page.rows) and not all(row.pinned for row in page.rows)


def test_the_migration_backfills_signed_sessions_with_the_same_rules(empty_database_url):
    """Sessions signed before the revision get the summary signing stores today."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        upgrade()
        factories.make_user("nurse", password=PASSWORD)
        factories.make_user("psychiatrist", password=PASSWORD)
        patient, course = builders.patient_with_course(last_name="Backfill")
        builders.add_session(
            patient, course, after=URGENT, phq9=builders.phq9_items(10, 2), moaas=4
        )
        builders.add_session(patient, course, status="cosigned", days_ago=3, override=True)
        builders.add_session(patient, course, status="discharged", days_ago=0.2)
        db.session.commit()
        stored = {r.session_id: from_row(r) for r in db.session.scalars(select(SessionReview))}
        db.session.remove()
        downgrade(revision="c3f93dcc387e")
        upgrade()
        backfilled = {r.session_id: from_row(r) for r in db.session.scalars(select(SessionReview))}
        db.session.remove()
        db.engine.dispose()
    assert len(stored) == 2
    assert backfilled == stored
