"""What the REMS monitoring form reads off an esketamine chart: the three blood pressures, the
duration, the treatment date, the lots, and the pre-filled answers the nurse confirms at
discharge (vital signs acceptable, sedation / dissociation / respiratory depression observed
and resolved). Plain data in, plain data out.

- Prior to administration: the last reading at or before the first device.
- 40 minutes post-administration: the first reading from the clinic's BP-check minute less the
  on-time tolerance (label §5.6: "around 40 minutes post-dose"), as the discharge rules count it.
- Prior to completion: the last reading after that one, up to discharge (one reading never
  stands for two boxes).
- Sedation observed: a MOAA/S below 5 after the dose; resolved: the last one is 5.
- Dissociation observed: a CADSS-6 above 0 after the dose; resolved: the last one is under the
  clinic's line, or the nurse attested it at discharge.
- Respiratory depression observed: the respiratory watch fired or a respiratory-depression
  event was charted; resolved: the last SpO₂ is back at the watch line and every such event is
  resolved.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from clinic_app.clinical.discharge import FULLY_AWAKE, Score
from clinic_app.clinical.rems_deadline import treatment_day
from clinic_app.clinical.rems_form import BloodPressure
from clinic_app.clinical.respiratory import respiratory_watch
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.vitals import Vitals, above_hold_line, back_to_baseline, reading_time


@dataclass(frozen=True)
class EsketamineChart:
    """The charted facts of one dosed esketamine session."""

    dose_started_at: datetime
    discharged_at: datetime | None
    dose_mg: int | None
    device_lots: tuple[str, ...]
    readings: Sequence[Vitals]
    age_years: int
    sedation: Sequence[Score] = ()
    dissociation: Sequence[Score] = ()
    dissociation_attested: bool = False
    # Respiratory-depression adverse events: (resolved?) for each.
    respiratory_events: Sequence[bool] = ()


@dataclass(frozen=True)
class ChartedSession:
    """The form's session boxes as the chart gives them."""

    treatment_date: date
    dose_mg: int | None
    lot_numbers: tuple[str, ...]
    duration_minutes: int | None
    bp_pre: BloodPressure | None
    bp_40: BloodPressure | None
    bp_completion: BloodPressure | None


@dataclass(frozen=True)
class SuggestedAnswers:
    """The discharge answers pre-filled from the chart; the nurse confirms or changes them."""

    vitals_ok_pre: bool | None
    vitals_ok_completion: bool | None
    sedation_observed: bool | None
    sedation_resolved: bool | None
    dissociation_observed: bool | None
    dissociation_resolved: bool | None
    respiratory_observed: bool
    respiratory_resolved: bool | None


def _bp(reading: Vitals | None) -> BloodPressure | None:
    return BloodPressure(reading.systolic, reading.diastolic) if reading else None


def _split(chart: EsketamineChart) -> tuple[list[Vitals], list[Vitals]]:
    timed = sorted((r for r in chart.readings if r.taken_at is not None), key=reading_time)
    before = [r for r in timed if reading_time(r) <= chart.dose_started_at]
    end = chart.discharged_at
    after = [
        r
        for r in timed
        if chart.dose_started_at < reading_time(r) and (end is None or reading_time(r) <= end)
    ]
    return before, after


def key_readings(
    chart: EsketamineChart, rules: ClinicalRules
) -> tuple[Vitals | None, Vitals | None, Vitals | None]:
    """The readings behind the form's three blood pressures (None: not charted)."""
    before, after = _split(chart)
    check_from = chart.dose_started_at + timedelta(
        minutes=rules.esketamine_bp_check_minutes - rules.check_tolerance_minutes
    )
    at_check = next((r for r in after if reading_time(r) >= check_from), None)
    later = [r for r in after if at_check is not None and reading_time(r) > reading_time(at_check)]
    return (before[-1] if before else None, at_check, later[-1] if later else None)


def charted_session(chart: EsketamineChart, zone: ZoneInfo, rules: ClinicalRules) -> ChartedSession:
    """The session boxes of the form, from the chart, dated on the site's calendar."""
    pre, at_check, last = key_readings(chart, rules)
    duration = None
    if chart.discharged_at is not None:
        duration = int((chart.discharged_at - chart.dose_started_at).total_seconds() // 60)
    return ChartedSession(
        treatment_date=treatment_day(chart.dose_started_at, zone),
        dose_mg=chart.dose_mg,
        lot_numbers=tuple(dict.fromkeys(lot.strip() for lot in chart.device_lots if lot.strip())),
        duration_minutes=duration,
        bp_pre=_bp(pre),
        bp_40=_bp(at_check),
        bp_completion=_bp(last),
    )


def _last(scores: Sequence[Score], after: datetime) -> list[Score]:
    return sorted((s for s in scores if s.taken_at > after), key=lambda s: s.taken_at)


def suggested_answers(chart: EsketamineChart, rules: ClinicalRules) -> SuggestedAnswers:
    """The discharge answers as the readings and scores suggest them (None: nothing charted)."""
    before, after = _split(chart)
    pre = before[-1] if before else None
    last = after[-1] if after else None
    ok_pre = None
    if pre is not None:
        ok_pre = not above_hold_line(pre.systolic, pre.diastolic, chart.age_years, rules) and (
            pre.spo2 >= rules.low_spo2
        )
    ok_end = None
    if last is not None:
        ok_end = last.spo2 >= rules.low_spo2 and (
            pre is None or back_to_baseline(last, pre, chart.age_years, rules)
        )
    moaas = _last(chart.sedation, chart.dose_started_at)
    cadss = _last(chart.dissociation, chart.dose_started_at)
    watch = bool(respiratory_watch(after, rules.respiratory_watch_spo2))
    observed = watch or bool(chart.respiratory_events)
    resolved = None
    if observed:
        back = last is not None and last.spo2 >= rules.respiratory_watch_spo2
        resolved = back and all(chart.respiratory_events)
    return SuggestedAnswers(
        vitals_ok_pre=ok_pre,
        vitals_ok_completion=ok_end,
        sedation_observed=any(s.total < FULLY_AWAKE for s in moaas) if moaas else None,
        sedation_resolved=moaas[-1].total >= FULLY_AWAKE if moaas else None,
        dissociation_observed=any(s.total > 0 for s in cadss) if cadss else None,
        dissociation_resolved=(
            cadss[-1].total < rules.cadss6_resolved_below
            if cadss
            else chart.dissociation_attested or None
        ),
        respiratory_observed=observed,
        respiratory_resolved=resolved,
    )
