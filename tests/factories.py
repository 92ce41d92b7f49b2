"""Plain functions that create rows through the services (call inside an app context)."""

from datetime import date, timedelta
from decimal import Decimal
from itertools import count
from unittest.mock import patch

from sqlalchemy import select

from clinic_app.auth.services import create_user
from clinic_app.clinical.discharge import Attestation, Escort
from clinic_app.extensions import db
from clinic_app.models import AdverseEvent, Patient, Site, TreatmentCourse, TreatmentSession, User
from clinic_app.patients.services import create_patient, open_course, record_screen
from clinic_app.settings import clinic_today
from clinic_app.treatments import services

_mrn = count(1000)


def make_user(
    role: str, username: str | None = None, password: str = "correct-horse-battery"
) -> User:
    return create_user(
        None,
        username or role,
        f"Test {role}",
        role,
        password,
        {"nurse": "RN", "psychiatrist": "MD"}.get(role, ""),
    )


def site(code: str = "MAIN", timezone: str = "America/Los_Angeles", **fields) -> Site:
    """The site with this code, created (open, in `timezone`) when there is none yet; `fields`
    given are set on it either way."""
    found = db.session.scalar(select(Site).where(Site.code == code))
    if found is None:
        found = Site(code=code, name=fields.pop("name", f"Site {code}"), timezone=timezone)
        db.session.add(found)
    for name, value in fields.items():
        setattr(found, name, value)
    db.session.flush()
    return found


def user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def make_patient(screened: bool = True, **overrides) -> Patient:
    """A patient registered by the psychiatrist and, unless `screened` is False, screened by
    them too (so the record's version is then 2)."""
    data = {
        "mrn": f"T-{next(_mrn)}",
        "first_name": "Alex",
        "last_name": "Tester",
        "date_of_birth": date(1980, 5, 17),
        "sex": "male",
        "phone": "555-0100",
        "weight_kg": Decimal("80.0"),
        "allergies": "NKDA",
        "driver_name": "Sam Tester",
        "driver_phone": "555-0199",
        "driver_relationship": "spouse",
        "consent_date": clinic_today() - timedelta(days=30),
        "contraindications": [],
        "failed_trials": 3,
        "medication_classes": [],
        "rems_enrolled_on": clinic_today() - timedelta(days=30),
    }
    data.update(overrides)
    patient = create_patient(user("psychiatrist"), data)
    if screened:
        record_screen(user("psychiatrist"), patient, data, patient.version_id)
    return patient


def make_course(
    patient: Patient, modality: str = "esketamine_nasal", **overrides
) -> TreatmentCourse:
    data = {
        "modality": modality,
        "indication": "trd",
        "iv_mg_per_kg": Decimal("0.5"),
        "iv_minutes": 40,
        "esketamine_dose_mg": "56",
        "started_on": clinic_today() - timedelta(days=14),
    }
    data.update(overrides)
    return open_course(user("psychiatrist"), patient, data)


PREDOSE_OK = {
    "identity_confirmed": True,
    "consent_confirmed": True,
    "fasting_confirmed": True,
    "medications_reviewed": True,
    "rems_confirmed": True,
    "driver_confirmed": True,
    "driver_name": "Sam Tester",
    "driver_phone": "555-0199",
    "pregnancy_status": "not_pregnant",
    "nasal_spray_checked": True,
    "prescriber_on_site": True,
    "oximeter_available": True,
}
# 0.5 mg/kg of 80 kg = 40 mg over 40 min: 1 mg/mL at 60 mL/h.
PUMP_OK = {"pump_concentration_mg_per_ml": "1", "pump_rate_ml_per_hour": "60"}
NORMAL_BP = {"systolic": 122, "diastolic": 78, "heart_rate": 72, "spo2": 98, "resp_rate": 14}


def start(patient: Patient, course: TreatmentCourse, nurse: str = "nurse") -> TreatmentSession:
    return services.start_session(user(nurse), patient, course)


def dosed_session(modality: str = "esketamine_nasal", **patient_overrides) -> TreatmentSession:
    """A session with checks, pre-dose vitals and the dose recorded now."""
    patient = make_patient(**patient_overrides)
    course = make_course(patient, modality)
    treatment = start(patient, course)
    nurse = user("nurse")
    services.record_predose(nurse, treatment, PREDOSE_OK, treatment.version_id)
    services.add_vitals(nurse, treatment, dict(NORMAL_BP))
    services.record_dose(
        nurse,
        treatment,
        {"dose_mg": "56", "weight_kg": "80", "lot_number": "LOT-1", **PUMP_OK},
        treatment.version_id,
    )
    return treatment


def rems_answered(treatment: TreatmentSession, nurse: str = "nurse") -> None:
    """The REMS medication review (no REMS classes) and the discharge answers, which an
    esketamine session needs before it is signed (given at 120 min or later)."""
    from clinic_app.rems import answers

    answers.review_medications(user(nurse), treatment, [])
    answers.record_discharge_answers(user(nurse), treatment, dict(REMS_ANSWERS))


def serious_event(treatment: TreatmentSession) -> AdverseEvent:
    """A serious (severe) respiratory-depression event at the session's dose, as charted rows."""
    event = AdverseEvent(
        kind="respiratory_depression",
        severity="severe",
        serious=True,
        description="SpO2 88 % for 10 min; supplemental oxygen.",
        onset_at=treatment.dose_started_at,
        recorded_by_id=treatment.nurse_id,
    )
    treatment.adverse_events.append(event)
    db.session.flush()
    return event


# The bedside assessment of a patient ready to go home with the confirmed driver.
GOOD_ATTESTATION = Attestation(True, True, False, Escort("confirmed_driver"))
DISCHARGE_FORM = {"alert_oriented": "y", "gait_steady": "y", "escort_kind": "confirmed_driver"}


def chart_settled(treatment: TreatmentSession, nurse: str = "nurse") -> None:
    """What observation needs, charted now: the esketamine devices not yet charted (5 minutes
    apart from the first), MOAA/S 5 and CADSS-6 0 (esketamine needs these at ~40 min and again
    before discharge; IV after the infusion)."""
    for number in range(len(treatment.devices) + 1, (treatment.devices_used or 0) + 1):
        given_at = treatment.dose_started_at + timedelta(minutes=5 * (number - 1))
        services.add_device(user(nurse), treatment, {"lot_number": "LOT-1", "given_at": given_at})
    services.add_assessment(user(nurse), treatment, "moaas", [5])
    services.add_assessment(user(nurse), treatment, "cadss6", [0] * 6)


REMS_ANSWERS = {
    "ready_minutes": 90,
    "vitals_ok_pre": True,
    "vitals_ok_completion": True,
    "sedation_observed": False,
    "dissociation_observed": False,
    "respiratory_observed": False,
}


def rems_session(
    days_ago: int = 1, sign: bool = True, complete: bool = True, **patient_overrides
) -> TreatmentSession:
    """A whole esketamine session at MAIN charted through the services at 09:00 clinic time
    `days_ago` days back, discharged and (unless `sign` is False) signed; `complete` adds the
    REMS medication review, the discharge answers and the nurse's contact details. The clock
    is left running from now."""
    from clinic_app import clock
    from clinic_app.rems import answers
    from tests.helpers import PASSWORD, freeze_local

    t0 = freeze_local(9, 0, days_ago=days_ago)
    main = site()
    main.address_line1, main.city, main.state, main.zip_code = (
        "1 Main St",
        "Los Angeles",
        "CA",
        "90012",
    )
    patient = make_patient(**patient_overrides)
    patient.usual_site_id = main.id
    nurse = user("nurse")
    if complete:
        nurse.phone, nurse.email = "555-0101", "nurse@clinic.example"
    treatment = start(patient, make_course(patient))
    services.record_predose(nurse, treatment, PREDOSE_OK, treatment.version_id)
    if complete:
        answers.review_medications(nurse, treatment, ["benzodiazepine"])
    services.add_vitals(nurse, treatment, dict(NORMAL_BP))
    services.record_dose(
        nurse, treatment, {"dose_mg": "56", "lot_number": "LOT-1"}, treatment.version_id
    )
    clock.freeze(t0 + timedelta(minutes=40))
    services.add_vitals(nurse, treatment, dict(NORMAL_BP, systolic=138))
    chart_settled(treatment)
    clock.freeze(t0 + timedelta(minutes=121))
    services.add_vitals(nurse, treatment, dict(NORMAL_BP))
    chart_settled(treatment)
    if complete:
        answers.record_discharge_answers(nurse, treatment, dict(REMS_ANSWERS))
    services.discharge(nurse, treatment, GOOD_ATTESTATION, treatment.version_id)
    if sign and complete:
        services.sign(nurse, treatment, PASSWORD)
    elif sign:
        # Signing now needs the REMS answers: an incomplete signed session is one signed before
        # that rule, as some clinics' records are.
        with patch("clinic_app.treatments.closing.missing_before_signing", return_value=[]):
            services.sign(nurse, treatment, PASSWORD)
    db.session.commit()
    clock.reset()
    return treatment
