"""The REMS paperwork of the demo clinic: every signed esketamine session gets its monitoring
form, the nurse's medication review and discharge answers (as the chart suggests them), and the
forms stand in each state the board shows: submitted (older ones), one overdue, one changed
since submitted (an addendum after it went), one submitted this week, one ready, one due (its
answers not yet given). One patient has a first esketamine visit booked without REMS
enrollment, and one recent session has a serious adverse event not yet reported."""

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from clinic_app.clinical.codes import AlertKind, AppointmentStatus, Modality, VisitKind
from clinic_app.clinical.rems_chart import suggested_answers
from clinic_app.clinical.rems_form import REMS_MEDICATION_CLASSES
from clinic_app.extensions import db
from clinic_app.models import (
    Addendum,
    AdverseEvent,
    ClinicalAlert,
    Patient,
    RemsDischargeAnswers,
    RemsMedicationReview,
    RemsSubmission,
    TreatmentCourse,
    TreatmentSession,
)
from clinic_app.models.rems import SubmissionChannel
from clinic_app.patients.services import create_patient, open_course, record_screen
from clinic_app.rems.monitoring import esketamine_chart, form_view, lookups, owed_form
from clinic_app.settings import clinical_rules

if TYPE_CHECKING:
    from clinic_app.demo.clinic import Demo


def _answer(demo: "Demo", treatment: TreatmentSession) -> None:
    """The pre-dose medication review and the confirmed discharge answers."""
    assert treatment.dose_started_at is not None and treatment.discharged_at is not None
    db.session.add(
        RemsMedicationReview(
            session_id=treatment.id,
            classes=[
                c for c in treatment.patient.medication_classes if c in REMS_MEDICATION_CLASSES
            ],
            reviewed_by_id=demo.nurse.id,
            reviewed_at=treatment.dose_started_at - timedelta(minutes=8),
        )
    )
    s = suggested_answers(esketamine_chart(treatment), clinical_rules())
    treatment.rems_answers = RemsDischargeAnswers(
        ready_minutes=95,
        vitals_ok_pre=bool(s.vitals_ok_pre),
        vitals_ok_completion=bool(s.vitals_ok_completion),
        sedation_observed=bool(s.sedation_observed),
        sedation_resolved=True if s.sedation_observed else None,
        dissociation_observed=bool(s.dissociation_observed),
        dissociation_resolved=True if s.dissociation_observed else None,
        respiratory_observed=s.respiratory_observed,
        respiratory_resolved=True if s.respiratory_observed else None,
        answered_by_id=demo.nurse.id,
        answered_at=treatment.discharged_at - timedelta(minutes=2),
    )


def _submit(demo: "Demo", treatment: TreatmentSession, at: datetime, number: int) -> None:
    row = owed_form(treatment, clinical_rules())
    built = form_view(treatment, row, lookups([treatment]), clinical_rules(), at).built
    row.submissions.append(
        RemsSubmission(
            submitted_on=at.date(),
            channel=SubmissionChannel.ONLINE if number % 3 else SubmissionChannel.FAX,
            confirmation_number=f"SRX-{240000 + number}",
            edition=row.edition,
            sent_values=built.values,
            fingerprint=built.fingerprint,
            submitted_by_id=demo.nurse.id,
            created_at=at,
        )
    )


def _screened_esketamine_patient(demo: "Demo", address: dict) -> tuple[Patient, TreatmentCourse]:
    """Rosa Delgado, screened yesterday, with a 56 mg esketamine course opened today."""
    patient = create_patient(
        demo.front_desk,
        {
            "mrn": "DEMO-R01",
            "first_name": "Rosa",
            "last_name": "Delgado",
            "date_of_birth": demo.today.replace(year=demo.today.year - 41),
            "sex": "female",
            "phone": "555-0190",
            "driver_name": "Luis Delgado",
            "driver_phone": "555-0191",
            "driver_relationship": "brother",
            **address,
        },
    )
    record_screen(
        demo.nurse,
        patient,
        {
            "allergies": "NKDA",
            "consent_date": demo.today - timedelta(days=1),
            "failed_trials": 2,
            "medication_classes": [],
        },
        patient.version_id,
    )
    patient.screened_at = demo.now - timedelta(days=1)
    patient.usual_site = demo.site
    course = open_course(
        demo.psychiatrist,
        patient,
        {
            "modality": "esketamine_nasal",
            "indication": "trd",
            "esketamine_dose_mg": 56,
            "started_on": demo.today,
        },
    )
    return patient, course


def _first_visit_without_enrollment(demo: "Demo") -> None:
    """A new esketamine patient booked in three days; the REMS enrollment is not on file."""
    # The demo clinic's booking helpers (imported here: clinic.py calls this module).
    from clinic_app.demo.clinic import (
        _appointment,
        _clinic_slot,
        _weekday_on_or_after,
        home_address,
    )

    patient, course = _screened_esketamine_patient(demo, home_address(demo.site.code, 90))
    day = _weekday_on_or_after(demo.today + timedelta(days=3))
    start, chair = _clinic_slot(demo, day, 150)
    _appointment(
        demo,
        patient,
        course,
        start,
        150,
        VisitKind.INDUCTION,
        AppointmentStatus.SCHEDULED,
        chair=chair,
        number=1,
        series_id=str(uuid.uuid4()),
    )


def _unreported_sae(demo: "Demo", treatment: TreatmentSession) -> None:
    assert treatment.dose_started_at is not None
    onset = treatment.dose_started_at + timedelta(minutes=35)
    treatment.adverse_events.append(
        AdverseEvent(
            kind="sedation",
            description="MOAA/S 2 at 35 min: responded only to a shake; SpO2 90 %.",
            severity="severe",
            onset_at=onset,
            intervention="Airway positioning, supplemental oxygen; resolved at 70 min.",
            resolved=True,
            resolved_at=onset + timedelta(minutes=35),
            resolved_by_id=demo.nurse.id,
            serious=True,
            recorded_by_id=demo.nurse.id,
            created_at=onset + timedelta(minutes=2),
        )
    )
    db.session.flush()
    event = treatment.adverse_events[-1]
    # The psychiatrist's same-day alert, which stays until the REMS has the report.
    db.session.add(
        ClinicalAlert(
            kind=AlertKind.SERIOUS_AE,
            patient_id=treatment.patient_id,
            session_id=treatment.id,
            raised_at=onset + timedelta(minutes=2),
            detail={"kind": event.kind, "severity": "severe", "adverse_event_id": event.id},
        )
    )


def load_rems_demo(demo: "Demo") -> None:
    """Forms in every state, the enrollment to chase and the unreported SAE (before signing
    hashes: the SAE is part of its session's signed content)."""
    db.session.flush()
    demo.nurse.phone, demo.nurse.email = "555-0142", "nora.reyes@demo-clinic.example"
    demo.psychiatrist.phone, demo.psychiatrist.email = "555-0143", "s.okafor@demo-clinic.example"
    sessions = sorted(
        (
            t
            for t in demo.signed
            if t.modality == Modality.ESKETAMINE_NASAL and t.dose_started_at is not None
        ),
        key=lambda t: t.dose_started_at or demo.now,
        reverse=True,
    )
    rules = clinical_rules()
    recent = [t for t in sessions if owed_form(t, rules).late_from > demo.now]
    older = [t for t in sessions if t not in recent]
    for treatment in sessions:
        if treatment is not (recent[0] if recent else None):  # the newest stays "due"
            _answer(demo, treatment)
    db.session.flush()
    for number, treatment in enumerate(older[1:], start=1):  # older[0] stays overdue
        sent = treatment.discharged_at
        assert sent is not None
        _submit(demo, treatment, sent + timedelta(days=2), number)
    if len(recent) >= 4:
        _submit(demo, recent[2], demo.now - timedelta(hours=20), 900)
        changed = recent[3]
        assert changed.discharged_at is not None
        _submit(demo, changed, changed.discharged_at + timedelta(hours=3), 901)
        changed.addenda.append(
            Addendum(
                author_id=demo.nurse.id,
                reason="Late entry",
                body="Device 2 lot re-read from the carton.",
                created_at=changed.discharged_at + timedelta(hours=5),
            )
        )
    if len(recent) >= 2:
        _unreported_sae(demo, recent[1])
    _first_visit_without_enrollment(demo)
    db.session.flush()
