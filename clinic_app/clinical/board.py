"""Where a patient stands on the Today board."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from clinic_app.clinical.codes import Modality
from clinic_app.clinical.discharge import Score
from clinic_app.clinical.escalation import escalating_alerts
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.vitals import Tier, Vitals


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
    devices_given: int = 0,
    now: datetime,
    rules: ClinicalRules,
) -> BoardStatus:
    """Status from the session's recorded state. Esketamine "dosing" covers the device intervals
    until every device of the dose is recorded; a session ended without a dose is "not dosed"
    whether or not it is signed."""
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
        if devices_given < (devices or 1) and now < dose_started_at + administering:
            return BoardStatus.DOSING
    return BoardStatus.READY if recorded_blockers == 0 else BoardStatus.OBSERVING


@dataclass(frozen=True)
class BoardMarker:
    """A safety fact the board shows on the patient's row, loud enough to see across the room."""

    code: str
    label: str
    urgent: bool


def board_markers(
    *,
    hold_waiting: bool,
    last_reading: Vitals | None,
    serious_event: bool,
    phq9_item9: int,
    sedation: Sequence[Score],
    rules: ClinicalRules,
) -> list[BoardMarker]:
    """Markers for one session, most urgent first: a pre-dose hold waiting for the
    psychiatrist, the latest reading at the notify or urgent line or SpO₂ below it, a serious
    adverse event, PHQ-9 item 9 above 0, and deep sedation (latest MOAA/S at or below the line)."""
    markers = []
    if hold_waiting:
        markers.append(BoardMarker("hold", "BP hold: waiting for the psychiatrist", True))
    if last_reading is not None:
        for alert in escalating_alerts(last_reading, rules):
            if alert.code == "spo2_low":
                label = f"SpO₂ {last_reading.spo2} %"
            else:
                word = "Urgent BP" if alert.tier == Tier.URGENT else "BP"
                label = f"{word} {last_reading.systolic}/{last_reading.diastolic}"
            markers.append(BoardMarker(alert.code, label, alert.tier == Tier.URGENT))
    if serious_event:
        markers.append(BoardMarker("serious_ae", "Serious adverse event", True))
    if phq9_item9 > 0:
        markers.append(BoardMarker("phq9_item9", f"PHQ-9 item 9: {phq9_item9}", True))
    latest = max(sedation, key=lambda s: s.taken_at, default=None)
    if latest is not None and latest.total <= rules.deep_sedation_moaas_at_most:
        markers.append(BoardMarker("deep_sedation", f"Deep sedation: MOAA/S {latest.total}", True))
    return sorted(markers, key=lambda m: not m.urgent)
