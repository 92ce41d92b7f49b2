"""What the review rules make of one session: its flags and its peaks and lows. Pure: plain
facts in, a `SessionSummary` out. A signed session's summary is stored (review/stored.py), so
the queue and the timeline read it back with `from_columns` instead of recomputing it."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from clinic_app.clinical.review import (
    SAME_DAY_ALERT_CODES,
    Flag,
    ReviewRules,
    SessionReviewFacts,
    Severity,
    session_flags,
)
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.scores import CADSS6, MOAAS
from clinic_app.clinical.vitals import Vitals

# The stored columns, in the order `from_columns` takes them.
COLUMNS = (
    "pre_systolic",
    "pre_diastolic",
    "peak_systolic",
    "peak_diastolic",
    "lowest_spo2",
    "lowest_moaas",
    "max_cadss",
    "flags",
)


class BP(NamedTuple):
    systolic: int
    diastolic: int


@dataclass(frozen=True)
class SessionSummary:
    """`pre` is the last reading at or before the dose and `peak` the highest systolic (then
    diastolic) after it, both as (systolic, diastolic) and None when undosed or unread; the
    lows cover every reading and scale of the session."""

    pre: BP | None
    peak: BP | None
    lowest_spo2: int | None
    lowest_moaas: int | None
    max_cadss: int | None
    flags: tuple[Flag, ...]

    @property
    def flag_rank(self) -> int:
        """The most severe flag's rank; the number of severities when there is no flag."""
        return min((f.severity.rank for f in self.flags), default=len(Severity))

    @property
    def rise(self) -> tuple[int, int] | None:
        """(systolic, diastolic) change from pre-dose to the peak."""
        if self.pre is None or self.peak is None:
            return None
        return self.peak.systolic - self.pre.systolic, self.peak.diastolic - self.pre.diastolic

    @property
    def same_day(self) -> bool:
        """A flag that pins the session on top of the queue until its alert is acknowledged."""
        return any(f.code in SAME_DAY_ALERT_CODES for f in self.flags)

    def columns(self) -> dict[str, Any]:
        """The values of the stored row (models/review.py)."""
        pre, peak = self.pre or (None, None), self.peak or (None, None)
        return {
            "pre_systolic": pre[0],
            "pre_diastolic": pre[1],
            "peak_systolic": peak[0],
            "peak_diastolic": peak[1],
            "lowest_spo2": self.lowest_spo2,
            "lowest_moaas": self.lowest_moaas,
            "max_cadss": self.max_cadss,
            "flag_rank": self.flag_rank,
            "same_day": self.same_day,
            "flags": [[f.code, f.severity.value, f.reason] for f in self.flags],
        }


# Severity(value) goes through Enum's lookup machinery; a timeline reads thousands of flags.
SEVERITIES = {severity.value: severity for severity in Severity}


def from_columns(values: Sequence[Any]) -> SessionSummary:
    """A stored summary back from its columns, in the order of `COLUMNS`."""
    pre_s, pre_d, peak_s, peak_d, spo2, moaas, cadss, flags = values
    return SessionSummary(
        pre=None if pre_s is None else BP(pre_s, pre_d),
        peak=None if peak_s is None else BP(peak_s, peak_d),
        lowest_spo2=spo2,
        lowest_moaas=moaas,
        max_cadss=cadss,
        flags=tuple(Flag(code, SEVERITIES[severity], reason) for code, severity, reason in flags),
    )


def from_row(row: Any) -> SessionSummary:
    """A stored summary back from a row or object with the `COLUMNS` attributes."""
    return from_columns([getattr(row, name) for name in COLUMNS])


def summarize(
    facts: SessionReviewFacts,
    readings: Sequence[Vitals],
    scales: Sequence[tuple[str, int]],
    clinical_rules: ClinicalRules,
    review_rules: ReviewRules,
    *,
    flagged: bool = True,
) -> SessionSummary:
    """The summary of a session from its review facts, all its readings and its (instrument,
    total) scales. `flagged` is False for a session still being charted: no flags yet."""
    after = facts.readings_after_dose
    pre = facts.baseline if facts.dose_started_at is not None else None
    peak = max(after, key=lambda r: (r.systolic, r.diastolic)) if after else None
    return SessionSummary(
        pre=BP(pre.systolic, pre.diastolic) if pre else None,
        peak=BP(peak.systolic, peak.diastolic) if peak else None,
        lowest_spo2=min((r.spo2 for r in readings), default=None),
        lowest_moaas=min((t for code, t in scales if code == MOAAS.code), default=None),
        max_cadss=max((t for code, t in scales if code == CADSS6.code), default=None),
        flags=tuple(session_flags(facts, clinical_rules, review_rules)) if flagged else (),
    )
