"""Vital-sign plausibility, the pre-dose hold line and alert tiers."""

from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum

from clinic_app.clinical.rules import ClinicalRules

# Physiological limits for refusing typing errors; not clinic settings.
LIMITS = {
    "systolic": (50, 300),
    "diastolic": (20, 200),
    "heart_rate": (20, 250),
    "spo2": (50, 100),
    "resp_rate": (4, 60),
}


@dataclass(frozen=True)
class Vitals:
    """One reading as the rules see it."""

    systolic: int
    diastolic: int
    heart_rate: int
    spo2: int
    resp_rate: int | None = None
    taken_at: datetime | None = None


def reading_time(reading: Vitals) -> datetime:
    """When a timed reading was taken: the sort key for readings already filtered to timed ones."""
    if reading.taken_at is None:
        raise ValueError("An untimed reading has no place in time order.")
    return reading.taken_at


class Tier(IntEnum):
    """How loudly an alert speaks; higher is more urgent."""

    WATCH = 1
    NOTIFY = 2
    URGENT = 3


@dataclass(frozen=True)
class Alert:
    code: str
    tier: Tier
    message: str


def implausible_fields(
    systolic: int | None,
    diastolic: int | None,
    heart_rate: int | None,
    spo2: int | None,
    resp_rate: int | None,
) -> dict[str, str]:
    """Field name -> error for values no living patient has (typing errors), else {}."""
    errors: dict[str, str] = {}
    given = {
        "systolic": systolic,
        "diastolic": diastolic,
        "heart_rate": heart_rate,
        "spo2": spo2,
        "resp_rate": resp_rate,
    }
    for name, value in given.items():
        if value is None:
            continue
        low, high = LIMITS[name]
        if not low <= value <= high:
            errors[name] = f"Must be between {low} and {high}."
    if (
        systolic is not None
        and diastolic is not None
        and "systolic" not in errors
        and "diastolic" not in errors
        and diastolic >= systolic
    ):
        errors["diastolic"] = "Diastolic must be lower than systolic."
    return errors


def age_on(date_of_birth: date, day: date) -> int:
    """Age in whole years on `day` (the hold line depends on it)."""
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - before_birthday


def hold_line(age_years: int, rules: ClinicalRules) -> tuple[int, int]:
    """(systolic, diastolic) above which dosing is held for a patient of this age."""
    systolic = (
        rules.hold_systolic_older if age_years >= rules.older_age_years else rules.hold_systolic
    )
    return systolic, rules.hold_diastolic


def above_hold_line(systolic: int, diastolic: int, age_years: int, rules: ClinicalRules) -> bool:
    """True when a blood pressure is over the pre-dose hold line (either value)."""
    hold_sys, hold_dia = hold_line(age_years, rules)
    return systolic > hold_sys or diastolic > hold_dia


def reading_alerts(reading: Vitals, baseline: Vitals | None, rules: ClinicalRules) -> list[Alert]:
    """Alerts raised by one reading, most urgent first; the reading itself is always accepted."""
    alerts: list[Alert] = []
    bp = f"{reading.systolic}/{reading.diastolic}"
    if reading.systolic >= rules.urgent_systolic or reading.diastolic >= rules.urgent_diastolic:
        alerts.append(
            Alert(
                "bp_urgent",
                Tier.URGENT,
                f"BP {bp} at or above {rules.urgent_systolic}/{rules.urgent_diastolic}: urgent, "
                "assess for hypertensive crisis now.",
            )
        )
    elif reading.systolic >= rules.notify_systolic or reading.diastolic >= rules.notify_diastolic:
        alerts.append(
            Alert(
                "bp_notify",
                Tier.NOTIFY,
                f"BP {bp} at or above {rules.notify_systolic}/{rules.notify_diastolic}: "
                "notify the prescriber.",
            )
        )
    if reading.spo2 < rules.low_spo2:
        alerts.append(
            Alert("spo2_low", Tier.URGENT, f"SpO₂ {reading.spo2} % is below {rules.low_spo2} %.")
        )
    if baseline is not None:
        rise_sys = reading.systolic - baseline.systolic
        rise_dia = reading.diastolic - baseline.diastolic
        if rise_sys >= rules.rise_systolic or rise_dia >= rules.rise_diastolic:
            alerts.append(
                Alert(
                    "bp_rise",
                    Tier.WATCH,
                    f"BP up {rise_sys:+d}/{rise_dia:+d} over pre-dose "
                    f"{baseline.systolic}/{baseline.diastolic}.",
                )
            )
    return sorted(alerts, key=lambda a: -a.tier)


def back_to_baseline(
    reading: Vitals, baseline: Vitals, age_years: int, rules: ClinicalRules
) -> bool:
    """True when a BP is within the allowed percentage of pre-dose, or under the hold line."""
    if not above_hold_line(reading.systolic, reading.diastolic, age_years, rules):
        return True
    factor = rules.discharge_bp_within_percent / 100
    return (
        abs(reading.systolic - baseline.systolic) <= baseline.systolic * factor
        and abs(reading.diastolic - baseline.diastolic) <= baseline.diastolic * factor
    )
