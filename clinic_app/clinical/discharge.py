"""What still stands between a patient and discharge.

The REMS asks for monitoring "until resolution of sedation, dissociation and respiratory
depression" (program goal, FDA REMS page): beyond the minimum stay and the vitals, discharge needs
a MOAA/S of 5
after the last lower score, dissociation resolved, every moderate or worse adverse event resolved
or cleared, no BP recheck owed, and the right escort (README, "Where each role starts": Nurse).
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from clinic_app.clinical.codes import Modality
from clinic_app.clinical.escalation import pending_recheck
from clinic_app.clinical.respiratory import RespiratoryAnswer, respiratory_problem
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.vitals import Vitals, back_to_baseline, reading_time

FULLY_AWAKE = 5  # MOAA/S 5: responds readily to name spoken in a normal tone
BLOCKING_SEVERITIES = ("moderate", "severe")


@dataclass(frozen=True)
class Blocker:
    code: str
    message: str


@dataclass(frozen=True)
class Score:
    """One post-dose scale score (MOAA/S or CADSS-6 total) and when it was taken."""

    taken_at: datetime
    total: int


@dataclass(frozen=True)
class EventFact:
    """An adverse event as the discharge rules see it."""

    label: str
    severity: str
    onset_at: datetime
    resolved: bool = False
    cleared: bool = False


@dataclass(frozen=True)
class SessionFacts:
    """The recorded state of a session as the discharge rules need it.

    `sedation` and `dissociation` hold the MOAA/S and CADSS-6 scores taken after the dose;
    `override_at` is when the psychiatrist last overrode the discharge blockers (None: never).
    """

    modality: Modality
    age_years: int
    dose_started_at: datetime | None
    infusion_ended_at: datetime | None
    baseline: Vitals | None
    readings_after_dose: Sequence[Vitals]
    sedation: Sequence[Score] = ()
    dissociation: Sequence[Score] = ()
    adverse_events: Sequence[EventFact] = ()
    confirmed_driver: str = ""
    patient_name: str = ""
    override_at: datetime | None = None
    # Esketamine: devices the dose needs, and how many were charted (given or partial).
    devices_planned: int = 0
    devices_recorded: int = 0
    # Esketamine: the nurse's answer to the REMS respiratory question (None: not answered).
    respiratory_answer: RespiratoryAnswer | None = None


@dataclass(frozen=True)
class Escort:
    """Who the patient leaves with: the driver confirmed at the pre-dose check
    ("confirmed_driver"), or another named adult ("other_adult") with phone and relationship."""

    kind: str
    name: str = ""
    phone: str = ""
    relationship: str = ""


@dataclass(frozen=True)
class Attestation:
    """The nurse's bedside assessment at discharge."""

    alert_oriented: bool
    gait_steady: bool
    vomiting: bool
    escort: Escort
    dissociation_resolved: bool = False


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
    readings = sorted(
        (r for r in facts.readings_after_dose if r.taken_at is not None), key=reading_time
    )
    blockers = _time_blockers(facts, facts.dose_started_at, readings, now, rules)
    if not readings:
        blockers.append(
            Blocker("no_post_dose_vitals", "No vitals have been recorded since the dose.")
        )
        return blockers
    return blockers + _last_reading_blockers(facts, readings[-1], now, rules)


def _time_blockers(
    facts: SessionFacts,
    dose_started_at: datetime,
    readings: list[Vitals],
    now: datetime,
    rules: ClinicalRules,
) -> list[Blocker]:
    """Observation or recovery time not yet over; the esketamine BP check not yet taken."""
    if facts.modality == Modality.ESKETAMINE_NASAL:
        blockers: list[Blocker] = []
        elapsed = (now - dose_started_at).total_seconds() / 60
        minimum = rules.esketamine_min_observation_minutes
        if elapsed < minimum:
            blockers.append(
                Blocker(
                    "observation_time",
                    f"Observed {int(elapsed)} of {minimum} minutes since the first device.",
                )
            )
        bp_from = dose_started_at + timedelta(
            minutes=rules.esketamine_bp_check_minutes - rules.check_tolerance_minutes
        )
        if not any(reading_time(r) >= bp_from for r in readings):
            blockers.append(
                Blocker(
                    "bp_check_missing",
                    f"The {rules.esketamine_bp_check_minutes}-minute BP is not recorded.",
                )
            )
        return blockers
    if facts.infusion_ended_at is None:
        return [Blocker("infusion_running", "The infusion end time is not recorded.")]
    ready_at = facts.infusion_ended_at + timedelta(minutes=rules.iv_recovery_minutes)
    if now >= ready_at:
        return []
    left = math.ceil((ready_at - now).total_seconds() / 60)
    return [
        Blocker(
            "recovery_time",
            f"Recovery: {rules.iv_recovery_minutes} min after the infusion; {left} to go.",
        )
    ]


def _last_reading_blockers(
    facts: SessionFacts, last: Vitals, now: datetime, rules: ClinicalRules
) -> list[Blocker]:
    """The last reading too old, its BP not back to pre-dose, or its SpO₂ low."""
    blockers: list[Blocker] = []
    window = rules.predischarge_check_window_minutes
    if now - reading_time(last) > timedelta(minutes=window):
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


def _minutes_after_dose(facts: SessionFacts, moment: datetime) -> int:
    assert facts.dose_started_at is not None
    return int((moment - facts.dose_started_at).total_seconds() // 60)


def sedation_blockers(facts: SessionFacts, rules: ClinicalRules) -> list[Blocker]:
    """MOAA/S after the dose: at ~40 min and before discharge (esketamine) or after the infusion
    (IV), and a 5 recorded after the last score below 5."""
    if facts.dose_started_at is None:
        return []
    scores = sorted(
        (s for s in facts.sedation if s.taken_at > facts.dose_started_at), key=lambda s: s.taken_at
    )
    if not scores:
        return [Blocker("sedation_not_assessed", "No MOAA/S since the dose: assess sedation.")]
    blockers: list[Blocker] = []
    if facts.modality == Modality.ESKETAMINE_NASAL:
        tolerance = timedelta(minutes=rules.check_tolerance_minutes)
        check_at = facts.dose_started_at + timedelta(minutes=rules.esketamine_bp_check_minutes)
        first_check = next((s for s in scores if s.taken_at >= check_at - tolerance), None)
        if first_check is None:
            blockers.append(
                Blocker(
                    "sedation_check_missing",
                    f"The {rules.esketamine_bp_check_minutes}-minute MOAA/S is not recorded.",
                )
            )
        leave_at = facts.dose_started_at + timedelta(
            minutes=rules.esketamine_min_observation_minutes
            - rules.predischarge_check_window_minutes
        )
        if not any(s is not first_check and s.taken_at >= leave_at for s in scores):
            blockers.append(
                Blocker(
                    "sedation_predischarge_missing",
                    "Assess sedation (MOAA/S) again before discharge.",
                )
            )
    elif facts.infusion_ended_at is not None and scores[-1].taken_at <= facts.infusion_ended_at:
        blockers.append(
            Blocker("sedation_after_infusion_missing", "No MOAA/S since the infusion ended.")
        )
    last = scores[-1]
    if last.total < FULLY_AWAKE:
        blockers.append(
            Blocker(
                "sedated",
                f"Last MOAA/S is {last.total} ({_minutes_after_dose(facts, last.taken_at)} min "
                "after the dose): discharge needs a MOAA/S of 5 recorded after it.",
            )
        )
    return blockers


def dissociation_blockers(facts: SessionFacts, rules: ClinicalRules) -> list[Blocker]:
    """A CADSS-6 at or above the clinic's line must be followed by one below it. With no
    post-dose CADSS-6 the nurse attests at discharge instead (see attestation_blockers)."""
    if facts.dose_started_at is None:
        return []
    scores = sorted(
        (s for s in facts.dissociation if s.taken_at > facts.dose_started_at),
        key=lambda s: s.taken_at,
    )
    line = rules.cadss6_resolved_below
    if not scores or scores[-1].total < line:
        return []
    last = scores[-1]
    return [
        Blocker(
            "dissociated",
            f"Last CADSS-6 is {last.total} ({_minutes_after_dose(facts, last.taken_at)} min after "
            f"the dose): discharge needs a CADSS-6 under {line} recorded after it.",
        )
    ]


def adverse_event_blockers(facts: SessionFacts) -> list[Blocker]:
    """Every moderate or severe event still open: neither resolved nor cleared."""
    return [
        Blocker(
            "adverse_event_open",
            f"{event.label} ({event.severity}) is not resolved: mark it resolved, or the "
            "psychiatrist clears it.",
        )
        for event in sorted(facts.adverse_events, key=lambda e: e.onset_at)
        if event.severity in BLOCKING_SEVERITIES and not (event.resolved or event.cleared)
    ]


def device_blockers(facts: SessionFacts) -> list[Blocker]:
    """Every esketamine device of the dose is charted (time and lot, or a partial with a note)."""
    if facts.devices_recorded >= facts.devices_planned:
        return []
    return [
        Blocker(
            "devices_missing",
            f"Chart device {facts.devices_recorded + 1} of {facts.devices_planned} (time and "
            "lot), or record it as partial with what happened.",
        )
    ]


def recheck_blockers(facts: SessionFacts, rules: ClinicalRules) -> list[Blocker]:
    """A BP at the notify or urgent line asks for a recheck until one is back under it."""
    recheck = pending_recheck(facts.readings_after_dose, rules)
    if recheck is None or not any(code.startswith("bp_") for code in recheck.codes):
        return []
    reading = recheck.reading
    line = (
        f"{rules.urgent_systolic}/{rules.urgent_diastolic}"
        if recheck.urgent
        else f"{rules.notify_systolic}/{rules.notify_diastolic}"
    )
    return [
        Blocker(
            "bp_recheck",
            f"Recheck BP: the last reading {reading.systolic}/{reading.diastolic} is at or above "
            f"{line}.",
        )
    ]


def respiratory_blockers(facts: SessionFacts, rules: ClinicalRules) -> list[Blocker]:
    """Esketamine: the respiratory watch (clinical/respiratory.py) until the nurse answers."""
    if facts.modality != Modality.ESKETAMINE_NASAL:
        return []
    problem = respiratory_problem(
        facts.readings_after_dose, facts.respiratory_answer, rules.respiratory_watch_spo2
    )
    return [Blocker(*problem)] if problem else []


# What a psychiatrist's discharge override covers: clinical judgement calls on what was charted
# (a known low baseline MOAA/S, a BP or CADSS-6 that will not settle, an event cleared in
# person). The minimum stay (REMS observation, IV recovery), a missing dose, infusion end,
# device or assessment, stale vitals, the bedside assessment and the escort never are.
OVERRIDABLE = frozenset(
    {
        "bp_not_returned",
        "bp_recheck",
        "spo2_low",
        "sedated",
        "dissociated",
        "adverse_event_open",
        "respiratory_unresolved",
    }
)


def _latest_fact(facts: SessionFacts) -> datetime | None:
    moments = [r.taken_at for r in facts.readings_after_dose if r.taken_at is not None]
    moments += [s.taken_at for s in (*facts.sedation, *facts.dissociation)]
    moments += [e.onset_at for e in facts.adverse_events]
    return max(moments, default=None)


def override_covers(facts: SessionFacts) -> bool:
    """An override covers the chart as it stood when given: anything charted later (a new
    reading, score or event) needs the rules, or a new override, again."""
    if facts.override_at is None:
        return False
    latest = _latest_fact(facts)
    return latest is None or facts.override_at >= latest


def chart_blockers(facts: SessionFacts, now: datetime, rules: ClinicalRules) -> list[Blocker]:
    """Every blocker the chart and the clock raise, in fixing order, less what a standing
    psychiatrist's override covers. The board's "ready for discharge" means this is empty."""
    blockers = recorded_blockers(facts, now, rules)
    if facts.dose_started_at is not None:
        blockers += device_blockers(facts)
        blockers += recheck_blockers(facts, rules)
        blockers += respiratory_blockers(facts, rules)
        blockers += sedation_blockers(facts, rules)
        blockers += dissociation_blockers(facts, rules)
        blockers += adverse_event_blockers(facts)
    if override_covers(facts):
        blockers = [b for b in blockers if b.code not in OVERRIDABLE]
    return blockers


# Ways home that are never allowed: the label forbids driving until the next day (esketamine)
# or for 24 h (IV), and a ride-hail, taxi or robotaxi driver is not a responsible adult escort.
_NOT_AN_ESCORT = re.compile(
    r"\b(uber|ubr|lyft|taxi|taxis|cab|waymo|zoox|rideshare|ride[- ]?share|ride[- ]?hail\w*|"
    r"car service|limo|shuttle|bus|transit|alone|self|myself|nobody|no[- ]one|none|walk|"
    r"walking|on foot|driv\w*\s+(?:home|\w*self|themselves))\b",
    re.IGNORECASE,
)
# What people type to get past a required field.
_PLACEHOLDER = re.compile(r"^(n/?a|na|none|unknown|tbd|tba|x+|-+|\?+|\.+|0+)$", re.IGNORECASE)
NOT_ALLOWED = (
    "A ride-hail or taxi, public transport or leaving alone is not allowed: the patient must not "
    "drive until the next day and leaves with a responsible adult."
)
MIN_PHONE_DIGITS = 7


def _real_words(text: str) -> bool:
    """At least two letters and not a placeholder such as "n/a" or "x"."""
    text = text.strip()
    return sum(c.isalpha() for c in text) >= 2 and not _PLACEHOLDER.match(text)


def escort_person_problems(
    name: str, phone: str, relationship: str | None, patient_name: str = ""
) -> dict[str, str]:
    """What is wrong with the adult named to take the patient home, by field ("name", "phone",
    "relationship"); {} when they may. `relationship` None: not asked (the pre-dose driver)."""
    problems: dict[str, str] = {}
    if _NOT_AN_ESCORT.search(f"{name} {relationship or ''}"):
        problems["name"] = NOT_ALLOWED
    elif not _real_words(name):
        problems["name"] = "Name the adult the patient leaves with."
    elif patient_name and name.strip().casefold() == patient_name.strip().casefold():
        problems["name"] = "That is the patient: name the adult who takes them home."
    if sum(c.isdigit() for c in phone) < MIN_PHONE_DIGITS:
        problems["phone"] = "Give that adult's phone number."
    if relationship is not None and not _real_words(relationship):
        problems["relationship"] = "Give that adult's relationship."
    return problems


def escort_blockers(escort: Escort, confirmed_driver: str, patient_name: str = "") -> list[Blocker]:
    """The patient leaves with the confirmed driver, or another named adult whose phone and
    relationship are recorded; never a ride-hail or taxi, public transport or alone."""
    if escort.kind == "confirmed_driver":
        if not confirmed_driver.strip():
            return [
                Blocker(
                    "no_confirmed_driver",
                    "No driver was confirmed at the pre-dose check: name the adult the patient "
                    "leaves with.",
                )
            ]
        return []
    if escort.kind != "other_adult":
        return [Blocker("no_escort", "Choose who the patient leaves with.")]
    problems = escort_person_problems(escort.name, escort.phone, escort.relationship, patient_name)
    blockers = []
    if "name" in problems:
        code = "escort_not_allowed" if problems["name"] == NOT_ALLOWED else "escort_name"
        blockers.append(Blocker(code, problems["name"]))
    if "phone" in problems:
        blockers.append(Blocker("escort_phone", problems["phone"]))
    if "relationship" in problems:
        blockers.append(Blocker("escort_relationship", problems["relationship"]))
    return blockers


def attestation_blockers(
    attestation: Attestation, facts: SessionFacts, rules: ClinicalRules
) -> list[Blocker]:
    """Blockers from the nurse's bedside assessment and the escort."""
    blockers = []
    if not attestation.alert_oriented:
        blockers.append(Blocker("not_alert", "The patient is not alert and oriented."))
    if not attestation.gait_steady:
        blockers.append(Blocker("gait", "The patient's gait is not steady."))
    if attestation.vomiting:
        blockers.append(Blocker("vomiting", "The patient is actively vomiting."))
    dose_at = facts.dose_started_at
    assessed = dose_at is None or any(s.taken_at > dose_at for s in facts.dissociation)
    if not assessed and not attestation.dissociation_resolved:
        blockers.append(
            Blocker(
                "dissociation_unassessed",
                "No CADSS-6 since the dose: record one, or attest that dissociation has resolved.",
            )
        )
    return blockers + escort_blockers(
        attestation.escort, facts.confirmed_driver, facts.patient_name
    )


def discharge_blockers(
    facts: SessionFacts, attestation: Attestation, now: datetime, rules: ClinicalRules
) -> list[Blocker]:
    """Every blocker that still stands; discharge is allowed only when this is empty."""
    return chart_blockers(facts, now, rules) + attestation_blockers(attestation, facts, rules)
