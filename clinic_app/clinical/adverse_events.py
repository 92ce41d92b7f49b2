"""What an adverse event must carry before it is saved.

A severe event counts as serious. "Other" names nothing, and a serious event is reported on (the
same-day alert, the psychiatrist's review, for esketamine the REMS and MedWatch reports), so both
need the nurse's description of what happened.
"""

from clinic_app.clinical.codes import EventSeverity

OTHER_NEEDS_DESCRIPTION = 'Describe the event: "Other" needs a description.'
SERIOUS_NEEDS_DESCRIPTION = "Describe the event: a serious adverse event needs a description."


def counts_as_serious(severity: EventSeverity, ticked: bool) -> bool:
    """Ticked "serious", or severe."""
    return ticked or severity == EventSeverity.SEVERE


def description_problem(kind: str, serious: bool, description: str) -> str | None:
    """Why the (stripped) description is not enough for this event, or None."""
    if description.strip():
        return None
    if kind == "other":
        return OTHER_NEEDS_DESCRIPTION
    if serious:
        return SERIOUS_NEEDS_DESCRIPTION
    return None
