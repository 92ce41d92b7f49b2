"""Signed sessions with their readings, scales and events, inserted directly (fast and exact).
Call inside an app context; rows satisfy the CHECK constraints of models/treatment.py."""

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from clinic_app import clock
from clinic_app.clinical.scores import CADSS6, GAD7, MOAAS, PHQ9, score
from clinic_app.extensions import db
from clinic_app.models import (
    AdverseEvent,
    Appointment,
    Assessment,
    Chair,
    ClinicalAlert,
    Override,
    Patient,
    Site,
    TreatmentCourse,
    TreatmentSession,
    VitalsReading,
)
from clinic_app.review.stored import store_summaries
from tests import factories

# (minutes after the dose, systolic, diastolic, SpO2)
CALM = ((40, 134, 84, 97), (90, 128, 80, 98), (125, 124, 79, 98))


def patient_with_course(
    modality: str = "esketamine_nasal", **patient
) -> tuple[Patient, TreatmentCourse]:
    person = factories.make_patient(**patient)
    course = factories.make_course(person, modality)
    return person, course


def phq9_items(total: int, item9: int = 0) -> list[int]:
    """Nine answers adding up to `total` with item 9 as given."""
    items = [0] * 8
    left = total - item9
    for i in range(8):
        items[i] = min(3, left)
        left -= items[i]
    assert left == 0, "total too high"
    return items + [item9]


def add_session(
    patient: Patient,
    course: TreatmentCourse,
    *,
    started: datetime | None = None,
    days_ago: float = 1,
    pre: tuple[int, int] = (122, 78),
    after: Sequence[tuple[int, int, int, int]] = CALM,
    dose_mg: int = 56,
    status: str = "signed",
    discharge_minutes: int = 128,
    phq9: list[int] | None = None,
    gad7: list[int] | None = None,
    moaas: int | None = None,
    cadss: list[int] | None = None,
    events: Sequence[tuple[str, str, bool]] = (),
    override: bool = False,
    nurse: str = "nurse",
    escort: tuple[str, str, str] | None = None,
) -> TreatmentSession:
    """A discharged session (signed by default) `days_ago` days back: a pre-dose reading 5 min
    before the dose, the `after` readings, scales at fixed minutes, discharge after
    `discharge_minutes`. IV sessions infuse for 40 minutes at 0.5 mg/kg of 80 kg. `escort` is
    the (name, relationship, phone) of another adult the patient left with."""
    nurse_id = factories.user(nurse).id
    psychiatrist_id = factories.user("psychiatrist").id
    started = started or clock.utcnow() - timedelta(days=days_ago)
    dosed = started + timedelta(minutes=15)
    iv = course.modality == "iv_ketamine"
    treatment = TreatmentSession(
        patient_id=patient.id,
        course_id=course.id,
        modality=course.modality,
        nurse_id=nurse_id,
        psychiatrist_id=course.prescriber_id,
        status=status,
        started_at=started,
        predose_checked_at=started + timedelta(minutes=5),
        identity_confirmed=True,
        consent_confirmed=True,
        fasting_confirmed=True,
        medications_reviewed=True,
        rems_confirmed=not iv,
        driver_confirmed=True,
        driver_name="Sam Tester",
        driver_phone="555-0199",
        pregnancy_status="not_applicable",
        weight_kg=Decimal("80.0"),
        dose_mg=Decimal("40.0") if iv else Decimal(dose_mg),
        dose_mg_per_kg=Decimal("0.50") if iv else None,
        planned_minutes=40 if iv else None,
        devices_used=None if iv else dose_mg // 28,
        lot_number="LOT-B",
        dose_started_at=dosed,
        infusion_ended_at=dosed + timedelta(minutes=40) if iv else None,
        discharged_at=dosed + timedelta(minutes=discharge_minutes),
        discharged_with="Sam Tester",
        discharged_by_id=nurse_id,
    )
    if escort is not None:
        treatment.escort_kind = "other_adult"
        treatment.discharged_with, treatment.escort_relationship, treatment.escort_phone = escort
    if status in ("signed", "cosigned"):
        treatment.signed_by_id = nurse_id
        treatment.signed_at = dosed + timedelta(minutes=discharge_minutes + 5)
        treatment.signature_hash = "a" * 64
    if status == "cosigned":
        treatment.cosigned_by_id = psychiatrist_id
        treatment.cosigned_at = dosed + timedelta(minutes=discharge_minutes + 60)
        treatment.cosignature_hash = "b" * 64
        treatment.cosign_note = "Reviewed."
    db.session.add(treatment)
    db.session.flush()
    readings = [(-5, pre[0], pre[1], 98), *after]
    for minutes, systolic, diastolic, spo2 in readings:
        db.session.add(
            VitalsReading(
                session_id=treatment.id,
                taken_at=dosed + timedelta(minutes=minutes),
                phase="pre_dose" if minutes <= 0 else "post_dose",
                systolic=systolic,
                diastolic=diastolic,
                heart_rate=74,
                spo2=spo2,
                resp_rate=14,
                recorded_by_id=nurse_id,
            )
        )
    for instrument, items, minutes in (
        (PHQ9, phq9, -10),
        (GAD7, gad7, -9),
        (MOAAS, [moaas] if moaas is not None else None, 30),
        (CADSS6, cadss, 45),
    ):
        if items is None:
            continue
        total, band = score(instrument, items)
        db.session.add(
            Assessment(
                patient_id=patient.id,
                session_id=treatment.id,
                instrument=instrument.code,
                items=items,
                total=total,
                band=band,
                administered_at=dosed + timedelta(minutes=minutes),
                recorded_by_id=nurse_id,
            )
        )
    for kind, severity, serious in events:
        db.session.add(
            AdverseEvent(
                session_id=treatment.id,
                kind=kind,
                severity=severity,
                onset_at=dosed + timedelta(minutes=30),
                serious=serious,
                resolved=True,
                resolved_at=dosed + timedelta(minutes=50),
                resolved_by_id=nurse_id,
                recorded_by_id=nurse_id,
            )
        )
    if override:
        db.session.add(
            Override(
                session_id=treatment.id,
                rule="predose_bp_hold",
                reason="Benefit outweighs the risk.",
                decided_by_id=psychiatrist_id,
                decided_at=dosed - timedelta(minutes=2),
            )
        )
    db.session.flush()
    if status in ("signed", "cosigned"):
        store_summaries([treatment.id])  # as signing does
    return treatment


def at_site(treatment: TreatmentSession, site: Site) -> TreatmentSession:
    """Put a session at a site: a completed visit on the site's first chair (made if none)."""
    chair = db.session.scalar(select(Chair).where(Chair.site_id == site.id).order_by(Chair.id))
    if chair is None:
        chair = Chair(name="Chair 1", site=site)
    treatment.appointment = Appointment(
        patient_id=treatment.patient_id,
        course_id=treatment.course_id,
        chair=chair,
        starts_at=treatment.started_at,
        ends_at=treatment.started_at + timedelta(hours=3),
        visit_kind="induction",
        status="completed",
    )
    db.session.flush()
    return treatment


def add_alert(
    patient: Patient, alert_kind: str, session: TreatmentSession | None = None, **detail
) -> ClinicalAlert:
    alert = ClinicalAlert(
        kind=alert_kind,
        patient_id=patient.id,
        session_id=session.id if session else None,
        raised_at=clock.utcnow(),
        detail=detail,
    )
    db.session.add(alert)
    db.session.flush()
    return alert


def bulk_history(
    patient: Patient, course: TreatmentCourse, count: int, readings_each: int = 10
) -> None:
    """`count` signed sessions on consecutive past days, each with `readings_each` readings, a
    PHQ-9, MOAA/S and CADSS-6; rows inserted in bulk."""
    nurse_id = factories.user("nurse").id
    now = clock.utcnow()
    sessions = []
    for day in range(count, 0, -1):
        started = now - timedelta(days=day)
        dosed = started + timedelta(minutes=15)
        sessions.append(
            TreatmentSession(
                patient_id=patient.id,
                course_id=course.id,
                modality=course.modality,
                nurse_id=nurse_id,
                status="signed" if day % 3 else "cosigned",
                started_at=started,
                predose_checked_at=started + timedelta(minutes=5),
                driver_name="Sam Tester",
                pregnancy_status="not_applicable",
                weight_kg=Decimal("80.0"),
                dose_mg=Decimal(56),
                devices_used=2,
                lot_number=f"BULK-{day}",
                dose_started_at=dosed,
                discharged_at=dosed + timedelta(minutes=125),
                discharged_with="Sam Tester",
                discharged_by_id=nurse_id,
                signed_by_id=nurse_id,
                signed_at=dosed + timedelta(minutes=130),
                signature_hash="0" * 64,
                cosigned_by_id=None if day % 3 else factories.user("psychiatrist").id,
                cosigned_at=None if day % 3 else dosed + timedelta(days=1),
            )
        )
    db.session.add_all(sessions)
    db.session.flush()
    db.session.execute(
        insert(VitalsReading),
        [
            {
                "session_id": s.id,
                "taken_at": s.dose_started_at + timedelta(minutes=15 * i - 10),
                "phase": "pre_dose" if i == 0 else "post_dose",
                "systolic": 120 + (i * 7 + s.id) % 45,
                "diastolic": 76 + i % 9,
                "heart_rate": 70,
                "spo2": 93 + i % 7,
                "resp_rate": 14,
                "recorded_by_id": nurse_id,
                "created_at": now,
            }
            for s in sessions
            for i in range(readings_each)
        ],
    )
    rows = []
    for index, s in enumerate(sessions):
        total = max(2, 22 - index // 8)
        for instrument, items, minutes in (
            (PHQ9, phq9_items(total), -10),
            (MOAAS, [4 + index % 2], 30),
            (CADSS6, [index % 3] * 6, 45),
        ):
            value, band = score(instrument, items)
            rows.append(
                {
                    "patient_id": patient.id,
                    "session_id": s.id,
                    "instrument": instrument.code,
                    "items": items,
                    "total": value,
                    "band": band,
                    "administered_at": s.dose_started_at + timedelta(minutes=minutes),
                    "recorded_by_id": nurse_id,
                    "created_at": now,
                }
            )
    db.session.execute(insert(Assessment), rows)
    db.session.flush()
    store_summaries(s.id for s in sessions)  # as signing does


# --- one patient at two sites in different zones -------------------------------------------

LA, NY = ZoneInfo("America/Los_Angeles"), ZoneInfo("America/New_York")


def local_at(zone: ZoneInfo, days_back: int, hour: int, minute: int = 0) -> datetime:
    """`hour`:`minute` on `zone`'s clock, `days_back` days before its today."""
    day = clock.utcnow().astimezone(zone).date() - timedelta(days=days_back)
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def two_site_patient(usual: str | None = "NYC") -> int:
    """A patient seen at 09:00 in Los Angeles (site MAIN, 9 days ago), then at 09:00 in New York
    (site NYC, 5 days ago), each session's PHQ-9 at 09:05 and GAD-7 at 09:06 on its site's
    clock, each with a nausea at 09:45; and a PHQ-9 of 7 outside a session 2 days ago at 14:00
    on the clock of the patient's usual site (`usual`, a code or None: the clinic's, LA)."""
    main = factories.site("MAIN", "America/Los_Angeles", name="Downtown LA", state="CA")
    nyc = factories.site("NYC", "America/New_York", name="Midtown", state="NY")
    sites = {"MAIN": main, "NYC": nyc}
    patient, course = patient_with_course(
        last_name="Commuter", usual_site_id=sites[usual].id if usual else None
    )
    for site, zone, days_back, total in ((main, LA, 9, 18), (nyc, NY, 5, 12)):
        treatment = add_session(
            patient,
            course,
            started=local_at(zone, days_back, 9),
            phq9=phq9_items(total),
            gad7=[2, 2, 1, 1, 1, 1, 0],
            events=[("nausea", "mild", False)],
        )
        at_site(treatment, site)
    db.session.add(
        Assessment(
            patient_id=patient.id,
            instrument=PHQ9.code,
            items=phq9_items(7),
            total=7,
            band="mild",
            administered_at=local_at(ZoneInfo(sites[usual].timezone) if usual else LA, 2, 14),
            recorded_by_id=factories.user("nurse").id,
        )
    )
    db.session.flush()
    return patient.id
