"""What the rules say about one loaded session right now (no queries: objects in, facts out)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from clinic_app.clinical.board import BoardStatus, board_status
from clinic_app.clinical.codes import Modality, SessionStatus
from clinic_app.clinical.discharge import (
    Blocker,
    SessionFacts,
    earliest_discharge,
    recorded_blockers,
)
from clinic_app.clinical.dosing import infusion_minutes_flag
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.schedule import Check, CheckState, next_open_check, vitals_checks
from clinic_app.clinical.vitals import Alert, above_hold_line, hold_line, reading_alerts
from clinic_app.models import TreatmentSession, VitalsReading


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

    @property
    def can_dose(self) -> bool:
        return self.baseline is not None and (not self.hold_active or self.hold_overridden)


def summarize(
    treatment: TreatmentSession, age: int, now: datetime, rules: ClinicalRules
) -> SessionSummary:
    """Apply the clinical rules to a session whose vitals and overrides are loaded."""
    modality = Modality(treatment.modality)
    dose_at = treatment.dose_started_at
    readings = sorted(treatment.vitals, key=lambda r: r.taken_at)
    predose = [r for r in readings if dose_at is None or r.taken_at <= dose_at]
    after = [r for r in readings if dose_at is not None and r.taken_at > dose_at]
    baseline = predose[-1] if predose else None
    base_vitals = baseline.as_vitals() if baseline else None
    alerts = {
        r.id: reading_alerts(r.as_vitals(), base_vitals if r in after else None, rules)
        for r in readings
    }
    closed = treatment.status != SessionStatus.IN_PROGRESS
    end_at = (
        treatment.discharged_at
        if closed
        else now + timedelta(minutes=rules.iv_vitals_interval_minutes)
    )
    checks = vitals_checks(modality, dose_at, end_at, [r.taken_at for r in readings], rules)
    facts = SessionFacts(
        modality,
        age,
        dose_at,
        treatment.infusion_ended_at,
        base_vitals,
        [r.as_vitals() for r in after],
    )
    blockers = [] if closed else recorded_blockers(facts, now, rules)
    hold_active = baseline is not None and above_hold_line(
        baseline.systolic, baseline.diastolic, age, rules
    )
    overridden = any(
        o.rule == "predose_bp_hold" and (baseline is None or o.decided_at >= baseline.taken_at)
        for o in treatment.overrides
    )
    flag = None
    if dose_at and treatment.infusion_ended_at:
        flag = infusion_minutes_flag(
            (treatment.infusion_ended_at - dose_at).total_seconds() / 60, rules
        )
    board = board_status(
        modality=modality,
        has_session=True,
        discharged=closed,
        not_dosed=treatment.not_dosed_at is not None,
        dose_started_at=dose_at,
        infusion_ended_at=treatment.infusion_ended_at,
        devices=treatment.devices_used,
        recorded_blockers=len(blockers),
        now=now,
        rules=rules,
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
        board=board,
        age=age,
    )
