"""Why a visit did not happen, and which such visits count as missed.

A visit counts as missed only when the patient did not come (a no-show) or cancelled it late
(under `late_cancel_hours` before the start, OpenEMR's "Canceled < 24h"). A cancellation made
in advance, for any reason, is not a miss: the patient told the clinic in time and the visit is
rebooked. A cancellation by the clinic (staff, chair, closure) is never the patient's, so it is
never a late cancellation either. The missed-induction alert counts these misses in a row.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from clinic_app.clinical.codes import AppointmentStatus, DriverStatus


class CancelReason(StrEnum):
    ATE = "ate"
    NO_DRIVER = "no_driver"
    UNWELL = "unwell"
    PATIENT_REQUEST = "patient_request"
    CLINIC = "clinic"
    COURSE_MOVED_ON = "course_moved_on"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _CANCEL_LABELS[self]

    @property
    def by_patient(self) -> bool:
        """The patient's own reason (a late one is a late cancellation); not the clinic's."""
        return self not in (CancelReason.CLINIC, CancelReason.COURSE_MOVED_ON)


_CANCEL_LABELS = {
    CancelReason.ATE: "Ate within the fasting window",
    CancelReason.NO_DRIVER: "No driver",
    CancelReason.UNWELL: "Patient unwell",
    CancelReason.PATIENT_REQUEST: "Patient request or schedule conflict",
    CancelReason.CLINIC: "Clinic cancelled (staff, chair or closure)",
    CancelReason.COURSE_MOVED_ON: "Course moved to maintenance",
    CancelReason.OTHER: "Other",
}


class NoShowReason(StrEnum):
    NO_CONTACT = "no_contact"
    ATE = "ate"
    NO_DRIVER = "no_driver"
    UNWELL = "unwell"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _NO_SHOW_LABELS[self]


_NO_SHOW_LABELS = {
    NoShowReason.NO_CONTACT: "Did not arrive, no contact",
    NoShowReason.ATE: "Ate within the fasting window",
    NoShowReason.NO_DRIVER: "No driver",
    NoShowReason.UNWELL: "Patient unwell",
    NoShowReason.OTHER: "Other",
}

DRIVER_LABELS = {
    DriverStatus.UNCONFIRMED: "Not confirmed",
    DriverStatus.CONFIRMED: "Confirmed",
    DriverStatus.UNREACHABLE: "Could not reach",
    DriverStatus.NO_DRIVER: "No driver",
}

_ATTENDED = frozenset(
    {
        AppointmentStatus.CHECKED_IN,
        AppointmentStatus.IN_TREATMENT,
        AppointmentStatus.COMPLETED,
        AppointmentStatus.NOT_DOSED,
    }
)


@dataclass(frozen=True)
class PastVisit:
    """What the missed-visit rule needs of one visit: its status and whether it was cancelled
    late by the patient."""

    status: str
    late_cancellation: bool = False


def is_late_by_patient(reason: CancelReason, under_notice: bool) -> bool:
    """A late cancellation: under the clinic's notice hours and for the patient's own reason."""
    return under_notice and reason.by_patient


def counts_as_missed(visit: PastVisit) -> bool:
    """A no-show, or a cancellation the patient made late. Raises ValueError on an unknown
    status."""
    status = AppointmentStatus(visit.status)
    if status == AppointmentStatus.NO_SHOW:
        return True
    return status == AppointmentStatus.CANCELLED and visit.late_cancellation


def missed_run(visits_in_order: Iterable[PastVisit]) -> int:
    """How many of the latest visits were missed in a row.

    An attended visit ends the run; a cancellation in advance and a visit still scheduled
    neither count nor end it.
    """
    run = 0
    for visit in visits_in_order:
        if counts_as_missed(visit):
            run += 1
        elif AppointmentStatus(visit.status) in _ATTENDED:
            run = 0
    return run
