"""Attacks in real Chromium against the live app (CSRF on): stored XSS and SQL quoting in
patient fields, forged cross-site posts, a replayed cookie after sign-out and password guessing.
The sign-in and two-factor pages are checked with axe as well."""

import html
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import func, inspect, select

from clinic_app import clock
from clinic_app.auth import mfa
from clinic_app.extensions import db
from clinic_app.models import ClinicSetting, Patient, User
from tests import factories
from tests.e2e.browser import assert_accessible, sign_in
from tests.helpers import PASSWORD

SCRIPT = "<script>window.__xss=1</script>"
IMG = "\"'><img src=x onerror=window.__xss=1>"
SQL = "O'Brien'); DROP TABLE patients;--"
FAILED = "Username or password is not correct."


def _staff(app, *roles: str) -> None:
    with app.app_context():
        factories.site()  # first, so the staff work at it
        for role in roles:
            if factories.user(role) is None:
                factories.make_user(role, password=PASSWORD)
        db.session.commit()


def _patients(app, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Patient).where(*where))


def _csp_reports(page) -> list[str]:
    """Console messages of this page; a CSP refusal there means markup got injected."""
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    return messages


def _assert_inert(page) -> None:
    assert page.evaluate("window.__xss") is None
    expect(page.locator("img[src='x']")).to_have_count(0)
    inline = page.evaluate(
        "[...document.scripts].filter(s => !s.src).map(s => s.textContent).join('|')"
    )
    assert inline == ""


def test_stored_xss_and_sql_quotes_are_shown_as_text(live_app, page):
    app, base = live_app
    _staff(app, "front_desk", "nurse")
    console = _csp_reports(page)
    sign_in(page, base, "front_desk")
    assert not page.url.startswith(base + "/login")
    page.goto(base + "/patients/")
    page.get_by_role("link", name="Register patient").click()
    page.get_by_label("First name").fill(SCRIPT)
    page.get_by_label("Last name").fill(IMG)
    page.get_by_label("MRN").fill("XSS-1")
    page.get_by_label("Date of birth").fill("1980-05-17")
    page.get_by_label("Phone", exact=True).fill("555-0100")
    page.get_by_label("Default driver / escort").fill(SCRIPT)
    page.get_by_label("Relationship").fill(SQL)
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert "Patient registered." in page.content()
    _assert_inert(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"{SCRIPT} {IMG}", use_inner_text=True
    )
    text = page.locator("main").inner_text()
    assert f"{SCRIPT} ({SQL})" in text  # driver and relationship, literally

    page.goto(base + "/patients/")
    _assert_inert(page)
    row = page.locator("tbody tr").filter(has_text="XSS-1")
    expect(row.locator("a")).to_have_text(f"{IMG}, {SCRIPT}", use_inner_text=True)

    # The search box takes the quote too (a posted, parameterised query).
    page.get_by_label("Search by name or MRN").fill(SQL[:9])
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    _assert_inert(page)
    page.get_by_label("Search by name or MRN").fill("'; DROP TABLE patients;--")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert "No patients match." in page.content()

    # The edit form puts the payloads back into value attributes, still inert.
    page.goto(base + "/patients/")
    page.locator("tbody a").first.click()
    page.get_by_role("link", name="Edit record").click()
    page.wait_for_load_state()
    _assert_inert(page)
    expect(page.get_by_label("First name")).to_have_value(SCRIPT)
    expect(page.get_by_label("Last name")).to_have_value(IMG)

    # A nurse records the clinical screen with the payloads as allergies.
    page.context.clear_cookies()
    sign_in(page, base, "nurse")
    page.goto(base + "/patients/")
    page.locator("tbody a").first.click()
    page.get_by_role("link", name="Edit clinical screen").click()
    page.get_by_label("Allergies", exact=True).fill(f"{SQL} {IMG}")
    page.get_by_label("Failed antidepressant trials").fill("2")
    page.get_by_role("button", name="Save screen").click()
    page.wait_for_load_state()
    assert "Clinical screen saved." in page.content()
    _assert_inert(page)
    expect(page.locator("main")).to_contain_text(
        f"{SQL} {IMG}", use_inner_text=True
    )  # allergies, literally

    with app.app_context():
        assert "patients" in inspect(db.engine).get_table_names()
        patient = db.session.scalar(select(Patient).where(Patient.mrn == "XSS-1"))
        assert (patient.first_name, patient.last_name) == (SCRIPT, IMG)
        assert (patient.driver_relationship, patient.allergies) == (SQL, f"{SQL} {IMG}")
    assert not [m for m in console if "Content Security Policy" in m], console


class _AttackerSite:
    """Another origin (same host, other port) serving pages that post to the clinic app."""

    def __init__(self):
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                body = pages.get(self.path, "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def auto_post(self, path: str, action: str, fields: dict[str, str]) -> str:
        inputs = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in fields.items()
        )
        self.pages[path] = (
            "<!doctype html><html><body><h1>You won a prize</h1>"
            f'<form id="f" method="post" action="{html.escape(action)}">{inputs}</form>'
            "<script>document.getElementById('f').submit()</script></body></html>"
        )
        return self.base + path


@pytest.fixture
def attacker():
    site = _AttackerSite()
    site.thread.start()
    yield site
    site.server.shutdown()
    site.thread.join()
    site.server.server_close()


def _posted(page, url: str, target: str) -> int:
    """Open the attacker's page and return the status of the forged POST it makes."""
    with page.expect_response(lambda r: r.url == target and r.request.method == "POST") as response:
        page.goto(url, wait_until="commit")
    page.wait_for_load_state()
    return response.value.status


def test_forged_cross_site_posts_are_refused(live_app, attacker, page):
    app, base = live_app
    _staff(app, "front_desk")
    sign_in(page, base, "front_desk")
    assert not page.url.startswith(base + "/login")
    forged = {
        "mrn": "FORGED-1",
        "first_name": "Forged",
        "last_name": "Record",
        "date_of_birth": "1970-01-01",
        "sex": "female",
        "version_id": "0",
    }
    url = attacker.auto_post("/prize", base + "/patients/new", forged)
    assert _posted(page, url, base + "/patients/new") == 400
    expect(page.locator("h1")).to_contain_text("400", use_inner_text=True)
    assert _patients(app, Patient.mrn == "FORGED-1") == 0

    url = attacker.auto_post("/logout-prize", base + "/logout", {})
    assert _posted(page, url, base + "/logout") == 400
    page.goto(base + "/patients/")
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()  # still signed in

    # The same registration through the app's own form (with its token) is accepted.
    page.goto(base + "/patients/new")
    page.get_by_label("First name").fill("Real")
    page.get_by_label("Last name").fill("Record")
    page.get_by_label("MRN").fill("REAL-1")
    page.get_by_label("Date of birth").fill("1970-01-01")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert _patients(app) == 1


def test_a_cookie_replayed_after_sign_out_is_useless(live_app, new_context, page):
    app, base = live_app
    _staff(app, "nurse")
    sign_in(page, base, "nurse")
    assert not page.url.startswith(base + "/login")
    stolen = page.context.cookies()
    assert stolen

    thief = new_context()
    try:
        thief.add_cookies(stolen)
        thief_page = thief.new_page()
        thief_page.goto(base + "/today")
        expect(thief_page).to_have_url(base + "/today")  # the copy works while the session lives

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(base + "/login")
        assert "You are signed out." in page.content()

        later = new_context()
        try:
            later.add_cookies(stolen)
            replay = later.new_page()
            replay.goto(base + "/today")
            assert replay.url.startswith(base + "/login")
            expect(replay.get_by_role("heading", name="Sign in")).to_be_visible()
        finally:
            later.close()
        thief_page.goto(base + "/today")
        assert thief_page.url.startswith(base + "/login")
    finally:
        thief.close()


def test_guessing_passwords_locks_the_account(live_app, page):
    app, base = live_app
    _staff(app, "nurse")
    for attempt in range(6):
        sign_in(page, base, "nurse", f"guess-number-{attempt}")
        expect(page.get_by_role("status").filter(has_text=FAILED)).to_be_visible()
    with app.app_context():
        user = factories.user("nurse")
        assert user.locked_until is not None and user.failed_logins >= 5

    sign_in(page, base, "nurse", PASSWORD)
    assert page.url.startswith(base + "/login")
    expect(page.get_by_role("status").filter(has_text=FAILED)).to_be_visible()
    assert_accessible(page)

    # An unknown username gets exactly the same message.
    sign_in(page, base, "nobody", PASSWORD)
    expect(page.get_by_role("status").filter(has_text=FAILED)).to_be_visible()


def _code(app, username: str) -> str:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        secret = mfa.pending_secret_of(user) or mfa.secret_of(user)
    return pyotp.TOTP(secret).at(int(clock.utcnow().timestamp()))


def test_sign_in_and_two_factor_pages_are_accessible(live_app, page):
    app, base = live_app
    clock.freeze(datetime.now(UTC).replace(second=0, microsecond=0))
    _staff(app, "nurse")
    with app.app_context():
        db.session.add(ClinicSetting(key="mfa_required_roles", value=["nurse"]))
        db.session.commit()

    page.goto(base + "/login")
    assert_accessible(page)
    sign_in(page, base, "nurse")
    page.wait_for_url(base + "/login/enroll")
    expect(page.locator("img[src^='data:image/svg+xml']")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Six-digit code from the app").fill("000000")
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.wait_for_load_state()
    assert "That code is not right" in page.content()
    assert_accessible(page)

    page.get_by_label("Six-digit code from the app").fill(_code(app, "nurse"))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.wait_for_load_state()
    expect(page.locator("ul.backup-codes li")).to_have_count(10)
    assert_accessible(page)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(base + "/login")
    clock.advance(timedelta(seconds=30))
    sign_in(page, base, "nurse")
    page.wait_for_url(base + "/login/code")
    assert_accessible(page)
    page.get_by_label("Code from the authenticator app").fill("000000")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()
    assert "That code is not right." in page.content()
    assert_accessible(page)
    page.get_by_label("Code from the authenticator app").fill(_code(app, "nurse"))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(lambda url: "/login" not in url)
