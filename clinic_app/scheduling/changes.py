"""Changing booked visits: move, cancel, no-show, driver calls; and the audited schedule reads.

A move runs the same calendar check as a booking (`checks.check_visits`): order within the
series, never two doses a day, the esketamine weekly limit, spacing, opening hours, closed days,
chairs. Each function takes the acting user, checks the role, audits and flushes; the view
commits once.
"""

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from sqlalchemy import select

from clinic_app import audit
from clinic_app.auth.permissions import require_role
from clinic_app.clinical.attendance import (
    CancelReason,
    NoShowReason,
    PastVisit,
    is_late_by_patient,
    missed_run,
)
from clinic_app.clinical.codes import (
    AlertKind,
    AppointmentStatus,
    CoursePhase,
    DriverStatus,
    Role,
    VisitKind,
)
from clinic_app.clinical.series import day_label, is_late_cancellation
from clinic_app.clock import utcnow
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair, ClinicalAlert, TreatmentCourse, User
from clinic_app.scheduling.checks import (
    CHANGEABLE,
    Booked,
    Check,
    Conflict,
    VisitRequest,
    Zones,
    chair_ids,
    check_visits,
    flush_bookings,
    kind_of,
    minutes_of,
)
from clinic_app.settings import review_rules, scheduling_rules

SCOPES = ("this", "following")
Reason = TypeVar("Reason", CancelReason, NoShowReason)


def reason_text(reason: CancelReason | NoShowReason, other: str) -> str:
    """The stored wording of a reason: its label, or "Other: <words>"."""
    if reason.value == "other":
        words = (other or "").strip()
        if not words:
            raise RuleViolation("Say what the other reason is.", "other")
        return f"Other: {words}"[:200]
    return reason.label


def _reason(codes: type[Reason], code: str) -> Reason:
    try:
        return codes(code)
    except ValueError:
        raise RuleViolation("Choose a reason from the list.", "reason") from None


def _require_changeable(appointment: Appointment) -> None:
    if appointment.status not in CHANGEABLE:
        raise RuleViolation(
            f"This visit is {appointment.status.replace('_', ' ')}; it can no longer be changed."
        )


# --- moving ----------------------------------------------------------------------------------


def following(appointment: Appointment) -> list[Appointment]:
    """The later visits of the same series that can still change, in time order."""
    if not appointment.series_id:
        return []
    return list(
        db.session.scalars(
            select(Appointment)
            .where(
                Appointment.series_id == appointment.series_id,
                Appointment.id != appointment.id,
                Appointment.starts_at > appointment.starts_at,
                Appointment.status.in_(CHANGEABLE),
            )
            .order_by(Appointment.starts_at)
        )
    )


def move(
    actor: User,
    appointment: Appointment,
    day: date,
    start: time,
    chair_id: int | None,
    scope: str = "this",
) -> Booked:
    """Move a visit (and with scope "following" the later visits of its series by the same
    number of days and minutes) after the same check a booking gets. A later visit whose chair
    is taken at its new time gets another free chair. Everything moves or nothing; the driver
    must be confirmed again."""
    require_role(actor, Role.FRONT_DESK)
    _require_changeable(appointment)
    if scope not in SCOPES:
        raise RuleViolation("Choose which visits to move.", "scope")
    targets = [appointment] + (following(appointment) if scope == "following" else [])
    zones = Zones()
    requests = _moved(targets, day, start, chair_id, zones)
    durations = [minutes_of(t) for t in targets]
    check = _check_move(targets, requests, durations)
    if not check.ok:
        messages = [
            message
            if i == 0
            else f"Visit on {day_label(zones.local(targets[i]).date())}: {message}"
            for i, (_, message) in sorted(check.problems.items())
        ]
        raise Conflict("Not moved. " + " ".join(messages), check.problems)
    _apply_move(targets, requests, durations, zones)
    audit.record(
        actor,
        "schedule.move",
        appointment,
        patient_id=appointment.patient_id,
        scope=scope,
        visits=len(targets),
        warnings=len(check.warnings),
    )
    return Booked(targets, check.warnings)


def _moved(
    targets: Sequence[Appointment], day: date, start: time, chair_id: int | None, zones: Zones
) -> list[VisitRequest]:
    """Where each visit goes: the first to the chosen date, time and chair (on that chair's
    site clock), the later ones by the same shift on their own chairs."""
    first = targets[0]
    old = zones.local(first)
    new_chair = chair_id if chair_id is not None else first.chair_id
    if (day, start, new_chair) == (old.date(), old.time().replace(second=0), first.chair_id):
        raise RuleViolation("Choose a new date, time or chair.", "day")
    shift = datetime.combine(day, start) - datetime.combine(old.date(), old.time())
    requests = [VisitRequest(day, start, new_chair)]
    for later in targets[1:]:
        moved = zones.local(later).replace(tzinfo=None) + shift
        requests.append(VisitRequest(moved.date(), moved.time(), later.chair_id))
    return requests


def _check_move(
    targets: Sequence[Appointment], requests: list[VisitRequest], durations: list[int]
) -> Check:
    """The booking check for the moved visits, with other chairs tried for the later ones."""
    first = targets[0]
    kind = replace(kind_of(first), sequences=tuple(t.sequence_no for t in targets))
    exclude = [t.id for t in targets]
    check = check_visits(first.patient_id, requests, durations, exclude_ids=exclude, kind=kind)
    if not any(code == "chair" and i > 0 for i, (code, _) in check.problems.items()):
        return check
    for index, (code, _) in sorted(check.problems.items()):
        if code != "chair" or index == 0:
            continue
        own = db.session.get(Chair, targets[index].chair_id) if targets[index].chair_id else None
        for chair in chair_ids(own.site_id if own else None):
            trial = list(requests)
            trial[index] = VisitRequest(requests[index].day, requests[index].start, chair)
            probe = check_visits(first.patient_id, trial, durations, exclude_ids=exclude, kind=kind)
            if index not in probe.problems:
                requests[index] = trial[index]
                break
    return check_visits(first.patient_id, requests, durations, exclude_ids=exclude, kind=kind)


def _apply_move(
    targets: Sequence[Appointment],
    requests: Sequence[VisitRequest],
    durations: Sequence[int],
    zones: Zones,
) -> None:
    """Write the new times in an order that never overlaps a visit's own old slot (the database
    checks each row as it is written): latest first when moving later, earliest first when
    earlier."""
    pairs = list(zip(targets, requests, durations, strict=True))
    if zones.utc(requests[0]) > targets[0].starts_at:
        pairs.reverse()
    for target, req, minutes in pairs:
        starts = zones.utc(req)
        if starts != target.starts_at:
            target.driver_status = DriverStatus.UNCONFIRMED
            target.driver_confirmed_at = None
            target.driver_confirmed_by_id = None
            target.status = AppointmentStatus.SCHEDULED
        target.starts_at = starts
        target.ends_at = starts + timedelta(minutes=minutes)
        target.chair_id = req.chair_id
        flush_bookings()


# --- cancelling and no-shows ----------------------------------------------------------------


def cancel(
    actor: User, appointment: Appointment, reason: str, other: str = "", scope: str = "this"
) -> list[Appointment]:
    """Cancel a visit (or it and the later visits of its series) with a reason. Less than
    `late_cancel_hours` before the start, for the patient's own reason, counts as a late
    cancellation (and as a missed visit); an early one or the clinic's own does not."""
    require_role(actor, Role.FRONT_DESK)
    _require_changeable(appointment)
    if scope not in SCOPES:
        raise RuleViolation("Choose which visits to cancel.", "scope")
    why = _reason(CancelReason, reason)
    text = reason_text(why, other)
    rules = scheduling_rules()
    now = utcnow()
    targets = [appointment] + (following(appointment) if scope == "following" else [])
    for target in targets:
        target.status = AppointmentStatus.CANCELLED
        target.cancel_reason = text
        target.cancelled_at = now
        target.cancelled_by_id = actor.id
        target.late_cancellation = is_late_by_patient(
            why, is_late_cancellation(target.starts_at, now, rules)
        )
    db.session.flush()
    audit.record(
        actor,
        "schedule.cancel",
        appointment,
        patient_id=appointment.patient_id,
        reason=reason,
        scope=scope,
        visits=len(targets),
        late=sum(t.late_cancellation for t in targets),
    )
    _missed_induction_alert(actor, targets)
    return targets


def leftover_induction(course: TreatmentCourse) -> list[Appointment]:
    """Induction visits still booked ahead although the course has moved to maintenance."""
    if course.phase != CoursePhase.MAINTENANCE:
        return []
    return list(
        db.session.scalars(
            select(Appointment)
            .where(
                Appointment.course_id == course.id,
                Appointment.visit_kind == VisitKind.INDUCTION.value,
                Appointment.status.in_(CHANGEABLE),
                Appointment.starts_at > utcnow(),
            )
            .order_by(Appointment.starts_at)
        )
    )


def cancel_leftover_induction(actor: User, course: TreatmentCourse) -> list[Appointment]:
    """Cancel the induction visits left booked when the course moved to maintenance (the
    psychiatrist's decision, so never the patient's late cancellation or miss)."""
    require_role(actor, Role.FRONT_DESK)
    visits = leftover_induction(course)
    if not visits:
        raise RuleViolation("No induction visits are left to cancel.")
    now = utcnow()
    for visit in visits:
        visit.status = AppointmentStatus.CANCELLED
        visit.cancel_reason = CancelReason.COURSE_MOVED_ON.label
        visit.cancelled_at = now
        visit.cancelled_by_id = actor.id
        visit.late_cancellation = False
    db.session.flush()
    audit.record(
        actor,
        "schedule.cancel",
        visits[0],
        patient_id=course.patient_id,
        reason=CancelReason.COURSE_MOVED_ON.value,
        scope="leftover_induction",
        visits=len(visits),
        late=0,
    )
    return visits


def mark_no_show(
    actor: User, appointment: Appointment, reason: str, other: str = ""
) -> Appointment:
    """The patient did not come: a no-show with a reason, once the start time has passed."""
    require_role(actor, Role.FRONT_DESK)
    _require_changeable(appointment)
    text = reason_text(_reason(NoShowReason, reason), other)
    now = utcnow()
    if appointment.starts_at > now:
        raise RuleViolation(
            "A visit becomes a no-show only once its start time has passed; cancel it instead."
        )
    appointment.status = AppointmentStatus.NO_SHOW
    appointment.cancel_reason = text
    appointment.cancelled_at = now
    appointment.cancelled_by_id = actor.id
    db.session.flush()
    audit.record(
        actor, "schedule.no_show", appointment, patient_id=appointment.patient_id, reason=reason
    )
    _missed_induction_alert(actor, [appointment])
    return appointment


def _missed_induction_alert(actor: User, changed: Sequence[Appointment]) -> ClinicalAlert | None:
    """Raise the psychiatrist's alert when these misses (no-shows, late cancellations) make the
    run of missed induction visits reach the clinic's line (default 2 in a row). One alert per
    run."""
    induction = [a for a in changed if a.visit_kind == VisitKind.INDUCTION and a.course_id]
    if not induction:
        return None
    changed_ids = {a.id for a in induction}
    latest = max(a.starts_at for a in induction)
    rows = list(
        db.session.scalars(
            select(Appointment)
            .where(
                Appointment.course_id == induction[0].course_id,
                Appointment.visit_kind == VisitKind.INDUCTION.value,
                Appointment.starts_at <= latest,
            )
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )
    line = review_rules().missed_induction_alert_count
    history: list[PastVisit] = []
    for row in rows:
        history.append(PastVisit(row.status, row.late_cancellation))
        run = missed_run(history)
        if row.id not in changed_ids or run != line:
            continue
        known = db.session.scalar(
            select(ClinicalAlert.id).where(
                ClinicalAlert.appointment_id == row.id,
                ClinicalAlert.kind == AlertKind.MISSED_INDUCTION.value,
            )
        )
        if known is not None:
            return None
        alert = ClinicalAlert(
            kind=AlertKind.MISSED_INDUCTION.value,
            patient_id=row.patient_id,
            appointment_id=row.id,
            raised_at=utcnow(),
            detail={"missed": run},
        )
        db.session.add(alert)
        db.session.flush()
        audit.record(
            actor, "alert.raise", alert, patient_id=row.patient_id, kind=alert.kind, missed=run
        )
        return alert
    return None


# --- drivers ---------------------------------------------------------------------------------


def set_driver_status(
    actor: User,
    appointment: Appointment,
    status: str,
    driver_name: str | None = None,
    driver_phone: str | None = None,
) -> Appointment:
    """Record the front desk's driver call: confirmed (the visit is then confirmed too), could
    not reach, or no driver. A name and phone given replace the booked ones."""
    require_role(actor, Role.FRONT_DESK)
    if appointment.status not in CHANGEABLE + (AppointmentStatus.CHECKED_IN.value,):
        raise RuleViolation("This visit is over or cancelled; its driver no longer changes.")
    try:
        value = DriverStatus(status)
    except ValueError:
        raise RuleViolation("Choose what the call found.", "driver_status") from None
    if value == DriverStatus.UNCONFIRMED:
        raise RuleViolation("Choose what the call found.", "driver_status")
    if driver_name and driver_name.strip():
        appointment.driver_name = driver_name.strip()
    if driver_phone and driver_phone.strip():
        appointment.driver_phone = driver_phone.strip()
    if value == DriverStatus.CONFIRMED:
        if not appointment.driver_name.strip():
            raise RuleViolation("Name the driver before confirming.", "driver_name")
        appointment.driver_confirmed_at = utcnow()
        appointment.driver_confirmed_by_id = actor.id
        if appointment.status == AppointmentStatus.SCHEDULED:
            appointment.status = AppointmentStatus.CONFIRMED
    else:
        appointment.driver_confirmed_at = None
        appointment.driver_confirmed_by_id = None
        if appointment.status == AppointmentStatus.CONFIRMED:
            appointment.status = AppointmentStatus.SCHEDULED
    appointment.driver_status = value
    db.session.flush()
    audit.record(
        actor,
        "schedule.driver",
        appointment,
        patient_id=appointment.patient_id,
        driver_status=value.value,
    )
    return appointment


# --- reads that are audited ------------------------------------------------------------------

VIEWERS = (Role.FRONT_DESK, Role.NURSE, Role.PSYCHIATRIST)


def record_view(actor: User, action: str, entity, patient_id: int) -> None:
    """Audit a schedule read of one patient (schedule page, handout, .ics download)."""
    require_role(actor, *VIEWERS)
    audit.record(actor, action, entity, patient_id=patient_id)
