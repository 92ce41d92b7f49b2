"""Pre-dose hard stops on the dates in the clinical screen: signed consent and, for
esketamine, REMS enrollment must be on file and dated on or before the session's day.

A date after the session (typed ahead, or a slip of the year) is no consent or enrollment yet:
the Spravato REMS requires the patient to be enrolled before the first dose (Spravato REMS,
Patient Enrollment Form, https://www.spravatorems.com), and consent precedes treatment."""

from datetime import date

from clinic_app.dates import format_local

NO_CONSENT = "No signed consent is on file; record its date on the clinical screen."
NOT_ENROLLED = "Not enrolled in the esketamine REMS: no dose until enrolled."
CONSENT_IN_FUTURE = "Consent cannot be signed in the future."
ENROLLMENT_IN_FUTURE = "Enrollment cannot be in the future."


def _day(value: date) -> str:
    return format_local(value, "date")


def consent_problem(consent_date: date | None, session_day: date) -> str | None:
    """Why the consent on file does not cover a session on `session_day`, or None."""
    if consent_date is None:
        return NO_CONSENT
    if consent_date > session_day:
        return (
            f"The consent on file is dated {_day(consent_date)}, after this session: "
            "correct the date on the clinical screen."
        )
    return None


def rems_problem(enrolled_on: date | None, session_day: date) -> str | None:
    """Why the REMS enrollment on file does not cover a session on `session_day`, or None."""
    if enrolled_on is None:
        return NOT_ENROLLED
    if enrolled_on > session_day:
        return (
            f"The REMS enrollment is dated {_day(enrolled_on)}, after this session: "
            "no dose until enrolled."
        )
    return None


def screen_date_problems(
    consent_date: date | None, rems_enrolled_on: date | None, today: date
) -> dict[str, str]:
    """The clinical screen's dates that lie after `today`, by field name, with the message."""
    problems = {}
    if consent_date is not None and consent_date > today:
        problems["consent_date"] = CONSENT_IN_FUTURE
    if rems_enrolled_on is not None and rems_enrolled_on > today:
        problems["rems_enrolled_on"] = ENROLLMENT_IN_FUTURE
    return problems
