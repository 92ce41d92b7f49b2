"""Treatment-session test data: sessions charted through the services up to a stage, a patient
checked in to a named chair, and chart steps run as the nurse."""

from datetime import timedelta
from decimal import Decimal

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair, TreatmentSession
from clinic_app.rems import answers
from clinic_app.treatments import services
from tests import factories
from tests.helpers import PASSWORD, freeze_local


def session_state(app, sid: int) -> dict:
    with app.app_context():
        t = db.session.get(TreatmentSession, sid)
        return {
            c: getattr(t, c)
            for c in (
                "status",
                "version_id",
                "predose_checked_at",
                "driver_name",
                "dose_mg",
                "dose_started_at",
                "lot_number",
                "infusion_ended_at",
                "discharged_at",
                "signed_at",
            )
        }


STAGES = ("started", "checked", "baseline", "dosed", "observed", "discharged", "signed")


def make_session(app, modality="esketamine_nasal", stage="baseline", **patient) -> int:
    """A session charted through the services up to `stage`, with the clock at 10:00 local
    when it starts. 'observed' = dose + 121 min with post-dose vitals (ready to discharge)."""
    freeze_local(10, 0)
    upto = STAGES.index(stage)
    with app.app_context():
        p = factories.make_patient(**patient)
        course = factories.make_course(p, modality)
        t = factories.start(p, course)
        nurse = factories.user("nurse")
        esketamine = modality == "esketamine_nasal"
        if upto >= 1:
            services.record_predose(nurse, t, factories.PREDOSE_OK, t.version_id)
            if esketamine:  # the REMS medication review belongs to the pre-dose check
                answers.review_medications(nurse, t, [])
        if upto >= 2:
            services.add_vitals(nurse, t, dict(factories.NORMAL_BP))
        if upto >= 3:
            data = {"dose_mg": "56", "weight_kg": "80", "lot_number": "LOT-1", **factories.PUMP_OK}
            services.record_dose(nurse, t, data, t.version_id)
        if upto >= 4:
            clock.advance(timedelta(minutes=40))
            services.add_vitals(nurse, t, dict(factories.NORMAL_BP))
            if modality == "iv_ketamine":
                services.end_infusion(nurse, t, None, Decimal("40"), t.version_id)
            clock.advance(timedelta(seconds=30))
            factories.chart_settled(t)
            clock.advance(timedelta(minutes=80, seconds=30))
            services.add_vitals(nurse, t, dict(factories.NORMAL_BP))
            factories.chart_settled(t)
            if esketamine:
                answers.record_discharge_answers(nurse, t, dict(factories.REMS_ANSWERS))
        if upto >= 5:
            services.discharge(nurse, t, factories.GOOD_ATTESTATION, t.version_id)
        if upto >= 6:
            services.sign(nurse, t, PASSWORD)
        db.session.commit()
        return t.id


def in_chair(app, modality="esketamine_nasal", chair="Recliner 3", **patient) -> int:
    """A patient checked in on today's appointment in a named chair, pre-dose checks done."""
    with app.app_context():
        person = factories.make_patient(**patient)
        course = factories.make_course(person, modality)
        now = clock.utcnow()
        appointment = Appointment(
            patient_id=person.id,
            course_id=course.id,
            chair=Chair(name=chair, site=factories.site()),
            starts_at=now,
            ends_at=now + timedelta(hours=3),
            visit_kind="induction",
            status="checked_in",
            driver_name="Sam Tester",
        )
        db.session.add(appointment)
        db.session.flush()
        treatment = services.start_session(factories.user("nurse"), person, course, appointment)
        services.record_predose(
            factories.user("nurse"), treatment, factories.PREDOSE_OK, treatment.version_id
        )
        db.session.commit()
        return treatment.id


def chart(app, sid, *steps) -> None:
    """Run service steps on the session as the nurse: ("vitals", {...}), ("moaas", n),
    ("cadss", total), ("dose", {...}), ("event", {...}), ("devices", None) for the esketamine
    devices after the first, ("rems", None) for the REMS medication review and discharge
    answers signing needs, ("wait", minutes)."""
    with app.app_context():
        nurse = factories.user("nurse")
        for kind, value in steps:
            treatment = db.session.get(TreatmentSession, sid)
            if kind == "wait":
                clock.advance(timedelta(minutes=value))
            elif kind == "vitals":
                services.add_vitals(nurse, treatment, dict(factories.NORMAL_BP, **value))
            elif kind == "moaas":
                services.add_assessment(nurse, treatment, "moaas", [value])
            elif kind == "cadss":
                services.add_assessment(nurse, treatment, "cadss6", [value] + [0] * 5)
            elif kind == "dose":
                data = {"dose_mg": "56", "weight_kg": "80", "lot_number": "LOT-1"}
                data.update(value)
                services.record_dose(nurse, treatment, data, treatment.version_id)
            elif kind == "event":
                services.add_adverse_event(nurse, treatment, value)
            elif kind == "devices":
                for number in range(len(treatment.devices) + 1, treatment.devices_used + 1):
                    at = treatment.dose_started_at + timedelta(minutes=5 * (number - 1))
                    services.add_device(nurse, treatment, {"lot_number": "LOT-1", "given_at": at})
            elif kind == "rems":
                answers.review_medications(nurse, treatment, [])
                answers.record_discharge_answers(nurse, treatment, dict(factories.REMS_ANSWERS))
            db.session.commit()


def dosed_in_chair(app, *steps) -> int:
    """An esketamine patient in the chair at 09:00: pre-dose vitals, the dose, 40 minutes on
    the later devices and a reading; then `steps` as in `chart`."""
    freeze_local(9, 0)
    sid = in_chair(app)
    chart(
        app,
        sid,
        ("vitals", {}),
        ("dose", {}),
        ("wait", 40),
        ("devices", None),
        ("vitals", {}),
        *steps,
    )
    return sid


def ready_to_leave(app) -> int:
    """An esketamine patient at 121 min with every chart condition met and the REMS answers
    given (so the session can be signed once discharged)."""
    return dosed_in_chair(
        app,
        ("moaas", 5),
        ("cadss", 1),
        ("wait", 75),
        ("moaas", 5),
        ("wait", 6),
        ("vitals", {}),
        ("rems", None),
    )
