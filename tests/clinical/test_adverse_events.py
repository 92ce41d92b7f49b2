"""What an adverse event must carry: a description for "Other" and for a serious event."""

import pytest

from clinic_app.clinical.adverse_events import (
    OTHER_NEEDS_DESCRIPTION,
    SERIOUS_NEEDS_DESCRIPTION,
    counts_as_serious,
    description_problem,
)
from clinic_app.clinical.codes import EventSeverity


@pytest.mark.parametrize(
    "severity, ticked, serious",
    [
        (EventSeverity.MILD, False, False),
        (EventSeverity.MODERATE, False, False),
        (EventSeverity.MILD, True, True),
        (EventSeverity.SEVERE, False, True),
        (EventSeverity.SEVERE, True, True),
    ],
)
def test_severe_counts_as_serious(severity, ticked, serious):
    assert counts_as_serious(severity, ticked) is serious


@pytest.mark.parametrize(
    "kind, serious, description, problem",
    [
        ("nausea", False, "", None),
        ("nausea", True, "", SERIOUS_NEEDS_DESCRIPTION),
        ("nausea", True, "  \n", SERIOUS_NEEDS_DESCRIPTION),
        ("nausea", True, "Vomited twice.", None),
        ("other", False, "", OTHER_NEEDS_DESCRIPTION),
        ("other", True, "", OTHER_NEEDS_DESCRIPTION),
        ("other", False, "Tingling.", None),
    ],
)
def test_description_problem(kind, serious, description, problem):
    assert description_problem(kind, serious, description) == problem
