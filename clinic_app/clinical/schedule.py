"""The vitals schedule of a session: which checks are done, due, overdue or upcoming."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from clinic_app.clinical.codes import Modality
from clinic_app.clinical.rules import ClinicalRules


class CheckState(StrEnum):
    DONE = "done"
    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Check:
    """One protocol vitals check. `due_at` None means "before dosing"."""

    label: str
    due_at: datetime | None
    done_at: datetime | None
    tolerance: timedelta

    def state(self, now: datetime) -> CheckState:
        """Done when a reading satisfied it; otherwise by how `now` stands to the due time."""
        if self.done_at is not None:
            return CheckState.DONE
        if self.due_at is None:
            return CheckState.DUE
        if now < self.due_at - self.tolerance:
            return CheckState.UPCOMING
        if now <= self.due_at + self.tolerance:
            return CheckState.DUE
        return CheckState.OVERDUE

    @property
    def late(self) -> bool:
        """Done, but after the tolerance around its due time."""
        return (
            self.done_at is not None
            and self.due_at is not None
            and self.done_at > self.due_at + self.tolerance
        )


def vitals_checks(
    modality: Modality,
    dose_started_at: datetime | None,
    end_at: datetime,
    reading_times: Sequence[datetime],
    rules: ClinicalRules,
) -> list[Check]:
    """The protocol checks of one session, up to `end_at` (now plus a look-ahead, or discharge).

    Esketamine (label §5.6): pre-dose, ~40 min after the first device, and before discharge.
    IV: pre-dose, then every interval from infusion start until discharge.
    """
    times = sorted(reading_times)
    tolerance = timedelta(minutes=rules.check_tolerance_minutes)
    predose = [t for t in times if dose_started_at is None or t <= dose_started_at]
    checks = [Check("Pre-dose", dose_started_at, predose[-1] if predose else None, tolerance)]
    if dose_started_at is None:
        return checks
    after = [t for t in times if t > dose_started_at]
    if modality == Modality.ESKETAMINE_NASAL:
        bp_due = dose_started_at + timedelta(minutes=rules.esketamine_bp_check_minutes)
        leave_due = dose_started_at + timedelta(minutes=rules.esketamine_min_observation_minutes)
        window = timedelta(minutes=rules.predischarge_check_window_minutes)
        bp_done = _first_at_or_after(after, bp_due - tolerance)
        checks.append(
            Check(f"{rules.esketamine_bp_check_minutes} min BP", bp_due, bp_done, tolerance)
        )
        # A reading counts for one check only: a late 40-minute reading inside the discharge
        # window leaves the before-discharge check open.
        rest = [t for t in after if t != bp_done]
        checks.append(
            Check(
                "Before discharge", leave_due, _first_at_or_after(rest, leave_due - window), window
            )
        )
        return checks
    interval = timedelta(minutes=rules.iv_vitals_interval_minutes)
    due = dose_started_at + interval
    while due <= end_at:
        slot_start, slot_end = due - tolerance, due + interval - tolerance
        done = next((t for t in after if slot_start <= t < slot_end), None)
        minutes = int((due - dose_started_at).total_seconds() // 60)
        checks.append(Check(f"{minutes} min", due, done, tolerance))
        due += interval
    return checks


def _first_at_or_after(times: Sequence[datetime], moment: datetime) -> datetime | None:
    return next((t for t in times if t >= moment), None)


def next_open_check(checks: Sequence[Check], now: datetime) -> tuple[Check, CheckState] | None:
    """The check not yet done that is due first (a pre-dose check before any), with its state;
    None when all are done."""
    open_checks = [c for c in checks if c.state(now) != CheckState.DONE]
    if not open_checks:
        return None
    first = min(open_checks, key=lambda c: (c.due_at is not None, c.due_at))
    return first, first.state(now)
