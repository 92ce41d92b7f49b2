"""Sign in (password, then the second factor where required), sign out, and one's own account."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from clinic_app import audit, site_scope
from clinic_app.auth import mfa, services, sessions
from clinic_app.auth.forms import (
    CodeForm,
    LoginForm,
    PasswordChangeForm,
    PasswordCheckForm,
    SiteChoiceForm,
)
from clinic_app.clinical.codes import Role
from clinic_app.clock import utcnow
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db, limiter, login_manager
from clinic_app.form_flow import submit
from clinic_app.models import User

bp = Blueprint("auth", __name__)

HOME_BY_ROLE = {
    Role.NURSE: "treatments.today",
    Role.PSYCHIATRIST: "review.queue",
    Role.FRONT_DESK: "scheduling.day",
    Role.ADMIN: "admin.users",
}
NEXT_KEY = "next_url"
FAILED = "Username or password is not correct."
# The account page has two password boxes when two-factor is on; the turn-off one is prefixed.
OFF_PREFIX = "off"


def _login_limit() -> str:
    from flask import current_app

    return current_app.config["LOGIN_RATE_LIMIT"]


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user of the request's live server-side session (never from the cookie alone)."""
    row = sessions.current()
    if row is None or str(row.user_id) != user_id or not row.user.active:
        return None
    return row.user


def home_url() -> str:
    return url_for(HOME_BY_ROLE[current_user.role])


def _safe_next(target: str | None) -> str | None:
    parts = urlsplit(target or "")
    if not target or not target.startswith("/") or target.startswith("//") or parts.netloc:
        return None
    return target


def _finish_login(user: User, second_factor: str):
    row = sessions.current(allow_pending=True)
    if row is None:  # the half-finished sign-in expired meanwhile
        abort(401)
    row.mfa_pending = False
    services.complete_login(user, second_factor)
    target = _safe_next(session.pop(NEXT_KEY, None))
    login_user(user)
    db.session.commit()
    return redirect(target or home_url())


def _pending_user() -> User | None:
    row = sessions.current(allow_pending=True)
    return row.user if row is not None and row.mfa_pending else None


@bp.get("/")
def index():
    """Each role's start page."""
    return redirect(home_url())


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """Password step; the same message whether the username exists, is locked or is wrong."""
    if current_user.is_authenticated:
        return redirect(home_url())
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = services.authenticate(form.username.data, form.password.data)
        if user is not None:
            needs_code = user.totp_enabled or services.mfa_required(user)
            next_url = _safe_next(request.args.get("next"))
            sessions.start(user, mfa_pending=needs_code)
            if next_url:
                session[NEXT_KEY] = next_url
            if not needs_code:
                return _finish_login(user, "none")
            if not user.totp_enabled:
                mfa.store_new_secret(user)
                db.session.commit()
                return redirect(url_for("auth.enroll"))
            db.session.commit()
            return redirect(url_for("auth.verify"))
        db.session.commit()
        flash(FAILED, "danger")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def verify():
    """Second step: a TOTP code (single use) or a backup code."""
    user = _pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    if not user.totp_enabled:  # a required enrollment is finished on its own page
        return redirect(url_for("auth.enroll"))
    form = CodeForm()
    if form.validate_on_submit():
        if services.is_locked(user):
            sessions.revoke(sessions.current(allow_pending=True), "locked")
            db.session.commit()
            flash(FAILED, "danger")
            return redirect(url_for("auth.login"))
        if mfa.verify_totp(user, form.code.data):
            return _finish_login(user, "totp")
        if mfa.use_backup_code(user, form.code.data):
            flash("Backup code used; it will not work again.", "warning")
            return _finish_login(user, "backup_code")
        if services.record_failure(user, "bad_code"):
            sessions.revoke(sessions.current(allow_pending=True), "locked")
            db.session.commit()
            flash(FAILED, "danger")
            return redirect(url_for("auth.login"))
        db.session.commit()
        form.code.errors.append("That code is not right.")
    return render_template("auth/code.html", form=form), 400 if form.errors else 200


@bp.route("/login/enroll", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def enroll():
    """Two-factor is required for this role and not set up yet: set it up to finish signing in."""
    user = _pending_user()
    if user is None or user.totp_enabled or not user.totp_pending_secret_encrypted:
        return redirect(url_for("auth.login"))
    return _totp_setup(user, url_for("auth.enroll"), finish_login=True)


def _totp_setup(user: User, action: str, finish_login: bool):
    form = CodeForm()

    def enable() -> list[str]:
        codes = services.enable_totp(user, form.code.data)
        if finish_login:
            row = sessions.current(allow_pending=True)
            if row is None:  # the half-finished sign-in expired meanwhile
                abort(401)
            row.mfa_pending = False
            services.complete_login(user, "totp_enrolled")
            login_user(user)
        return codes

    def page(status: int, _):
        uri, qr = mfa.provisioning_qr(user)
        return render_template(
            "auth/totp_setup.html",
            form=form,
            qr=qr,
            uri=uri,
            secret=mfa.pending_secret_of(user),
            action=action,
            replacing=user.totp_enabled,
        ), status

    return submit(
        form,
        enable,
        page=page,
        done=lambda codes: make_response(render_template("auth/backup_codes.html", codes=codes)),
        attempt_field="code",  # keeps the single-use bookkeeping
    )


@bp.post("/logout")
def logout():
    row = sessions.current()
    if row is not None:
        sessions.revoke(row, "logout")
    audit.record(current_user._get_current_object(), "logout")
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.post("/current-site")
def choose_site():
    """The header's site picker: remember the user's current site, then go back to the page
    (without its `?site=`, so the page opens on the choice just made)."""
    form = SiteChoiceForm()
    back = _without_site(_safe_next(form.next.data) or home_url())
    if not form.validate():
        abort(400)
    try:
        scope = site_scope.choose_site(current_user._get_current_object(), form.site.data)
    except RuleViolation as error:
        flash(str(error), "danger")
        return redirect(back), 303
    db.session.commit()
    flash(f"Showing {scope.label}.", "info")
    return redirect(back), 303


def _without_site(target: str) -> str:
    parts = urlsplit(target)
    query = urlencode([(key, value) for key, value in parse_qsl(parts.query) if key != "site"])
    return urlunsplit(("", "", parts.path, query, ""))


@bp.post("/session/keepalive")
def keepalive():
    """ "Stay signed in": the request itself counts as activity."""
    row = sessions.current()
    row.last_seen_at = utcnow()
    db.session.commit()
    return {"seconds_left": sessions.seconds_left(row)}


@bp.get("/account")
def account():
    """The signed-in user's own account: password and two-factor sign-in."""
    return render_template(
        "auth/account.html",
        required=services.mfa_required(current_user),
        check_form=PasswordCheckForm(),
        off_form=PasswordCheckForm(prefix=OFF_PREFIX),
    )


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    form = PasswordChangeForm()
    forced = current_user.must_change_password
    return submit(
        form,
        lambda: services.change_password(
            current_user, form.current_password.data, form.new_password.data
        ),
        page=lambda status, _: (
            render_template("auth/password.html", form=form, forced=forced),
            status,
        ),
        done=lambda _: home_url() if forced else url_for("auth.account"),
        success="Password changed. Other signed-in browsers were signed out.",
        attempt_field="current_password",  # keeps the failure count and its audit row
    )


def _reentered(form: PasswordCheckForm, action: str):
    """Check the password typed on an account page (counted and audited like every re-entry);
    None when right, else the redirect back with the reason (once the failures lock the account
    the session is over, and that page sends the browser on to sign in)."""
    if not form.validate_on_submit():
        flash("Enter your password.", "danger")
        return redirect(url_for("auth.account"))
    try:
        services.reauthenticate(current_user, form.password.data, action, current_user)
    except RuleViolation as error:
        db.session.commit()  # keeps the failure count and its audit row
        flash(error.message, "danger")
        return redirect(url_for("auth.account"))
    return None


@bp.post("/account/two-factor/start")
def start_totp():
    """Re-authenticate, then show a new seed to scan; the current one works until it is replaced."""
    refused = _reentered(PasswordCheckForm(), "user.mfa_start")
    if refused:
        return refused
    mfa.store_new_secret(current_user)
    db.session.commit()
    return redirect(url_for("auth.setup_totp"))


@bp.route("/account/two-factor", methods=["GET", "POST"])
def setup_totp():
    if not current_user.totp_pending_secret_encrypted:
        return redirect(url_for("auth.account"))
    return _totp_setup(current_user, url_for("auth.setup_totp"), finish_login=False)


@bp.post("/account/two-factor/disable")
def disable_totp():
    if services.mfa_required(current_user):
        flash("Two-factor sign-in is required for your role.", "danger")
        return redirect(url_for("auth.account"))
    refused = _reentered(PasswordCheckForm(prefix=OFF_PREFIX), "user.mfa_disable")
    if refused:
        return refused
    services.disable_totp(current_user, current_user)
    db.session.commit()
    flash("Two-factor sign-in is off.", "info")
    return redirect(url_for("auth.account"))
