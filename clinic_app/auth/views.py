"""Sign in and sign out."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from clinic_app import audit
from clinic_app.auth.forms import LoginForm
from clinic_app.auth.services import authenticate
from clinic_app.clinical.codes import Role
from clinic_app.extensions import db, login_manager
from clinic_app.models import User

bp = Blueprint("auth", __name__)

HOME_BY_ROLE = {
    Role.NURSE: "treatments.today",
    Role.PSYCHIATRIST: "treatments.today",
    Role.FRONT_DESK: "patients.index",
    Role.ADMIN: "auth.account",
}


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def home_url() -> str:
    return url_for(HOME_BY_ROLE[Role(current_user.role)])


@bp.get("/")
def index():
    """Each role's start page."""
    return redirect(home_url())


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in; the same message whether the username exists or not."""
    if current_user.is_authenticated:
        return redirect(home_url())
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None:
            session.clear()
            login_user(user)
            db.session.commit()
            target = request.args.get("next", "")
            parts = urlsplit(target)
            if (
                not target.startswith("/")
                or target.startswith("//")
                or parts.netloc
                or parts.scheme
            ):
                target = home_url()
            return redirect(target)
        db.session.commit()
        flash("Username or password is not correct.", "danger")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():
    audit.record(current_user._get_current_object(), "logout")
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/account")
def account():
    """The signed-in user's own account page (the admin's start page until admin screens exist)."""
    return render_template("auth/account.html")
