"""The clinic calendar: day and week views by chair, series planning and booking, moves,
cancellations, no-shows, make-up visits, driver calls, the maintenance worklist and the patient's
handout (.ics too).

Only the front desk books, moves, cancels, marks no-shows and confirms drivers; nurses and the
psychiatrist view (nurses check patients in from the Today board). URLs carry numeric ids and
dates only.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from clinic_app.auth.permissions import role_required
from clinic_app.clinical.attendance import DRIVER_LABELS
from clinic_app.clinical.codes import AppointmentStatus, DriverStatus, Role, VisitKind
from clinic_app.clinical.series import day_label
from clinic_app.clock import utcnow
from clinic_app.dates import format_local
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.form_flow import show_refusal, submit
from clinic_app.models import Appointment, Chair, Patient, Site
from clinic_app.page_audit import QUERY_KEPT, record_listing
from clinic_app.patients.services import search_patients
from clinic_app.scheduling import booking, changes, ics, queries, site_days
from clinic_app.scheduling.checks import (
    CHANGEABLE,
    Booked,
    Conflict,
    VisitRequest,
    block_minutes,
)
from clinic_app.scheduling.forms import (
    BookForm,
    CancelForm,
    ConsultForm,
    CsrfOnly,
    DriverForm,
    JumpForm,
    MakeupForm,
    MoveForm,
    NoShowForm,
    PlanForm,
)
from clinic_app.scheduling.handout import handout_context
from clinic_app.settings import clinic_today, clinical_rules, scheduling_rules
from clinic_app.site_scope import SiteScope, page_scope, show_site_times

bp = Blueprint("scheduling", __name__, url_prefix="/schedule")
# Pages spanning sites show each session on its own site's clock.
for _helper in (site_days.session_site, site_days.on_site_clock, site_days.zones_differ):
    bp.add_app_template_global(_helper)

VIEW = (Role.FRONT_DESK, Role.NURSE, Role.PSYCHIATRIST)
DESK = (Role.FRONT_DESK,)
# Which field of a visit a calendar problem belongs next to.
PROBLEM_FIELD = {
    "past": "day",
    "closed": "day",
    "same_day": "day",
    "hours": "start",
    "patient": "start",
    "database": "start",
    "chair": "chair_id",
    "order": "day",
    "week": "day",
    "spacing": "day",
}


# --- helpers -------------------------------------------------------------------------------------


def _date_arg(default: date) -> date:
    """The ?date=YYYY-MM-DD of a calendar page; 400 when it is not a date."""
    raw = request.args.get("date", "")
    if not raw:
        return default
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        abort(400)
    if not 2000 <= value.year <= 2100:
        abort(400)
    return value


def _patient(patient_id: int) -> Patient:
    return db.get_or_404(Patient, patient_id)


def _appointment(appointment_id: int) -> Appointment:
    appointment = queries.load_appointment(appointment_id)
    if appointment is None:
        abort(404)
    return appointment


def _chair_choices() -> list[tuple]:
    """Every active chair; named with its site's code when the group has several sites."""
    rows = db.session.execute(
        select(Chair.id, Chair.name, Site.code)
        .join(Chair.site)
        .where(Chair.active)
        .order_by(Site.name, Chair.id)
    ).all()
    several = len({r.code for r in rows}) > 1
    return [("", "Choose a chair")] + [
        (r.id, f"{r.name} · {r.code}" if several else r.name) for r in rows
    ]


def _active_sites() -> list[Site]:
    return list(db.session.scalars(select(Site).where(Site.active).order_by(Site.name)))


def _plan_site(patient: Patient, sites: list[Site], wanted: int | None) -> Site | None:
    """The site a series is planned at: the one picked, else the patient's default."""
    picked = next((site for site in sites if site.id == wanted), None)
    return picked or booking.default_site(patient)


def _is_desk() -> bool:
    return current_user.role == Role.FRONT_DESK


def _attach(form, problems: dict[int, tuple[str, str]], rows=None) -> None:
    """Put each visit's problem next to its field (rows: the booking form's visit rows)."""
    for index, (code, message) in problems.items():
        target = form
        if rows is not None:
            if index >= len(rows):
                continue
            target = rows[index].form
        name = PROBLEM_FIELD.get(code, "day")
        if name in target:
            target[name].errors = list(target[name].errors) + [message]


# --- the calendar --------------------------------------------------------------------------------


@bp.get("/")
@role_required(*VIEW)
def day():
    """One clinic day at the current site (or all): a column per chair, a row per slot."""
    rules = scheduling_rules()
    scope = page_scope()
    today = site_days.today(scope)
    current = _date_arg(today)
    view = queries.day_view(current, rules, scope)
    record_listing("list.day", date=current.isoformat(), site=scope.code)
    return render_template(
        "scheduling/day.html",
        view=view,
        day=current,
        label=day_label(current),
        prev=current - timedelta(days=1),
        next=current + timedelta(days=1),
        jump=JumpForm(data={"date": current}),
        today=today,
        rules=rules,
        **_scoped(scope),
    )


def _scoped(scope: SiteScope) -> dict:
    """What a scoped schedule page passes its template: the scope (the header's picker), the
    arguments that keep its site in links, and whether to say whose clock the times are on."""
    return {
        "site_scope": scope,
        "site_args": scope.url_args,
        "mixed_zones": site_days.mixed_zones(scope),
    }


@bp.get("/week")
@role_required(*VIEW)
def week():
    """Monday to Sunday at the current site (or all): a row per clinic day, a column per
    chair."""
    rules = scheduling_rules()
    scope = page_scope()
    today = site_days.today(scope)
    current = _date_arg(today)
    view = queries.week_view(current, rules, scope)
    record_listing("list.week", date=view.monday.isoformat(), site=scope.code)
    return render_template(
        "scheduling/week.html",
        view=view,
        day=current,
        prev=view.monday - timedelta(days=7),
        next=view.monday + timedelta(days=7),
        sunday=view.monday + timedelta(days=6),
        jump=JumpForm(data={"date": current}),
        today=today,
        label=day_label,
        **_scoped(scope),
    )


# --- drivers and maintenance worklists -----------------------------------------------------------


def _drivers_page(current: date, scope: SiteScope, status: int = 200):
    rules = scheduling_rules()
    rows = queries.driver_calls(current, scope)
    record_listing("list.drivers", date=current.isoformat(), site=scope.code)
    return render_template(
        "scheduling/drivers.html",
        rows=rows,
        day=current,
        label=day_label(current),
        prev=current - timedelta(days=1),
        next=current + timedelta(days=1),
        open=rules.is_open(current),
        closed=queries.closed_reason(current, rules),
        jump=JumpForm(data={"date": current}),
        rems=queries.rems_to_chase(site_days.today(scope), scope),
        **_scoped(scope),
    ), status


@bp.get("/drivers")
@role_required(*VIEW)
def drivers():
    """Driver calls for the next clinic day (or ?date=): confirm, could not reach, no driver."""
    rules = scheduling_rules()
    scope = page_scope()
    next_day = queries.next_clinic_day(site_days.today(scope), rules)
    return _drivers_page(_date_arg(next_day), scope)


@bp.get("/maintenance")
@role_required(*VIEW)
def maintenance():
    """Patients whose next maintenance visit is due within the look-ahead and not booked, and
    overdue ones."""
    rules = scheduling_rules()
    scope = page_scope()
    today = site_days.today(scope)
    rows = queries.maintenance_worklist(today, rules, scope)
    record_listing("list.maintenance", date=today.isoformat(), site=scope.code)
    return render_template(
        "scheduling/maintenance.html",
        rows=rows,
        horizon=rules.maintenance_due_horizon_days,
        today=today,
        **_scoped(scope),
    )


# --- patients ------------------------------------------------------------------------------------


@bp.route("/patients", methods=["GET", "POST"])
@role_required(*VIEW)
def find_patient():
    """Find a patient's schedule; the search text comes by POST so names stay out of URLs."""
    text = request.form.get("q", "") if request.method == "POST" else ""
    patients = search_patients(text) if text.strip() else []
    if text.strip():
        record_listing("patient.search", query=text[:QUERY_KEPT], found=len(patients))
    return render_template("scheduling/find.html", patients=patients, q=text)


@bp.get("/patients/<int:patient_id>")
@role_required(*VIEW)
def patient(patient_id: int):
    """One patient's visits: upcoming, past, cancellations, late cancellations, no-shows."""
    person = _patient(patient_id)
    changes.record_view(current_user, "schedule.view", person, person.id)
    db.session.commit()
    return _patient_page(person)


def _consult_form(formdata=None) -> ConsultForm:
    form = ConsultForm(formdata=formdata, prefix="consult")
    form.chair_id.choices = [("", "No chair (consult room)")] + _chair_choices()[1:]
    return form


def _patient_page(person: Patient, consult: ConsultForm | None = None, status: int = 200):
    consult = consult or _consult_form()
    if consult.day.data is None and not consult.errors:
        consult.day.data = clinic_today() + timedelta(days=1)
    courses = queries.active_courses(person.id)
    return render_template(
        "scheduling/patient.html",
        patient=person,
        schedule=queries.patient_schedule(person.id),
        courses=courses,
        consult=consult if _is_desk() else None,
        leftovers=[(c, changes.leftover_induction(c)) for c in courses],
    ), status


@bp.post("/patients/<int:patient_id>/courses/<int:course_id>/cancel-induction")
@role_required(*DESK)
def cancel_leftover_induction(patient_id: int, course_id: int):
    """Cancel the induction visits left booked after the course moved to maintenance."""
    person = _patient(patient_id)
    course = next((c for c in queries.active_courses(person.id) if c.id == course_id), None)
    if course is None:
        abort(404)
    if not CsrfOnly().validate_on_submit():
        abort(400)
    try:
        cancelled = changes.cancel_leftover_induction(current_user, course)
    except RuleViolation as error:
        db.session.rollback()
        flash(error.message, "danger")
        return _patient_page(person, status=400)
    db.session.commit()
    count = len(cancelled)
    flash(f"Cancelled {count} induction visit{'s' if count != 1 else ''}.", "success")
    return redirect(url_for("scheduling.patient", patient_id=person.id))


@bp.post("/patients/<int:patient_id>/consult")
@role_required(*DESK)
def book_consult(patient_id: int):
    """Book a consult or intake visit (no course needed)."""
    person = _patient(patient_id)
    form = _consult_form(request.form)
    if not form.validate_on_submit():
        return _patient_page(person, form, 400)
    wanted = VisitRequest(form.day.data, form.start.data, form.chair_id.data)
    try:
        booked = booking.book_consult(current_user, person, wanted, form.minutes.data)
    except Conflict as error:
        db.session.rollback()
        flash(error.message, "danger")
        _attach(form, error.problems)
        return _patient_page(person, form, 409)
    db.session.commit()
    flash("Consult booked.", "success")
    for warning in booked.warnings:
        flash(warning, "warning")
    return redirect(url_for("scheduling.appointment", appointment_id=booked.visits[0].id))


def _plan_form(patient: Patient, courses, course=None, kind=None, planned=None) -> PlanForm:
    rules = scheduling_rules()
    course = course or courses[0]
    kind = VisitKind(kind) if kind else booking.default_kind(course, rules)
    values = {
        "first_date": booking.default_first_date(course, kind, rules),
        "preferred_time": patient.preferred_time or time(9, 0),
        "preferred_weekdays": list(patient.preferred_weekdays or []),
        "count": 4,
        **(planned or {}),
    }
    sites = _active_sites()
    site = _plan_site(patient, sites, values.pop("site_id", None))
    form = PlanForm(
        formdata=None,
        course_id=course.id,
        visit_kind=kind.value,
        site_id=site.id if site else None,
        **values,
    )
    _course_choices(form, courses, sites)
    return form


def _course_choices(form: PlanForm, courses, sites: list[Site]) -> None:
    form.course_id.choices = [
        (c.id, f"{c.modality_label} · {c.phase} · since {format_local(c.started_on, 'date')}")
        for c in courses
    ]
    form.site_id.choices = [(s.id, s.label) for s in sites]


def _plan_page(patient, courses, plan_form, book_form=None, notes=None, warnings=(), status=200):
    first_number = 1
    if book_form is not None:
        course = next((c for c in courses if c.id == book_form.course_id.data), None)
        kind = book_form.visit_kind.data
        if course is not None and kind in (VisitKind.INDUCTION, VisitKind.MAINTENANCE):
            first_number += booking.continued_series(course, VisitKind(kind))[1]
    return render_template(
        "scheduling/plan.html",
        patient=patient,
        courses=courses,
        form=plan_form,
        book=book_form,
        notes=notes or {},
        warnings=warnings,
        rules=scheduling_rules(),
        day_label=day_label,
        first_number=first_number,
    ), status


@bp.route("/patients/<int:patient_id>/plan", methods=["GET", "POST"])
@role_required(*DESK)
def plan(patient_id: int):
    """Propose a whole series from the patient's active course; nothing is saved here."""
    person = _patient(patient_id)
    courses = queries.active_courses(person.id)
    if not courses:
        return _plan_page(person, courses, None)
    if request.method == "GET":
        wanted = request.args.get("course_id", type=int)
        course = next((c for c in courses if c.id == wanted), None)
        kind = request.args.get("kind")
        kind = kind if kind in (VisitKind.INDUCTION, VisitKind.MAINTENANCE) else None
        return _plan_page(person, courses, _plan_form(person, courses, course, kind))
    form = PlanForm()
    sites = _active_sites()
    _course_choices(form, courses, sites)
    if not form.validate_on_submit():
        return _plan_page(person, courses, form, status=400)
    course = next(c for c in courses if c.id == form.course_id.data)
    site = _plan_site(person, sites, form.site_id.data)
    try:
        proposal = booking.propose(
            current_user,
            person,
            course,
            form.visit_kind.data,
            form.first_date.data,
            form.preferred_time.data,
            form.preferred_weekdays.data or [],
            form.count.data,
            site,
        )
    except RuleViolation as error:
        db.session.rollback()
        show_refusal(form, error, PROBLEM_FIELD)
        return _plan_page(person, courses, form, status=400)
    book = _proposed_booking(person, course, form, proposal)
    book.set_chairs(_chair_choices())
    notes = {i: row for i, row in enumerate(proposal.rows)}
    return _plan_page(person, courses, form, book, notes, proposal.warnings)


def _proposed_booking(person, course, form: PlanForm, proposal) -> BookForm:
    """The booking form filled with the proposal's visits and the plan it came from."""
    return BookForm(
        formdata=None,
        prefix="book",
        data={
            "course_id": course.id,
            "visit_kind": proposal.kind.value,
            "driver_name": person.driver_name,
            "driver_phone": person.driver_phone,
            "plan_first_date": form.first_date.data.isoformat(),
            "plan_time": form.preferred_time.data.strftime("%H:%M"),
            "plan_weekdays": ",".join(str(d) for d in form.preferred_weekdays.data or []),
            "plan_count": str(form.count.data or ""),
            "plan_site": str(proposal.site.id),
            "visits": [
                {
                    "target": row.target.isoformat(),
                    "day": row.day,
                    "start": row.start,
                    "chair_id": row.chair_id,
                }
                for row in proposal.rows
            ],
        },
    )


def _requests(book: BookForm) -> list[VisitRequest]:
    return [
        VisitRequest(row.form.day.data, row.form.start.data, row.form.chair_id.data)
        for row in book.visits
    ]


@bp.post("/patients/<int:patient_id>/book")
@role_required(*DESK)
def book(patient_id: int):
    """Check the adjusted series again ("check") or book it in one transaction ("book")."""
    person = _patient(patient_id)
    courses = queries.active_courses(person.id)
    form = BookForm(prefix="book")
    form.set_chairs(_chair_choices())
    course = next((c for c in courses if c.id == form.course_id.data), None)
    plan_form = (
        _plan_form(person, courses, course, form.visit_kind.data, form.planned())
        if courses
        else None
    )
    if course is None:
        flash("Choose one of the patient's active courses and plan again.", "danger")
        return _plan_page(person, courses, plan_form, status=400)
    if not form.validate_on_submit():
        return _plan_page(person, courses, plan_form, form, status=400)
    requests = _requests(form)
    if request.form.get("action") == "check":
        minutes = block_minutes(course, scheduling_rules())
        check = booking.check_series(
            person, course, VisitKind(form.visit_kind.data), requests, minutes
        )
        _attach(form, check.problems, form.visits)
        if check.ok:
            flash("Every visit fits. Book the series when ready.", "success")
        return _plan_page(
            person,
            courses,
            plan_form,
            form,
            warnings=check.warnings,
            status=200 if check.ok else 409,
        )
    try:
        booked = booking.book_series(
            current_user,
            person,
            course,
            form.visit_kind.data,
            requests,
            form.driver_name.data or "",
            form.driver_phone.data or "",
        )
    except Conflict as error:
        db.session.rollback()
        flash(error.message, "danger")
        _attach(form, error.problems, form.visits)
        return _plan_page(person, courses, plan_form, form, status=409)
    except RuleViolation as error:
        db.session.rollback()
        flash(error.message, "danger")
        return _plan_page(person, courses, plan_form, form, status=400)
    db.session.commit()
    visits = len(booked.visits)
    flash(f"Booked {visits} visit{'s' if visits != 1 else ''}.", "success")
    for warning in booked.warnings:
        flash(warning, "warning")
    return redirect(url_for("scheduling.patient", patient_id=person.id))


# --- handout and calendar file -------------------------------------------------------------------


@bp.get("/patients/<int:patient_id>/handout")
@role_required(*VIEW)
def handout(patient_id: int):
    """A printable list of upcoming visits with fasting and no-driving instructions."""
    person = _patient(patient_id)
    context = handout_context(person)
    changes.record_view(current_user, "schedule.handout", person, person.id)
    db.session.commit()
    return render_template("scheduling/handout.html", **context)


@bp.route("/patients/<int:patient_id>/visits.ics", methods=["GET", "POST"])
@role_required(*VIEW)
def calendar_file(patient_id: int):
    """The upcoming visits as an iCalendar file (only the numeric patient id in the URL)."""
    person = _patient(patient_id)
    visits = queries.upcoming_visits(person.id)
    body = ics.build_calendar(
        visits, clinical_rules(), scheduling_rules(), request.host.split(":")[0] or "clinic"
    )
    changes.record_view(current_user, "schedule.ics", person, person.id)
    db.session.commit()
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="clinic-visits.ics"'},
    )


# --- one appointment -----------------------------------------------------------------------------


def _show_visit_times(appointment: Appointment) -> ZoneInfo:
    """Show the page in the zone of the visit's site; returns that zone."""
    if appointment.site is not None:
        show_site_times(appointment.site)
    return queries.visit_zone(appointment)


def _action_forms(appointment: Appointment, local: datetime, chairs: list[tuple]) -> dict:
    """The appointment page's blank move, cancel, no-show and driver forms."""
    move_form = MoveForm(
        formdata=None,
        prefix="move",
        day=local.date(),
        start=local.time().replace(second=0, microsecond=0),
        chair_id=appointment.chair_id,
    )
    return {
        "move_form": move_form,
        "cancel_form": CancelForm(formdata=None, prefix="cancel"),
        "noshow_form": NoShowForm(formdata=None, prefix="noshow"),
        "driver_form": DriverForm(
            formdata=None,
            prefix="driver",
            driver_status=appointment.driver_status
            if appointment.driver_status != "unconfirmed"
            else None,
            driver_name=appointment.driver_name,
            driver_phone=appointment.driver_phone,
            return_to="appointment",
        ),
    }


def _makeup_forms(appointment: Appointment):
    """The front desk's make-up offer and one one-click form per offered time."""
    if not _is_desk():
        return None, []
    offer = queries.makeup_offer(appointment, scheduling_rules())
    # Computed afresh after a refusal.
    forms = [
        (
            slot,
            MakeupForm(
                formdata=None,
                prefix="makeup",
                day=slot.start.date(),
                start=slot.start.time(),
                chair_id=slot.chair_id,
            ),
        )
        for slot in (offer.slots if offer is not None else ())
    ]
    return offer, forms


def _appointment_page(appointment: Appointment, status: int = 200, **forms):
    zone = _show_visit_times(appointment)
    local = appointment.starts_at.astimezone(zone)
    chairs = _chair_choices()
    refused_makeup = forms.pop("makeup_form", None)
    defaults = _action_forms(appointment, local, chairs) | forms
    defaults["move_form"].chair_id.choices = _move_chairs(chairs)
    offer, makeup_forms = _makeup_forms(appointment)
    series = queries.series_cards(appointment.series_id) if appointment.series_id else []
    changeable = appointment.status in CHANGEABLE
    return render_template(
        "scheduling/appointment.html",
        a=appointment,
        card=queries.cards([appointment])[0],
        series=series,
        changeable=changeable,
        started=appointment.starts_at <= utcnow(),
        is_today=local.date() == utcnow().astimezone(zone).date(),
        has_following=bool(changes.following(appointment)) if changeable else False,
        offer=offer,
        makeup_forms=makeup_forms,
        refused_makeup=refused_makeup,
        chair_names={c[0]: c[1] for c in chairs if c[0] != ""},
        driver_open=appointment.status in CHANGEABLE + (AppointmentStatus.CHECKED_IN,),
        **defaults,
    ), status


@bp.get("/appointments/<int:appointment_id>")
@role_required(*VIEW)
def appointment(appointment_id: int):
    """One visit: when, where, driver, series; the front desk's actions on it."""
    visit = _appointment(appointment_id)
    changes.record_view(current_user, "schedule.view", visit, visit.patient_id)
    db.session.commit()
    return _appointment_page(visit)


def _flash_call(visit: Appointment) -> None:
    """What the driver call recorded, and what to do when there is no driver."""
    when = format_local(visit.starts_at.astimezone(queries.visit_zone(visit)), "time")
    who = visit.patient.full_name
    label = DRIVER_LABELS[DriverStatus(visit.driver_status)].lower()
    flash(f"Driver call recorded for {who} ({when}): {label}.", "success")
    if visit.driver_status == DriverStatus.NO_DRIVER:
        flash(
            f"{who} has no driver for the {when} visit and may not drive home: move or cancel "
            "the visit (reason: no driver) unless a driver is found.",
            "warning",
        )


def _apply(appointment_id: int, form_name: str, form, action, success: str, go=None, after=None):
    """Validate, run the service, commit and redirect; otherwise re-render the appointment page
    with the input kept: 400 for bad input, 409 when the calendar refuses."""
    visit = _appointment(appointment_id)

    def done(result):
        if after is not None:
            after(result)
        for warning in result.warnings if isinstance(result, Booked) else ():
            flash(warning, "warning")
        if go is not None:
            return go(result)
        return url_for("scheduling.appointment", appointment_id=appointment_id)

    return submit(
        form,
        lambda: action(visit),
        page=lambda status, _: _appointment_page(
            _appointment(appointment_id), status, **{form_name: form}
        ),
        done=done,
        success=None if after is not None else success,
        code_fields=PROBLEM_FIELD,
    )


def _move_chairs(chairs: list[tuple]) -> list[tuple]:
    """Chair choices for a move: blank keeps the visit's chair (or none, for a consult)."""
    return [("", "Keep the current chair")] + chairs[1:]


@bp.post("/appointments/<int:appointment_id>/move")
@role_required(*DESK)
def move(appointment_id: int):
    form = MoveForm(prefix="move")
    form.chair_id.choices = _move_chairs(_chair_choices())
    return _apply(
        appointment_id,
        "move_form",
        form,
        lambda visit: changes.move(
            current_user,
            visit,
            form.day.data,
            form.start.data,
            form.chair_id.data,
            form.scope.data,
        ),
        "Visit moved; confirm the driver for the new time.",
    )


@bp.post("/appointments/<int:appointment_id>/cancel")
@role_required(*DESK)
def cancel(appointment_id: int):
    form = CancelForm(prefix="cancel")
    return _apply(
        appointment_id,
        "cancel_form",
        form,
        lambda visit: changes.cancel(
            current_user, visit, form.reason.data, form.other.data, form.scope.data
        ),
        "Cancelled.",
    )


@bp.post("/appointments/<int:appointment_id>/no-show")
@role_required(*DESK)
def no_show(appointment_id: int):
    form = NoShowForm(prefix="noshow")
    return _apply(
        appointment_id,
        "noshow_form",
        form,
        lambda visit: changes.mark_no_show(current_user, visit, form.reason.data, form.other.data),
        "Marked as a no-show.",
    )


@bp.post("/appointments/<int:appointment_id>/makeup")
@role_required(*DESK)
def makeup(appointment_id: int):
    """Book the offered make-up visit for a missed induction visit (one click)."""
    form = MakeupForm(prefix="makeup")
    return _apply(
        appointment_id,
        "makeup_form",
        form,
        lambda visit: booking.book_makeup(
            current_user, visit, form.day.data, form.start.data, form.chair_id.data
        ),
        "Make-up visit booked.",
        go=lambda made: url_for("scheduling.appointment", appointment_id=made.visits[0].id),
    )


@bp.post("/appointments/<int:appointment_id>/driver")
@role_required(*DESK)
def driver(appointment_id: int):
    """The driver call's result, from the drivers list or the appointment page."""
    form = DriverForm(prefix="driver")
    if form.return_to.data != "drivers":
        return _apply(
            appointment_id,
            "driver_form",
            form,
            lambda visit: changes.set_driver_status(
                current_user,
                visit,
                form.driver_status.data,
                form.driver_name.data,
                form.driver_phone.data,
            ),
            "Driver call recorded.",
            after=_flash_call,
        )
    visit = _appointment(appointment_id)
    scope = page_scope()
    day_of = visit.starts_at.astimezone(queries.visit_zone(visit)).date()
    if not form.validate_on_submit():
        flash("Choose what the call found.", "danger")
        return _drivers_page(day_of, scope, 400)
    try:
        changes.set_driver_status(
            current_user,
            visit,
            form.driver_status.data,
            form.driver_name.data,
            form.driver_phone.data,
        )
    except RuleViolation as error:
        db.session.rollback()
        flash(error.message, "danger")
        return _drivers_page(day_of, scope, 400)
    db.session.commit()
    _flash_call(visit)
    back = url_for("scheduling.drivers", date=day_of.isoformat(), **scope.url_args)
    return redirect(back + f"#a{appointment_id}")
