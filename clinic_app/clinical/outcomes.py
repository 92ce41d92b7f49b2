"""Measurement-based care: a course's PHQ-9 baseline, trend, response and remission.

Response = a PHQ-9 drop of at least `ReviewRules.response_drop_percent` (50) from the course
baseline; remission = the latest PHQ-9 below `ReviewRules.remission_below` (5). Both from ORKA-1
(McInnes et al., J Affect Disord 2022; sources in `clinical/review.py`).

Status order (first match wins), and why:
1. "no_data": no latest score.
2. "in_induction": induction not complete; the trend is shown but no verdict is given, because
   ORKA-1 judges response after the induction series.
3. "remitter": latest below the remission line. Remission is absolute, so it counts whatever the
   baseline, also a baseline below 10 (mild) or a missing one. A remitter whose baseline was 10 or
   more has always also dropped at least 50 %; `Outcome.response_met` says whether the drop was
   met, so a timeline can show both.
4. "no_data": no baseline, so response cannot be judged.
5. "non_responder" when the baseline is 0 (no drop is possible; the latest is 5 or more, so the
   score rose), "responder" when the drop reaches the line, "non_responder" otherwise.

The response test uses whole numbers, (baseline - latest) * 100 >= percent * baseline, so a drop
of exactly 50 % is a response without floating-point doubt.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from clinic_app.clinical.review import ReviewRules
from clinic_app.clinical.scores import INSTRUMENTS, PHQ9, ScoreError


class OutcomeStatus(StrEnum):
    NO_DATA = "no_data"
    IN_INDUCTION = "in_induction"
    REMITTER = "remitter"
    RESPONDER = "responder"
    NON_RESPONDER = "non_responder"

    @property
    def label(self) -> str:
        return {
            "no_data": "Not enough PHQ-9 data",
            "in_induction": "In induction",
            "remitter": "Remission",
            "responder": "Response",
            "non_responder": "No response",
        }[self.value]


@dataclass(frozen=True)
class Outcome:
    """Where a course stands. `percent_change` is negative for improvement."""

    baseline: int | None
    latest: int | None
    percent_change: float | None
    status: OutcomeStatus
    response_met: bool


@dataclass(frozen=True)
class TrendPoint:
    at: datetime
    total: int
    band: str
    percent_change: float | None


def course_baseline(
    scores: Sequence[tuple[datetime, int]], first_dose_at: datetime | None
) -> int | None:
    """The course's baseline PHQ-9 total.

    The last score taken at or before the first dose; the earliest score when none precede it;
    None without scores. Before any dose (`first_dose_at` None) every score precedes the dose, so
    the latest one stands in as the provisional baseline. Scores may come in any order; of two
    taken at the same moment, the later in the input wins.
    """
    point = baseline_score(scores, first_dose_at)
    return point[1] if point is not None else None


def baseline_score(
    scores: Sequence[tuple[datetime, int]], first_dose_at: datetime | None
) -> tuple[datetime, int] | None:
    """The (when, total) score `course_baseline` takes as the baseline (None without scores), so
    that a summary can say when the baseline was taken."""
    if not scores:
        return None
    ordered = sorted(scores, key=lambda point: point[0])
    if first_dose_at is None:
        return ordered[-1]
    before = [point for point in ordered if point[0] <= first_dose_at]
    return before[-1] if before else ordered[0]


def percent_change(baseline: int | None, latest: int | None) -> float | None:
    """(latest - baseline) / baseline in percent; None without both scores or with baseline 0."""
    if baseline is None or latest is None or baseline == 0:
        return None
    return (latest - baseline) * 100 / baseline


def response_met(baseline: int | None, latest: int | None, rules: ReviewRules) -> bool:
    """True when the latest score is at least the response percentage below a positive baseline."""
    if baseline is None or latest is None or baseline <= 0:
        return False
    return (baseline - latest) * 100 >= rules.response_drop_percent * baseline


def course_outcome(
    baseline: int | None, latest: int | None, induction_complete: bool, rules: ReviewRules
) -> Outcome:
    """Response and remission of a course (status order in the module docstring).

    Raises ValueError on a negative score.
    """
    for name, value in (("baseline", baseline), ("latest", latest)):
        if value is not None and value < 0:
            raise ValueError(f"The {name} score cannot be negative.")
    change = percent_change(baseline, latest)
    met = response_met(baseline, latest, rules)
    if latest is None:
        status = OutcomeStatus.NO_DATA
    elif not induction_complete:
        status = OutcomeStatus.IN_INDUCTION
    elif latest < rules.remission_below:
        status = OutcomeStatus.REMITTER
    elif baseline is None:
        status = OutcomeStatus.NO_DATA
    elif met:
        status = OutcomeStatus.RESPONDER
    else:
        status = OutcomeStatus.NON_RESPONDER
    return Outcome(baseline, latest, change, status, met)


def severity_band(instrument_code: str, total: int) -> str:
    """The band of a total on an instrument ("" when the instrument has no bands).

    Raises ScoreError for an unknown instrument or a total outside its range.
    """
    instrument = INSTRUMENTS.get(instrument_code)
    if instrument is None:
        raise ScoreError(f"Unknown instrument {instrument_code!r}.")
    if not 0 <= total <= instrument.max_total:
        raise ScoreError(f"{instrument.label} totals run from 0 to {instrument.max_total}.")
    band = ""
    for lowest, name in instrument.bands:
        if total >= lowest:
            band = name
    return band


def phq9_trend(
    points: Sequence[tuple[datetime, int]], baseline: int | None = None
) -> list[TrendPoint]:
    """PHQ-9 totals in time order with their band and change from the baseline, for a chart."""
    return [
        TrendPoint(at, total, severity_band(PHQ9.code, total), percent_change(baseline, total))
        for at, total in sorted(points, key=lambda point: point[0])
    ]
