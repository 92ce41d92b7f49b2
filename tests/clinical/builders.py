"""Small builders shared by the clinical rule tests."""

from datetime import UTC, datetime, timedelta

from clinic_app.clinical.codes import Modality
from clinic_app.clinical.discharge import Attestation, Escort, EventFact, Score, SessionFacts
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.vitals import Vitals

RULES = ClinicalRules()
T0 = datetime(2025, 3, 3, 17, 0, tzinfo=UTC)


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    """T0 plus an offset."""
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def vitals(
    systolic: int = 120,
    diastolic: int = 80,
    heart_rate: int = 72,
    spo2: int = 98,
    resp_rate: int | None = 14,
    taken_at: datetime | None = None,
) -> Vitals:
    return Vitals(systolic, diastolic, heart_rate, spo2, resp_rate, taken_at)


DRIVER = "Sam Lee"
_DEFAULT = object()


def esketamine_facts(
    readings: list[Vitals] | None = None,
    *,
    baseline: Vitals | None = None,
    dosed: bool = True,
    age_years: int = 40,
    sedation=_DEFAULT,
    dissociation=_DEFAULT,
    events: list[EventFact] | None = None,
    driver: str = DRIVER,
    override_at: datetime | None = None,
) -> SessionFacts:
    """An esketamine session whose first device went in at T0. Unless given, sedation was
    assessed awake (MOAA/S 5) at 40 and 110 minutes and CADSS-6 was 1 at 40 minutes."""
    return SessionFacts(
        modality=Modality.ESKETAMINE_NASAL,
        age_years=age_years,
        dose_started_at=T0 if dosed else None,
        infusion_ended_at=None,
        baseline=baseline if baseline is not None else vitals(taken_at=at(-10)),
        readings_after_dose=readings or [],
        sedation=[Score(at(40), 5), Score(at(110), 5)] if sedation is _DEFAULT else sedation,
        dissociation=[Score(at(40), 1)] if dissociation is _DEFAULT else dissociation,
        adverse_events=events or [],
        confirmed_driver=driver,
        override_at=override_at,
    )


def iv_facts(
    readings: list[Vitals] | None = None,
    *,
    ended_after: float | None = 40,
    baseline: Vitals | None = None,
    age_years: int = 40,
    sedation=_DEFAULT,
    dissociation=_DEFAULT,
    events: list[EventFact] | None = None,
    driver: str = DRIVER,
    override_at: datetime | None = None,
) -> SessionFacts:
    """An IV session whose infusion started at T0 and ended `ended_after` minutes later. Unless
    given, MOAA/S was 5 and CADSS-6 0 one minute after the infusion ended."""
    after_end = at((ended_after or 40) + 1)
    return SessionFacts(
        modality=Modality.IV_KETAMINE,
        age_years=age_years,
        dose_started_at=T0,
        infusion_ended_at=None if ended_after is None else at(ended_after),
        baseline=baseline if baseline is not None else vitals(taken_at=at(-10)),
        readings_after_dose=readings or [],
        sedation=[Score(after_end, 5)] if sedation is _DEFAULT else sedation,
        dissociation=[Score(after_end, 0)] if dissociation is _DEFAULT else dissociation,
        adverse_events=events or [],
        confirmed_driver=driver,
        override_at=override_at,
    )


def good_attestation(**changes) -> Attestation:
    """Alert, steady, not vomiting, leaving with the confirmed driver."""
    values = {
        "alert_oriented": True,
        "gait_steady": True,
        "vomiting": False,
        "escort": Escort("confirmed_driver"),
    }
    values.update(changes)
    return Attestation(**values)


def pause(start: float, end: float | None) -> tuple[datetime, datetime | None]:
    """An IV pump pause from `start` to `end` minutes after T0 (None: not resumed)."""
    return at(start), None if end is None else at(end)
