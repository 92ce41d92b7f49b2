"""No patient identifiers in logs or URLs: the demo clinic is browsed by every role through a real
(werkzeug) server while every log record is captured, a 500 and a 403 are provoked, and every
link, form action and redirect the app generates is checked."""

import http.client
import logging
import threading
from collections import Counter, deque
from datetime import timedelta
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from clinic_app.clock import utcnow
from clinic_app.demo.clinic import DEMO_LOGINS
from clinic_app.extensions import db
from clinic_app.models import Patient, TreatmentSession

PAGE_LIMIT_PER_ROLE = 80
QUERY_VARIANTS = 2


class _Links(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (attribute, value)

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "action", "src", "formaction") and value:
                self.links.append((name, value))


def _links(html: str) -> list[tuple[str, str]]:
    parser = _Links()
    parser.feed(html)
    return parser.links


class Browser:
    """A minimal cookie-keeping HTTP client that does not follow redirects by itself."""

    def __init__(self, host: str, port: int, cookie_name: str):
        self.host, self.port, self.cookie_name = host, port, cookie_name
        self.cookies: dict[str, str] = {}
        self.locations: list[str] = []

    def request(self, method: str, path: str, form: dict | None = None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"User-Agent": "phi-check"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel.value:
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        location = response.headers.get("Location")
        if location:
            self.locations.append(location)
        connection.close()
        return response.status, location, response.headers.get_content_type(), content

    def get(self, path: str):
        """GET, following redirects on the same site; returns (status, final path, type, body)."""
        for _ in range(5):
            status, location, kind, content = self.request("GET", path)
            if status in (301, 302, 303) and location:
                path = urlsplit(urljoin(path, location)).path or "/"
                continue
            return status, path, kind, content
        raise AssertionError(f"redirect loop at {path}")


@pytest.fixture
def demo_server(make_app):
    """The demo clinic in the suite's database, served by werkzeug like `flask run` does."""
    app = make_app(TESTING=False)
    result = app.test_cli_runner().invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        patients = db.session.scalars(select(Patient)).all()
        # The demo's board sessions started within the last few hours (after midnight, that is
        # yesterday on the clinic's calendar).
        today_sessions = db.session.scalars(
            select(TreatmentSession.id).where(
                TreatmentSession.started_at >= utcnow() - timedelta(hours=12)
            )
        ).all()
    assert len(patients) >= 10 and today_sessions
    victim = patients[0]

    def explode():
        raise RuntimeError(
            f"could not chart {victim.first_name} {victim.last_name} {victim.mrn} {victim.phone}"
        )

    app.add_url_rule("/explode-for-test", "explode_for_test", explode)
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, server.server_port, patients, today_sessions
    server.shutdown()
    thread.join()


def _identifiers(patients) -> set[str]:
    found = set()
    for p in patients:
        for value in (p.first_name, p.last_name, p.mrn, p.phone, p.driver_phone):
            if value and len(value) >= 3:
                found.add(value)
    return found


def _crawl(browser: Browser, pages: dict[str, str], start: str) -> None:
    """Breadth-first over same-site GET links (not static files, not the CSV export); each path
    with at most two query strings (calendar weeks and audit pages would go on forever)."""
    queue = deque([start])
    seen: set[str] = set()
    variants: Counter[str] = Counter()
    while queue and len(seen) < PAGE_LIMIT_PER_ROLE:
        url = queue.popleft()
        path = urlsplit(url).path
        if url in seen or variants[path] >= QUERY_VARIANTS:
            continue
        seen.add(url)
        variants[path] += 1
        status, final, kind, content = browser.get(url)
        if kind != "text/html":
            continue
        pages[f"{browser.cookie_name}:{url}"] = content
        for attribute, link in _links(content):
            if attribute != "href":
                continue
            target = urlsplit(urljoin(final, link))
            if target.netloc or target.path.startswith("/static/") or "export" in target.path:
                continue
            queue.append(target.path + (f"?{target.query}" if target.query else ""))


def test_no_patient_identifier_in_logs_or_urls(demo_server, caplog):
    app, port, patients, today_sessions = demo_server
    # Everything the app and werkzeug log, at every level. SQLAlchemy's statement echo (off
    # unless a developer turns it on) would print bound parameters, so it stays at WARNING.
    # (set_level also sets caplog's handler level, so the DEBUG calls come last.)
    caplog.set_level(logging.WARNING, logger="sqlalchemy")
    for name in ("werkzeug", "clinic_app", "flask", "flask_limiter", "flask_login", None):
        caplog.set_level(logging.DEBUG, logger=name)
    identifiers = _identifiers(patients)
    victim = patients[0]
    cookie_name = app.config["SESSION_COOKIE_NAME"]

    pages: dict[str, str] = {}
    generated: list[str] = []
    for login in DEMO_LOGINS:
        browser = Browser("127.0.0.1", port, cookie_name)
        browser.cookie_name = login.role
        status, _, _, _ = browser.request(
            "POST", "/login", {"username": login.username, "password": login.password}
        )
        assert status == 302, login.username
        _crawl(browser, pages, "/")
        if login.role in ("nurse", "psychiatrist", "front_desk"):
            for patient in patients:  # every chart, linked from the nav or not
                if f"{login.role}:/patients/{patient.id}" in pages:
                    continue
                status, final, _, content = browser.get(f"/patients/{patient.id}")
                assert status == 200
                pages[f"{login.role}:{final}"] = content
            # A search by name is posted, so the name stays out of the URL and the log.
            _, _, _, content = browser.request("POST", "/patients/", {"q": victim.last_name})
            assert victim.mrn in content
            pages[f"{login.role}:search"] = content
        if login.role in ("nurse", "psychiatrist"):
            for session_id in today_sessions:
                if f"{login.role}:/sessions/{session_id}" in pages:
                    continue
                status, final, _, content = browser.get(f"/sessions/{session_id}")
                assert status == 200
                pages[f"{login.role}:{final}"] = content
            assert browser.get("/explode-for-test")[0] == 500
        if login.role == "front_desk":
            assert browser.get(f"/sessions/{today_sessions[0]}")[0] == 403
        if login.role == "admin":
            status, _, _, content = browser.request("POST", "/admin/access", {"mrn": victim.mrn})
            if status == 302:
                _crawl(browser, pages, browser.locations[-1])
        generated += browser.locations
    # Someone typing a patient's name as the username.
    stranger = Browser("127.0.0.1", port, cookie_name)
    name = f"{victim.first_name} {victim.last_name}"
    assert stranger.request("POST", "/login", {"username": name, "password": "x" * 12})[0] == 401

    assert len(pages) >= 40, len(pages)
    for content in pages.values():
        generated += [value for _, value in _links(content)]
    url_leaks = sorted({(u, i) for u in generated for i in identifiers if i in u})
    assert not url_leaks, url_leaks[:10]

    records = caplog.records
    assert any(r.name == "werkzeug" for r in records), "werkzeug's request log was not captured"
    assert any(r.name == "clinic_app.errors" for r in records), "the 500 was not logged"
    logged = caplog.text + "\n".join(r.getMessage() for r in records)
    log_leaks = sorted(i for i in identifiers if i in logged)
    assert not log_leaks, log_leaks
    # The names from the login attempt and the search box are not logged either.
    assert name not in logged and victim.last_name not in logged
