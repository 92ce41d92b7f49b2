"""The declared route/role matrix (DESIGN §2) and helpers to build a URL for every rule.

Every endpoint in app.url_map must be declared here; admin.* endpoints are "admin only" unless
declared otherwise. Values: PUBLIC (no sign-in), SIGNED_IN (any signed-in role) or the set of
roles allowed."""

from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, url_for

from clinic_app.extensions import db
from clinic_app.models import AdverseEvent, Appointment, Chair, ClinicalAlert, UserSession
from tests import factories
from tests.helpers import PASSWORD

PUBLIC = "public"
SIGNED_IN = "any signed-in role"
ROLES = ("nurse", "psychiatrist", "front_desk", "admin")

CLINICAL = frozenset({"nurse", "psychiatrist"})
DEMOGRAPHICS_VIEW = frozenset({"nurse", "psychiatrist", "front_desk"})
DEMOGRAPHICS_EDIT = frozenset({"psychiatrist", "front_desk"})
FRONT_DESK = frozenset({"front_desk"})
PSYCHIATRIST = frozenset({"psychiatrist"})
ADMIN_PREFIX = "admin."
ADMIN_ONLY = frozenset({"admin"})

MATRIX: dict[str, str | frozenset[str]] = {
    # No sign-in: the health check and the sign-in steps (each checks its own pending state).
    "health.healthz": PUBLIC,
    "auth.login": PUBLIC,
    "auth.verify": PUBLIC,
    "auth.enroll": PUBLIC,
    # One's own account and session.
    "auth.index": SIGNED_IN,
    "auth.logout": SIGNED_IN,
    "auth.keepalive": SIGNED_IN,
    "auth.account": SIGNED_IN,
    "auth.choose_site": SIGNED_IN,
    "auth.change_password": SIGNED_IN,
    "auth.start_totp": SIGNED_IN,
    "auth.setup_totp": SIGNED_IN,
    "auth.disable_totp": SIGNED_IN,
    # Demographics: everyone but admin sees them; front desk and psychiatrist edit.
    "patients.index": DEMOGRAPHICS_VIEW,
    "patients.detail": DEMOGRAPHICS_VIEW,
    "patients.new": DEMOGRAPHICS_EDIT,
    "patients.edit": DEMOGRAPHICS_EDIT,
    # The clinical screen (allergies, contraindications, medications, consent, REMS) is the
    # clinicians': the front desk sees only whether it is complete.
    "patients.screen": CLINICAL,
    # Prescribing is the psychiatrist's.
    "patients.new_course": frozenset({"psychiatrist"}),
    # The clinical chart: nurses and the psychiatrist, never front desk or admin.
    "treatments.today": CLINICAL,
    "treatments.start": CLINICAL,
    "treatments.session": CLINICAL,
    "treatments.predose": CLINICAL,
    "treatments.vitals": CLINICAL,
    "treatments.dose": CLINICAL,
    "treatments.infusion_end": CLINICAL,
    "treatments.infusion_pause": CLINICAL,
    "treatments.infusion_resume": CLINICAL,
    "treatments.device": CLINICAL,
    "treatments.sedation": CLINICAL,
    "treatments.dissociation": CLINICAL,
    "treatments.adverse_event": CLINICAL,
    "treatments.edit_adverse_event": CLINICAL,
    "treatments.resolve_adverse_event": CLINICAL,
    "treatments.clear_adverse_event": PSYCHIATRIST,
    "treatments.not_dosed": CLINICAL,
    "treatments.discharge": CLINICAL,
    "treatments.addendum": CLINICAL,
    "treatments.phq9": CLINICAL,
    "treatments.gad7": CLINICAL,
    "treatments.override": PSYCHIATRIST,
    "treatments.discharge_override": PSYCHIATRIST,
    "treatments.contraindication_override": PSYCHIATRIST,
    "treatments.sign": frozenset({"nurse"}),
    # Appointments: everyone but admin sees the calendar; only the front desk changes it.
    "scheduling.day": DEMOGRAPHICS_VIEW,
    "scheduling.week": DEMOGRAPHICS_VIEW,
    "scheduling.drivers": DEMOGRAPHICS_VIEW,
    "scheduling.maintenance": DEMOGRAPHICS_VIEW,
    "scheduling.find_patient": DEMOGRAPHICS_VIEW,
    "scheduling.patient": DEMOGRAPHICS_VIEW,
    "scheduling.handout": DEMOGRAPHICS_VIEW,
    "scheduling.calendar_file": DEMOGRAPHICS_VIEW,
    "scheduling.appointment": DEMOGRAPHICS_VIEW,
    "scheduling.plan": FRONT_DESK,
    "scheduling.book": FRONT_DESK,
    "scheduling.book_consult": FRONT_DESK,
    "scheduling.cancel_leftover_induction": FRONT_DESK,
    "scheduling.move": FRONT_DESK,
    "scheduling.cancel": FRONT_DESK,
    "scheduling.no_show": FRONT_DESK,
    "scheduling.makeup": FRONT_DESK,
    "scheduling.driver": FRONT_DESK,
    # Review: the psychiatrist's queue, co-signature, course decisions and clinic settings;
    # the outcome timeline and questionnaires belong to the clinical chart.
    "review.queue": PSYCHIATRIST,
    "review.acknowledge": PSYCHIATRIST,
    "review.session": PSYCHIATRIST,
    "review.cosign": PSYCHIATRIST,
    "review.course": PSYCHIATRIST,
    "review.induction_review": PSYCHIATRIST,
    "review.to_maintenance": PSYCHIATRIST,
    "review.change_dose": PSYCHIATRIST,
    "review.stop_course": PSYCHIATRIST,
    "review.settings": PSYCHIATRIST,
    "review.chairs": PSYCHIATRIST,
    "review.edit_chair": PSYCHIATRIST,
    "review.timeline": CLINICAL,
    # Records out: the FHIR export of one patient's chart.
    "fhir.patient_export": CLINICAL,
    # Sites (the admin's): list, create, edit, close and reopen; which sites staff work at.
    "admin.sites": ADMIN_ONLY,
    "admin.new_site": ADMIN_ONLY,
    "admin.edit_site": ADMIN_ONLY,
    "admin.deactivate_site": ADMIN_ONLY,
    "admin.reactivate_site": ADMIN_ONLY,
    "admin.user_sites": ADMIN_ONLY,
    "review.phq9": CLINICAL,
    "review.gad7": CLINICAL,
    # Records out as PDF: clinicians only, but the handout of visits (front desk prints it too).
    "records.session_pdf": CLINICAL,
    "records.summary_pdf": CLINICAL,
    "records.handout_pdf": DEMOGRAPHICS_VIEW,
    # Spravato REMS: the board (the front desk sees only the enrollments to chase), the
    # monitoring form, its submission, SAE reports and the chairside REMS questions.
    "rems.board_page": frozenset({"nurse", "psychiatrist", "front_desk"}),
    "rems.due_csv": CLINICAL,
    "rems.monitoring_form": CLINICAL,
    "rems.monitoring_form_pdf": CLINICAL,
    "rems.mark_submitted": CLINICAL,
    "rems.review_medications": CLINICAL,
    "rems.discharge_answers": CLINICAL,
    "rems.sae_report": CLINICAL,
    "rems.contact_details": CLINICAL,
    # Controlled-substance records (issue 16): nurses and the psychiatrist (the registrant);
    # disposal and classifying discrepancies are the registrant's.
    "inventory.index": CLINICAL,
    "inventory.container": CLINICAL,
    "inventory.waste_container": CLINICAL,
    "inventory.dispose_container": PSYCHIATRIST,
    "inventory.receipts": CLINICAL,
    "inventory.count": CLINICAL,
    "inventory.discrepancies": CLINICAL,
    "inventory.settle_discrepancy": PSYCHIATRIST,
    "inventory.dispensing": CLINICAL,
    "inventory.dispensing_csv": CLINICAL,
    "inventory.ledger_csv": CLINICAL,
    "inventory.reverse_movement": PSYCHIATRIST,
    "inventory.products": CLINICAL,
    "inventory.add_product": PSYCHIATRIST,
    "inventory.add_standard_products": PSYCHIATRIST,
    "inventory.inventories": CLINICAL,
    "inventory.inventory_record": CLINICAL,
    "inventory.inventory_pdf": CLINICAL,
    "inventory.dispensing_pdf": CLINICAL,
}


def declared(endpoint: str) -> str | frozenset[str] | None:
    """The matrix entry for `endpoint` (admin.* defaults to admin only), or None if undeclared."""
    if endpoint in MATRIX:
        return MATRIX[endpoint]
    if endpoint.startswith(ADMIN_PREFIX):
        return ADMIN_ONLY
    return None


def _entry(endpoint: str) -> str | frozenset[str]:
    entry = declared(endpoint)
    assert entry is not None, f"{endpoint} is not declared in tests/security/matrix.py"
    return entry


def allows(endpoint: str, role: str | None) -> bool:
    """Whether `role` (None: not signed in) may use `endpoint` per the matrix."""
    entry = _entry(endpoint)
    if entry == PUBLIC:
        return True
    if role is None:
        return False
    return entry == SIGNED_IN or role in entry


def first_allowed_role(endpoint: str) -> str | None:
    """A role to exercise `endpoint` with (None for public endpoints)."""
    entry = _entry(endpoint)
    if entry == PUBLIC:
        return None
    return next(role for role in ROLES if entry == SIGNED_IN or role in entry)


@dataclass(frozen=True)
class Route:
    endpoint: str
    method: str
    url: str
    methods: frozenset[str]


def record_ids(app: Flask) -> tuple[dict[str, int], dict[str, int]]:
    """Create a dosed session (patient, course, session, an adverse event), tomorrow's
    appointment, an open clinical alert and a spare account with a live session for admin
    screens to act on. Needs the `staff` accounts. Returns (record ids, admin ids)."""
    with app.app_context():
        treatment = factories.dosed_session()
        tomorrow = treatment.started_at + timedelta(days=1)
        appointment = Appointment(
            patient_id=treatment.patient_id,
            course_id=treatment.course_id,
            chair=Chair(name="Matrix chair", site=factories.site()),
            starts_at=tomorrow,
            ends_at=tomorrow + timedelta(hours=2),
            visit_kind="induction",
            sequence_no=2,
            driver_name="Sam Tester",
            driver_phone="555-0199",
        )
        alert = ClinicalAlert(
            kind="serious_ae", patient_id=treatment.patient_id, raised_at=treatment.started_at
        )
        event = AdverseEvent(
            kind="nausea",
            severity="mild",
            serious=True,  # so the REMS SAE report page has one to show
            onset_at=treatment.dose_started_at,
            recorded_by_id=treatment.nurse_id,
        )
        treatment.adverse_events.append(event)
        db.session.add_all([appointment, alert])
        target = factories.make_user("nurse", username="spare.nurse", password=PASSWORD)
        db.session.flush()
        row = UserSession(
            token_hash="0" * 64,
            user_id=target.id,
            created_at=treatment.started_at,
            last_seen_at=treatment.started_at,
        )
        db.session.add(row)
        db.session.commit()
        ids = {
            "patient_id": treatment.patient_id,
            "course_id": treatment.course_id,
            "session_id": treatment.id,
            "version_id": treatment.version_id,
            "appointment_id": appointment.id,
            "alert_id": alert.id,
            "event_id": event.id,
            "chair_id": appointment.chair_id,
        }
        admin_ids = {
            "user_id": target.id,
            "session_id": row.id,
            "user_session_id": row.id,
            "site_id": appointment.chair.site_id,
        }
    return ids, admin_ids


def _value(endpoint: str, name: str, ids: dict[str, int], admin_ids: dict[str, int]):
    if endpoint.startswith(ADMIN_PREFIX) and name in admin_ids:
        return admin_ids[name]
    if name in ids:
        return ids[name]
    if endpoint.startswith(ADMIN_PREFIX) and "session" in name:
        return admin_ids["session_id"]
    if endpoint.startswith(ADMIN_PREFIX) and "user" in name:
        return admin_ids["user_id"]
    return 1


def routes(app: Flask, ids: dict[str, int], admin_ids: dict[str, int]) -> list[Route]:
    """One request per rule (but static): GET when the rule has it, else its one other method."""
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint == "static":
                continue
            args = {name: _value(rule.endpoint, name, ids, admin_ids) for name in rule.arguments}
            methods = frozenset(rule.methods - {"HEAD", "OPTIONS"})
            method = "GET" if "GET" in methods else sorted(methods)[0]
            found.append(Route(rule.endpoint, method, url_for(rule.endpoint, **args), methods))
    return found
