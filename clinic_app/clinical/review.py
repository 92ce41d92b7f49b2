"""The psychiatrist's co-signature queue: review flags on a signed session and same-day alerts.

Pure rules: plain data in, findings out. Clinical thresholds (BP tiers, the SpO₂ line, the minimum
stay) come from `ClinicalRules`; the numbers that belong to review and measurement-based care come
from `ReviewRules` below.

Sources:
- Response = a drop of at least 50 % in PHQ-9 from the course baseline; remission = PHQ-9 below 5
  (ORKA-1, Osmind real-world data: McInnes et al., J Affect Disord 2022,
  doi:10.1016/j.jad.2021.12.097). Used by `outcomes.course_outcome`.
- PHQ-9 item 9 (thoughts of death or self-harm; Kroenke, Spitzer & Williams 2001) above 0 needs
  same-day follow-up regardless of the total.
- Serious adverse events are reported and reviewed the same day (the SPRAVATO REMS asks for
  suspected adverse events to be reported to the program).
- A 30-minute grace after the earliest discharge time before a stay counts as late, and two missed
  induction visits in a row as the alert line, are clinic defaults [D] for the medical director
  to sign off.
"""

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from clinic_app.clinical.attendance import PastVisit, missed_run
from clinic_app.clinical.codes import (
    ADVERSE_EVENT_KINDS,
    NOT_DOSED_REASONS,
    Modality,
)
from clinic_app.clinical.discharge import SessionFacts, earliest_discharge
from clinic_app.clinical.dosing import infusion_short
from clinic_app.clinical.rules import ClinicalRules, ClinicSettings, setting
from clinic_app.clinical.scores import phq9_item9_positive
from clinic_app.clinical.vitals import Tier, Vitals, reading_alerts


@dataclass(frozen=True)
class ReviewRules(ClinicSettings):
    """Numbers for outcomes and the review queue; defaults are the sourced ones above."""

    # Measurement-based care (ORKA-1, see the module docstring).
    response_drop_percent: int = setting(
        50, "Response: PHQ-9 drop from baseline of at least", "review", 25, 90, "%"
    )
    remission_below: int = setting(5, "Remission: PHQ-9 below", "review", 1, 10)
    # Review queue [D, clinic defaults].
    late_discharge_grace_minutes: int = setting(
        30, "Late discharge flag after a grace of", "review", 0, 240, "min"
    )
    missed_induction_alert_count: int = setting(
        2, "Alert after missed induction visits in a row", "review", 1, 10, "visits"
    )


class Severity(StrEnum):
    """How strongly a flag asks for attention; declared most severe first."""

    URGENT = "urgent"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for the most severe; sorts ascending."""
        return list(Severity).index(self)


@dataclass(frozen=True)
class Flag:
    code: str
    severity: Severity
    reason: str


# Codes of the alerts that stay on top of the queue until the psychiatrist acknowledges them.
SAME_DAY_ALERT_CODES = frozenset({"phq9_item9", "serious_ae", "missed_induction"})

_BP_SEVERITY = {
    Tier.URGENT: Severity.URGENT,
    Tier.NOTIFY: Severity.WARNING,
    Tier.WATCH: Severity.INFO,
}
_BP_CODES = frozenset({"bp_urgent", "bp_notify", "bp_rise"})

OVERRIDE_LABELS = {
    "predose_bp_hold": "pre-dose BP hold",
    "discharge": "discharge despite clinical blockers",
    "contraindication": "contraindication on the clinical screen",
}


def override_label(rule: str) -> str:
    """How an override's rule reads on a page: "pre-dose BP hold"."""
    return OVERRIDE_LABELS.get(rule, rule.replace("_", " "))


@dataclass(frozen=True)
class SessionReviewFacts:
    """A signed session as the review rules need it.

    `adverse_events` are (kind, serious) pairs; `overrides` are the rule codes overridden (e.g.
    "predose_bp_hold"); `phq9_items` are the nine answers of the session's PHQ-9, or None.
    `planned_minutes` is the IV course's infusion length and `paused_minutes` how long the pump
    stood still between start and end. `not_dosed_reason` is the code of a session ended
    without a dose ("" when dosed or open).
    """

    modality: Modality
    age_years: int
    dose_started_at: datetime | None
    infusion_ended_at: datetime | None
    discharged_at: datetime | None
    baseline: Vitals | None
    readings_after_dose: Sequence[Vitals] = ()
    adverse_events: Sequence[tuple[str, bool]] = ()
    overrides: Sequence[str] = ()
    phq9_items: Sequence[int] | None = None
    # Who the patient left with when it was not the confirmed driver:
    # (name, relationship, phone).
    other_escort: tuple[str, str, str] | None = None
    planned_minutes: int | None = None
    paused_minutes: float = 0.0
    not_dosed_reason: str = ""
    not_dosed_note: str = ""

    def discharge_facts(self) -> SessionFacts:
        return SessionFacts(
            modality=self.modality,
            age_years=self.age_years,
            dose_started_at=self.dose_started_at,
            infusion_ended_at=self.infusion_ended_at,
            baseline=self.baseline,
            readings_after_dose=self.readings_after_dose,
        )


# --- one flag per kind ---------------------------------------------------------------------------


def _chronological(readings: Sequence[Vitals]) -> list[Vitals]:
    """Timed readings in time order, then untimed ones in the order given."""
    return sorted(readings, key=lambda r: (0, r.taken_at) if r.taken_at is not None else (1, 0))


def _when(reading: Vitals, dose_started_at: datetime | None) -> str:
    """Minutes since the dose as a phrase (" 40 min after the dose"); "" when unknown."""
    if reading.taken_at is None or dose_started_at is None or reading.taken_at < dose_started_at:
        return ""
    minutes = int((reading.taken_at - dose_started_at).total_seconds() // 60)
    return f" {minutes} min after the dose"


def bp_flag(facts: SessionReviewFacts, rules: ClinicalRules) -> Flag | None:
    """The highest BP alert tier reached after the dose, at the first reading that reached it."""
    best: tuple[Tier, Vitals] | None = None
    for reading in _chronological(facts.readings_after_dose):
        for alert in reading_alerts(reading, facts.baseline, rules):
            if alert.code in _BP_CODES and (best is None or alert.tier > best[0]):
                best = (alert.tier, reading)
    if best is None:
        return None
    tier, reading = best
    bp = f"{reading.systolic}/{reading.diastolic}"
    when = _when(reading, facts.dose_started_at)
    if tier == Tier.URGENT:
        code = "bp_urgent"
        reason = (
            f"BP reached {bp}{when}, at or above the urgent line "
            f"{rules.urgent_systolic}/{rules.urgent_diastolic}."
        )
    elif tier == Tier.NOTIFY:
        code = "bp_notify"
        reason = (
            f"BP reached {bp}{when}, at or above the notify-prescriber line "
            f"{rules.notify_systolic}/{rules.notify_diastolic}."
        )
    else:
        assert facts.baseline is not None  # a rise needs a baseline
        base = facts.baseline
        code = "bp_rise"
        reason = (
            f"BP rose {reading.systolic - base.systolic:+d}/{reading.diastolic - base.diastolic:+d}"
            f" over pre-dose {base.systolic}/{base.diastolic} to {bp}{when} "
            f"(alert at +{rules.rise_systolic}/+{rules.rise_diastolic})."
        )
    return Flag(code, _BP_SEVERITY[tier], reason)


def spo2_flag(facts: SessionReviewFacts, rules: ClinicalRules) -> Flag | None:
    """The lowest SpO₂ below the line at any reading, the pre-dose one included."""
    low: tuple[Vitals, str] | None = None
    candidates = [(r, _when(r, facts.dose_started_at)) for r in facts.readings_after_dose]
    if facts.baseline is not None:
        candidates.insert(0, (facts.baseline, " before the dose"))
    for reading, when in candidates:
        hit = any(a.code == "spo2_low" for a in reading_alerts(reading, None, rules))
        if hit and (low is None or reading.spo2 < low[0].spo2):
            low = (reading, when)
    if low is None:
        return None
    reading, when = low
    return Flag(
        "spo2_low",
        Severity.URGENT,
        f"SpO₂ fell to {reading.spo2} %{when}, below {rules.low_spo2} %.",
    )


def serious_ae_flag(adverse_events: Iterable[tuple[str, bool]]) -> Flag | None:
    """One flag naming every serious adverse event; None when there is none."""
    kinds = list(dict.fromkeys(kind for kind, serious in adverse_events if serious))
    if not kinds:
        return None
    labels = ", ".join(ADVERSE_EVENT_KINDS.get(kind, kind) for kind in kinds)
    noun = "event" if len(kinds) == 1 else "events"
    return Flag("serious_ae", Severity.URGENT, f"Serious adverse {noun}: {labels}.")


def override_flag(overrides: Iterable[str]) -> Flag | None:
    """One flag naming every rule the psychiatrist overrode; None when none was."""
    rules = list(dict.fromkeys(overrides))
    if not rules:
        return None
    labels = ", ".join(override_label(rule) for rule in rules)
    return Flag("override", Severity.WARNING, f"Override used: {labels}.")


def phq9_item9_flag(items: Sequence[int] | None) -> Flag | None:
    """Item 9 (thoughts of self-harm) above 0 on the session's PHQ-9."""
    if items is None or not phq9_item9_positive(items):
        return None
    return Flag(
        "phq9_item9",
        Severity.URGENT,
        f"PHQ-9 item 9 (thoughts of self-harm) scored {items[8]}: same-day follow-up needed.",
    )


def escort_flag(other_escort: tuple[str, str, str] | None) -> Flag | None:
    """The patient left with an adult other than the driver confirmed before the dose:
    `other_escort` is (name, relationship, phone)."""
    if other_escort is None:
        return None
    name, relationship, phone = other_escort
    return Flag(
        "other_escort",
        Severity.WARNING,
        f"Left with {name} ({relationship}, {phone}), not the driver confirmed before the dose.",
    )


def infusion_short_flag(facts: SessionReviewFacts) -> Flag | None:
    """An IV infusion that ran (pauses excluded) fewer minutes than planned: part of the dose
    may not have been given."""
    start, end, planned = facts.dose_started_at, facts.infusion_ended_at, facts.planned_minutes
    if facts.modality != Modality.IV_KETAMINE or start is None or end is None or not planned:
        return None
    running = (end - start).total_seconds() / 60 - facts.paused_minutes
    if not infusion_short(running, planned):
        return None
    paused = (
        f" ({round(facts.paused_minutes)} min of pauses excluded)" if facts.paused_minutes else ""
    )
    return Flag(
        "infusion_short",
        Severity.WARNING,
        f"Infusion ran {round(running)} min of the planned {planned} min{paused}: "
        "check the volume given.",
    )


def not_dosed_flag(reason: str, note: str = "") -> Flag | None:
    """A session that ended without a dose, with the reason (and the nurse's note)."""
    if not reason:
        return None
    text = f"Not dosed: {NOT_DOSED_REASONS.get(reason, reason.replace('_', ' '))}"
    detail = note.strip().rstrip(".")
    return Flag("not_dosed", Severity.WARNING, f"{text} ({detail})." if detail else f"{text}.")


def late_discharge_flag(
    facts: SessionReviewFacts, clinical_rules: ClinicalRules, review_rules: ReviewRules
) -> Flag | None:
    """Discharged more than the grace period after the earliest discharge time."""
    earliest = earliest_discharge(facts.discharge_facts(), clinical_rules)
    if earliest is None or facts.discharged_at is None:
        return None
    grace = review_rules.late_discharge_grace_minutes
    if facts.discharged_at <= earliest + timedelta(minutes=grace):
        return None
    late = -(-(facts.discharged_at - earliest).total_seconds() // 60)  # whole minutes, rounded up
    return Flag(
        "late_discharge",
        Severity.INFO,
        f"Discharged {int(late)} min after the earliest discharge time "
        f"(grace {grace} min): check what kept the patient.",
    )


def session_flags(
    facts: SessionReviewFacts, clinical_rules: ClinicalRules, review_rules: ReviewRules
) -> list[Flag]:
    """Every review flag on a session, most severe first (ties keep a fixed order)."""
    found = [
        serious_ae_flag(facts.adverse_events),
        phq9_item9_flag(facts.phq9_items),
        bp_flag(facts, clinical_rules),
        spo2_flag(facts, clinical_rules),
        override_flag(facts.overrides),
        escort_flag(facts.other_escort),
        infusion_short_flag(facts),
        not_dosed_flag(facts.not_dosed_reason, facts.not_dosed_note),
        late_discharge_flag(facts, clinical_rules, review_rules),
    ]
    return sorted((f for f in found if f is not None), key=lambda f: f.severity.rank)


# --- same-day alerts -----------------------------------------------------------------------------


def missed_induction_alert(visits: Iterable[PastVisit], rules: ReviewRules) -> bool:
    """True when the latest induction visits include the alert count of misses in a row (only
    no-shows and late cancellations by the patient count: `attendance.counts_as_missed`)."""
    return missed_run(visits) >= rules.missed_induction_alert_count


def missed_induction_flag(visits: Iterable[PastVisit], rules: ReviewRules) -> Flag | None:
    run = missed_run(visits)
    if run < rules.missed_induction_alert_count:
        return None
    return Flag(
        "missed_induction",
        Severity.URGENT,
        f"{run} induction visits missed in a row (no-show or late cancellation): "
        "contact the patient today.",
    )


def same_day_alerts(
    *,
    phq9_items: Sequence[int] | None = None,
    adverse_events: Iterable[tuple[str, bool]] = (),
    induction_visits: Iterable[PastVisit] = (),
    rules: ReviewRules,
) -> list[Flag]:
    """The alerts that must reach the psychiatrist today and stay on top until acknowledged."""
    found = [
        phq9_item9_flag(phq9_items),
        serious_ae_flag(adverse_events),
        missed_induction_flag(induction_visits, rules),
    ]
    return [f for f in found if f is not None]


def needs_same_day_alert(
    *,
    phq9_items: Sequence[int] | None = None,
    adverse_events: Iterable[tuple[str, bool]] = (),
    induction_visits: Iterable[PastVisit] = (),
    rules: ReviewRules,
) -> bool:
    """True when any same-day alert applies."""
    return bool(
        same_day_alerts(
            phq9_items=phq9_items,
            adverse_events=adverse_events,
            induction_visits=induction_visits,
            rules=rules,
        )
    )


# --- queue order ---------------------------------------------------------------------------------

Ref = TypeVar("Ref")


def queue_key(
    flags: Sequence[Flag], when: datetime, *, acknowledged: bool = False
) -> tuple[int, int, datetime]:
    """Sort key for the co-signature queue, ascending.

    Unacknowledged same-day alerts first; then by the most severe flag (unflagged last); then
    oldest first, so the longest-waiting session of equal weight is signed first.
    """
    pinned = not acknowledged and any(f.code in SAME_DAY_ALERT_CODES for f in flags)
    top = min((f.severity.rank for f in flags), default=len(Severity))
    return (0 if pinned else 1, top, when)


def queue_order(
    entries: Iterable[tuple[Ref, datetime, Sequence[Flag]]],
    acknowledged: Container[Ref] = frozenset(),
) -> list[Ref]:
    """The refs (e.g. session ids) of (ref, when, flags) entries in queue order; ties stay put."""
    ordered = sorted(
        entries, key=lambda e: queue_key(e[2], e[1], acknowledged=e[0] in acknowledged)
    )
    return [ref for ref, _, _ in ordered]
