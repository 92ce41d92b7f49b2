"""Every clinic setting the medical director may change: its key, label, kind and safe range.

Keys are the field names of `ClinicalRules`, `ReviewRules` and `SchedulingRules` (a name the
clinical and scheduling rules share, such as `iv_recovery_minutes`, is one setting read by both)
plus `timezone`. Defaults come from the rule dataclasses themselves, so a sourced default is
written down once. Ranges keep a setting inside what the sources allow: for example esketamine
observation never below the label's 120 minutes, fasting never below the label's 2 h / 30 min,
devices never closer than the label's 5 minutes.
"""

from collections.abc import Iterable
from dataclasses import MISSING, dataclass, fields
from datetime import date, time
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from clinic_app.clinical.review import ReviewRules
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.series import SchedulingRules, holiday_region_error
from clinic_app.settings import DEFAULT_TIMEZONE

INT, FLOAT, TIME, WEEKDAYS, DATES, TIMEZONE = "int", "float", "time", "weekdays", "dates", "tz"
TEXT = "text"  # free text; `high` is its longest length
WEEKDAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class SettingSpec:
    key: str
    label: str
    group: str
    kind: str = INT
    low: float | None = None
    high: float | None = None
    unit: str = ""

    @property
    def default(self) -> Any:
        if self.kind == TIMEZONE:
            return DEFAULT_TIMEZONE
        for rules in (ClinicalRules, ReviewRules, SchedulingRules):
            for f in fields(rules):
                if f.name == self.key:
                    return f.default if f.default is not MISSING else f.default_factory()
        raise KeyError(self.key)

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
    ("review", "Outcomes and the review queue"),
    ("hours", "Clinic hours, closed days and time zone"),
    ("blocks", "Chair blocks and spacing"),
    ("series", "Induction and maintenance series"),
)

# fmt: off
SPECS: tuple[SettingSpec, ...] = (
    # Blood pressure (ClinicalRules).
    SettingSpec("hold_systolic", "Hold dosing: systolic above", "bp", INT, 100, 200, "mmHg"),
    SettingSpec("hold_systolic_older", "Hold dosing, older patients: systolic above", "bp", INT,
                100, 200, "mmHg"),
    SettingSpec("older_age_years", "Older-patient hold line from age", "bp", INT, 50, 90, "years"),
    SettingSpec("hold_diastolic", "Hold dosing: diastolic above", "bp", INT, 60, 130, "mmHg"),
    SettingSpec("rise_systolic", "Alert: systolic rise over pre-dose of", "bp", INT, 10, 80,
                "mmHg"),
    SettingSpec("rise_diastolic", "Alert: diastolic rise over pre-dose of", "bp", INT, 5, 50,
                "mmHg"),
    SettingSpec("notify_systolic", "Notify prescriber: systolic at or above", "bp", INT, 120, 220,
                "mmHg"),
    SettingSpec("notify_diastolic", "Notify prescriber: diastolic at or above", "bp", INT, 70,
                140, "mmHg"),
    SettingSpec("urgent_systolic", "Urgent: systolic at or above", "bp", INT, 140, 250, "mmHg"),
    SettingSpec("urgent_diastolic", "Urgent: diastolic at or above", "bp", INT, 80, 160, "mmHg"),
    SettingSpec("low_spo2", "Alert: SpO₂ below", "bp", INT, 80, 98, "%"),
    SettingSpec("bp_recheck_urgent_minutes", "Recheck after an urgent reading within", "bp", INT,
                1, 15, "min"),
    SettingSpec("bp_recheck_notify_minutes", "Recheck after a notify reading within", "bp", INT,
                5, 30, "min"),
    # Vitals schedule, minimum stay, discharge (ClinicalRules; shared with SchedulingRules).
    SettingSpec("esketamine_bp_check_minutes", "Esketamine BP check after first device", "vitals",
                INT, 20, 90, "min"),
    SettingSpec("iv_vitals_interval_minutes", "IV vitals every", "vitals", INT, 5, 30, "min"),
    SettingSpec("check_tolerance_minutes", "A check counts as on time within", "vitals", INT, 1,
                15, "min"),
    SettingSpec("predischarge_check_window_minutes", "Discharge needs a reading from the last",
                "vitals", INT, 5, 60, "min"),
    SettingSpec("esketamine_min_observation_minutes", "Esketamine observation at least", "vitals",
                INT, 120, 360, "min"),
    SettingSpec("iv_recovery_minutes", "IV recovery after the infusion", "vitals", INT, 10, 180,
                "min"),
    SettingSpec("discharge_bp_within_percent", "Discharge: BP back within", "vitals", INT, 5, 50,
                "% of pre-dose"),
    SettingSpec("cadss6_resolved_below", "Dissociation resolved: CADSS-6 below", "vitals", INT, 1,
                12),
    SettingSpec("deep_sedation_moaas_at_most", "Board marks deep sedation at MOAA/S", "vitals",
                INT, 0, 4, "or below"),
    # Dosing and fasting (ClinicalRules; iv_default_minutes shared with SchedulingRules).
    SettingSpec("iv_default_mg_per_kg", "IV default dose", "dosing", FLOAT, 0.1, 2.0, "mg/kg"),
    SettingSpec("iv_default_minutes", "IV default infusion length", "dosing", INT, 20, 120,
                "min"),
    SettingSpec("iv_min_minutes", "IV infusion at least", "dosing", INT, 20, 120, "min"),
    SettingSpec("iv_max_minutes", "IV infusion at most", "dosing", INT, 20, 180, "min"),
    SettingSpec("iv_usual_max_mg_per_kg", "IV usual maximum (above: prescriber confirms)",
                "dosing", FLOAT, 0.5, 2.0, "mg/kg"),
    SettingSpec("iv_pump_tolerance_percent", "IV pump settings may differ from the dose by",
                "dosing", INT, 1, 25, "%"),
    SettingSpec("esketamine_device_interval_minutes", "Esketamine: minutes between devices",
                "dosing", INT, 5, 15, "min"),
    SettingSpec("esketamine_fast_food_hours", "Esketamine: no food for", "dosing", INT, 2, 12,
                "h"),
    SettingSpec("esketamine_fast_liquid_minutes", "Esketamine: no liquids for", "dosing", INT, 30,
                240, "min"),
    SettingSpec("iv_fast_food_hours", "IV: no food for", "dosing", INT, 0, 12, "h"),
    # Outcomes and review (ReviewRules).
    SettingSpec("response_drop_percent", "Response: PHQ-9 drop from baseline of at least",
                "review", INT, 25, 90, "%"),
    SettingSpec("remission_below", "Remission: PHQ-9 below", "review", INT, 1, 10),
    SettingSpec("late_discharge_grace_minutes", "Late discharge flag after a grace of", "review",
                INT, 0, 240, "min"),
    SettingSpec("missed_induction_alert_count", "Alert after missed induction visits in a row",
                "review", INT, 1, 10, "visits"),
    # Clinic hours (SchedulingRules) and the time zone.
    SettingSpec("open_weekdays", "Open on", "hours", WEEKDAYS),
    SettingSpec("opening_time", "Opens at", "hours", TIME),
    SettingSpec("closing_time", "Closes at", "hours", TIME),
    SettingSpec("closed_dates", "Closed dates (holidays)", "hours", DATES),
    SettingSpec("holiday_country", "Public holidays of country (ISO code, blank: none)", "hours",
                TEXT, 0, 2),
    SettingSpec("holiday_subdivision", "and state or province (ISO code)", "hours", TEXT, 0, 3),
    SettingSpec("clinic_name", "Clinic name (handout, calendar)", "hours", TEXT, 1, 80),
    SettingSpec("clinic_address", "Clinic address", "hours", TEXT, 0, 200),
    SettingSpec("clinic_phone", "Clinic phone", "hours", TEXT, 0, 32),
    SettingSpec("calendar_title", "Calendar event title (blank: the clinic name)", "hours", TEXT,
                0, 80),
    SettingSpec("timezone", "Clinic time zone", "hours", TIMEZONE),
    SettingSpec("slot_minutes", "Calendar slot", "hours", INT, 5, 60, "min"),
    # Chair blocks and spacing (SchedulingRules).
    SettingSpec("esketamine_dosing_minutes", "Esketamine block: checks and dosing", "blocks", INT,
                5, 60, "min"),
    SettingSpec("esketamine_turnover_minutes", "Esketamine block: chair turnover", "blocks", INT,
                0, 60, "min"),
    SettingSpec("iv_setup_minutes", "IV block: line and checks", "blocks", INT, 0, 60, "min"),
    SettingSpec("iv_turnover_minutes", "IV block: chair turnover", "blocks", INT, 0, 60, "min"),
    SettingSpec("min_dose_gap_days", "Doses at least", "blocks", INT, 1, 7, "calendar days apart"),
    SettingSpec("warn_spacing_hours", "Warn when doses are closer than", "blocks", INT, 24, 168,
                "h"),
    SettingSpec("late_cancel_hours", "Late cancellation: less than", "blocks", INT, 0, 168,
                "h before"),
    SettingSpec("maintenance_due_horizon_days", "Maintenance due look-ahead", "blocks", INT, 1, 60,
                "days"),
    SettingSpec("alternative_window_days", "Search for another day within", "blocks", INT, 1, 60,
                "days"),
    # Series (SchedulingRules).
    SettingSpec("esketamine_induction_weeks", "Esketamine induction", "series", INT, 1, 8,
                "weeks"),
    SettingSpec("esketamine_doses_per_week", "Esketamine induction doses a week", "series", INT,
                1, 3),
    SettingSpec("esketamine_default_weekdays", "Esketamine induction days", "series", WEEKDAYS),
    SettingSpec("esketamine_alternate_weekdays", "Esketamine alternative days", "series",
                WEEKDAYS),
    SettingSpec("esketamine_weekly_maintenance_doses", "Esketamine weekly doses after induction",
                "series", INT, 0, 8),
    SettingSpec("esketamine_maintenance_min_days", "Esketamine maintenance every (least)",
                "series", INT, 7, 28, "days"),
    SettingSpec("esketamine_maintenance_max_days", "Esketamine maintenance every (most)",
                "series", INT, 7, 28, "days"),
    SettingSpec("iv_induction_count", "IV induction infusions", "series", INT, 1, 12),
    SettingSpec("iv_induction_target_days", "IV induction within (target)", "series", INT, 7, 28,
                "days"),
    SettingSpec("iv_induction_max_days", "IV induction within (limit)", "series", INT, 7, 42,
                "days"),
    SettingSpec("iv_default_weekdays", "IV induction days", "series", WEEKDAYS),
    SettingSpec("iv_maintenance_interval_days", "IV maintenance every (default)", "series", INT,
                7, 84, "days"),
    SettingSpec("iv_maintenance_min_days", "IV maintenance every (least)", "series", INT, 7, 84,
                "days"),
    SettingSpec("iv_maintenance_max_days", "IV maintenance every (most)", "series", INT, 7, 84,
                "days"),
)
# fmt: on

BY_KEY = {spec.key: spec for spec in SPECS}


def covered_keys() -> set[str]:
    """Every field of the three rule dataclasses, plus the time zone."""
    keys = {"timezone"}
    for rules in (ClinicalRules, ReviewRules, SchedulingRules):
        keys |= {f.name for f in fields(rules)}
    return keys


@cache
def timezone_names() -> tuple[str, ...]:
    """IANA zone names for the picker (no legacy posix/ and right/ copies)."""
    return tuple(
        sorted(
            name
            for name in available_timezones()
            if "/" in name and not name.startswith(("posix/", "right/", "Etc/"))
        )
        + ["UTC"]
    )


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
    clinical = ClinicalRules.with_overrides(values)
    review = ReviewRules.with_overrides(values)
    scheduling = SchedulingRules.with_overrides(values)
    result: dict[str, Any] = {}
    for spec in SPECS:
        if spec.kind == TIMEZONE:
            result[spec.key] = values.get("timezone", DEFAULT_TIMEZONE)
            continue
        for rules in (clinical, review, scheduling):
            if hasattr(rules, spec.key):
                result[spec.key] = from_rules(spec, getattr(rules, spec.key))
                break
    return result


def consistency_errors(values: dict[str, Any]) -> dict[str, str]:
    """Field -> message for settings that contradict each other (all values normalised)."""
    errors: dict[str, str] = {}

    def order(keys: Iterable[str], message: str, strict: bool = True) -> None:
        keys = list(keys)
        for low, high in zip(keys, keys[1:], strict=False):
            if values[low] > values[high] or (strict and values[low] == values[high]):
                errors.setdefault(high, message)

    order(
        ("hold_systolic", "hold_systolic_older"),
        "The older-patient hold line cannot be below the general one.",
        strict=False,
    )
    order(
        ("hold_systolic", "notify_systolic", "urgent_systolic"),
        "Systolic lines must rise: hold, then notify, then urgent.",
    )
    order(
        ("hold_diastolic", "notify_diastolic", "urgent_diastolic"),
        "Diastolic lines must rise: hold, then notify, then urgent.",
    )
    order(
        ("iv_min_minutes", "iv_default_minutes", "iv_max_minutes"),
        "The default infusion length must lie between the least and the most.",
        strict=False,
    )
    order(
        ("esketamine_maintenance_min_days", "esketamine_maintenance_max_days"),
        "The most days must not be fewer than the least.",
        strict=False,
    )
    order(
        ("iv_maintenance_min_days", "iv_maintenance_interval_days", "iv_maintenance_max_days"),
        "The default interval must lie between the least and the most.",
        strict=False,
    )
    order(
        ("iv_induction_target_days", "iv_induction_max_days"),
        "The limit must not be shorter than the target.",
        strict=False,
    )
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
