"""The clinic calendar: day and week views by chair, series planning and booking, moves,
cancellations, no-shows, make-up visits, driver calls, the maintenance worklist and the patient's
handout (.ics too).

Only the front desk books, moves, cancels, marks no-shows and confirms drivers; nurses and the
psychiatrist view (nurses check patients in from the Today board). URLs carry numeric ids and
dates only.
"""

from datetime import date, time, timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from clinic_app.auth.permissions import role_required
from clinic_app.clinical.codes import AppointmentStatus, Role, VisitKind
from clinic_app.clock import utcnow
from clinic_app.dates import format_local
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair, Patient
from clinic_app.patients.services import search_patients
from clinic_app.scheduling import ics, queries, services
from clinic_app.scheduling.forms import (
    BookForm,
    CancelForm,
    DriverForm,
    JumpForm,
    MakeupForm,
    MoveForm,
    NoShowForm,
    PlanForm,
)
from clinic_app.settings import clinic_timezone, clinic_today, clinical_rules, scheduling_rules

bp = Blueprint("scheduling", __name__, url_prefix="/schedule")

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
    chairs = db.session.scalars(select(Chair).where(Chair.active).order_by(Chair.id))
    return [("", "Choose a chair")] + [(c.id, c.name) for c in chairs]


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
    """One clinic day: a column per chair, a row per calendar slot."""
    rules = scheduling_rules()
    current = _date_arg(clinic_today())
    view = queries.day_view(current, rules)
    return render_template(
        "scheduling/day.html",
        view=view,
        day=current,
        label=services.day_label(current),
        prev=current - timedelta(days=1),
        next=current + timedelta(days=1),
        jump=JumpForm(data={"date": current}),
        today=clinic_today(),
        rules=rules,
    )


@bp.get("/week")
@role_required(*VIEW)
def week():
    """Monday to Sunday: a row per clinic day, a column per chair."""
    rules = scheduling_rules()
    current = _date_arg(clinic_today())
    view = queries.week_view(current, rules)
    return render_template(
        "scheduling/week.html",
        view=view,
        day=current,
        prev=view.monday - timedelta(days=7),
        next=view.monday + timedelta(days=7),
        sunday=view.monday + timedelta(days=6),
        jump=JumpForm(data={"date": current}),
        today=clinic_today(),
        label=services.day_label,
    )


# --- drivers and maintenance worklists -----------------------------------------------------------


def _drivers_page(current: date, status: int = 200):
    rules = scheduling_rules()
    rows = queries.driver_calls(current)
    return render_template(
        "scheduling/drivers.html",
        rows=rows,
        day=current,
        label=services.day_label(current),
        prev=current - timedelta(days=1),
        next=current + timedelta(days=1),
        open=rules.is_open(current),
        closed=queries.closed_reason(current, rules),
        jump=JumpForm(data={"date": current}),
    ), status


@bp.get("/drivers")
@role_required(*VIEW)
def drivers():
    """Driver calls for the next clinic day (or ?date=): confirm, could not reach, no driver."""
    rules = scheduling_rules()
    return _drivers_page(_date_arg(queries.next_clinic_day(clinic_today(), rules)))


@bp.get("/maintenance")
@role_required(*VIEW)
def maintenance():
    """Patients whose next maintenance visit is due within the look-ahead and not booked, and
    overdue ones."""
    rules = scheduling_rules()
    today = clinic_today()
    return render_template(
        "scheduling/maintenance.html",
        rows=queries.maintenance_worklist(today, rules),
        horizon=rules.maintenance_due_horizon_days,
        today=today,
    )


# --- patients ------------------------------------------------------------------------------------


@bp.route("/patients", methods=["GET", "POST"])
@role_required(*VIEW)
def find_patient():
    """Find a patient's schedule; the search text comes by POST so names stay out of URLs."""
    text = request.form.get("q", "") if request.method == "POST" else ""
    patients = search_patients(text) if text.strip() else []
    return render_template("scheduling/find.html", patients=patients, q=text)


@bp.get("/patients/<int:patient_id>")
@role_required(*VIEW)
def patient(patient_id: int):
    """One patient's visits: upcoming, past, cancellations, late cancellations, no-shows."""
    person = _patient(patient_id)
    schedule = queries.patient_schedule(person.id)
    courses = queries.active_courses(person.id)
    services.record_view(current_user, "schedule.view", person, person.id)
    db.session.commit()
    return render_template(
        "scheduling/patient.html", patient=person, schedule=schedule, courses=courses
    )


def _plan_form(patient: Patient, courses, course=None, kind=None) -> PlanForm:
    rules = scheduling_rules()
    course = course or courses[0]
    kind = VisitKind(kind) if kind else services.default_kind(course, rules)
    form = PlanForm(
        formdata=None,
        course_id=course.id,
        visit_kind=kind.value,
        first_date=services.default_first_date(course, kind, rules),
        preferred_time=patient.preferred_time or time(9, 0),
        preferred_weekdays=list(patient.preferred_weekdays or []),
        count=4,
    )
    _course_choices(form, courses)
    return form


def _course_choices(form: PlanForm, courses) -> None:
    form.course_id.choices = [
        (c.id, f"{c.modality_label} · {c.phase} · since {format_local(c.started_on, 'date')}")
        for c in courses
    ]


def _plan_page(patient, courses, plan_form, book_form=None, notes=None, warnings=(), status=200):
    first_number = 1
    if book_form is not None:
        course = next((c for c in courses if c.id == book_form.course_id.data), None)
        kind = book_form.visit_kind.data
        if course is not None and kind in (VisitKind.INDUCTION, VisitKind.MAINTENANCE):
            first_number += services.continued_series(course, VisitKind(kind))[1]
    return render_template(
        "scheduling/plan.html",
        patient=patient,
        courses=courses,
        form=plan_form,
        book=book_form,
        notes=notes or {},
        warnings=warnings,
        rules=scheduling_rules(),
        day_label=services.day_label,
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
    _course_choices(form, courses)
    if not form.validate_on_submit():
        return _plan_page(person, courses, form, status=400)
    course = next(c for c in courses if c.id == form.course_id.data)
    try:
        proposal = services.propose(
            current_user,
            person,
            course,
            form.visit_kind.data,
            form.first_date.data,
            form.preferred_time.data,
            form.preferred_weekdays.data or [],
            form.count.data,
        )
    except RuleViolation as error:
        db.session.rollback()
        _field_or_flash(form, error)
        return _plan_page(person, courses, form, status=400)
    book = BookForm(
        formdata=None,
        prefix="book",
        data={
            "course_id": course.id,
            "visit_kind": proposal.kind.value,
            "driver_name": person.driver_name,
            "driver_phone": person.driver_phone,
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
    book.set_chairs(_chair_choices())
    notes = {i: row for i, row in enumerate(proposal.rows)}
    return _plan_page(person, courses, form, book, notes, proposal.warnings)


def _field_or_flash(form, error: RuleViolation) -> None:
    if error.field and error.field in form:
        form[error.field].errors = list(form[error.field].errors) + [error.message]
    else:
        flash(error.message, "danger")


def _requests(book: BookForm) -> list[services.VisitRequest]:
    return [
        services.VisitRequest(row.form.day.data, row.form.start.data, row.form.chair_id.data)
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
    plan_form = _plan_form(person, courses, course, form.visit_kind.data) if courses else None
    if course is None:
        flash("Choose one of the patient's active courses and plan again.", "danger")
        return _plan_page(person, courses, plan_form, status=400)
    if not form.validate_on_submit():
        return _plan_page(person, courses, plan_form, form, status=400)
    requests = _requests(form)
    if request.form.get("action") == "check":
        minutes = services.block_minutes(course, scheduling_rules())
        check = services.check_visits(person.id, requests, [minutes] * len(requests))
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
        booked = services.book_series(
            current_user,
            person,
            course,
            form.visit_kind.data,
            requests,
            form.driver_name.data or "",
            form.driver_phone.data or "",
        )
    except services.Conflict as error:
        db.session.rollback()
        flash(error.message, "danger")
        _attach(form, error.problems, form.visits)
        return _plan_page(person, courses, plan_form, form, status=409)
    except RuleViolation as error:
        db.session.rollback()
        flash(error.message, "danger")
        return _plan_page(person, courses, plan_form, form, status=400)
    db.session.commit()
    flash(f"Booked {len(booked)} visit{'s' if len(booked) != 1 else ''}.", "success")
    return redirect(url_for("scheduling.patient", patient_id=person.id))


# --- handout and calendar file -------------------------------------------------------------------


@bp.get("/patients/<int:patient_id>/handout")
@role_required(*VIEW)
def handout(patient_id: int):
    """A printable list of upcoming visits with fasting and no-driving instructions."""
    person = _patient(patient_id)
    visits = queries.upcoming_visits(person.id)
    rules = clinical_rules()
    guides = []
    for modality in dict.fromkeys(v.course.modality for v in visits if v.course):
        guide = ics.instructions(modality, rules)
        if guide is not None:
            guides.append(guide)
    services.record_view(current_user, "schedule.handout", person, person.id)
    db.session.commit()
    return render_template(
        "scheduling/handout.html",
        patient=person,
        visits=queries.cards(visits),
        guides=guides,
        zone=clinic_timezone().key,
    )


@bp.route("/patients/<int:patient_id>/visits.ics", methods=["GET", "POST"])
@role_required(*VIEW)
def calendar_file(patient_id: int):
    """The upcoming visits as an iCalendar file (only the numeric patient id in the URL)."""
    person = _patient(patient_id)
    visits = queries.upcoming_visits(person.id)
    body = ics.build_calendar(visits, clinical_rules(), request.host.split(":")[0] or "clinic")
    services.record_view(current_user, "schedule.ics", person, person.id)
    db.session.commit()
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="clinic-visits.ics"'},
    )


# --- one appointment -----------------------------------------------------------------------------


def _appointment_page(appointment: Appointment, status: int = 200, **forms):
    rules = scheduling_rules()
    local = appointment.starts_at.astimezone(clinic_timezone())
    chairs = _chair_choices()
    move_form = forms.get("move_form") or MoveForm(
        formdata=None,
        prefix="move",
        day=local.date(),
        start=local.time().replace(second=0, microsecond=0),
        chair_id=appointment.chair_id,
    )
    move_form.chair_id.choices = _move_chairs(chairs)
    defaults = {
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
    makeup_form = forms.pop("makeup_form", None)
    defaults.update(forms)
    offer = None
    if _is_desk():
        offer = queries.makeup_offer(appointment, rules)
        if offer is not None and offer.slot is not None and makeup_form is None:
            makeup_form = MakeupForm(
                formdata=None,
                prefix="makeup",
                day=offer.slot.start.date(),
                start=offer.slot.start.time(),
                chair_id=offer.slot.chair_id,
            )
    series = queries.series_cards(appointment.series_id) if appointment.series_id else []
    card = queries.cards([appointment])[0]
    changeable = appointment.status in services.CHANGEABLE
    return render_template(
        "scheduling/appointment.html",
        a=appointment,
        card=card,
        series=series,
        changeable=changeable,
        started=appointment.starts_at <= utcnow(),
        is_today=local.date() == clinic_today(),
        has_following=bool(services.following(appointment)) if changeable else False,
        offer=offer,
        makeup_form=makeup_form,
        chair_names={c[0]: c[1] for c in chairs if c[0] != ""},
        driver_open=appointment.status
        in services.CHANGEABLE + (AppointmentStatus.CHECKED_IN.value,),
        **defaults,
    ), status


@bp.get("/appointments/<int:appointment_id>")
@role_required(*VIEW)
def appointment(appointment_id: int):
    """One visit: when, where, driver, series; the front desk's actions on it."""
    visit = _appointment(appointment_id)
    services.record_view(current_user, "schedule.view", visit, visit.patient_id)
    db.session.commit()
    return _appointment_page(visit)


def _apply(appointment_id: int, form_name: str, form, action, success: str, go=None):
    """Validate, run the service, commit and redirect; otherwise re-render the appointment page
    with the input kept: 400 for bad input, 409 when the calendar refuses."""
    visit = _appointment(appointment_id)
    if not form.validate_on_submit():
        return _appointment_page(visit, 400, **{form_name: form})
    try:
        result = action(visit)
    except services.Conflict as error:
        db.session.rollback()
        flash(error.message, "danger")
        _attach(form, {k: v for k, v in error.problems.items() if k == 0})
        return _appointment_page(_appointment(appointment_id), 409, **{form_name: form})
    except RuleViolation as error:
        db.session.rollback()
        _field_or_flash(form, error)
        return _appointment_page(_appointment(appointment_id), 400, **{form_name: form})
    db.session.commit()
    flash(success, "success")
    return redirect(
        go(result) if go else url_for("scheduling.appointment", appointment_id=appointment_id)
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
        lambda visit: services.move(
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
        lambda visit: services.cancel(
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
        lambda visit: services.mark_no_show(current_user, visit, form.reason.data, form.other.data),
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
        lambda visit: services.book_makeup(
            current_user, visit, form.day.data, form.start.data, form.chair_id.data
        ),
        "Make-up visit booked.",
        go=lambda made: url_for("scheduling.appointment", appointment_id=made.id),
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
            lambda visit: services.set_driver_status(
                current_user,
                visit,
                form.driver_status.data,
                form.driver_name.data,
                form.driver_phone.data,
            ),
            "Driver call recorded.",
        )
    visit = _appointment(appointment_id)
    day_of = visit.starts_at.astimezone(clinic_timezone()).date()
    if not form.validate_on_submit():
        flash("Choose what the call found.", "danger")
        return _drivers_page(day_of, 400)
    try:
        services.set_driver_status(
            current_user,
            visit,
            form.driver_status.data,
            form.driver_name.data,
            form.driver_phone.data,
        )
    except RuleViolation as error:
        db.session.rollback()
        flash(error.message, "danger")
        return _drivers_page(day_of, 400)
    db.session.commit()
    return redirect(url_for("scheduling.drivers", date=day_of.isoformat()) + f"#a{appointment_id}")
