"""Security headers on every route, no inline script or style in any page, generic error pages,
CSRF on state-changing forms and no state change on GET."""

from html.parser import HTMLParser

from sqlalchemy import func, select

from clinic_app.extensions import db
from clinic_app.models import AuditEvent, Patient, TreatmentSession, VitalsReading
from config import ProductionConfig
from tests import factories
from tests.helpers import (
    PASSWORD,
    PRODUCTION_OVERRIDES,
    count,
    csrf_token,
    make_staff,
    sign_in,
    signed_in,
)
from tests.security.matrix import (
    ROLES,
    allows,
    declared,
    first_allowed_role,
    record_ids,
    routes,
)

CSP_REQUIRED = (
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "script-src 'self'",
)


def _header_problems(label: str, response, static: bool = False) -> list[str]:
    headers = response.headers
    problems = []
    csp = headers.get("Content-Security-Policy", "")
    for directive in CSP_REQUIRED:
        if directive not in csp:
            problems.append(f"{label}: CSP lacks {directive}")
    if "unsafe-inline" in csp or "unsafe-eval" in csp:
        problems.append(f"{label}: CSP allows unsafe-inline/unsafe-eval")
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"{label}: no X-Content-Type-Options nosniff")
    if headers.get("Referrer-Policy") not in ("strict-origin-when-cross-origin", "no-referrer"):
        problems.append(f"{label}: Referrer-Policy {headers.get('Referrer-Policy')}")
    if not static and headers.get("Cache-Control") != "no-store":
        problems.append(f"{label}: Cache-Control {headers.get('Cache-Control')}")
    if "Strict-Transport-Security" in headers:
        problems.append(f"{label}: HSTS outside production")
    if not headers.get("X-Request-Id"):
        problems.append(f"{label}: no X-Request-Id")
    return problems


class _InlineFinder(HTMLParser):
    """Collects what a strict CSP would block or what lets markup run script."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            self._in_script = True
            if not attributes.get("src"):
                self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style> block")
        for name, value in attrs:
            if name == "style":
                self.found.append(f'style="" on <{tag}>')
            if name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL on <{tag}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append("inline script text")


def inline_problems(html: bytes) -> list[str]:
    finder = _InlineFinder()
    finder.feed(html.decode())
    finder.close()
    return finder.found


def _fetch(client, method: str, url: str, **kwargs):
    """(response, body): the body is read and the response closed (streamed exports too)."""
    with client.open(url, method=method, **kwargs) as response:
        return response, response.get_data()


def test_every_route_sends_the_security_headers_and_inline_free_html(app, staff):
    ids, admin_ids = record_ids(app)
    problems: list[str] = []
    pages = 0
    clients: dict[str | None, object] = {}
    for route in routes(app, ids, admin_ids):
        roles = [first_allowed_role(route.endpoint)]
        if route.method == "GET":  # every role's variant of a page
            roles = [r for r in (None, *ROLES) if allows(route.endpoint, r)] or roles
        for role in roles:
            if role not in clients:
                clients[role] = app.test_client()
                if role is not None:
                    assert sign_in(clients[role], role).status_code == 302
            response, body = _fetch(clients[role], route.method, route.url)
            if route.method != "GET":
                del clients[role]
            label = f"{role or 'anonymous'} {route.method} {route.url} ({response.status_code})"
            problems += _header_problems(label, response)
            if response.mimetype == "text/html" and body:
                pages += 1
                problems += [f"{label}: {p}" for p in inline_problems(body)]
    assert not problems, "\n".join(problems)
    assert pages >= 20

    with app.test_client().get("/static/css/app.css") as static:
        assert static.status_code == 200
        assert not _header_problems("static", static, static=True)


def test_pages_full_of_data_have_no_inline_script_or_style(app, staff):
    """The busiest pages: a dosed session, a patient with history, forms with errors."""
    ids, _ = record_ids(app)
    nurse = signed_in(app, "nurse")
    desk = signed_in(app, "front_desk")
    psychiatrist = signed_in(app, "psychiatrist")
    sid, pid = ids["session_id"], ids["patient_id"]
    pages = {
        "session": nurse.get(f"/sessions/{sid}"),
        "session, vitals refused": nurse.post(f"/sessions/{sid}/vitals", data={"systolic": "x"}),
        "session, sign refused": nurse.post(f"/sessions/{sid}/sign", data={"password": "x"}),
        "today": nurse.get("/today"),
        "patient (nurse)": nurse.get(f"/patients/{pid}"),
        "patient (front desk)": desk.get(f"/patients/{pid}"),
        "register, errors": desk.post("/patients/new", data={"mrn": ""}),
        "course, errors": psychiatrist.post(f"/patients/{pid}/courses/new", data={}),
        "password, errors": nurse.post("/account/password", data={"current_password": "x"}),
        "search": desk.post("/patients/", data={"q": "Tester"}),
        "403": desk.get(f"/sessions/{sid}"),
        "404": nurse.get("/patients/999999"),
        "405": nurse.get("/logout"),
        "login, failed": sign_in(app.test_client(), "nurse", "wrong-password-here"),
    }
    problems = []
    for name, response in pages.items():
        assert response.mimetype == "text/html", name
        problems += [f"{name}: {p}" for p in inline_problems(response.data)]
        problems += _header_problems(name, response)
    assert not problems, "\n".join(problems)


def test_the_checker_finds_inline_script_and_style():
    """The scanner above would see a regression."""
    html = (
        b'<p style="color:red" onclick="x()"><script>alert(1)</script>'
        b'<script src="/a.js"></script><a href="javascript:alert(1)">x</a><style>p{}</style>'
    )
    found = inline_problems(html)
    assert len(found) == 6, found


def test_hsts_only_in_production(app, make_app):
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers
    production = make_app(ProductionConfig, empty=False, **PRODUCTION_OVERRIDES)
    client = production.test_client()
    for url in ("/login", "/healthz", "/nowhere"):
        hsts = client.get(url, base_url="https://clinic.example").headers
        assert hsts["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains", url


def test_an_unexpected_error_shows_the_generic_500_page(make_app):
    app = make_app(TESTING=False)
    make_staff(app)
    secret = "Alvarez KC-10001 555-0142"

    def explode():
        raise RuntimeError(f"could not chart {secret}")

    app.add_url_rule("/explode-for-test", "explode_for_test", explode)
    client = signed_in(app, "nurse")
    response = client.get("/explode-for-test")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    request_id = response.headers["X-Request-Id"]
    assert len(request_id) == 16 and request_id in body
    assert "Something went wrong" in body
    for leak in ("Traceback", "RuntimeError", "could not chart", secret, "explode", ".py"):
        assert leak not in body, leak
    assert not _header_problems("500", response)
    assert not inline_problems(response.data)


def test_not_found_and_method_not_allowed_pages_are_generic(app, staff):
    nurse = signed_in(app, "nurse")
    for client, url in (
        (app.test_client(), "/no/such/page"),
        (nurse, "/no/such/page"),
        (nurse, "/patients/987654"),
        (nurse, "/sessions/987654"),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        body = response.get_data(as_text=True)
        assert "There is nothing at this address." in body
        assert response.headers["X-Request-Id"] in body
        assert "987654" not in body and "Traceback" not in body
    assert "Traceback" not in nurse.get("/logout").get_data(as_text=True)


def test_csrf_protects_sign_in_and_charting(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    make_staff(app)
    with app.app_context():
        treatment = factories.dosed_session()
        db.session.commit()
        sid = treatment.id
    audit_rows = count(app, AuditEvent)

    client = app.test_client()
    token = csrf_token(client.get("/login").data)
    no_token = client.post("/login", data={"username": "nurse", "password": PASSWORD})
    assert no_token.status_code == 400
    assert b"Traceback" not in no_token.data
    assert count(app, AuditEvent) == audit_rows  # not even a failed sign-in was recorded
    assert client.get("/today").status_code == 302
    signed = client.post(
        "/login", data={"username": "nurse", "password": PASSWORD, "csrf_token": token}
    )
    assert signed.status_code == 302 and not signed.headers["Location"].startswith("/login")

    page = client.get(f"/sessions/{sid}")
    token = csrf_token(page.data)
    vitals = {"systolic": "190", "diastolic": "120", "heart_rate": "90", "spo2": "97"}
    before = (count(app, VitalsReading), count(app, AuditEvent))
    assert client.post(f"/sessions/{sid}/vitals", data=vitals).status_code == 400
    forged = dict(vitals, csrf_token="IjE2ZjQ0ZDk2ZGI2ZGQ4ZTUi.forged.token")
    assert client.post(f"/sessions/{sid}/vitals", data=forged).status_code == 400
    # A valid token of another signed-in person does not work in this session either.
    other = app.test_client()
    other_token = csrf_token(other.get("/login").data)
    other_vitals = dict(vitals, csrf_token=other_token)
    assert client.post(f"/sessions/{sid}/vitals", data=other_vitals).status_code == 400
    assert (count(app, VitalsReading), count(app, AuditEvent)) == before
    with app.app_context():
        assert db.session.get(TreatmentSession, sid).version_id == treatment.version_id

    # Sign-out is a POST with a token too, so a cross-site page cannot end the shift.
    assert client.post("/logout").status_code == 400
    assert client.get("/today").status_code == 200
    # The same post with the page's token is accepted: the 400s above were the token.
    ok = client.post(f"/sessions/{sid}/vitals", data=dict(vitals, csrf_token=token))
    assert ok.status_code == 302
    assert count(app, VitalsReading) == before[0] + 1


def test_csrf_protects_patient_registration(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    make_staff(app)
    client = app.test_client()
    token = csrf_token(client.get("/login").data)
    client.post(
        "/login", data={"username": "front_desk", "password": PASSWORD, "csrf_token": token}
    )
    data = {
        "mrn": "CSRF-1",
        "first_name": "Forged",
        "last_name": "Entry",
        "date_of_birth": "1980-01-01",
        "sex": "female",
        "failed_trials": "2",
        "version_id": "0",
    }
    assert client.post("/patients/new", data=data).status_code == 400
    assert count(app, Patient) == 0
    token = csrf_token(client.get("/patients/new").data)
    assert client.post("/patients/new", data=dict(data, csrf_token=token)).status_code == 302
    assert count(app, Patient) == 1


def test_get_never_reaches_a_post_only_route(app, staff):
    ids, admin_ids = record_ids(app)
    post_only = [r for r in routes(app, ids, admin_ids) if "GET" not in r.methods]
    assert {"auth.logout", "treatments.vitals", "treatments.sign"} <= {
        r.endpoint for r in post_only
    }
    with app.app_context():
        last_id = db.session.scalar(select(func.max(AuditEvent.id)))
    problems = []
    for route in post_only:
        role = first_allowed_role(route.endpoint)
        for client in (app.test_client(), signed_in(app, role) if role else None):
            if client is None:
                continue
            status = client.get(route.url).status_code
            if status != 405:
                problems.append(f"GET {route.url} ({declared(route.endpoint)}): {status}")
    assert not problems, "\n".join(problems)
    # Nothing but the sign-ins themselves was written.
    with app.app_context():
        actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.id > last_id)))
    assert actions <= {"login"}


def test_a_csrf_refusal_page_carries_a_request_id(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    response = app.test_client().post("/login", data={"username": "x", "password": "y"})
    assert response.status_code == 400
    request_id = response.headers.get("X-Request-Id", "")
    assert request_id and request_id in response.get_data(as_text=True)
