"""What the rules say about one loaded session right now (no queries: objects in, facts out)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from clinic_app.clinical.board import BoardMarker, BoardStatus, board_markers, board_status
from clinic_app.clinical.codes import ADVERSE_EVENT_KINDS, SessionStatus
from clinic_app.clinical.discharge import (
    Blocker,
    EventFact,
    Score,
    SessionFacts,
    chart_blockers,
    earliest_discharge,
)
from clinic_app.clinical.dosing import infusion_minutes_flag, running_minutes
from clinic_app.clinical.escalation import Recheck, pending_recheck
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.schedule import Check, CheckState, next_open_check, vitals_checks
from clinic_app.clinical.scores import CADSS6, MOAAS, PHQ9
from clinic_app.clinical.vitals import Alert, above_hold_line, hold_line, reading_alerts
from clinic_app.models import TreatmentSession, VitalsReading
from clinic_app.rems.answers import rems_respiratory_answer

DISCHARGE_OVERRIDE = "discharge"
HOLD_OVERRIDE = "predose_bp_hold"
CONTRAINDICATION_OVERRIDE = "contraindication"


@dataclass
class SessionSummary:
    """Derived state of a session for the session page and the Today board."""

    baseline: VitalsReading | None
    alerts: dict[int, list[Alert]]
    checks: list[Check]
    next_check: tuple[Check, CheckState] | None
    blockers: list[Blocker]
    earliest_discharge: datetime | None
    hold: tuple[int, int]
    hold_active: bool
    hold_overridden: bool
    infusion_flag: str | None
    board: BoardStatus
    age: int
    facts: SessionFacts
    recheck: Recheck | None
    markers: list[BoardMarker]
    # A contraindication on the clinical screen and no psychiatrist's override for it.
    contraindicated: bool = False
    # Minutes the infusion ran, pauses excluded, once it ended.
    infusion_minutes: float | None = None

    @property
    def can_dose(self) -> bool:
        held = self.hold_active and not self.hold_overridden
        return self.baseline is not None and not held and not self.contraindicated

    @property
    def dissociation_to_attest(self) -> bool:
        """Dosed, and no CADSS-6 since: discharge needs one, or the nurse's attestation."""
        return self.facts.dose_started_at is not None and not self.facts.dissociation

    @property
    def hold_waiting(self) -> bool:
        """A pre-dose hold stands and nobody has overridden it yet."""
        return self.hold_active and not self.hold_overridden


def _scores(treatment: TreatmentSession, instrument: str) -> list[Score]:
    dose_at = treatment.dose_started_at
    return [
        Score(a.administered_at, a.total)
        for a in treatment.assessments
        if a.instrument == instrument and dose_at is not None and a.administered_at > dose_at
    ]


def session_facts(
    treatment: TreatmentSession, age: int, baseline: VitalsReading | None
) -> SessionFacts:
    """The discharge rules' view of a session whose vitals, assessments, adverse events and
    overrides are loaded."""
    dose_at = treatment.dose_started_at
    overrides = [o.decided_at for o in treatment.overrides if o.rule == DISCHARGE_OVERRIDE]
    return SessionFacts(
        modality=treatment.modality,
        age_years=age,
        dose_started_at=dose_at,
        infusion_ended_at=treatment.infusion_ended_at,
        baseline=baseline.as_vitals() if baseline else None,
        readings_after_dose=[
            r.as_vitals() for r in treatment.vitals if dose_at is not None and r.taken_at > dose_at
        ],
        sedation=_scores(treatment, MOAAS.code),
        dissociation=_scores(treatment, CADSS6.code),
        adverse_events=[
            EventFact(
                ADVERSE_EVENT_KINDS[e.kind],
                e.severity,
                e.onset_at,
                resolved=e.resolved,
                cleared=e.cleared_at is not None,
            )
            for e in treatment.adverse_events
        ],
        confirmed_driver=treatment.driver_name if treatment.driver_confirmed else "",
        patient_name=treatment.patient.full_name,
        override_at=max(overrides, default=None),
        devices_planned=treatment.devices_used or 0,
        devices_recorded=len(treatment.devices),
        respiratory_answer=rems_respiratory_answer(treatment),
    )


def _split_readings(
    treatment: TreatmentSession,
) -> tuple[list[VitalsReading], list[VitalsReading], VitalsReading | None]:
    """All readings in time order, those after the dose, and the pre-dose baseline."""
    dose_at = treatment.dose_started_at
    readings = sorted(treatment.vitals, key=lambda r: r.taken_at)
    predose = [r for r in readings if dose_at is None or r.taken_at <= dose_at]
    after = [r for r in readings if dose_at is not None and r.taken_at > dose_at]
    return readings, after, predose[-1] if predose else None


def _checks(
    treatment: TreatmentSession,
    readings: list[VitalsReading],
    closed: bool,
    now: datetime,
    rules: ClinicalRules,
) -> tuple[list[Check], Recheck | None]:
    """The vitals checks due, with a pending recheck appended."""
    # Two intervals ahead, so an open session always shows the check after the last reading.
    end_at = (
        treatment.discharged_at or treatment.not_dosed_at or now
        if closed
        else now + timedelta(minutes=2 * rules.iv_vitals_interval_minutes)
    )
    checks = vitals_checks(
        treatment.modality,
        treatment.dose_started_at,
        end_at,
        [r.taken_at for r in readings],
        rules,
    )
    recheck = None if closed else pending_recheck([r.as_vitals() for r in readings], rules)
    if recheck is not None:
        checks.append(Check(recheck.label, recheck.due_at, None, timedelta(minutes=1)))
    return checks, recheck


def _infusion(treatment: TreatmentSession, rules: ClinicalRules) -> tuple[str | None, float | None]:
    """The infusion-length flag and the minutes it ran, once it ended."""
    dose_at = treatment.dose_started_at
    if not (dose_at and treatment.infusion_ended_at):
        return None, None
    pauses = [(p.paused_at, p.resumed_at) for p in treatment.infusion_pauses]
    ran = running_minutes(dose_at, treatment.infusion_ended_at, pauses)
    return infusion_minutes_flag(ran, rules), ran


def _hold_overridden(treatment: TreatmentSession, baseline: VitalsReading | None) -> bool:
    return any(
        o.rule == HOLD_OVERRIDE and (baseline is None or o.decided_at >= baseline.taken_at)
        for o in treatment.overrides
    )


def _board(
    treatment: TreatmentSession,
    closed: bool,
    blockers: list[Blocker],
    now: datetime,
    rules: ClinicalRules,
) -> BoardStatus:
    return board_status(
        modality=treatment.modality,
        has_session=True,
        discharged=closed,
        not_dosed=treatment.not_dosed_at is not None,
        dose_started_at=treatment.dose_started_at,
        infusion_ended_at=treatment.infusion_ended_at,
        devices=treatment.devices_used,
        devices_given=len(treatment.devices),
        recorded_blockers=len(blockers),
        now=now,
        rules=rules,
    )


def _markers(
    treatment: TreatmentSession,
    hold_waiting: bool,
    readings: list[VitalsReading],
    facts: SessionFacts,
    rules: ClinicalRules,
) -> list[BoardMarker]:
    phq9_item9 = max(
        (a.items[8] for a in treatment.assessments if a.instrument == PHQ9.code), default=0
    )
    return board_markers(
        hold_waiting=hold_waiting,
        last_reading=readings[-1].as_vitals() if readings else None,
        serious_event=any(e.serious for e in treatment.adverse_events),
        phq9_item9=phq9_item9,
        sedation=facts.sedation,
        rules=rules,
    )


def summarize(
    treatment: TreatmentSession, age: int, now: datetime, rules: ClinicalRules
) -> SessionSummary:
    """Apply the clinical rules to a session whose vitals and overrides are loaded."""
    readings, after, baseline = _split_readings(treatment)
    base_vitals = baseline.as_vitals() if baseline else None
    alerts = {
        r.id: reading_alerts(r.as_vitals(), base_vitals if r in after else None, rules)
        for r in readings
    }
    closed = treatment.status != SessionStatus.IN_PROGRESS
    checks, recheck = _checks(treatment, readings, closed, now, rules)
    facts = session_facts(treatment, age, baseline)
    blockers = [] if closed else chart_blockers(facts, now, rules)
    hold_active = baseline is not None and above_hold_line(
        baseline.systolic, baseline.diastolic, age, rules
    )
    overridden = _hold_overridden(treatment, baseline)
    flag, ran = _infusion(treatment, rules)
    hold_waiting = (
        hold_active and not overridden and treatment.dose_started_at is None and not closed
    )
    return SessionSummary(
        baseline=baseline,
        alerts=alerts,
        checks=checks,
        next_check=None if closed else next_open_check(checks, now),
        blockers=blockers,
        earliest_discharge=earliest_discharge(facts, rules),
        hold=hold_line(age, rules),
        hold_active=hold_active,
        hold_overridden=overridden,
        infusion_flag=flag,
        board=_board(treatment, closed, blockers, now, rules),
        age=age,
        facts=facts,
        recheck=recheck,
        markers=_markers(treatment, hold_waiting, readings, facts, rules),
        contraindicated=bool(treatment.patient.contraindications)
        and not any(o.rule == CONTRAINDICATION_OVERRIDE for o in treatment.overrides),
        infusion_minutes=ran,
    )
