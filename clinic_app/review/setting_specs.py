"""The clinic settings page: every setting the medical director may change, grouped.

Each setting is declared once, on its rule dataclass field (`clinic_app.clinical.rules.setting`:
default, label, kind, range and unit): the fields of `ClinicalRules`, `ReviewRules`,
`SchedulingRules` and `ClinicProfile`. A name two rule sets share, such as
`iv_recovery_minutes`, is one setting read by both. This module orders them for the page, turns
values into the stored form and back, and checks that settings do not contradict each other.
"""

from dataclasses import asdict, dataclass
from datetime import date, time
from decimal import Decimal
from typing import Any

from clinic_app.clinical.ledger import StockRules
from clinic_app.clinical.review import ReviewRules
from clinic_app.clinical.rules import (
    DATES,
    FLOAT,
    INT,
    TEXT,
    TIME,
    WEEKDAYS,
    ClinicalRules,
    ClinicSettings,
)
from clinic_app.clinical.series import SchedulingRules, holiday_region_error
from clinic_app.settings import ClinicProfile

WEEKDAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
RULE_SETS: tuple[type[ClinicSettings], ...] = (
    ClinicalRules,
    ReviewRules,
    SchedulingRules,
    ClinicProfile,
    StockRules,
)


@dataclass(frozen=True)
class SettingSpec:
    """One setting as the page shows it: its key (the field name) and default, and the rest of
    its declaration."""

    key: str
    default: Any
    label: str
    group: str
    kind: str = INT
    low: float | None = None
    high: float | None = None
    unit: str = ""

    @property
    def hint(self) -> str:
        if self.low is None or self.kind == TEXT:
            return ""
        low = f"{self.low:g}"
        high = f"{self.high:g}"
        return f"{low}–{high}{' ' + self.unit if self.unit else ''}."


GROUPS = (
    ("bp", "Blood pressure: pre-dose hold and alerts"),
    ("vitals", "Vitals schedule, observation and discharge"),
    ("dosing", "Dosing and fasting"),
    ("rems", "Spravato REMS: respiratory watch and monitoring forms"),
    ("review", "Outcomes and the review queue"),
    ("hours", "Clinic hours, closed days and time zone"),
    ("blocks", "Chair blocks and spacing"),
    ("series", "Induction and maintenance series"),
    ("stock", "Controlled-substance records"),
)


def _specs() -> tuple[SettingSpec, ...]:
    """Every setting once, by page group, in declaration order within a group."""
    found: dict[str, SettingSpec] = {}
    for rules in RULE_SETS:
        for f, setting in rules.settings():
            found.setdefault(f.name, SettingSpec(f.name, f.default, **asdict(setting)))
    order = [group for group, _ in GROUPS]
    return tuple(sorted(found.values(), key=lambda spec: order.index(spec.group)))


SPECS = _specs()
BY_KEY = {spec.key: spec for spec in SPECS}


# --- stored form <-> value --------------------------------------------------------------------


def to_stored(spec: SettingSpec, value: Any) -> Any:
    """A value as the JSON column keeps it: numbers, "HH:MM", weekday numbers, ISO dates."""
    if spec.kind == INT:
        return int(value)
    if spec.kind == FLOAT:
        return float(Decimal(str(value)))
    if spec.kind == TIME:
        return value.strftime("%H:%M")
    if spec.kind == WEEKDAYS:
        return sorted({int(day) for day in value})
    if spec.kind == DATES:
        return sorted(day.isoformat() for day in value)
    return str(value)


def from_rules(spec: SettingSpec, value: Any) -> Any:
    """A rule object's value normalised the way `to_stored` keeps it."""
    if spec.kind == WEEKDAYS:
        return sorted(value)
    if spec.kind == DATES:
        return sorted(day.isoformat() for day in value)
    if spec.kind == TIME:
        return value.strftime("%H:%M")
    if spec.kind == FLOAT:
        return float(value)
    return value


def display(spec: SettingSpec, stored: Any) -> str:
    """A stored value as the page shows it."""
    if spec.kind == WEEKDAYS:
        return ", ".join(WEEKDAY_LABELS[day] for day in stored) or "none"
    if spec.kind == DATES:
        return ", ".join(stored) or "none"
    if spec.kind == FLOAT:
        return f"{stored:g}" + (f" {spec.unit}" if spec.unit else "")
    if spec.kind == INT:
        return f"{stored}" + (f" {spec.unit}" if spec.unit else "")
    return str(stored)


def parse_dates(text: str) -> tuple[list[date], list[str]]:
    """ISO dates separated by commas, spaces or new lines: (dates, entries that are not)."""
    good: list[date] = []
    bad: list[str] = []
    for item in text.replace(",", " ").split():
        try:
            good.append(date.fromisoformat(item))
        except ValueError:
            bad.append(item)
    return good, bad


def effective(values: dict[str, Any]) -> dict[str, Any]:
    """Every setting's value, normalised, given the stored overrides `values`.

    Raises ValueError when the stored values do not make valid rules.
    """
    result: dict[str, Any] = {}
    for rules in (rule_set.with_overrides(values) for rule_set in RULE_SETS):
        for spec in SPECS:
            if spec.key not in result and hasattr(rules, spec.key):
                result[spec.key] = from_rules(spec, getattr(rules, spec.key))
    return result


# Settings that must rise in this order: (keys, message, whether equal values are refused).
ORDERED: tuple[tuple[tuple[str, ...], str, bool], ...] = (
    (
        ("hold_systolic", "hold_systolic_older"),
        "The older-patient hold line cannot be below the general one.",
        False,
    ),
    (
        ("hold_systolic", "notify_systolic", "urgent_systolic"),
        "Systolic lines must rise: hold, then notify, then urgent.",
        True,
    ),
    (
        ("hold_diastolic", "notify_diastolic", "urgent_diastolic"),
        "Diastolic lines must rise: hold, then notify, then urgent.",
        True,
    ),
    # The watch asks about two readings that each stay above the line that alerts at once.
    (
        ("low_spo2", "respiratory_watch_spo2"),
        "The two-reading watch line cannot be below the line that alerts on one reading.",
        False,
    ),
    (
        ("iv_min_minutes", "iv_default_minutes", "iv_max_minutes"),
        "The default infusion length must lie between the least and the most.",
        False,
    ),
    (
        ("esketamine_maintenance_min_days", "esketamine_maintenance_max_days"),
        "The most days must not be fewer than the least.",
        False,
    ),
    (
        ("iv_maintenance_min_days", "iv_maintenance_interval_days", "iv_maintenance_max_days"),
        "The default interval must lie between the least and the most.",
        False,
    ),
    (
        ("iv_induction_target_days", "iv_induction_max_days"),
        "The limit must not be shorter than the target.",
        False,
    ),
)


def consistency_errors(values: dict[str, Any]) -> dict[str, str]:
    """Field -> message for settings that contradict each other (all values normalised)."""
    errors: dict[str, str] = {}
    for keys, message, strict in ORDERED:
        for low, high in zip(keys, keys[1:], strict=False):
            if values[low] > values[high] or (strict and values[low] == values[high]):
                # Either may be the one just changed: the message stands beside both.
                errors.setdefault(low, message)
                errors.setdefault(high, message)
    region = holiday_region_error(values["holiday_country"], values["holiday_subdivision"])
    if region:
        errors["holiday_country"] = region
    if time.fromisoformat(values["opening_time"]) >= time.fromisoformat(values["closing_time"]):
        errors["closing_time"] = "The clinic must close after it opens."
    for key in (
        "open_weekdays",
        "esketamine_default_weekdays",
        "esketamine_alternate_weekdays",
        "iv_default_weekdays",
    ):
        if not values[key]:
            errors[key] = "Choose at least one day."
    return errors
