"""One session at the chair as a Hypothesis state machine: check-in, readings, scales, events,
the dose, time passing, overrides and discharge attempts in any order, through the services and
the database. After every step:

- a discharge succeeds exactly when the pure rules find no blocker, and a discharged session
  meets every condition checked again here from the raw rows (minimum stay, a MOAA/S of 5 after
  the last lower one, dissociation resolved, moderate+ events resolved or cleared, no BP at the
  notify line, an allowed escort) unless a psychiatrist's override covers the clinical part;
- every notify or urgent reading (or low SpO₂) has its alert for the psychiatrist, open until
  acknowledged, and while the latest reading is at the line a recheck is owed on the schedule.
"""

from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from clinic_app import clock
from clinic_app.clinical.discharge import (
    Attestation,
    Escort,
    discharge_blockers,
    override_covers,
)
from clinic_app.clinical.escalation import escalating_alerts, pending_recheck
from clinic_app.clinical.respiratory import respiratory_watch
from clinic_app.errors import FieldErrors, RuleViolation
from clinic_app.extensions import db
from clinic_app.models import ClinicalAlert, TreatmentSession
from clinic_app.rems.answers import record_discharge_answers
from clinic_app.settings import clinical_rules
from clinic_app.treatments import services
from clinic_app.treatments.queries import load_session
from clinic_app.treatments.summary import summarize
from tests import factories
from tests.helpers import freeze_local

ALERT_KIND = {"bp_urgent": "bp_urgent", "bp_notify": "bp_notify", "spo2_low": "spo2_low"}
MOSTLY_TRUE = st.sampled_from([True, True, True, False])
ESCORTS = st.sampled_from(
    [
        Escort("confirmed_driver"),
        Escort(""),
        Escort("other_adult", "Jo Park", "555-0111", "sister"),
        Escort("other_adult", "Uber driver", "555-0111", "driver"),
        Escort("other_adult", "Jo Park", "", ""),
    ]
)


DISCHARGED: list[int] = []


def test_a_session_never_discharges_unsafely(app, staff):
    freeze_local(8, 0)

    class ChairSession(RuleBasedStateMachine):
        @initialize(modality=st.sampled_from(["esketamine_nasal", "iv_ketamine"]))
        def check_in(self, modality):
            self.ctx = app.app_context()
            self.ctx.push()
            self.nurse = factories.user("nurse")
            self.psychiatrist = factories.user("psychiatrist")
            patient = factories.make_patient()
            course = factories.make_course(patient, modality)
            treatment = factories.start(patient, course)
            data = dict(factories.PREDOSE_OK)
            services.record_predose(self.nurse, treatment, data, treatment.version_id)
            db.session.commit()
            self.sid = treatment.id
            self.iv = modality == "iv_ketamine"

        def teardown(self):
            db.session.rollback()
            self.ctx.pop()

        # --- helpers ---------------------------------------------------------------------

        def session(self) -> TreatmentSession:
            db.session.expire_all()
            return load_session(self.sid)

        def run(self, action) -> bool:
            """Apply one service call; a refusal leaves nothing behind."""
            try:
                action(self.session())
            except (RuleViolation, FieldErrors):
                db.session.rollback()
                return False
            db.session.commit()
            return True

        @property
        def open(self) -> bool:
            return self.session().status == "in_progress"

        @property
        def dosed(self) -> bool:
            return self.session().dose_started_at is not None

        # --- steps -----------------------------------------------------------------------

        @rule(
            systolic=st.sampled_from([118, 135, 150, 165, 176, 184, 195]),
            diastolic=st.sampled_from([72, 88, 96, 104, 112]),
            spo2=st.sampled_from([98, 95, 91, 88]),
        )
        def reading(self, systolic, diastolic, spo2):
            vitals = dict(factories.NORMAL_BP, systolic=systolic, diastolic=diastolic, spo2=spo2)
            self.run(lambda t: services.add_vitals(self.nurse, t, vitals))

        @rule()
        def routine_check(self):
            """What a nurse does at each check: vitals, any esketamine device still to chart,
            MOAA/S and CADSS-6, all settled."""
            self.run(lambda t: services.add_vitals(self.nurse, t, dict(factories.NORMAL_BP)))
            if not self.run(factories.chart_settled):  # devices not yet due: scales only
                self.run(lambda t: services.add_assessment(self.nurse, t, "moaas", [5]))
                self.run(lambda t: services.add_assessment(self.nurse, t, "cadss6", [0] * 6))

        @rule(score=st.integers(0, 5))
        def moaas(self, score):
            self.run(lambda t: services.add_assessment(self.nurse, t, "moaas", [score]))

        @rule(total=st.sampled_from([0, 2, 3, 4, 9]))
        def cadss(self, total):
            items = [min(total, 4), max(total - 4, 0)] + [0] * 4
            self.run(lambda t: services.add_assessment(self.nurse, t, "cadss6", items))

        @rule(severity=st.sampled_from(["mild", "moderate", "severe"]))
        def adverse_event(self, severity):
            data = {
                "kind": "nausea",
                "severity": severity,
                "description": "Vomited.",
                "intervention": "Ondansetron",
            }
            self.run(lambda t: services.add_adverse_event(self.nurse, t, data))

        @precondition(lambda self: self.open)
        @rule(data=st.data())
        def resolve_or_clear_event(self, data):
            events = [e for e in self.session().adverse_events if not e.resolved]
            if not events:
                return
            event_id = data.draw(st.sampled_from([e.id for e in events]))
            if data.draw(st.booleans()):
                self.run(
                    lambda t: services.resolve_adverse_event(
                        self.nurse, t, next(e for e in t.adverse_events if e.id == event_id), None
                    )
                )
            else:
                self.run(
                    lambda t: services.clear_adverse_event(
                        self.psychiatrist,
                        t,
                        next(e for e in t.adverse_events if e.id == event_id),
                        "Reviewed at the chair.",
                    )
                )

        @rule()
        def protocol_step(self):
            """The next step a careful nurse takes: pre-dose vitals and the dose (the
            psychiatrist overriding a hold); the infusion end at 40 minutes; then 40 minutes of
            observation ending in a settled check. Keeps the walk reaching discharges."""
            t = self.session()
            if t.dose_started_at is None:
                self.routine_check()
                self.override_hold()
                self.dose()
                return
            if self.iv and t.infusion_ended_at is None:
                clock.advance(
                    max(timedelta(minutes=41) - (clock.utcnow() - t.dose_started_at), timedelta(0))
                )
                self.end_infusion()
            else:
                clock.advance(timedelta(minutes=40))
            self.routine_check()

        @rule()
        def dose(self):
            data = {
                "dose_mg": "56",
                "weight_kg": "80",
                "lot_number": "LOT-1",
                "pump_concentration_mg_per_ml": "1",
                "pump_rate_ml_per_hour": "60",
            }
            self.run(lambda t: services.record_dose(self.nurse, t, data, t.version_id))

        @precondition(lambda self: self.iv)
        @rule()
        def end_infusion(self):
            self.run(lambda t: services.end_infusion(self.nurse, t, None, 40, t.version_id))

        @rule(minutes=st.sampled_from([2, 5, 15, 40]))
        def wait(self, minutes):
            clock.advance(timedelta(minutes=minutes))

        @rule()
        def override_hold(self):
            self.run(lambda t: services.override_hold(self.psychiatrist, t, "Benefit outweighs."))

        @rule()
        def override_discharge(self):
            self.run(lambda t: services.override_discharge(self.psychiatrist, t, "Known baseline."))

        @rule(resolved=st.booleans())
        def rems_answers(self, resolved):
            """The nurse answers the REMS questions, respiratory depression observed."""
            answers = {
                "ready_minutes": 90,
                "vitals_ok_pre": True,
                "vitals_ok_completion": True,
                "sedation_observed": False,
                "dissociation_observed": False,
                "respiratory_observed": True,
                "respiratory_resolved": resolved,
            }
            self.run(lambda t: record_discharge_answers(self.nurse, t, answers))

        @rule(
            alert_oriented=MOSTLY_TRUE,
            gait_steady=MOSTLY_TRUE,
            vomiting=MOSTLY_TRUE.map(lambda ok: not ok),
            escort=ESCORTS,
            attested=st.booleans(),
        )
        def try_discharge(self, alert_oriented, gait_steady, vomiting, escort, attested):
            treatment = self.session()
            was_open = treatment.status == "in_progress"
            attestation = Attestation(alert_oriented, gait_steady, vomiting, escort, attested)
            now, rules = clock.utcnow(), clinical_rules()
            summary = summarize(treatment, treatment.patient.age_on(now.date()), now, rules)
            expected = discharge_blockers(summary.facts, attestation, now, rules)
            done = self.run(lambda t: services.discharge(self.nurse, t, attestation, t.version_id))
            assert done == (was_open and not expected), (done, expected)
            if done:
                self.check_safe_discharge(attestation)
                DISCHARGED.append(self.sid)

        @rule()
        def careful_discharge(self):
            """A nurse who ticks only what is true, leaving with the confirmed driver."""
            self.try_discharge(True, True, False, Escort("confirmed_driver"), False)

        @precondition(lambda self: self.open)
        @rule()
        def protocol_to_discharge(self):
            """The protocol's remaining steps (dose, then observation to the end of the minimum
            stay) and the careful discharge: keeps the walk reaching discharges whatever the
            seed, so the invariants are checked on real ones."""
            for _ in range(4):
                self.protocol_step()
            self.careful_discharge()

        def check_safe_discharge(self, attestation):
            """The discharge conditions, read again from the rows rather than the rules."""
            t = self.session()
            rules = clinical_rules()
            dose_at, left = t.dose_started_at, t.discharged_at
            if not self.iv:
                assert left - dose_at >= timedelta(minutes=rules.esketamine_min_observation_minutes)
            else:
                assert t.infusion_ended_at is not None
                assert left - t.infusion_ended_at >= timedelta(minutes=rules.iv_recovery_minutes)
            assert attestation.alert_oriented and attestation.gait_steady
            assert not attestation.vomiting
            assert t.escort_kind in ("confirmed_driver", "other_adult")
            assert "uber" not in t.discharged_with.lower()
            if t.escort_kind == "other_adult":
                assert t.escort_phone and t.escort_relationship
            if not self.iv:
                assert len(t.devices) == t.devices_used  # every device charted
            readings = sorted(t.vitals, key=lambda r: r.taken_at)
            last = readings[-1]
            assert left - last.taken_at <= timedelta(
                minutes=rules.predischarge_check_window_minutes
            )
            overridden = any(o.rule == "discharge" for o in t.overrides)
            if overridden:
                return
            assert last.systolic < rules.notify_systolic and last.diastolic < rules.notify_diastolic
            assert last.spo2 >= rules.low_spo2
            after = sorted(
                (a for a in t.assessments if a.administered_at > dose_at),
                key=lambda a: a.administered_at,
            )
            moaas = [a.total for a in after if a.instrument == "moaas"]
            assert moaas and moaas[-1] == 5
            cadss = [a.total for a in after if a.instrument == "cadss6"]
            assert (cadss and cadss[-1] < rules.cadss6_resolved_below) or (
                not cadss and t.dissociation_attested
            )
            for event in t.adverse_events:
                if event.severity in ("moderate", "severe"):
                    assert event.resolved or event.cleared_at is not None
            if not self.iv:
                answers = t.rems_answers
                watch = respiratory_watch(
                    [r.as_vitals() for r in readings if r.taken_at > dose_at],
                    rules.respiratory_watch_spo2,
                )
                assert not watch or (answers is not None and answers.respiratory_resolved)

        # --- invariants ------------------------------------------------------------------

        @invariant()
        def every_alarming_reading_reaches_the_psychiatrist(self):
            if not hasattr(self, "sid"):
                return
            t = self.session()
            rules = clinical_rules()
            kinds = set(
                db.session.scalars(
                    select(ClinicalAlert.kind).where(ClinicalAlert.session_id == self.sid)
                )
            )
            for reading in t.vitals:
                for alert in escalating_alerts(reading.as_vitals(), rules):
                    assert ALERT_KIND[alert.code] in kinds, (reading.systolic, alert.code)
            # No alert is ever acknowledged here, so each one stays open.
            assert (
                db.session.scalar(
                    select(ClinicalAlert.id).where(
                        ClinicalAlert.session_id == self.sid,
                        ClinicalAlert.kind != "predose_hold",
                        ClinicalAlert.acknowledged_at.is_not(None),
                    )
                )
                is None
            )

        @invariant()
        def a_recheck_is_owed_while_the_latest_reading_is_at_the_line(self):
            if not hasattr(self, "sid"):
                return
            t = self.session()
            if t.status != "in_progress" or not t.vitals:
                return
            rules = clinical_rules()
            latest = max(t.vitals, key=lambda r: (r.taken_at, r.id))
            owed = pending_recheck([r.as_vitals() for r in t.vitals], rules)
            now = clock.utcnow()
            summary = summarize(t, t.patient.age_on(now.date()), now, rules)
            if escalating_alerts(latest.as_vitals(), rules):
                assert owed is not None
                assert summary.recheck is not None
                assert any(c.label == owed.label and c.done_at is None for c in summary.checks)
                bp = any(c.startswith("bp_") for c in owed.codes)
                after_dose = t.dose_started_at is not None and latest.taken_at > t.dose_started_at
                if bp and after_dose and not override_covers(summary.facts):
                    assert "bp_recheck" in {b.code for b in summary.blockers}
            else:
                assert summary.recheck is None

    DISCHARGED.clear()
    run_state_machine_as_test(
        ChairSession,
        settings=settings(
            max_examples=40,
            stateful_step_count=50,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    # The machine reached real discharges, not only refusals (the examples are seeded).
    assert DISCHARGED
