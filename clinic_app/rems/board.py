"""What the REMS board shows for a set of sites, each list in a bounded number of statements: the
monitoring forms by state, first esketamine visits booked without enrollment, serious adverse
events not yet reported to the REMS, and the navigation badge's counts (one COUNT each)."""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from clinic_app.clinical.codes import AppointmentStatus, Modality
from clinic_app.clinical.rems_deadline import FormState
from clinic_app.clinical.rems_form import CURRENT_EDITION, EDITIONS
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.extensions import db
from clinic_app.models import (
    AdverseEvent,
    Appointment,
    Chair,
    Patient,
    RemsMonitoringForm,
    RemsSubmission,
    SaeReport,
    Site,
    TreatmentCourse,
    TreatmentSession,
    User,
)
from clinic_app.models.rems import SaeRecipient
from clinic_app.models.site import user_sites
from clinic_app.rems.monitoring import FormView, form_view, lookups
from clinic_app.scheduling.site_days import session_site
from clinic_app.spreadsheet import safe_cell
from clinic_app.treatments.queries import chart_options

# A submitted form stays loaded this long, so an addendum after submission still shows.
RECENT_DAYS = 62
BOARD_ORDER = (FormState.OVERDUE, FormState.CHANGED, FormState.READY, FormState.DUE)


@dataclass
class FormBoard:
    """Forms by state (overdue first, then changed, ready, due) and those submitted this month."""

    open: list[FormView] = field(default_factory=list)
    submitted: list[FormView] = field(default_factory=list)

    @property
    def overdue(self) -> int:
        return sum(1 for v in self.open if v.state == FormState.OVERDUE)


def form_views(site_ids: tuple[int, ...], now: datetime, rules: ClinicalRules) -> list[FormView]:
    """The forms of these sites not yet submitted, or treated in the last RECENT_DAYS."""
    unsubmitted = ~exists().where(RemsSubmission.form_id == RemsMonitoringForm.id)
    since = now.date() - timedelta(days=RECENT_DAYS)
    rows = db.session.scalars(
        select(RemsMonitoringForm)
        .where(
            RemsMonitoringForm.site_id.in_(site_ids),
            or_(unsubmitted, RemsMonitoringForm.treatment_date >= since),
        )
        .options(
            joinedload(RemsMonitoringForm.site),
            selectinload(RemsMonitoringForm.submissions).joinedload(RemsSubmission.submitted_by),
            selectinload(RemsMonitoringForm.treatment_session).options(*chart_options()),
        )
        .order_by(RemsMonitoringForm.due_on, RemsMonitoringForm.id)
    ).all()
    found = lookups(row.treatment_session for row in rows)
    return [form_view(row.treatment_session, row, found, rules, now) for row in rows]


def form_board(views: list[FormView], month_start: date) -> FormBoard:
    """Sort form views onto the board: open ones by state, then submitted this month."""
    board = FormBoard()
    for view in views:
        if view.state != FormState.SUBMITTED:
            board.open.append(view)
        elif view.last_submission and view.last_submission.submitted_on >= month_start:
            board.submitted.append(view)
    board.open.sort(key=lambda v: (BOARD_ORDER.index(v.state), v.due))
    return board


@dataclass(frozen=True)
class Attention:
    """The REMS navigation badge: what is late at the user's sites."""

    overdue_forms: int
    unreported_saes: int

    @property
    def total(self) -> int:
        return self.overdue_forms + self.unreported_saes


def _user_site_ids(user: User) -> Select:
    return select(user_sites.c.site_id).where(user_sites.c.user_id == user.id)


def attention(user: User, now: datetime) -> Attention:
    """Monitoring forms overdue and never submitted, and serious adverse events not reported to
    the REMS, at the sites this user works at (one statement)."""
    overdue = (
        select(func.count())
        .select_from(RemsMonitoringForm)
        .where(
            RemsMonitoringForm.site_id.in_(_user_site_ids(user)),
            RemsMonitoringForm.late_from <= now,
            ~exists().where(RemsSubmission.form_id == RemsMonitoringForm.id),
        )
        .scalar_subquery()
    )
    saes = (
        select(func.count())
        .select_from(_unreported_saes().where(_visit_site().in_(_user_site_ids(user))).subquery())
        .scalar_subquery()
    )
    forms, events = db.session.execute(select(overdue, saes)).one()
    return Attention(forms or 0, events or 0)


@dataclass(frozen=True)
class EnrollmentChase:
    """A first esketamine visit booked for a patient the REMS has not enrolled: name and date
    only (the front desk sees this)."""

    patient_id: int
    name: str
    visit_at: datetime
    site: Site | None = None  # that visit's site (whose clock its time is read on)


def _visit_site():
    return func.coalesce(Chair.site_id, Patient.usual_site_id)


def enrollment_chases(site_ids: tuple[int, ...], now: datetime) -> list[EnrollmentChase]:
    """Patients with an upcoming esketamine visit, never dosed with esketamine and not
    enrolled, at these sites, with their first such visit and its site (one statement)."""
    dosed_before = exists().where(
        TreatmentSession.patient_id == Patient.id,
        TreatmentSession.modality == Modality.ESKETAMINE_NASAL,
        TreatmentSession.dose_started_at.is_not(None),
    )
    first_at = func.min(Appointment.starts_at)
    rows = db.session.execute(
        select(Patient.id, Patient.first_name, Patient.last_name, Site, first_at)
        .join(Appointment, Appointment.patient_id == Patient.id)
        .join(TreatmentCourse, TreatmentCourse.id == Appointment.course_id)
        .outerjoin(Chair, Chair.id == Appointment.chair_id)
        .outerjoin(Site, Site.id == _visit_site())
        .where(
            TreatmentCourse.modality == Modality.ESKETAMINE_NASAL,
            Appointment.status.in_([AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED]),
            Appointment.starts_at >= now - timedelta(hours=12),
            Patient.rems_enrolled_on.is_(None),
            ~dosed_before,
            _visit_site().in_(site_ids),
        )
        .group_by(Patient.id, Patient.first_name, Patient.last_name, Site.id)
        .order_by(first_at, Patient.id)
    )
    chases: dict[int, EnrollmentChase] = {}
    for pid, first, last, site, at in rows:  # a patient booked at two sites: the first visit's
        chases.setdefault(pid, EnrollmentChase(pid, f"{first} {last}", at, site))
    return list(chases.values())


def _unreported_saes() -> Select:
    """Serious adverse events on esketamine sessions with no report to the REMS yet, with the
    session's site (`_visit_site()`) joined in."""
    reported = exists().where(
        SaeReport.adverse_event_id == AdverseEvent.id, SaeReport.reported_to == SaeRecipient.REMS
    )
    return (
        select(AdverseEvent)
        .join(TreatmentSession, TreatmentSession.id == AdverseEvent.session_id)
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .outerjoin(Appointment, Appointment.id == TreatmentSession.appointment_id)
        .outerjoin(Chair, Chair.id == Appointment.chair_id)
        .where(
            AdverseEvent.serious,
            TreatmentSession.modality == Modality.ESKETAMINE_NASAL,
            ~reported,
        )
    )


def unreported_saes(site_ids: tuple[int, ...]) -> list[AdverseEvent]:
    """Serious adverse events on esketamine sessions at these sites that have no report to the
    REMS yet, oldest first, with the session's site (its visit's, else the patient's usual
    site: `sae_site`) in the same statement."""
    return list(
        db.session.scalars(
            _unreported_saes()
            .where(_visit_site().in_(site_ids))
            .options(
                joinedload(AdverseEvent.treatment_session).options(
                    joinedload(TreatmentSession.patient).joinedload(Patient.usual_site),
                    joinedload(TreatmentSession.appointment)
                    .joinedload(Appointment.chair)
                    .joinedload(Chair.site),
                )
            )
            .order_by(AdverseEvent.onset_at)
        )
    )


def sae_site(event: AdverseEvent) -> Site | None:
    """The site an adverse event counts at, as `unreported_saes` filters: its session's visit's,
    else the patient's usual site."""
    treatment = event.treatment_session
    return session_site(treatment) or treatment.patient.usual_site


def due_csv(views: list[FormView]) -> str:
    """The forms still to submit, one row per form, the form's field names as columns (the
    current edition's; another edition's extra fields are left out), every cell formula-safe."""
    specs = [
        (section.title, spec)
        for section in EDITIONS[CURRENT_EDITION].sections
        for spec in section.fields
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Due date", "State", *(f"{title}: {spec.label}" for title, spec in specs)])
    for view in views:
        if view.state == FormState.SUBMITTED:
            continue
        values = view.built.values
        writer.writerow(
            [
                view.due.isoformat(),
                view.state.label,
                *(safe_cell(values.get(spec.key, "")) for _, spec in specs),
            ]
        )
    return out.getvalue()
