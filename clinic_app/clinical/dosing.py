"""Dose calculation and dose rules for both modalities."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from clinic_app.clinical.codes import Indication
from clinic_app.clinical.rules import ClinicalRules

ESKETAMINE_DEVICE_MG = 28
ESKETAMINE_DOSES_MG = (56, 84)
MIN_WEIGHT_KG = Decimal("30")
MAX_WEIGHT_KG = Decimal("250")


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
