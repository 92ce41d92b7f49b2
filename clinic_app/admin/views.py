"""Admin screens (README, "Where each role starts": users and the audit log): accounts, the
two-factor policy, live sign-in sessions, the audit trail with its CSV export, and a chart's access
report.

Patient identifiers never go into URLs: a typed MRN is posted and resolved to the patient id,
and the audit screen's query string carries only ids, ISO dates and an action code."""

import csv
import io
import json
from collections.abc import Callable, Iterator

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from clinic_app import audit
from clinic_app.admin import queries, services
from clinic_app.admin import sites as site_rules
from clinic_app.admin.forms import (
    AccessLookupForm,
    ActionForm,
    AuditFilterForm,
    AuditSearchForm,
    MfaPolicyForm,
    PasswordResetForm,
    SiteForm,
    UserCreateForm,
    UserSitesForm,
)
from clinic_app.auth import sessions
from clinic_app.auth.permissions import role_required
from clinic_app.auth.services import is_locked, mfa_required_roles
from clinic_app.clinical.codes import Role
from clinic_app.clinical.us_zones import US_ZONES
from clinic_app.clock import utcnow
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.form_flow import show_refusal, submit
from clinic_app.forms import choices
from clinic_app.ids import id_arg
from clinic_app.models import ClinicSetting, Patient, Site, User, UserSession
from clinic_app.settings import clinic_timezone
from clinic_app.spreadsheet import safe_cell

bp = Blueprint("admin", __name__, url_prefix="/admin")

CSV_HEADER = (
    "time",
    "username",
    "role",
    "action",
    "entity_type",
    "entity_id",
    "patient_mrn",
    "outcome",
    "request_id",
    "detail",
)


def _actor() -> User:
    return current_user._get_current_object()


def _load_user(user_id: int) -> User:
    return db.get_or_404(User, user_id)


# --- users ---------------------------------------------------------------------------------


@bp.get("/users")
@role_required(Role.ADMIN)
def users():
    """Every account with its state: active, two-factor, last sign-in, lockout."""
    return render_template(
        "admin/users.html",
        users=queries.all_users(),
        mfa_roles=mfa_required_roles(),
        is_locked=is_locked,
    )


def _with_site_choices(form, sites: list[Site]):
    """`form` with its sites field offering the open `sites`."""
    form.sites.choices = choices((site.id, site.label) for site in sites)
    return form


@bp.route("/users/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_user():
    open_sites = site_rules.active_sites()
    form = _with_site_choices(UserCreateForm(), open_sites)
    if request.method == "GET" and len(open_sites) == 1:
        form.sites.data = [open_sites[0].id]
    return submit(
        form,
        lambda: services.create_user(
            _actor(),
            form.username.data,
            form.full_name.data,
            form.role.data,
            form.password.data,
            form.credentials.data or "",
            form.sites.data or [],
        ),
        page=lambda status, _: (
            render_template("admin/user_form.html", form=form, no_sites=not open_sites),
            status,
        ),
        done=lambda user: url_for("admin.user_detail", user_id=user.id),
        success=lambda user: f"Account {user.username} created. Give them the password privately.",
    )


@bp.get("/users/<int:user_id>")
@role_required(Role.ADMIN)
def user_detail(user_id: int):
    return _render_user(_load_user(user_id))


def _render_user(
    user: User,
    status: int = 200,
    password_form: PasswordResetForm | None = None,
    sites_form: UserSitesForm | None = None,
):
    if sites_form is None:
        sites_form = UserSitesForm(formdata=None, sites=[site.id for site in user.sites])
    return render_template(
        "admin/user.html",
        user=user,
        user_sessions=queries.live_sessions(user.id),
        current_session=sessions.current(),
        password_form=password_form or PasswordResetForm(formdata=None),
        sites_form=_with_site_choices(sites_form, site_rules.active_sites()),
        action_form=ActionForm(formdata=None),
        locked=is_locked(user),
        mfa_required=user.role in mfa_required_roles(),
    ), status


@bp.post("/users/<int:user_id>/password")
@role_required(Role.ADMIN)
def reset_password(user_id: int):
    """Set a new password for someone who forgot theirs; their browsers are signed out."""
    user = _load_user(user_id)
    form = PasswordResetForm()
    return submit(
        form,
        lambda: services.reset_password(_actor(), user, form.new_password.data),
        page=lambda status, _: _render_user(user, status, password_form=form),
        done=lambda _: url_for("admin.user_detail", user_id=user.id),
        success=lambda ended: f"New password set for {user.username}; {_ended(ended)}.",
    )


@bp.post("/users/<int:user_id>/sites")
@role_required(Role.ADMIN)
def user_sites(user_id: int):
    """Which open sites someone works at (at least one)."""
    user = _load_user(user_id)
    form = _with_site_choices(UserSitesForm(), site_rules.active_sites())
    return submit(
        form,
        lambda: site_rules.set_user_sites(_actor(), user, form.sites.data or []),
        page=lambda status, _: _render_user(user, status, sites_form=form),
        done=lambda _: url_for("admin.user_detail", user_id=user.id),
        success=lambda changed: (
            f"Sites of {user.username} saved." if changed else "Nothing changed."
        ),
    )


@bp.post("/users/<int:user_id>/two-factor/reset")
@role_required(Role.ADMIN)
def reset_two_factor(user_id: int):
    return _user_action(
        user_id,
        lambda user: services.reset_two_factor(_actor(), user),
        lambda user, ended: f"Two-factor sign-in reset for {user.username}; {_ended(ended)}.",
    )


@bp.post("/users/<int:user_id>/unlock")
@role_required(Role.ADMIN)
def unlock_user(user_id: int):
    return _user_action(
        user_id,
        lambda user: services.unlock_user(_actor(), user),
        lambda user, _: f"{user.username} can try signing in again.",
    )


@bp.post("/users/<int:user_id>/deactivate")
@role_required(Role.ADMIN)
def deactivate_user(user_id: int):
    return _user_action(
        user_id,
        lambda user: services.deactivate_user(_actor(), user),
        lambda user, ended: f"{user.username} is deactivated; {_ended(ended)}.",
    )


@bp.post("/users/<int:user_id>/reactivate")
@role_required(Role.ADMIN)
def reactivate_user(user_id: int):
    return _user_action(
        user_id,
        lambda user: services.reactivate_user(_actor(), user),
        lambda user, _: f"{user.username} can sign in again.",
    )


def _user_action(user_id: int, action: Callable, message: Callable):
    """Run a one-button account change; a refusal re-renders the user's page with a 400."""
    user = _load_user(user_id)
    return submit(
        ActionForm(),
        lambda: action(user),
        page=lambda status, refusal: abort(400) if refusal is None else _render_user(user, status),
        done=lambda _: url_for("admin.user_detail", user_id=user.id),
        success=lambda result: message(user, result),
    )


def _ended(count: int) -> str:
    return f"{count} signed-in browser{'s' if count != 1 else ''} signed out"


# --- sites ---------------------------------------------------------------------------------


def _load_site(site_id: int) -> Site:
    return db.get_or_404(Site, site_id)


def _site_data(form: SiteForm) -> dict:
    return {name: field.data for name, field in form._fields.items() if name != "csrf_token"}


def _render_sites(status: int = 200):
    all_sites = site_rules.all_sites()
    return render_template(
        "admin/sites.html",
        sites=all_sites,
        counts=queries.site_counts(),
        booked=site_rules.booked_ahead(site.id for site in all_sites),
        action_form=ActionForm(formdata=None),
    ), status


@bp.get("/sites")
@role_required(Role.ADMIN)
def sites():
    """Every site with its chairs, staff and the visits booked ahead."""
    return _render_sites()


@bp.route("/sites/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_site():
    form = SiteForm()
    if request.method == "GET" and clinic_timezone().key in US_ZONES:
        form.timezone.data = clinic_timezone().key
    return submit(
        form,
        lambda: site_rules.create_site(_actor(), _site_data(form)),
        page=lambda status, _: (render_template("admin/site_form.html", form=form), status),
        done=lambda _: url_for("admin.sites"),
        success=lambda site: (
            f"{site.label} added. Add staff to it from their user pages; "
            "the psychiatrist adds its chairs."
        ),
    )


@bp.route("/sites/<int:site_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_site(site_id: int):
    site = _load_site(site_id)
    form = SiteForm(obj=site)
    form.keep_zone(site.timezone)

    def saved(changed: list[str]) -> str:
        flash(
            f"{site.label} saved." if changed else "Nothing changed.",
            "success" if changed else "info",
        )
        return url_for("admin.sites")

    return submit(
        form,
        lambda: site_rules.update_site(_actor(), site, _site_data(form)),
        page=lambda status, _: (
            render_template("admin/site_form.html", form=form, site=site),
            status,
        ),
        done=saved,
    )


@bp.post("/sites/<int:site_id>/deactivate")
@role_required(Role.ADMIN)
def deactivate_site(site_id: int):
    return _site_action(
        site_id,
        lambda site: site_rules.deactivate_site(_actor(), site),
        lambda site, chairs: (
            f"{site.label} is closed; "
            f"{chairs} chair{'s' if chairs != 1 else ''} left service with it."
        ),
    )


@bp.post("/sites/<int:site_id>/reactivate")
@role_required(Role.ADMIN)
def reactivate_site(site_id: int):
    return _site_action(
        site_id,
        lambda site: site_rules.reactivate_site(_actor(), site),
        lambda site, _: (
            f"{site.label} is open again; the psychiatrist puts its chairs back in service."
        ),
    )


def _site_action(site_id: int, action: Callable, message: Callable):
    """A one-button site change; a refusal shows the sites page again with a 400."""
    site = _load_site(site_id)
    return submit(
        ActionForm(),
        lambda: action(site),
        page=lambda status, refusal: abort(400) if refusal is None else _render_sites(status),
        done=lambda _: url_for("admin.sites"),
        success=lambda result: message(site, result),
    )


# --- two-factor policy ---------------------------------------------------------------------


@bp.route("/two-factor", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def mfa_policy():
    """Which roles must use two-factor sign-in."""
    # The posted form as is: with every box unticked (and no CSRF field) it is empty, and an
    # empty post would otherwise fall back to the current roles.
    form = (
        MfaPolicyForm(formdata=request.form)
        if request.method == "POST"
        else MfaPolicyForm(roles=sorted(mfa_required_roles()))
    )

    def page(status: int, _):
        setting = db.session.get(ClinicSetting, services.MFA_SETTING)
        updated_by = db.session.get(User, setting.updated_by_id) if setting else None
        return render_template(
            "admin/mfa_policy.html",
            form=form,
            setting=setting,
            updated_by=updated_by,
            without_totp=queries.users_without_totp(),
        ), status

    return submit(
        form,
        lambda: services.set_mfa_required_roles(_actor(), form.roles.data or []),
        page=page,
        done=lambda _: url_for("admin.mfa_policy"),
        success="Two-factor policy saved.",
    )


# --- sessions ------------------------------------------------------------------------------


@bp.get("/sessions")
@role_required(Role.ADMIN)
def sign_in_sessions():
    """Browsers signed in right now."""
    return render_template(
        "admin/sessions.html",
        user_sessions=queries.live_sessions(),
        current_session=sessions.current(),
        action_form=ActionForm(formdata=None),
    )


@bp.post("/sessions/<int:session_id>/end")
@role_required(Role.ADMIN)
def end_session(session_id: int):
    """Sign one browser out; its cookie is refused from its next request on."""
    row = db.get_or_404(UserSession, session_id)
    back = request.form.get("back", type=int)
    target = (
        url_for("admin.user_detail", user_id=back) if back else url_for("admin.sign_in_sessions")
    )

    def page(status: int, refusal):
        if refusal is None:
            abort(400)
        return render_template(
            "admin/sessions.html",
            user_sessions=queries.live_sessions(),
            current_session=sessions.current(),
            action_form=ActionForm(formdata=None),
        ), status

    return submit(
        ActionForm(),
        lambda: services.end_session(_actor(), row, sessions.current()),
        page=page,
        done=lambda _: target,
        success=lambda _: f"Session of {row.user.username} ended.",
    )


# --- audit trail ---------------------------------------------------------------------------


def _search_form(**data) -> AuditSearchForm:
    """The search form: the posted input, or on a GET the current filter (`data`)."""
    form = AuditSearchForm(**data)
    form.user_id.choices = choices(
        [(0, "Anyone")] + [(u.id, f"{u.username} ({u.full_name})") for u in queries.all_users()]
    )
    return form


def _filter_from_args() -> tuple[queries.AuditFilter, int | None]:
    """The filter in the query string; anything malformed is a 400 (only tampering makes it)."""
    form = AuditFilterForm(formdata=request.args)
    if not form.validate():
        abort(400)
    where = queries.AuditFilter(
        user_id=form.user_id.data,
        patient_id=form.patient_id.data,
        start=form.start.data,
        end=form.end.data,
        action=form.action.data or "",
    )
    return where, form.before_id.data


def _filter_detail(where: queries.AuditFilter) -> dict:
    """The filter for the audit row's detail (left out when there is none)."""
    detail = where.detail()
    return {"filter": detail} if detail else {}


def _filter_patient(where: queries.AuditFilter) -> Patient | None:
    return db.get_or_404(Patient, where.patient_id) if where.patient_id is not None else None


@bp.route("/audit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def audit_trail():
    """Search the trail. The search form posts (the MRN stays out of the URL) and redirects to
    a GET whose query string holds only ids, dates and an action code; "Older" pages by id."""
    if request.method == "POST":
        form = _search_form()
        if form.validate_on_submit():
            try:
                patient = (
                    services.patient_by_mrn(_actor(), form.mrn.data) if form.mrn.data else None
                )
            except RuleViolation as error:
                show_refusal(form, error)
            else:
                where = queries.AuditFilter(
                    user_id=form.user_id.data or None,
                    patient_id=patient.id if patient else None,
                    start=form.start.data,
                    end=form.end.data,
                    action=form.action.data or "",
                )
                return redirect(url_for("admin.audit_trail", **where.params()))
        return _render_audit(form, None, None, None, None, 400)

    where, before_id = _filter_from_args()
    patient = _filter_patient(where)
    rows, older = queries.audit_page(where, before_id)
    detail = _filter_detail(where)
    if before_id is not None:
        detail["before_id"] = before_id
    audit.record(_actor(), "audit.view", patient_id=where.patient_id, **detail)
    db.session.commit()
    form = _search_form(
        user_id=where.user_id or 0,
        mrn=patient.mrn if patient else "",
        start=where.start,
        end=where.end,
        action=where.action,
    )
    return _render_audit(form, where, patient, rows, older)


def _render_audit(form, where, patient, rows, older, status: int = 200):
    return render_template(
        "admin/audit.html",
        form=form,
        where=where,
        patient=patient,
        rows=rows,
        older=older,
        page_size=queries.PAGE_SIZE,
        access_form=AccessLookupForm(formdata=None),
    ), status


@bp.get("/audit/export")
@role_required(Role.ADMIN)
def audit_export():
    """The filtered trail as CSV, all pages, streamed."""
    where, _ = _filter_from_args()
    _filter_patient(where)
    audit.record(_actor(), "audit.export", patient_id=where.patient_id, **_filter_detail(where))
    db.session.commit()
    zone = clinic_timezone()

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)

        def flush() -> str:
            text = buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            return text

        writer.writerow(CSV_HEADER)
        yield flush()
        for n, row in enumerate(queries.audit_rows(where), 1):
            event = row.event
            writer.writerow(
                safe_cell(value)
                for value in (
                    event.occurred_at.astimezone(zone).isoformat(timespec="seconds"),
                    row.username or "",
                    event.role,
                    event.action,
                    event.entity_type,
                    "" if event.entity_id is None else event.entity_id,
                    row.mrn or "",
                    event.outcome,
                    event.request_id,
                    json.dumps(event.detail, sort_keys=True, default=str) if event.detail else "",
                )
            )
            if n % 200 == 0:
                yield flush()
        yield flush()

    stamp = utcnow().astimezone(zone).strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )


@bp.route("/access", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def access_lookup():
    """Find a chart's access report by MRN (posted, so the MRN stays out of URLs)."""
    form = AccessLookupForm()
    return submit(
        form,
        lambda: services.patient_by_mrn(_actor(), form.mrn.data),
        page=lambda status, _: (render_template("admin/access_lookup.html", form=form), status),
        done=lambda patient: url_for("admin.patient_access", patient_id=patient.id),
    )


@bp.get("/patients/<int:patient_id>/access")
@role_required(Role.ADMIN)
def patient_access(patient_id: int):
    """Who looked at or changed this chart, and when: a summary per person, then every row."""
    patient = db.get_or_404(Patient, patient_id)
    before_id = id_arg("before_id")
    where = queries.AuditFilter(patient_id=patient.id)
    summary = queries.patient_access_summary(patient.id)
    rows, older = queries.audit_page(where, before_id)
    audit.record(_actor(), "audit.patient_access", patient, patient_id=patient.id)
    db.session.commit()
    return render_template(
        "admin/patient_access.html",
        patient=patient,
        summary=summary,
        rows=rows,
        older=older,
        before_id=before_id,
    )
