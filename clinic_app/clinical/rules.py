"""Clinic-adjustable thresholds with their sourced defaults.

Sources ([D] = no published number: a clinic default for the medical director to sign off):
- SPRAVATO label §5.6 and the phase 3 TRD trials (Janssen Science cardiovascular page): dosing
  withheld when pre-dose SBP > 140 (> 150 at age >= 65) or DBP > 90; BP measured ~40 min post-dose;
  rises of >= 40 systolic / >= 25 diastolic counted as clinically relevant.
- SPRAVATO boxed warning and REMS: observation for at least 2 hours after the first device.
- SPRAVATO medication guide: no food 2 h and no liquids 30 min before dosing.
- IV ketamine: 0.5 mg/kg over 40 min (Sanacora et al. 2017 consensus, Parikh 2021 primer); vitals
  every 10-15 min during and after infusion until back near baseline (no consensus standard; the
  published Emory and Yale infusion series checked BP every 10 min during the infusion).
- Severe hypertension triage >= 180/110 (Hebert & Vidt 2008); >= 160/100 notify threshold and the
  92 % SpO2 line are clinic defaults [D] to be signed off by the medical director.
- SPRAVATO REMS: monitoring "until resolution of sedation, dissociation and respiratory
  depression" (program goal, FDA REMS page); BP rechecked "as clinically warranted until values
  decline" (label §5.6). The recheck intervals (5 min urgent, 15 min notify) are clinic defaults
  [D].
- Sedation: MOAA/S 5 = responds readily to name (fully awake); esketamine trials assessed it with
  the ~40-minute check and before discharge (label §5.1).
- CADSS-6 (items 1, 2, 6, 7, 15, 22 of the CADSS, Bremner et al. 1998; 0-24) has no published
  cut-off: "resolved" below 4 is a clinic default [D] for the medical director to sign off.
- IV ketamine: 0.5 mg/kg is the studied dose; doses up to 1.0 mg/kg appear in trials and clinic
  protocols (Andrade, J Clin Psychiatry 2017), so above 1.0 mg/kg the prescriber confirms with a
  reason [D]. The course's hard limit stays 2.0 mg/kg.
- IV pump: rate (mL/h) x minutes / 60 x concentration (mg/mL) is the dose given; a 10 % margin
  for the pump's rounding of rate and volume is a clinic default [D].
"""

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class ClinicalRules:
    """Every number the rules use; defaults are the sourced ones above."""

    # Pre-dose blood-pressure hold (label §5.6 / phase 3 trials).
    hold_systolic: int = 140
    hold_systolic_older: int = 150
    older_age_years: int = 65
    hold_diastolic: int = 90
    # Intra- and post-dose alerts.
    rise_systolic: int = 40
    rise_diastolic: int = 25
    notify_systolic: int = 160
    notify_diastolic: int = 100
    urgent_systolic: int = 180
    urgent_diastolic: int = 110
    low_spo2: int = 92
    # Escalation: a reading at the urgent or notify line (or SpO2 below the line) asks for a
    # recheck this many minutes later, until a reading is back under the notify line.
    bp_recheck_urgent_minutes: int = 5
    bp_recheck_notify_minutes: int = 15
    # Vitals schedule.
    esketamine_bp_check_minutes: int = 40
    iv_vitals_interval_minutes: int = 15
    check_tolerance_minutes: int = 5
    predischarge_check_window_minutes: int = 15
    # Minimum stay and discharge.
    esketamine_min_observation_minutes: int = 120
    iv_recovery_minutes: int = 30
    discharge_bp_within_percent: int = 20
    # Dissociation counts as resolved when a post-dose CADSS-6 total is below this.
    cadss6_resolved_below: int = 4
    # The Today board marks deep sedation at or below this MOAA/S (3: responds only to loud or
    # repeated name).
    deep_sedation_moaas_at_most: int = 3
    # IV dosing.
    iv_default_mg_per_kg: float = 0.5
    iv_default_minutes: int = 40
    iv_min_minutes: int = 40
    iv_max_minutes: int = 60
    # Above this the prescriber confirms the course dose with password and reason.
    iv_usual_max_mg_per_kg: float = 1.0
    # The pump's rate x time x concentration may differ from the dose by this much.
    iv_pump_tolerance_percent: int = 10
    # Esketamine device administration: one 28 mg device every 5 minutes.
    esketamine_device_interval_minutes: int = 5
    # Fasting.
    esketamine_fast_food_hours: int = 2
    esketamine_fast_liquid_minutes: int = 30
    iv_fast_food_hours: int = 4

    @classmethod
    def with_overrides(cls, overrides: dict[str, Any]) -> "ClinicalRules":
        """Defaults replaced by a clinic's stored values; unknown keys are ignored."""
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in overrides.items():
            if key in known:
                values[key] = float(value) if known[key] in (float, "float") else int(value)
        return cls(**values)
