"""Escalation of an alarming reading: which alerts reach the psychiatrist, and the recheck the
nurse owes until readings are back under the line (SPRAVATO label §5.6: BP rechecked "as clinically
warranted until values decline"; the recheck intervals are clinic defaults in `rules.py`)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.vitals import Alert, Tier, Vitals, reading_alerts, reading_time

# Alert codes that open an alert for the psychiatrist and ask for a recheck. A rise over
# pre-dose alone (watch tier) is shown at the chair and flagged for review, nothing more.
ESCALATING = ("bp_urgent", "bp_notify", "spo2_low")


@dataclass(frozen=True)
class Recheck:
    """The reading that asks for a recheck, and when the recheck is due."""

    reading: Vitals
    alerts: tuple[Alert, ...]
    due_at: datetime

    @property
    def urgent(self) -> bool:
        return any(a.tier == Tier.URGENT for a in self.alerts)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(a.code for a in self.alerts)

    @property
    def label(self) -> str:
        """What the nurse rechecks: "Urgent BP recheck", "SpO₂ recheck"..."""
        what = "BP" if any(c.startswith("bp_") for c in self.codes) else "SpO₂"
        if "spo2_low" in self.codes and what == "BP":
            what = "BP and SpO₂"
        return f"{'Urgent ' if self.urgent else ''}{what} recheck"


def escalating_alerts(reading: Vitals, rules: ClinicalRules) -> list[Alert]:
    """The alerts of one reading that escalate (notify or urgent BP, low SpO₂), most urgent
    first; [] for a reading under every line."""
    return [a for a in reading_alerts(reading, None, rules) if a.code in ESCALATING]


def recheck_interval(alerts: Sequence[Alert], rules: ClinicalRules) -> timedelta:
    """Minutes to the recheck: the urgent interval when any alert is urgent."""
    urgent = any(a.tier == Tier.URGENT for a in alerts)
    minutes = rules.bp_recheck_urgent_minutes if urgent else rules.bp_recheck_notify_minutes
    return timedelta(minutes=minutes)


def pending_recheck(readings: Sequence[Vitals], rules: ClinicalRules) -> Recheck | None:
    """The recheck still owed: the latest timed reading escalates, so another is due after the
    interval. None once the latest reading is back under every line (or there is none)."""
    timed = sorted((r for r in readings if r.taken_at is not None), key=reading_time)
    if not timed:
        return None
    last = timed[-1]
    alerts = escalating_alerts(last, rules)
    if not alerts:
        return None
    return Recheck(last, tuple(alerts), reading_time(last) + recheck_interval(alerts, rules))
