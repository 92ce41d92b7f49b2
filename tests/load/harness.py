"""Shared by the benchmark and the load/fault tests: throwaway databases (a uniquely named
PostgreSQL database or a temporary SQLite file, always dropped), the bulk demo data, gunicorn on a
free loopback port (always stopped), signed-in HTTP clients and machine facts.

Nothing here talks to anything but 127.0.0.1.
"""

import os
import platform
import re
import secrets
import signal
import socket
import sqlite3
import subprocess  # nosec B404: fixed argument lists, no shell
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_HOST = os.environ.get("LOAD_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("LOAD_PG_PORT", "5432")
PG_USER = os.environ.get("LOAD_PG_USER", "postgres")
PG_ADMIN_URL = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/postgres"
DEMO_PASSWORDS = {
    "nurse": "nurse-demo-pass",
    "psychiatrist": "psych-demo-pass",
    "frontdesk": "desk-demo-pass",
    "admin": "admin-demo-pass",
}
SECRET_KEY = secrets.token_hex(32)


# ---------------------------------------------------------------------------------------------
# Databases
# ---------------------------------------------------------------------------------------------


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=10) as connection:
        connection.execute(sql)


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A new, uniquely named PostgreSQL database; dropped (connections forced off) at exit."""
    name = f"{prefix}_{time.strftime('%Y%m%d%H%M%S')}_{os.getpid()}_{secrets.token_hex(3)}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        wait_for_postgres(60)
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def sqlite_database(prefix: str) -> Iterator[str]:
    """A SQLite file in a temporary directory, removed at exit (with its -wal/-shm files)."""
    with tempfile.TemporaryDirectory(prefix=f"{prefix}_") as directory:
        yield f"sqlite:///{Path(directory) / 'clinic.sqlite'}"


@contextmanager
def database(backend: str, prefix: str) -> Iterator[str]:
    manager = pg_database(prefix) if backend == "postgresql" else sqlite_database(prefix)
    with manager as url:
        yield url


def wait_for_postgres(seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pg_available():
            return True
        time.sleep(0.5)
    return False


def flask_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL",)}
    env.update(CLINIC_ENV="development", DATABASE_URL=url, PYTHONPATH=str(ROOT), **extra)
    return env


def flask(url: str, *args: str, timeout: float = 900) -> str:
    """Run `flask --app wsgi ARGS` against `url` (development config); returns its output."""
    result = subprocess.run(  # nosec B603
        [str(BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=flask_env(url),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout + result.stderr


@dataclass
class Generated:
    seconds: float
    counts: dict[str, int]
    output: str


def migrate_and_generate(url: str, patients: int) -> Generated:
    """`flask db upgrade`, then `flask demo-data --patients N` (small demo + bulk history)."""
    flask(url, "db", "upgrade")
    started = time.perf_counter()
    output = flask(url, "demo-data", "--patients", str(patients))
    seconds = time.perf_counter() - started
    if "FAIL" in output:
        raise RuntimeError(f"bulk data invariants failed:\n{output}")
    line = next(x for x in output.splitlines() if x.startswith(f"Loaded {patients} bulk"))
    counts = {name: int(n) for n, name in re.findall(r"(\d+) (\w+)", line.split(":", 1)[1])}
    return Generated(seconds, counts, output)


def app_for(url: str, **overrides):
    """The production configuration on `url` (in-process), two-factor not enforced."""
    from clinic_app import create_app
    from config import ProductionConfig

    return create_app(
        ProductionConfig, SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=SECRET_KEY, **overrides
    )


def allow_password_only(url: str) -> None:
    """Clinic setting mfa_required_roles = [] so staff sign in with a password (production
    config otherwise asks every role for a second factor)."""
    from clinic_app.extensions import db
    from clinic_app.models import ClinicSetting

    app = app_for(url)
    with app.app_context():
        db.session.merge(ClinicSetting(key="mfa_required_roles", value=[]))
        db.session.commit()
        db.engine.dispose()


# ---------------------------------------------------------------------------------------------
# gunicorn
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    log_path: Path
    workers: int

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with suppress(OSError):
            return [int(pid) for pid in children.read_text().split()]
        return []

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_workers(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(self.worker_pids()) < self.workers:
            time.sleep(0.1)


@contextmanager
def gunicorn(url: str, workers: int = 4, log_dir: Path | None = None) -> Iterator[Server]:
    """gunicorn (sync workers, production config) on a free loopback port; stopped at exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "REDIS_URL")}
    env.update(
        CLINIC_ENV="production",
        SECRET_KEY=SECRET_KEY,
        DATABASE_URL=url,
        IDLE_TIMEOUT_MINUTES="240",
        PROXY_COUNT="1",
        PYTHONPATH=str(ROOT),
    )
    with tempfile.TemporaryDirectory(prefix="clinic_gunicorn_") as tmp:
        log_path = Path(log_dir or tmp) / f"gunicorn-{port}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(  # nosec B603
                [
                    str(BIN / "gunicorn"),
                    "--workers",
                    str(workers),
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--timeout",
                    "60",
                    "--graceful-timeout",
                    "5",
                    "--forwarded-allow-ips",
                    "127.0.0.1",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Server(process, f"http://127.0.0.1:{port}", log_path, workers)
        try:
            _wait_healthy(server)
            server.wait_for_workers()
            yield server
        finally:
            stop(process)
            if log_dir is None:  # keep the log for a look afterwards
                test = os.environ.get("PYTEST_CURRENT_TEST", "run").split(" ")[0]
                artifacts = ROOT / "test-artifacts"
                artifacts.mkdir(exist_ok=True)
                name = test.rsplit("::", 1)[-1]
                (artifacts / f"gunicorn-{name}.log").write_text(server.log())


def _wait_healthy(server: Server, seconds: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{server.log()}")
        with suppress(httpx.HTTPError):
            if httpx.get(server.base_url + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not become healthy:\n{server.log()}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group (master and workers), SIGKILL after 10 s."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


# ---------------------------------------------------------------------------------------------
# HTTP: forms and signed-in clients
# ---------------------------------------------------------------------------------------------


class FormParser(HTMLParser):
    """Every <form>: action, method and the values a browser would submit."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(
                {"action": a.get("action", ""), "method": a.get("method", "get"), "fields": {}}
            )
        elif not self.forms:
            return
        fields = self.forms[-1]["fields"] if self.forms else {}
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    fields.setdefault(name, []).append(a.get("value", "y"))
            elif kind not in ("submit", "button"):
                fields[name] = [a.get("value", "")]
        elif tag == "select" and name:
            self._select = name
            fields.setdefault(name, [])
        elif tag == "option" and self._select:
            if "selected" in a:
                fields[self._select] = [a.get("value", "")]
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = [""]

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea][0] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def forms(html: str) -> list[dict]:
    parser = FormParser()
    parser.feed(html)
    return parser.forms


CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    if match is None:
        raise ValueError("no csrf_token on the page")
    return match.group(1) or match.group(2)


@dataclass
class Cookies:
    """A cookie jar that ignores Secure/__Host- rules: the production cookies are Secure, the
    loopback server is plain HTTP, and a real deployment has TLS in front."""

    values: dict[str, str] = field(default_factory=dict)

    def update(self, set_cookie_headers: list[str]) -> None:
        for header in set_cookie_headers:
            pair = header.split(";", 1)[0]
            name, _, value = pair.partition("=")
            expired = "expires=thu, 01 jan 1970" in header.lower() or "max-age=0" in header.lower()
            if expired or not value:
                self.values.pop(name.strip(), None)
            else:
                self.values[name.strip()] = value.strip()

    def header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.values.items())


def staff_address(number: int) -> str:
    """A distinct workstation address behind the proxy for simulated staff member `number`."""
    return f"10.20.{number // 250}.{number % 250 + 1}"


def login_sync(base_url: str, username: str, password: str, address: str) -> tuple[Cookies, str]:
    """Sign in over HTTP; returns the cookies and a CSRF token valid for this session."""
    import httpx

    cookies = Cookies()
    headers = {"X-Forwarded-For": address, "User-Agent": "clinic-load"}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        page = client.get("/login", headers=headers)
        cookies.update(page.headers.get_list("set-cookie"))
        token = csrf_token(page.text)
        response = client.post(
            "/login",
            content=urlencode({"username": username, "password": password, "csrf_token": token}),
            headers={
                **headers,
                "Cookie": cookies.header(),
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        cookies.update(response.headers.get_list("set-cookie"))
        if response.status_code != 302 or urlsplit(response.headers["location"]).path == "/login":
            raise RuntimeError(f"sign-in as {username} failed: {response.status_code}")
        # A page with a form, so the session holds its CSRF secret before we copy the cookie.
        page = client.get(
            urlsplit(response.headers["location"]).path,
            headers={**headers, "Cookie": cookies.header()},
        )
        cookies.update(page.headers.get_list("set-cookie"))
        with suppress(ValueError):
            token = csrf_token(page.text)
    return cookies, token


# ---------------------------------------------------------------------------------------------
# Machine facts
# ---------------------------------------------------------------------------------------------


def machine_facts(pg_url: str | None = None) -> dict[str, str]:
    cpu = "unknown"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with suppress(OSError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    facts = {
        "nproc": str(os.cpu_count()),
        "CPU": cpu,
        "memory": memory,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
    }
    with suppress(Exception):
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as connection:
            facts["PostgreSQL"] = connection.execute("SHOW server_version").fetchone()[0]
    for package in ("flask", "sqlalchemy", "gunicorn", "psycopg"):
        with suppress(Exception):
            from importlib.metadata import version

            facts[package] = version(package)
    with suppress(Exception):
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)  # nosec
        facts["wrk"] = (wrk.stdout or wrk.stderr).split()[1]
    return facts
