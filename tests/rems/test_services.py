"""REMS services: the form row opened at discharge, marking submitted (complete forms only,
append-only, audited), the "changed since submitted" addendum, the medication review and the
discharge answers, SAE reports and the board's lists."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from clinic_app import clock
from clinic_app.clinical.rems_deadline import FormState
from clinic_app.clock import utcnow
from clinic_app.errors import FieldErrors, PermissionDenied, RuleViolation
from clinic_app.extensions import db
from clinic_app.models import (
    ClinicalAlert,
    RemsMonitoringForm,
    RemsSubmission,
    TreatmentSession,
)
from clinic_app.rems import answers, board, monitoring, sae
from clinic_app.review.services import acknowledge_alert
from clinic_app.settings import clinical_rules
from clinic_app.treatments import services
from tests import factories
from tests.helpers import PASSWORD, audit_actions, count_statements

SENT = {"submitted_on": None, "channel": "fax", "confirmation_number": "FX-1"}


def _sent(**changes):
    return dict(SENT, submitted_on=date.today(), **changes)


def _view(treatment):
    treatment = db.session.get(TreatmentSession, treatment.id)
    row = db.session.scalar(
        select(RemsMonitoringForm).where(RemsMonitoringForm.session_id == treatment.id)
    )
    return monitoring.form_view(
        treatment, row, monitoring.lookups([treatment]), clinical_rules(), utcnow()
    )


def test_discharge_opens_the_form_due_seven_days_after_on_the_sites_calendar(app, staff):
    with app.app_context():
        treatment = factories.rems_session(days_ago=2)
        row = db.session.scalar(select(RemsMonitoringForm))
        assert row.session_id == treatment.id
        assert row.due_on == row.treatment_date + timedelta(days=7)
        assert row.site.code == "MAIN"
        view = _view(treatment)
        assert view.built.missing == ()
        assert view.state == FormState.READY
        assert view.days_left == 5


def test_form_reads_the_chart(app, staff):
    with app.app_context():
        treatment = factories.rems_session()
        values = _view(treatment).built.values
        assert values["bp_40"] == "138/78"
        assert values["bp_pre"] == values["bp_completion"] == "122/78"
        assert values["lot_numbers"] == "LOT-1"
        assert values["dose_mg"] == "56 mg"
        assert values["duration_minutes"] == "121"
        assert values["med_benzodiazepine"] == "Yes" and values["med_opioid"] == "No"
        assert values["first_treatment"] == "Yes" and values["rems_enrolled"] == "Yes"
        assert values["hcp_phone"] == "555-0101"
        assert values["setting_name"] == "Site MAIN"


def test_marking_submitted_needs_a_signed_complete_form(app, staff):
    with app.app_context():
        nurse = factories.user("nurse")
        unsigned = factories.rems_session(sign=False)
        with pytest.raises(RuleViolation, match="Sign the session first"):
            monitoring.mark_submitted(nurse, unsigned, _sent(), clinical_rules())
        incomplete = factories.rems_session(days_ago=3, complete=False)
        with pytest.raises(RuleViolation, match="not complete") as refused:
            monitoring.mark_submitted(nurse, incomplete, _sent(), clinical_rules())
        assert "Benzodiazepines" in refused.value.message
        assert "ready to leave" in refused.value.message


def test_submission_fields_are_checked(app, staff):
    with app.app_context():
        treatment = factories.rems_session()
        with pytest.raises(FieldErrors) as refused:
            monitoring.mark_submitted(
                factories.user("nurse"),
                treatment,
                {
                    "submitted_on": date.today() + timedelta(days=5),
                    "channel": "email",
                    "confirmation_number": " ",
                },
                clinical_rules(),
            )
        assert set(refused.value.errors) == {"submitted_on", "channel", "confirmation_number"}


def test_front_desk_cannot_mark_submitted(app, staff):
    with app.app_context():
        treatment = factories.rems_session()
        with pytest.raises(PermissionDenied):
            monitoring.mark_submitted(
                factories.user("front_desk"), treatment, _sent(), clinical_rules()
            )


def test_submitted_then_addendum_reopens_until_resubmitted(app, staff):
    with app.app_context():
        nurse = factories.user("nurse")
        treatment = factories.rems_session()
        monitoring.mark_submitted(nurse, treatment, _sent(), clinical_rules())
        db.session.commit()
        assert _view(treatment).state == FormState.SUBMITTED
        with pytest.raises(RuleViolation, match="already submitted"):
            monitoring.mark_submitted(nurse, treatment, _sent(), clinical_rules())
        db.session.rollback()
        services.add_addendum(
            nurse, db.session.get(TreatmentSession, treatment.id), "Late entry", "Lot re-read."
        )
        db.session.commit()
        assert _view(treatment).state == FormState.CHANGED
        monitoring.mark_submitted(
            nurse,
            db.session.get(TreatmentSession, treatment.id),
            _sent(confirmation_number="FX-2"),
            clinical_rules(),
        )
        db.session.commit()
        assert _view(treatment).state == FormState.SUBMITTED
        assert [
            s.confirmation_number
            for s in db.session.scalars(select(RemsSubmission).order_by(RemsSubmission.id))
        ] == ["FX-1", "FX-2"]
        assert audit_actions(app).count("rems.form_submitted") == 2


def test_submissions_are_append_only_in_a_migrated_database(app, staff):
    """The triggers of the migration refuse UPDATE (create_all has them on PostgreSQL only)."""
    with app.app_context():
        treatment = factories.rems_session()
        monitoring.mark_submitted(factories.user("nurse"), treatment, _sent(), clinical_rules())
        db.session.commit()
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite gets the triggers from the migration (test below)")
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text("UPDATE rems_form_submissions SET confirmation_number = 'X'"))
        db.session.rollback()


def test_medication_review_updates_the_patients_rems_classes_and_keeps_the_others(app, staff):
    with app.app_context():
        treatment = factories.dosed_session(medication_classes=["opioid", "antidepressant"])
        review = answers.review_medications(factories.user("nurse"), treatment, ["maoi"])
        assert review.classes == ["maoi"]
        assert sorted(treatment.patient.medication_classes) == ["antidepressant", "maoi"]
        with pytest.raises(FieldErrors):
            answers.review_medications(factories.user("nurse"), treatment, ["aspirin"])
        db.session.commit()
        assert "rems.medications_reviewed" in audit_actions(app)


def test_discharge_answers_need_the_resolution_of_what_was_observed(app, staff):
    with app.app_context():
        treatment = factories.dosed_session()
        clock.freeze(treatment.dose_started_at + timedelta(minutes=121))
        with pytest.raises(FieldErrors) as refused:
            answers.record_discharge_answers(
                factories.user("nurse"),
                treatment,
                dict(factories.REMS_ANSWERS, sedation_observed=True, ready_minutes=None),
            )
        assert set(refused.value.errors) == {"sedation_resolved", "ready_minutes"}


def test_iv_sessions_have_no_rems_questions(app, staff):
    with app.app_context():
        treatment = factories.dosed_session("iv_ketamine")
        with pytest.raises(RuleViolation):
            answers.record_discharge_answers(
                factories.user("nurse"), treatment, dict(factories.REMS_ANSWERS)
            )


def test_attention_counts_late_unsubmitted_forms_and_unreported_saes(app, staff):
    with app.app_context():
        factories.rems_session(days_ago=9)
        late = factories.rems_session(days_ago=10)
        recent = factories.rems_session(days_ago=2)
        nurse = factories.user("nurse")
        assert board.attention(nurse, utcnow()) == board.Attention(2, 0)
        monitoring.mark_submitted(nurse, late, _sent(), clinical_rules())
        event = factories.serious_event(recent)
        db.session.commit()
        with count_statements(app) as statements:
            assert board.attention(nurse, utcnow()) == board.Attention(1, 1)
        assert len(statements) == 1
        sae.report_sae(
            factories.user("psychiatrist"),
            event,
            {"reported_to": "rems", "reported_at": utcnow(), "reference": "REMS-1"},
        )
        assert board.attention(nurse, utcnow()) == board.Attention(1, 0)
        # A nurse who works at another site only does not count them.
        elsewhere = factories.make_user("nurse", "elsewhere")
        elsewhere.sites = [factories.site("EAST", "America/New_York")]
        factories.serious_event(late)
        assert board.attention(elsewhere, utcnow()) == board.Attention(0, 0)
        assert board.attention(nurse, utcnow()).total == 2


def test_demo_has_a_form_in_every_state_a_chase_and_an_unreported_sae(app, runner):
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    with app.app_context():
        sites = tuple(db.session.scalars(select(factories.Site.id)))
        views = board.form_views(sites, utcnow(), clinical_rules())
        assert {v.state for v in views} == set(FormState)
        assert [c.name for c in board.enrollment_chases(sites, utcnow())] == ["Rosa Delgado"]
        assert len(board.unreported_saes(sites)) == 1


def test_the_psychiatrists_sae_alert_stays_until_the_rems_has_the_report(app, staff):
    with app.app_context():
        treatment = factories.dosed_session()
        nurse, psychiatrist = factories.user("nurse"), factories.user("psychiatrist")
        event = services.add_adverse_event(
            nurse,
            treatment,
            {
                "kind": "sedation",
                "severity": "severe",
                "description": "Unrousable for ten minutes.",
                "onset_at": None,
            },
        )
        alert = db.session.scalar(select(ClinicalAlert).where(ClinicalAlert.kind == "serious_ae"))
        with pytest.raises(RuleViolation, match="REMS first"):
            acknowledge_alert(psychiatrist, alert, "Seen and managed.")
        report = {"reported_to": "rems", "reported_at": utcnow(), "reference": "REMS-1"}
        sae.report_sae(psychiatrist, event, report)
        acknowledge_alert(psychiatrist, alert, "Seen and managed.")
        assert alert.acknowledged_at is not None


def test_the_migration_makes_submissions_append_only(empty_database_url):
    """Once migrated, the database itself refuses UPDATE and DELETE of a submission."""
    from clinic_app import create_app
    from config import TestingConfig

    migrated = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    assert migrated.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    with migrated.app_context():
        if db.engine.dialect.name == "postgresql":
            names = db.session.scalars(
                text(
                    "SELECT tgname FROM pg_trigger"
                    " WHERE tgrelid = 'rems_form_submissions'::regclass"
                )
            ).all()
            assert "rems_form_submissions_append_only" in names
        else:
            names = db.session.scalars(
                text(
                    "SELECT name FROM sqlite_master WHERE tbl_name = 'rems_form_submissions'"
                    " AND type = 'trigger'"
                )
            ).all()
            assert set(names) == {
                "rems_form_submissions_no_update",
                "rems_form_submissions_no_delete",
            }
        db.session.remove()
        db.engine.dispose()


def test_the_rems_patient_id_is_kept_on_the_clinical_screen(app, staff):
    from clinic_app.patients.services import record_screen

    with app.app_context():
        patient = factories.make_patient()
        data = {"rems_patient_id": "RP-55501", "rems_enrolled_on": patient.rems_enrolled_on}
        record_screen(factories.user("nurse"), patient, data, patient.version_id)
        db.session.commit()
        assert db.session.get(factories.Patient, patient.id).rems_patient_id == "RP-55501"


def test_two_low_spo2_readings_block_discharge_until_the_respiratory_answer(app, staff):
    from clinic_app import clock
    from clinic_app.treatments.summary import summarize

    with app.app_context():
        treatment = factories.dosed_session()
        nurse = factories.user("nurse")
        for minutes in (30, 35):
            clock.freeze(treatment.dose_started_at + timedelta(minutes=minutes))
            services.add_vitals(nurse, treatment, dict(factories.NORMAL_BP, spo2=91))

        def codes():
            summary = summarize(treatment, 45, utcnow(), clinical_rules())
            return {b.code for b in summary.blockers}

        assert "respiratory_question" in codes()
        clock.freeze(treatment.dose_started_at + timedelta(minutes=121))
        answers.record_discharge_answers(
            nurse,
            treatment,
            dict(factories.REMS_ANSWERS, respiratory_observed=True, respiratory_resolved=False),
        )
        assert "respiratory_question" not in codes() and "respiratory_unresolved" in codes()
        answers.record_discharge_answers(
            nurse,
            treatment,
            dict(factories.REMS_ANSWERS, respiratory_observed=True, respiratory_resolved=True),
        )
        assert not {"respiratory_question", "respiratory_unresolved"} & codes()
        clock.reset()


def test_a_review_left_out_is_recorded_late_after_signing_and_only_once(app, staff):
    with app.app_context():
        treatment = factories.rems_session(complete=False)
        nurse = factories.user("nurse")
        assert treatment.is_locked
        assert (
            "Concomitant Medication: Benzodiazepines"
            in monitoring.form_view(
                treatment, None, monitoring.lookups([treatment]), clinical_rules(), utcnow()
            ).built.missing
        )
        answers.review_medications(nurse, treatment, ["psychostimulant"])
        db.session.commit()
        built = monitoring.form_view(
            treatment, None, monitoring.lookups([treatment]), clinical_rules(), utcnow()
        ).built
        assert not [m for m in built.missing if m.startswith("Concomitant Medication")]
        assert "rems.medications_reviewed" in audit_actions(app)
        with pytest.raises(RuleViolation, match="correct the review with an addendum"):
            answers.review_medications(nurse, treatment, [])


def test_the_discharge_answers_wait_for_the_end_of_monitoring(app, staff):
    with app.app_context():
        treatment = factories.dosed_session()
        nurse = factories.user("nurse")
        with pytest.raises(RuleViolation, match="at the end of monitoring: 120 min"):
            answers.record_discharge_answers(nurse, treatment, dict(factories.REMS_ANSWERS))
        clock.freeze(treatment.dose_started_at + timedelta(minutes=125))
        with pytest.raises(FieldErrors) as refused:
            answers.record_discharge_answers(
                nurse, treatment, dict(factories.REMS_ANSWERS, ready_minutes=200)
            )
        assert "Only 125 min have passed" in refused.value.errors["ready_minutes"]
        saved = answers.record_discharge_answers(nurse, treatment, dict(factories.REMS_ANSWERS))
        assert saved.ready_minutes == 90


def test_a_dosed_esketamine_session_is_signed_only_with_its_rems_answers(app, staff):
    with app.app_context():
        treatment = factories.rems_session(sign=False, complete=False)
        nurse = factories.user("nurse")
        with pytest.raises(RuleViolation) as refused:
            services.sign(nurse, treatment, PASSWORD)
        assert "the concomitant-medication review and the discharge answers" in str(
            refused.value.message
        )
        answers.review_medications(nurse, treatment, [])
        with pytest.raises(RuleViolation, match="Record the discharge answers for the REMS"):
            services.sign(nurse, treatment, PASSWORD)
        answers.record_discharge_answers(nurse, treatment, dict(factories.REMS_ANSWERS))
        services.sign(nurse, treatment, PASSWORD)
        assert treatment.is_locked


def test_iv_and_undosed_sessions_owe_the_rems_nothing(app, staff):
    with app.app_context():
        assert answers.missing_before_signing(factories.dosed_session("iv_ketamine")) == []
        patient = factories.make_patient()
        waiting = factories.start(patient, factories.make_course(patient, "esketamine_nasal"))
        assert answers.missing_before_signing(waiting) == []
