"""Helpers shared by the whole suite: signing in, reading rendered pages with BeautifulSoup,
counting rows and SQL statements, the clinic clock, and the database and cookie plumbing of the
fixtures."""

import html
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select
from sqlalchemy import text as sql

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, TreatmentSession
from clinic_app.models.stock import SQLITE_APPEND_ONLY
from tests import factories

PASSWORD = "correct-horse-battery"
ROLES = ("nurse", "psychiatrist", "front_desk", "admin")
CLINIC_ZONE = ZoneInfo("America/Los_Angeles")  # the default clinic time zone
FAILED = b"Username or password is not correct."
# For apps built from ProductionConfig on the suite's create_all() database: cheap argon2
# (production parameters are tested in tests/test_app.py) and no Alembic revision check.
PRODUCTION_OVERRIDES = {
    "SECRET_KEY": "s" * 64,
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST_KIB": 1024,
    "ARGON2_PARALLELISM": 1,
    "REQUIRE_CURRENT_SCHEMA": False,
}


# --- the database --------------------------------------------------------------------------


def empty_tables() -> None:
    """Delete every row of every table (inside an app context)."""
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(t.name for t in db.metadata.sorted_tables)
        db.session.execute(sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        # The ledger's append-only triggers refuse DELETE: lifted for the emptying only.
        for name in SQLITE_APPEND_ONLY:
            db.session.execute(sql(f"DROP TRIGGER IF EXISTS {name}"))
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        for create in SQLITE_APPEND_ONLY.values():
            db.session.execute(sql(create))
    db.session.commit()


def db_command(app: Flask, *args: str) -> str:
    """Run `flask db ARGS` (Flask-Migrate) on the app's database; its output. Fails the test
    when the command fails."""
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, (result.output, repr(result.exception))
    return result.output


def count(app, model, *where) -> int:
    """How many rows of `model` match `where`."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


@contextmanager
def count_statements(app: Flask) -> Iterator[list[str]]:
    """Collect the SQL statements run inside the block."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


def page_statements(app, client, url) -> int:
    """How many SQL statements a GET of `url` runs (it must answer 200)."""
    with count_statements(app) as statements:
        response = client.get(url)
    assert response.status_code == 200
    return len(statements)


def version(app, sid: int) -> int:
    """The treatment session's current version_id."""
    with app.app_context():
        return db.session.get(TreatmentSession, sid).version_id


def audit_actions(app) -> list[str]:
    """Every audit action so far, oldest first."""
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def audit_rows(app, action: str) -> list[AuditEvent]:
    """The audit rows of one action, oldest first, detached."""
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )
        db.session.expunge_all()
        return rows


def actions_by(app, user_id: int) -> set[str]:
    """Audit actions of a user apart from signing in and refused accesses."""
    with app.app_context():
        return set(
            db.session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.user_id == user_id,
                    AuditEvent.action.not_in(["login", "access.denied"]),
                )
            )
        )


# --- staff and signing in ------------------------------------------------------------------


def make_staff(app: Flask) -> dict[str, int]:
    """One user per role (usernames equal the role names, password PASSWORD), all working at
    the site MAIN (`factories.site()`), as after an install's first migration; returns ids."""
    with app.app_context():
        main = factories.site()
        users = [factories.make_user(role, password=PASSWORD) for role in ROLES]
        for user in users:
            user.sites.append(main)
        db.session.commit()
        ids = {user.username: user.id for user in users}
    return ids


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD):
    """Post the login form; returns the response."""
    return client.post("/login", data={"username": username, "password": password})


def signed_in(app: Flask, username: str, password: str = PASSWORD, **client_kwargs) -> FlaskClient:
    """A new test client signed in through the login form (no second factor)."""
    client = app.test_client(**client_kwargs)
    response = sign_in(client, username, password)
    assert response.status_code == 302, (username, response.status_code)
    assert not response.headers["Location"].startswith("/login"), response.headers["Location"]
    return client


def cookie_value(client: FlaskClient, app: Flask) -> str:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None, "no session cookie"
    return cookie.value


def session_token(app: Flask, client: FlaskClient) -> str:
    """The random server-side session token inside the signed session cookie."""
    serializer = app.session_interface.get_signing_serializer(app)
    return serializer.loads(cookie_value(client, app))["sid"]


def set_cookies(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


# --- the clinic clock ----------------------------------------------------------------------


def freeze_local(hour: int, minute: int = 0, days_ago: int = 0) -> datetime:
    """Stop the clock at HH:MM clinic time, today or some days back."""
    day = datetime.now(CLINIC_ZONE).date() - timedelta(days=days_ago)
    at = datetime.combine(day, time(hour, minute), tzinfo=CLINIC_ZONE).astimezone(UTC)
    clock.freeze(at)
    return at


def clinic_today() -> date:
    return clock.utcnow().astimezone(CLINIC_ZONE).date()


def years_ago(years: int) -> date:
    today = clinic_today()
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


# --- reading rendered pages ----------------------------------------------------------------


def markup(response) -> str:
    """The page's HTML with character references decoded (tags and attributes kept)."""
    return html.unescape(response.get_data(as_text=True))


def soup(response) -> BeautifulSoup:
    """The response's HTML parsed."""
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def text(response) -> str:
    """The page as plain text (tags dropped, whitespace collapsed)."""
    return " ".join(soup(response).get_text(" ").split())


def field_error(response, field_id: str) -> str | None:
    """The error the form macro renders under a field, or None."""
    error = soup(response).find("div", id=f"{field_id}-error", class_="invalid-feedback")
    return error.get_text().strip() if error else None


def field_errors(response) -> dict[str, str]:
    """Every error the form macro renders under a field, by field id."""
    return {
        error["id"].removesuffix("-error"): error.get_text().strip()
        for error in soup(response).select("div.invalid-feedback[id$='-error']")
    }


def flashes(response) -> list[tuple[str, str]]:
    """The flashed messages as (category, message)."""
    return [
        (
            next(c for c in alert["class"] if c.startswith("alert-")).removeprefix("alert-"),
            alert.get_text().strip(),
        )
        for alert in soup(response).select(".flash-stack > div.alert")
    ]


def discharge_blockers(response) -> list[str]:
    """The refused-discharge list shown at the top of the session page."""
    refused = soup(response).find(id="discharge-refused")
    assert refused, "no discharge-refused alert on the page"
    return [item.get_text().strip() for item in refused.find("ul").find_all("li")]


def csrf_token(html: bytes) -> str:
    """The CSRF token of a page: a form's hidden input, else the meta tag."""
    parsed = BeautifulSoup(html, "html.parser")
    field = parsed.find("input", attrs={"name": "csrf_token"})
    meta = parsed.find("meta", attrs={"name": "csrf-token"})
    assert field or meta, "no CSRF token on the page"
    return field["value"] if field else meta["content"]


def form_values(response, action: str, first: bool = False) -> dict[str, str]:
    """What the forms posting to `action` would submit as the page stands (text areas aside);
    `first`: only the first such form (a page offering several one-click choices)."""
    values: dict[str, str] = {}
    forms = soup(response).find_all("form", action=action)
    for form in forms[:1] if first else forms:
        for control in form.find_all(["input", "select"], attrs={"name": True}):
            if control.name == "select":
                chosen = control.find_all("option", selected=True)
                values[control["name"]] = (chosen[-1].get("value") or "") if chosen else ""
            elif control.get("type") == "submit":
                continue
            elif control.get("type") not in ("checkbox", "radio") or control.has_attr("checked"):
                values[control["name"]] = control.get("value") or ""
    assert values, f"no form posting to {action}"
    return values


def checked(response, name: str) -> list[str]:
    """Values of the checked checkboxes or radios called `name`."""
    return [
        box["value"]
        for box in soup(response).find_all("input", attrs={"name": name})
        if box.has_attr("checked")
    ]


def pdf_pages(response) -> list[str]:
    """The text of each page of a PDF response (margin boxes included)."""
    from pypdf import PdfReader

    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/pdf"
    return [page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages]


def race(app: Flask, work) -> list[object]:
    """Run work(index, barrier) in two threads, each with its own app context and database
    connection, that meet at the barrier; each result or exception (real concurrent writers)."""
    barrier = threading.Barrier(2, timeout=30)
    results: list[object] = [None, None]

    def run(index: int) -> None:
        with app.app_context():
            try:
                results[index] = work(index, barrier)
            except Exception as error:  # noqa: BLE001 - the test inspects it
                db.session.rollback()
                results[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results
