"""Clinic-adjustable thresholds with their sourced defaults, and how a rule field is declared as
a clinic setting (default, label, unit and allowed range in one place).

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
- Respiratory watch: in the phase 3 trials under 3 % of participants had "oxygen saturation
  levels <93% for 2 or more consecutive assessments" (J&J Medical Information, respiratory
  depression, 02/2025); the same line flags possible respiratory depression [D].
- SPRAVATO REMS: "Submit completed patient monitoring forms within 7 days" (Patient Monitoring
  Form 11/2021; Outpatient Healthcare Setting agreement), counted in calendar days.

Ranges keep a setting inside what the sources allow: for example esketamine observation never
below the label's 120 minutes, fasting never below the label's 2 h / 30 min, devices never closer
than the label's 5 minutes.
"""

from collections.abc import Callable, Iterator
from dataclasses import Field, dataclass, field, fields
from datetime import date, datetime, time
from typing import Any, Self

# Kinds of setting: how a stored value is read and which input the settings page shows.
INT, FLOAT, TIME, WEEKDAYS, DATES, TIMEZONE = "int", "float", "time", "weekdays", "dates", "tz"
TEXT = "text"  # free text; `low` and `high` bound its length
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Setting:
    """How the clinic may change one rule field: label and page group, kind, range and unit."""

    label: str
    group: str
    kind: str = INT
    low: float | None = None
    high: float | None = None
    unit: str = ""


def setting(
    default: Any,
    label: str,
    group: str,
    low: float | None = None,
    high: float | None = None,
    unit: str = "",
    kind: str | None = None,
) -> Any:
    """A rule field that is a clinic setting; the kind follows the default unless given."""
    if kind is None:
        kind = next(k for t, k in _KIND_OF_DEFAULT if isinstance(default, t))
    return field(
        default=default, metadata={"setting": Setting(label, group, kind, low, high, unit)}
    )


def same_setting(rules: type["ClinicSettings"], name: str) -> Any:
    """The field `name` of `rules` declared again: one clinic setting that two rule sets read."""
    shared = next(f for f, _ in rules.settings() if f.name == name)
    return field(default=shared.default, metadata=shared.metadata)


def parse_weekdays(value: Any) -> tuple[int, ...]:
    """Weekday numbers (Monday 0) from "0,3", "mon,thu" or a list, sorted and unique."""
    items = value.split(",") if isinstance(value, str) else list(value)
    days: set[int] = set()
    for item in items:
        text = str(item).strip().lower()
        if not text:
            continue
        day = WEEKDAY_NAMES.index(text[:3]) if text[:3] in WEEKDAY_NAMES else int(text)
        if not 0 <= day <= 6:
            raise ValueError(f"Weekday {item!r} is not 0 (Monday) to 6 (Sunday).")
        days.add(day)
    return tuple(sorted(days))


def parse_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    return time.fromisoformat(str(value).strip())


def parse_dates(value: Any) -> frozenset[date]:
    """Dates from ISO text "2026-12-25,2027-01-01" or a list of dates or ISO texts."""
    items = value.split(",") if isinstance(value, str) else list(value)
    days: set[date] = set()
    for item in items:
        if isinstance(item, datetime):
            raise ValueError("Closed dates are dates, not datetimes.")
        if isinstance(item, date):
            days.add(item)
        elif str(item).strip():
            days.add(date.fromisoformat(str(item).strip()))
    return frozenset(days)


_KIND_OF_DEFAULT = (
    (float, FLOAT),
    (int, INT),
    (time, TIME),
    (tuple, WEEKDAYS),
    (frozenset, DATES),
    (str, TEXT),
)
_PARSE: dict[str, Callable[[Any], Any]] = {
    INT: int,
    FLOAT: float,
    TIME: parse_time,
    WEEKDAYS: parse_weekdays,
    DATES: parse_dates,
    TIMEZONE: str,
    TEXT: lambda value: str(value).strip(),
}


class ClinicSettings:
    """Base of the rule dataclasses whose fields are clinic settings (declared with `setting`)."""

    @classmethod
    def settings(cls) -> Iterator[tuple[Field[Any], Setting]]:
        """Each field with its setting, in declaration order."""
        for f in fields(cls):  # type: ignore[arg-type]
            yield f, f.metadata["setting"]

    @classmethod
    def with_overrides(cls, overrides: dict[str, Any]) -> Self:
        """Defaults replaced by a clinic's stored values; unknown keys are ignored.

        Stored values may be text: numbers as "145", times as "08:00", weekdays as "0,3" or
        "mon,thu" (or a list), dates as ISO dates "2026-12-25,2027-01-01" (or a list).
        """
        values = {
            f.name: _PARSE[meta.kind](overrides[f.name])
            for f, meta in cls.settings()
            if f.name in overrides
        }
        return cls(**values)


@dataclass(frozen=True)
class ClinicalRules(ClinicSettings):
    """Every number the rules use; defaults are the sourced ones above."""

    # fmt: off
    # Pre-dose blood-pressure hold (label §5.6 / phase 3 trials).
    hold_systolic: int = setting(140, "Hold dosing: systolic above", "bp", 100, 200, "mmHg")
    hold_systolic_older: int = setting(
        150, "Hold dosing, older patients: systolic above", "bp", 100, 200, "mmHg")
    older_age_years: int = setting(
        65, "Older-patient hold line from age", "bp", 50, 90, "years")
    hold_diastolic: int = setting(90, "Hold dosing: diastolic above", "bp", 60, 130, "mmHg")
    # Intra- and post-dose alerts.
    rise_systolic: int = setting(
        40, "Alert: systolic rise over pre-dose of", "bp", 10, 80, "mmHg")
    rise_diastolic: int = setting(
        25, "Alert: diastolic rise over pre-dose of", "bp", 5, 50, "mmHg")
    notify_systolic: int = setting(
        160, "Notify prescriber: systolic at or above", "bp", 120, 220, "mmHg")
    notify_diastolic: int = setting(
        100, "Notify prescriber: diastolic at or above", "bp", 70, 140, "mmHg")
    urgent_systolic: int = setting(180, "Urgent: systolic at or above", "bp", 140, 250, "mmHg")
    urgent_diastolic: int = setting(110, "Urgent: diastolic at or above", "bp", 80, 160, "mmHg")
    low_spo2: int = setting(92, "Alert at once: one SpO₂ reading below", "bp", 80, 98, "%")
    # Escalation: a reading at the urgent or notify line (or SpO2 below the line) asks for a
    # recheck this many minutes later, until a reading is back under the notify line.
    bp_recheck_urgent_minutes: int = setting(
        5, "Recheck after an urgent reading within", "bp", 1, 15, "min")
    bp_recheck_notify_minutes: int = setting(
        15, "Recheck after a notify reading within", "bp", 5, 30, "min")
    # Vitals schedule.
    esketamine_bp_check_minutes: int = setting(
        40, "Esketamine BP check after first device", "vitals", 20, 90, "min")
    iv_vitals_interval_minutes: int = setting(15, "IV vitals every", "vitals", 5, 30, "min")
    check_tolerance_minutes: int = setting(
        5, "A check counts as on time within", "vitals", 1, 15, "min")
    predischarge_check_window_minutes: int = setting(
        15, "Discharge needs a reading from the last", "vitals", 5, 60, "min")
    # Minimum stay and discharge (the stay and recovery are shared with SchedulingRules).
    esketamine_min_observation_minutes: int = setting(
        120, "Esketamine observation at least", "vitals", 120, 360, "min")
    iv_recovery_minutes: int = setting(
        30, "IV recovery after the infusion", "vitals", 10, 180, "min")
    discharge_bp_within_percent: int = setting(
        20, "Discharge: BP back within", "vitals", 5, 50, "% of pre-dose")
    # Dissociation counts as resolved when a post-dose CADSS-6 total is below this.
    cadss6_resolved_below: int = setting(
        4, "Dissociation resolved: CADSS-6 below", "vitals", 1, 12)
    # The Today board marks deep sedation at or below this MOAA/S (3: responds only to loud or
    # repeated name).
    deep_sedation_moaas_at_most: int = setting(
        3, "Board marks deep sedation at MOAA/S", "vitals", 0, 4, "or below")
    # IV dosing (the default length is shared with SchedulingRules).
    iv_default_mg_per_kg: float = setting(0.5, "IV default dose", "dosing", 0.1, 2.0, "mg/kg")
    iv_default_minutes: int = setting(
        40, "IV default infusion length", "dosing", 20, 120, "min")
    iv_min_minutes: int = setting(40, "IV infusion at least", "dosing", 20, 120, "min")
    iv_max_minutes: int = setting(60, "IV infusion at most", "dosing", 20, 180, "min")
    # Above this the prescriber confirms the course dose with password and reason.
    iv_usual_max_mg_per_kg: float = setting(
        1.0, "IV usual maximum (above: prescriber confirms)", "dosing", 0.5, 2.0, "mg/kg")
    # The pump's rate x time x concentration may differ from the dose by this much.
    iv_pump_tolerance_percent: int = setting(
        10, "IV pump settings may differ from the dose by", "dosing", 1, 25, "%")
    # Esketamine device administration: one 28 mg device every 5 minutes.
    esketamine_device_interval_minutes: int = setting(
        5, "Esketamine: minutes between devices", "dosing", 5, 15, "min")
    # Fasting.
    esketamine_fast_food_hours: int = setting(
        2, "Esketamine: no food for", "dosing", 2, 12, "h")
    esketamine_fast_liquid_minutes: int = setting(
        30, "Esketamine: no liquids for", "dosing", 30, 240, "min")
    iv_fast_food_hours: int = setting(4, "IV: no food for", "dosing", 0, 12, "h")
    # Spravato REMS: the respiratory watch and the monitoring form's deadline.
    respiratory_watch_spo2: int = setting(
        93, "REMS respiratory watch: two SpO₂ readings in a row below", "rems", 85, 98, "%")
    rems_form_due_days: int = setting(
        7, "Monitoring form due within", "rems", 1, 7, "calendar days")
    # fmt: on
