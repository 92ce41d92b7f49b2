"""When a SPRAVATO REMS Patient Monitoring Form is due, and where a form stands.

"Submit completed patient monitoring forms within 7 days" (form 11/2021; the outpatient setting
agreement: "within 7 days following administration of every dose"). Days are calendar days
(a Friday session is due the next Friday), counted on the calendar of the site where the dose
was given: the treatment date is the local date of the first device there, and the form is late
from the start of the local day after the due date, whatever daylight saving does between.
"""

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class FormState(StrEnum):
    """Where one monitoring form stands; board order is overdue, changed, ready, due, submitted."""

    OVERDUE = "overdue"
    CHANGED = "changed"
    READY = "ready"
    DUE = "due"
    SUBMITTED = "submitted"

    @property
    def label(self) -> str:
        return {
            "overdue": "Overdue",
            "changed": "Changed since submitted",
            "ready": "Ready to submit",
            "due": "Due",
            "submitted": "Submitted",
        }[self.value]


def treatment_day(dose_started_at: datetime, zone: ZoneInfo) -> date:
    """The treatment date on the form: the site's local date of the first device."""
    return dose_started_at.astimezone(zone).date()


def due_on(day: date, days: int) -> date:
    """The last calendar day the form may be submitted on."""
    return day + timedelta(days=days)


def late_from(day: date, days: int, zone: ZoneInfo) -> datetime:
    """The UTC instant the form becomes overdue: local midnight after the due date."""
    after = datetime.combine(due_on(day, days) + timedelta(days=1), time.min, tzinfo=zone)
    return after.astimezone(UTC)


def days_left(due: date, now: datetime, zone: ZoneInfo) -> int:
    """Calendar days from the site's today to the due date: 0 on the day, negative when late."""
    return (due - now.astimezone(zone).date()).days


def form_state(
    *, signed: bool, missing: int, submitted: bool, changed: bool, days_left: int
) -> FormState:
    """A form's state. Submitted and unchanged is done; a change after submission (an addendum,
    a corrected answer) needs a resubmission; otherwise the deadline decides, and a signed
    session with nothing missing is ready."""
    if submitted and not changed:
        return FormState.SUBMITTED
    if submitted:
        return FormState.CHANGED
    if days_left < 0:
        return FormState.OVERDUE
    if signed and missing == 0:
        return FormState.READY
    return FormState.DUE
