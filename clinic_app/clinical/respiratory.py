"""The respiratory watch: SpO₂ below the clinic's line on consecutive readings after an
esketamine dose flags possible respiratory depression, and discharge waits for the nurse's
answer to the REMS respiratory question.

The REMS monitors patients "until resolution of sedation, dissociation and respiratory
depression" (program goal, FDA REMS page). The line (default 93 %, two readings in a row) is the
phase 3 trials' count of desaturations (J&J Medical Information, respiratory depression).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from clinic_app.clinical.vitals import Vitals, reading_time

CONSECUTIVE = 2  # "for 2 or more consecutive assessments"


@dataclass(frozen=True)
class RespiratoryAnswer:
    """The nurse's answer to the REMS respiratory question: depression observed, and resolved
    before discharge."""

    observed: bool
    resolved: bool


def respiratory_watch(readings: Sequence[Vitals], below: int) -> tuple[Vitals, ...]:
    """The first run of consecutive timed readings with SpO₂ under `below`; () when none."""
    timed = sorted((r for r in readings if r.taken_at is not None), key=reading_time)
    run: list[Vitals] = []
    for reading in timed:
        run = [*run, reading] if reading.spo2 < below else []
        if len(run) == CONSECUTIVE:
            return tuple(run)
    return ()


def respiratory_problem(
    readings: Sequence[Vitals], answer: RespiratoryAnswer | None, below: int
) -> tuple[str, str] | None:
    """(code, message) while the watch stands in the way of discharge, else None: the watch
    fired and the question is unanswered, or the answer says depression has not resolved."""
    if answer is not None:
        if answer.observed and not answer.resolved:
            return (
                "respiratory_unresolved",
                "Respiratory depression is charted as not resolved: monitor until it resolves.",
            )
        return None
    run = respiratory_watch(readings, below)
    if not run:
        return None
    values = ", ".join(f"{r.spo2} %" for r in run)
    return (
        "respiratory_question",
        f"SpO₂ below {below} % on two readings in a row ({values}): possible respiratory "
        "depression. Answer the REMS respiratory question before discharge.",
    )
