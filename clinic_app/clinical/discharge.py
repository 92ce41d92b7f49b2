"""What still stands between a patient and discharge."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from clinic_app.clinical.codes import Modality
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.vitals import Vitals, back_to_baseline


@dataclass(frozen=True)
class Blocker:
    code: str
    message: str


@dataclass(frozen=True)
class SessionFacts:
    """The recorded state of a session as the discharge rules need it."""

    modality: Modality
    age_years: int
    dose_started_at: datetime | None
    infusion_ended_at: datetime | None
    baseline: Vitals | None
    readings_after_dose: Sequence[Vitals]


@dataclass(frozen=True)
class Attestation:
    """The nurse's bedside assessment at discharge."""

    alert_oriented: bool
    gait_steady: bool
    vomiting: bool
    leaving_with: str


def earliest_discharge(facts: SessionFacts, rules: ClinicalRules) -> datetime | None:
    """When the minimum stay ends; None while it cannot be known (no dose, infusion running)."""
    if facts.dose_started_at is None:
        return None
    if facts.modality == Modality.ESKETAMINE_NASAL:
        return facts.dose_started_at + timedelta(minutes=rules.esketamine_min_observation_minutes)
    if facts.infusion_ended_at is None:
        return None
    return facts.infusion_ended_at + timedelta(minutes=rules.iv_recovery_minutes)


def recorded_blockers(facts: SessionFacts, now: datetime, rules: ClinicalRules) -> list[Blocker]:
    """Blockers that follow from the chart and the clock (time, vitals), in fixing order."""
    if facts.dose_started_at is None:
        return [Blocker("no_dose", "No dose has been recorded.")]
    blockers: list[Blocker] = []
    elapsed = (now - facts.dose_started_at).total_seconds() / 60
    readings = sorted(
        (r for r in facts.readings_after_dose if r.taken_at is not None), key=lambda r: r.taken_at
    )
    if facts.modality == Modality.ESKETAMINE_NASAL:
        minimum = rules.esketamine_min_observation_minutes
        if elapsed < minimum:
            blockers.append(
                Blocker(
                    "observation_time",
                    f"Observed {int(elapsed)} of {minimum} minutes since the first device.",
                )
            )
        bp_from = facts.dose_started_at + timedelta(
            minutes=rules.esketamine_bp_check_minutes - rules.check_tolerance_minutes
        )
        if not any(r.taken_at >= bp_from for r in readings):
            blockers.append(
                Blocker(
                    "bp_check_missing",
                    f"The {rules.esketamine_bp_check_minutes}-minute BP is not recorded.",
                )
            )
    elif facts.infusion_ended_at is None:
        blockers.append(Blocker("infusion_running", "The infusion end time is not recorded."))
    else:
        ready_at = facts.infusion_ended_at + timedelta(minutes=rules.iv_recovery_minutes)
        if now < ready_at:
            left = math.ceil((ready_at - now).total_seconds() / 60)
            blockers.append(
                Blocker(
                    "recovery_time",
                    f"Recovery: {rules.iv_recovery_minutes} min after the infusion; {left} to go.",
                )
            )
    if not readings:
        blockers.append(
            Blocker("no_post_dose_vitals", "No vitals have been recorded since the dose.")
        )
        return blockers
    last = readings[-1]
    window = rules.predischarge_check_window_minutes
    if now - last.taken_at > timedelta(minutes=window):
        blockers.append(
            Blocker(
                "vitals_not_recent",
                f"Take vitals again: the last reading is older than {window} minutes.",
            )
        )
    if facts.baseline is not None and not back_to_baseline(
        last, facts.baseline, facts.age_years, rules
    ):
        blockers.append(
            Blocker(
                "bp_not_returned",
                f"Last BP {last.systolic}/{last.diastolic} is not within "
                f"{rules.discharge_bp_within_percent} % of pre-dose "
                f"{facts.baseline.systolic}/{facts.baseline.diastolic} nor under the hold line.",
            )
        )
    if last.spo2 < rules.low_spo2:
        blockers.append(
            Blocker("spo2_low", f"Last SpO₂ {last.spo2} % is below {rules.low_spo2} %.")
        )
    return blockers


def attestation_blockers(attestation: Attestation) -> list[Blocker]:
    """Blockers from the nurse's bedside assessment."""
    blockers = []
    if not attestation.alert_oriented:
        blockers.append(Blocker("not_alert", "The patient is not alert and oriented."))
    if not attestation.gait_steady:
        blockers.append(Blocker("gait", "The patient's gait is not steady."))
    if attestation.vomiting:
        blockers.append(Blocker("vomiting", "The patient is actively vomiting."))
    if not attestation.leaving_with.strip():
        blockers.append(Blocker("no_driver", "Name the person the patient is leaving with."))
    return blockers


def discharge_blockers(
    facts: SessionFacts, attestation: Attestation, now: datetime, rules: ClinicalRules
) -> list[Blocker]:
    """Every blocker that still stands; discharge is allowed only when this is empty."""
    return recorded_blockers(facts, now, rules) + attestation_blockers(attestation)
