"""Dose calculation and dose rules for both modalities."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from clinic_app.clinical.codes import Indication
from clinic_app.clinical.rules import ClinicalRules

ESKETAMINE_DEVICE_MG = 28
ESKETAMINE_DOSES_MG = (56, 84)
MIN_WEIGHT_KG = Decimal("30")
MAX_WEIGHT_KG = Decimal("250")
# Treatment-resistant depression: an inadequate response to at least two oral antidepressants of
# adequate dose and duration (SPRAVATO label §1, indications).
TRD_MIN_FAILED_TRIALS = 2


@dataclass(frozen=True)
class IvDose:
    """A weight-based infusion: total mg, the mg/kg it came from, and its length."""

    weight_kg: Decimal
    mg_per_kg: Decimal
    dose_mg: Decimal
    minutes: int

    @property
    def mg_per_minute(self) -> Decimal:
        return (self.dose_mg / self.minutes).quantize(Decimal("0.01"), ROUND_HALF_UP)


class DoseError(ValueError):
    """A dose that the rules refuse; the message says why."""


def iv_dose(weight_kg: Decimal, mg_per_kg: Decimal, minutes: int) -> IvDose:
    """Weight today x mg/kg, rounded to 0.1 mg. Raises DoseError for an implausible weight."""
    if not MIN_WEIGHT_KG <= weight_kg <= MAX_WEIGHT_KG:
        raise DoseError(f"Weight must be between {MIN_WEIGHT_KG} and {MAX_WEIGHT_KG} kg.")
    if mg_per_kg <= 0:
        raise DoseError("The course has no mg/kg dose.")
    dose = (weight_kg * mg_per_kg).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return IvDose(weight_kg=weight_kg, mg_per_kg=mg_per_kg, dose_mg=dose, minutes=minutes)


def esketamine_devices(dose_mg: int) -> int:
    """Number of 28 mg devices for a dose. Raises DoseError for a dose that is not 56 or 84 mg."""
    if dose_mg not in ESKETAMINE_DOSES_MG:
        raise DoseError("Esketamine dose must be 56 or 84 mg.")
    return dose_mg // ESKETAMINE_DEVICE_MG


def esketamine_dose_problem(
    dose_mg: int, planned_mg: int, indication: str, earlier_doses_mg: Iterable[int]
) -> str | None:
    """Why this esketamine dose may not be given today, or None when it may.

    The dose must match the course's prescription, and in a TRD course 84 mg follows an
    earlier 56 mg dose (label §2.2: TRD induction starts at 56 mg).
    """
    if dose_mg not in ESKETAMINE_DOSES_MG:
        return "Esketamine dose must be 56 or 84 mg."
    if dose_mg != planned_mg:
        return f"The course prescribes {planned_mg} mg; a different dose needs the psychiatrist."
    if indication == Indication.TRD and dose_mg == 84 and 56 not in set(earlier_doses_mg):
        return "84 mg needs an earlier 56 mg dose in this TRD course; the first dose is 56 mg."
    return None


def infusion_minutes_flag(minutes: float, rules: ClinicalRules) -> str | None:
    """A warning when an infusion ran outside the protocol window, else None."""
    if minutes < rules.iv_min_minutes:
        return f"Infusion ran {minutes:.0f} min, shorter than {rules.iv_min_minutes} min."
    if minutes > rules.iv_max_minutes:
        return f"Infusion ran {minutes:.0f} min, longer than {rules.iv_max_minutes} min."
    return None


def iv_dose_needs_confirmation(mg_per_kg: Decimal, rules: ClinicalRules) -> bool:
    """An IV course dose above the clinic's usual maximum: the prescriber confirms it with
    password and reason. The usual maximum itself needs no confirmation."""
    return mg_per_kg > Decimal(str(rules.iv_usual_max_mg_per_kg))


def indication_needs_reason(indication: str, failed_trials: int) -> bool:
    """A TRD course for a patient with fewer than two failed antidepressant trials: the
    prescriber says why."""
    return indication == Indication.TRD and failed_trials < TRD_MIN_FAILED_TRIALS


RATE_STEP_ML_PER_HOUR = Decimal("0.1")


def pump_rate_for(dose_mg: Decimal, minutes: int, concentration_mg_per_ml: Decimal) -> Decimal:
    """The pump rate (mL/h, to 0.1) that gives `dose_mg` over `minutes` at the concentration."""
    rate = dose_mg / concentration_mg_per_ml * 60 / minutes
    return rate.quantize(RATE_STEP_ML_PER_HOUR, ROUND_HALF_UP)


def pump_problem(
    dose_mg: Decimal,
    minutes: int,
    concentration_mg_per_ml: Decimal,
    rate_ml_per_hour: Decimal,
    rules: ClinicalRules,
) -> str | None:
    """Why the pump settings do not deliver the dose over the planned minutes, or None when rate
    x minutes / 60 x concentration lies within the clinic's tolerance of the dose, widened by
    what the pump's 0.1 mL/h steps can miss (it matters only at very low rates)."""
    if concentration_mg_per_ml <= 0:
        return "The concentration must be above 0 mg/mL."
    if rate_ml_per_hour <= 0:
        return "The rate must be above 0 mL/h."
    delivered = rate_ml_per_hour * minutes / 60 * concentration_mg_per_ml
    slack = dose_mg * rules.iv_pump_tolerance_percent / 100 + (
        RATE_STEP_ML_PER_HOUR / 2 * minutes / 60 * concentration_mg_per_ml
    )
    if abs(delivered - dose_mg) <= slack:
        return None
    return (
        f"{rate_ml_per_hour} mL/h of {concentration_mg_per_ml} mg/mL for {minutes} min gives "
        f"{delivered.quantize(Decimal('0.1'), ROUND_HALF_UP)} mg, not {dose_mg} mg: "
        f"set {pump_rate_for(dose_mg, minutes, concentration_mg_per_ml)} mL/h."
    )


Pause = tuple[datetime, datetime | None]


def paused_minutes(started_at: datetime, ended_at: datetime, pauses: Sequence[Pause]) -> float:
    """Minutes the pump stood still between start and end; a pause still open runs to the end."""
    total = 0.0
    for paused_at, resumed_at in pauses:
        low = max(paused_at, started_at)
        high = min(resumed_at or ended_at, ended_at)
        if high > low:
            total += (high - low).total_seconds() / 60
    return total


def running_minutes(started_at: datetime, ended_at: datetime, pauses: Sequence[Pause]) -> float:
    """Minutes the infusion ran: start to end, less the pauses."""
    return (ended_at - started_at).total_seconds() / 60 - paused_minutes(
        started_at, ended_at, pauses
    )


def infusion_short(running: float, planned_minutes: int) -> bool:
    """The infusion ran fewer whole minutes (rounded) than the course plans."""
    return round(running) < planned_minutes


def device_problem(
    number: int,
    given_at: datetime,
    devices_due: int,
    earlier: Sequence[tuple[int, datetime]],
    rules: ClinicalRules,
) -> str | None:
    """Why esketamine device `number` may not be recorded as given at `given_at`, or None.

    Devices go in order, one at a time, no more than the dose's count, each at least the
    clinic's interval after the one before (label §2.5: 5 minutes between devices).
    """
    expected = len(earlier) + 1
    if expected > devices_due:
        return f"All {devices_due} devices of this dose are recorded."
    if number != expected:
        return f"Record device {expected} next."
    if earlier:
        last = max(at for _, at in earlier)
        gap = (given_at - last).total_seconds() / 60
        interval = rules.esketamine_device_interval_minutes
        if gap < 0:
            return f"Device {number} cannot come before device {number - 1}."
        if gap < interval:
            seconds = int((given_at - last).total_seconds())
            after = f"{seconds // 60} min" + (f" {seconds % 60} s" if seconds % 60 else "")
            return (
                f"Device {number} comes at least {interval} min after device {number - 1} "
                f"({after})."
            )
    return None
