"""Where a patient stands on the Today board."""

from datetime import datetime, timedelta
from enum import StrEnum

from clinic_app.clinical.codes import Modality
from clinic_app.clinical.rules import ClinicalRules


class BoardStatus(StrEnum):
    WAITING = "waiting"
    PRE_DOSE = "pre_dose"
    DOSING = "dosing"
    OBSERVING = "observing"
    READY = "ready"
    DISCHARGED = "discharged"
    NOT_DOSED = "not_dosed"

    @property
    def label(self) -> str:
        return {
            "waiting": "Waiting",
            "pre_dose": "Pre-dose",
            "dosing": "Dosing",
            "observing": "Observing",
            "ready": "Ready for discharge",
            "discharged": "Discharged",
            "not_dosed": "Not dosed",
        }[self.value]


def board_status(
    *,
    modality: Modality,
    has_session: bool,
    discharged: bool,
    not_dosed: bool = False,
    dose_started_at: datetime | None,
    infusion_ended_at: datetime | None,
    devices: int | None,
    recorded_blockers: int,
    now: datetime,
    rules: ClinicalRules,
) -> BoardStatus:
    """Status from the session's recorded state. Esketamine "dosing" covers the device intervals;
    a session ended without a dose is "not dosed" whether or not it is signed."""
    if not has_session:
        return BoardStatus.WAITING
    if not_dosed:
        return BoardStatus.NOT_DOSED
    if discharged:
        return BoardStatus.DISCHARGED
    if dose_started_at is None:
        return BoardStatus.PRE_DOSE
    if modality == Modality.IV_KETAMINE:
        if infusion_ended_at is None:
            return BoardStatus.DOSING
    else:
        administering = timedelta(minutes=rules.esketamine_device_interval_minutes * (devices or 1))
        if now < dose_started_at + administering:
            return BoardStatus.DOSING
    return BoardStatus.READY if recorded_blockers == 0 else BoardStatus.OBSERVING
