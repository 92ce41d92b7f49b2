"""Response headers, request ids and the per-request login gate."""

import secrets

from flask import Flask, flash, g, redirect, request, url_for
from flask_login import current_user

from clinic_app.extensions import db, login_manager

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def request_id() -> str:
    """This request's id for logs, audit rows and error pages; made on first use, so requests
    refused before any hook ran (CSRF) carry one too."""
    if "request_id" not in g:
        g.request_id = secrets.token_hex(8)
    return g.request_id


PUBLIC_ENDPOINTS = {"static", "health.healthz", "auth.login", "auth.verify", "auth.enroll"}
# All a user whose password an admin set may open until they choose their own.
PASSWORD_CHANGE_ENDPOINTS = {"auth.change_password", "auth.logout", "auth.keepalive"}


def register(app: Flask) -> None:
    """Attach the deny-by-default login gate and the security headers."""

    @app.before_request
    def require_login():
        """Deny by default: every endpoint but the public ones needs a live signed-in session."""
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return None
        signed_in = current_user.is_authenticated  # loads and touches the server-side session
        if g.pop("session_changed", False):
            db.session.commit()  # the touch or the expiry, before the view's own work
        if not signed_in:
            return login_manager.unauthorized()
        if current_user.must_change_password and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
            flash("An administrator set your password: choose your own to go on.", "warning")
            return redirect(url_for("auth.change_password"))
        return None

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers["Content-Security-Policy"] = CSP
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["X-Request-Id"] = request_id()
        if request.endpoint != "static":
            headers["Cache-Control"] = "no-store"
        if app.config.get("HSTS"):
            headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        return response
