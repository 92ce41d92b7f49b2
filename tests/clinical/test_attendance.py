"""Which visits count as missed: no-shows and the patient's late cancellations, never a
cancellation made in advance or by the clinic."""

import pytest

from clinic_app.clinical.attendance import (
    CancelReason,
    PastVisit,
    counts_as_missed,
    is_late_by_patient,
    missed_run,
)


@pytest.mark.parametrize(
    ("visit", "missed"),
    [
        (PastVisit("no_show"), True),
        (PastVisit("cancelled", late_cancellation=True), True),
        (PastVisit("cancelled", late_cancellation=False), False),
        (PastVisit("completed"), False),
        (PastVisit("scheduled"), False),
        (PastVisit("not_dosed"), False),
    ],
)
def test_only_no_shows_and_late_cancellations_count_as_missed(visit, missed):
    assert counts_as_missed(visit) is missed


CLINICS_OWN = (CancelReason.CLINIC, CancelReason.COURSE_MOVED_ON)


@pytest.mark.parametrize("reason", [r for r in CancelReason if r not in CLINICS_OWN])
def test_every_patient_reason_under_the_notice_hours_is_late(reason):
    assert is_late_by_patient(reason, under_notice=True)
    assert not is_late_by_patient(reason, under_notice=False)


@pytest.mark.parametrize("reason", CLINICS_OWN)
def test_the_clinics_own_cancellation_is_never_late(reason):
    assert not is_late_by_patient(reason, under_notice=True)


@pytest.mark.parametrize(
    ("visits", "run"),
    [
        ([], 0),
        ([PastVisit("no_show"), PastVisit("no_show")], 2),
        ([PastVisit("no_show"), PastVisit("cancelled", True)], 2),
        # Cancelled in advance: neither a miss nor the end of a run.
        ([PastVisit("no_show"), PastVisit("cancelled"), PastVisit("no_show")], 2),
        ([PastVisit("cancelled"), PastVisit("cancelled"), PastVisit("cancelled")], 0),
        ([PastVisit("no_show"), PastVisit("completed"), PastVisit("no_show")], 1),
        ([PastVisit("no_show"), PastVisit("not_dosed")], 0),
        ([PastVisit("no_show"), PastVisit("scheduled"), PastVisit("no_show")], 2),
    ],
)
def test_missed_run(visits, run):
    assert missed_run(visits) == run


def test_an_unknown_status_is_an_error():
    with pytest.raises(ValueError):
        missed_run([PastVisit("noshow")])


def test_reasons_have_labels():
    assert CancelReason.PATIENT_REQUEST.label == "Patient request or schedule conflict"
    assert all(reason.label for reason in CancelReason)
