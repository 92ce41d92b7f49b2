"""Page cost benchmark on a large generated history: `make bench` (python -m bench.bench).

Not part of `make test`. For each backend (SQLite file, a throwaway PostgreSQL database) it:

1. builds a small (N=150) and a large (N=2000) clinic with `flask demo-data --patients N`;
2. measures each page in-process with the Flask test client (production config, warmed up,
   50 requests): SQL statements per request, latency p50/p95; statements also on the small
   clinic, to show they do not grow with the data;
3. measures growth: the patient timeline (and the patient record) at 15, 150 and 600 sessions,
   and patient search at 1,000 and 100,000 patients (a patients-only database);
4. profiles the slowest page with pyinstrument;
5. measures throughput under gunicorn (4 sync workers) with wrk (8 connections on loopback,
   signed-in cookie) beside the same run's bare /healthz throughput.

Pages are found by endpoint name, so pages that other packages add later (review queue, patient
timeline, week calendar) are measured once they exist and reported as "not measured" before.
Results go to bench/REPORT.md (between the generated-section markers; text outside them
is kept) and bench/latency_vs_history.png. Databases and servers are always removed.
"""

import argparse
import gc
import json
import os
import re
import shutil
import statistics
import subprocess  # nosec B404: wrk with a fixed argument list
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

from tests.load import harness as h

HERE = Path(__file__).resolve().parent
REPORT = HERE / "REPORT.md"
PLOT = HERE / "latency_vs_history.png"
ARTIFACTS = h.ROOT / "test-artifacts"
BEGIN, END = "<!-- BEGIN GENERATED: bench/bench.py -->", "<!-- END GENERATED -->"
SEARCH_TERMS = ("smi", "gar", "ngu", "kel", "joh", "mar", "lee", "wil")
P95_BUDGET_MS = 150.0
ROLES = ("nurse", "psychiatrist", "frontdesk", "admin")


@dataclass(frozen=True)
class PageSpec:
    key: str
    title: str
    role: str
    endpoints: tuple[str, ...]  # regexes over endpoint names; the first that answers 200 wins
    ratio_target: float | None  # throughput as a share of /healthz
    method: str = "GET"
    site: str = ""  # ?site=: "ALL", or "ONE" for the generated clinic's first site


PAGES = (
    PageSpec("today", "Today board", "nurse", (r"^treatments\.today$",), 0.25),
    PageSpec("session", "Session page", "nurse", (r"^treatments\.session$",), 0.25),
    PageSpec(
        "timeline",
        "Patient timeline (150 sessions)",
        "psychiatrist",
        (r"^review\.[a-z_]*timeline$", r"timeline"),
        0.10,
    ),
    PageSpec(
        "week",
        "Week calendar",
        "frontdesk",
        (r"^scheduling\.week$", r"^scheduling\.[a-z_]*week", r"^scheduling\.[a-z_]*calendar"),
        0.10,
    ),
    PageSpec(
        "review",
        "Review queue",
        "psychiatrist",
        (r"^review\.[a-z_]*queue", r"^review\.index$"),
        0.25,
    ),
    PageSpec("search", "Patient search", "frontdesk", (r"^patients\.index$",), 0.25, "POST"),
    # Issue 14: with a site chosen, a board costs what one site costs (>= 2x All sites' rate).
    PageSpec(
        "today_site",
        "Today board, one site",
        "psychiatrist",
        (r"^treatments\.today$",),
        None,
        site="ONE",
    ),
    PageSpec(
        "today_all",
        "Today board, All sites",
        "psychiatrist",
        (r"^treatments\.today$",),
        None,
        site="ALL",
    ),
    PageSpec(
        "week_site",
        "Week calendar, one site",
        "psychiatrist",
        (r"^scheduling\.week$",),
        None,
        site="ONE",
    ),
    PageSpec(
        "week_all",
        "Week calendar, All sites",
        "psychiatrist",
        (r"^scheduling\.week$",),
        None,
        site="ALL",
    ),
    PageSpec(
        "record", "Patient record (latest sessions)", "psychiatrist", (r"^patients\.detail$",), None
    ),
    # No clinical data: the cost every signed-in page pays (session check, layout, CSRF token).
    PageSpec("floor", "Signed-in floor (own account page)", "nurse", (r"^auth\.account$",), None),
)


@dataclass
class Request:
    role: str
    method: str
    path: str
    bodies: list[dict] = field(default_factory=list)
    endpoint: str = ""


@dataclass
class Measured:
    statements: int
    statements_max: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    html_kb: float
    requests: int


# ---------------------------------------------------------------------------------------------
# In-process measurement
# ---------------------------------------------------------------------------------------------


class InProcess:
    """The production-config app on one database, a signed-in test client per role and a SQL
    statement counter on the engine."""

    def __init__(self, url: str):
        from sqlalchemy import event

        from clinic_app.extensions import db

        self.app = h.app_for(url, IDLE_TIMEOUT_MINUTES=24 * 60)
        gc.freeze()  # as wsgi.py does in each production worker
        self.clients: dict[str, object] = {}
        self.tokens: dict[str, str] = {}
        self.statements = 0
        with self.app.app_context():
            self.engine = db.engine

        def count(*_args):
            self.statements += 1

        self._count = count
        event.listen(self.engine, "before_cursor_execute", count)

    def close(self) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._count)
        self.engine.dispose()

    def client(self, role: str):
        if role not in self.clients:
            client = self.app.test_client()
            page = client.get("/login", base_url="https://localhost")
            response = client.post(
                "/login",
                base_url="https://localhost",
                # Flask-WTF checks the Referer on HTTPS (WTF_CSRF_SSL_STRICT).
                headers={"Referer": "https://localhost/login"},
                data={
                    "username": role,
                    "password": h.DEMO_PASSWORDS[role],
                    "csrf_token": h.csrf_token(page.get_data(as_text=True)),
                },
            )
            if response.status_code != 302:
                raise RuntimeError(f"in-process sign-in as {role}: {response.status_code}")
            home = client.get(response.headers["Location"], base_url="https://localhost")
            # The CSRF token stays valid for the sign-in session (WTF_CSRF_TIME_LIMIT = None).
            with suppress(ValueError):
                self.tokens[role] = h.csrf_token(home.get_data(as_text=True))
            self.clients[role] = client
        return self.clients[role]

    def call(self, request: Request, number: int = 0):
        client = self.client(request.role)
        if request.method == "POST":
            if request.role not in self.tokens:
                page = client.get(request.path, base_url="https://localhost")
                self.tokens[request.role] = h.csrf_token(page.get_data(as_text=True))
            body = {
                **request.bodies[number % len(request.bodies)],
                "csrf_token": self.tokens[request.role],
            }
            return client.post(
                request.path,
                base_url="https://localhost",
                data=body,
                headers={"Referer": "https://localhost" + request.path},
            )
        return client.get(request.path, base_url="https://localhost")

    def measure(self, request: Request, count: int, warmup: int = 5) -> Measured:
        for number in range(warmup):
            self._check(self.call(request, number), request)
        latencies, statements, sizes = [], [], []
        for number in range(count):
            before = self.statements
            started = time.perf_counter()
            response = self.call(request, number)
            latencies.append((time.perf_counter() - started) * 1000)
            statements.append(self.statements - before)
            self._check(response, request)
            sizes.append(len(response.get_data()))
        return Measured(
            statements=round(statistics.median(statements)),
            statements_max=max(statements),
            p50_ms=statistics.median(latencies),
            p95_ms=_percentile(latencies, 95),
            mean_ms=statistics.fmean(latencies),
            html_kb=statistics.fmean(sizes) / 1024,
            requests=count,
        )

    @staticmethod
    def _check(response, request: Request) -> None:
        if response.status_code != 200:
            raise RuntimeError(f"{request.method} {request.path}: {response.status_code}")

    def profile(self, request: Request, count: int = 20) -> str:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
        for number in range(count):
            self.call(request, number)
        profiler.stop()
        return profiler.output_text(unicode=False, color=False, show_all=False)


def _percentile(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


# ---------------------------------------------------------------------------------------------
# Finding the pages and their data
# ---------------------------------------------------------------------------------------------


@dataclass
class DataIds:
    session_id: int
    timeline: dict[int, int]  # sessions -> patient id
    today: date
    site: str = ""  # the code of the generated clinic's first site (by name)


def data_ids(app) -> DataIds:
    from sqlalchemy import func, select

    from clinic_app.demo.bulk import TIMELINE_MRNS
    from clinic_app.extensions import db
    from clinic_app.models import Patient, Site, TreatmentSession, VitalsReading
    from clinic_app.settings import clinic_today

    with app.app_context():
        readings = (
            select(func.count())
            .where(VitalsReading.session_id == TreatmentSession.id)
            .scalar_subquery()
        )
        session_id = db.session.scalar(
            select(TreatmentSession.id)
            .join(Patient, Patient.id == TreatmentSession.patient_id)
            .where(
                TreatmentSession.status == "cosigned",
                Patient.mrn.like("BK-0%"),
                readings == 10,
            )
            .order_by(TreatmentSession.started_at.desc())
            .limit(1)
        )
        timeline = {
            sessions: db.session.scalar(select(Patient.id).where(Patient.mrn == mrn))
            for sessions, mrn in TIMELINE_MRNS.items()
        }
        site = db.session.scalar(select(Site.code).order_by(Site.name).limit(1)) or ""
        return DataIds(session_id, timeline, clinic_today(), site)


def _argument_values(name: str, ids: DataIds, patient_id: int) -> list:
    if name == "patient_id":
        return [patient_id]
    if name == "session_id":
        return [ids.session_id]
    iso = ids.today.isocalendar()
    return [ids.today.isoformat(), f"{iso.year}-W{iso.week:02d}", iso.week, ids.today.year]


def resolve(
    bench: InProcess, spec: PageSpec, ids: DataIds, patient_id: int | None = None
) -> Request | None:
    """A request for the page: the first matching endpoint, arguments filled from the data and
    a role that may see it (the spec's role first)."""
    from itertools import product

    from flask import url_for
    from werkzeug.routing import BuildError

    patient_id = patient_id or ids.timeline[150]
    rules = list(bench.app.url_map.iter_rules())
    query = {"site": ids.site if spec.site == "ONE" else spec.site} if spec.site else {}
    for pattern in spec.endpoints:
        matching = sorted(
            (r for r in rules if re.search(pattern, r.endpoint) and spec.method in r.methods),
            key=lambda r: (len(r.arguments), len(r.endpoint)),
        )
        for rule in matching:
            names = sorted(rule.arguments)
            for values in product(*(_argument_values(n, ids, patient_id) for n in names)):
                with bench.app.test_request_context():
                    try:
                        arguments = dict(zip(names, values, strict=True))
                        path = url_for(rule.endpoint, **arguments, **query)
                    except (BuildError, ValueError):
                        continue
                bodies = [{"q": term} for term in SEARCH_TERMS] if spec.method == "POST" else []
                for role in (spec.role, *[r for r in ROLES if r != spec.role]):
                    request = Request(role, spec.method, path, bodies, rule.endpoint)
                    response = bench.call(request)
                    kind = response.headers.get("Content-Type", "")
                    if response.status_code == 200 and kind.startswith("text/html"):
                        return request
                    if response.status_code not in (401, 403):
                        break
    return None


# ---------------------------------------------------------------------------------------------
# Throughput with wrk against gunicorn
# ---------------------------------------------------------------------------------------------

WRK_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
%(request)s
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      io.write(string.format("STATUS %%d %%d\\n", status, n))
    end
  end
end
"""
WRK_POST = """
local bodies = {%(bodies)s}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
function request()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[i %% #bodies + 1])
end
"""


@dataclass
class Throughput:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    statuses: dict[str, int]
    socket_errors: str


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(
    url: str,
    seconds: int,
    connections: int,
    headers: dict[str, str],
    bodies: list[dict] | None = None,
) -> Throughput:
    request = ""
    if bodies:
        encoded = ", ".join(json.dumps(urlencode(b)) for b in bodies)
        request = WRK_POST % {"bodies": encoded}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_LUA % {"request": request})
    try:
        command = [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script.name,
        ]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        output = subprocess.run(  # nosec B603
            [*command, url], capture_output=True, text=True, timeout=seconds + 60, check=True
        ).stdout
    finally:
        Path(script.name).unlink()
    statuses: dict[str, int] = {}
    for status, count in re.findall(r"STATUS (\d+) (\d+)", output):
        statuses[status] = statuses.get(status, 0) + int(count)
    errors = re.search(r"Socket errors: (.*)", output)
    return Throughput(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50_ms=_ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1)),
        p99_ms=_ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1)),
        requests=int(re.search(r"(\d+) requests in", output).group(1)),
        statuses=statuses,
        socket_errors=errors.group(1) if errors else "none",
    )


def measure_throughput(
    url: str, requests: dict[str, Request], seconds: int, connections: int, log: Callable
) -> tuple[dict[str, Throughput], list[Throughput]]:
    import httpx

    results: dict[str, Throughput] = {}
    healthz: list[Throughput] = []
    with h.gunicorn(url, workers=4) as server:
        sessions = {}
        for number, role in enumerate(sorted({r.role for r in requests.values()})):
            address = h.staff_address(number)
            cookies, token = h.login_sync(server.base_url, role, h.DEMO_PASSWORDS[role], address)
            sessions[role] = (cookies, token, address)
        healthz.append(wrk(server.base_url + "/healthz", seconds, connections, {}))
        log(f"    /healthz: {healthz[-1].rps:.0f} req/s")
        for key, request in requests.items():
            cookies, token, address = sessions[request.role]
            headers = {
                "Cookie": cookies.header(),
                "X-Forwarded-For": address,
                "User-Agent": "clinic-load",
            }
            check = httpx.request(
                request.method,
                server.base_url + request.path,
                headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
                content=urlencode({**request.bodies[0], "csrf_token": token})
                if request.bodies
                else None,
                timeout=30,
            )
            if check.status_code != 200:
                raise RuntimeError(
                    f"gunicorn {request.path} as {request.role}: {check.status_code}"
                )
            bodies = [{**b, "csrf_token": token} for b in request.bodies] or None
            results[key] = wrk(
                server.base_url + request.path, seconds, connections, headers, bodies
            )
            log(f"    {key}: {results[key].rps:.1f} req/s {results[key].statuses}")
        healthz.append(wrk(server.base_url + "/healthz", seconds, connections, {}))
        log(f"    /healthz: {healthz[-1].rps:.0f} req/s")
    return results, healthz


# ---------------------------------------------------------------------------------------------
# Search scale
# ---------------------------------------------------------------------------------------------


def search_plan(app, backend: str) -> str:
    """The database's plan for the search query (first term)."""
    from sqlalchemy import event

    from clinic_app.extensions import db
    from clinic_app.patients.services import search_patients

    with app.app_context():
        statements: list[tuple[str, dict]] = []

        def grab(conn, cursor, statement, parameters, context, executemany):
            statements.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", grab)
        try:
            search_patients(SEARCH_TERMS[0])
        finally:
            event.remove(db.engine, "before_cursor_execute", grab)
        statement, parameters = statements[-1]
        prefix = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
        raw = db.session.connection().exec_driver_sql(prefix + statement, parameters)
        rows = [" ".join(str(v) for v in row) for row in raw]
        db.session.rollback()
        return "\n".join(rows)


def search_scale(backend: str, requests: int, log: Callable) -> dict:
    """Search latency and query plan at 1,000 and 100,000 patients."""
    from clinic_app import create_app
    from clinic_app.demo.bulk import add_patients
    from clinic_app.extensions import db
    from config import DevelopmentConfig

    out: dict = {}
    with h.database(backend, "clinic_bench_search") as url:
        h.flask(url, "db", "upgrade")
        h.flask(url, "demo-data")  # staff accounts and 13 patients
        h.allow_password_only(url)
        loader = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=url)
        for total in (1_000, 100_000):
            with loader.app_context():
                from sqlalchemy import func, select

                from clinic_app.models import Patient

                have = db.session.scalar(select(func.count()).select_from(Patient))
                add_patients(total - have)  # also refreshes the planner statistics
                db.session.commit()
                db.engine.dispose()
            bench = InProcess(url)
            try:
                ids = DataIds(0, {150: 1}, date.today())
                request = resolve(bench, next(p for p in PAGES if p.key == "search"), ids)
                out[f"{total}"] = asdict(bench.measure(request, requests))
                out[f"{total}_plan"] = search_plan(bench.app, backend)
            finally:
                bench.close()
            log(f"    search at {total}: p50 {out[str(total)]['p50_ms']:.1f} ms")
        with loader.app_context():
            db.engine.dispose()
    return out


# ---------------------------------------------------------------------------------------------
# One backend
# ---------------------------------------------------------------------------------------------


def run_backend(backend: str, args, log: Callable) -> dict:
    result: dict = {"backend": backend, "pages": {}, "growth": {}}
    specs = [p for p in PAGES if not args.pages or p.key in args.pages]
    if args.search_scale_only:
        log(f"[{backend}] search scale")
        result["search_scale"] = search_scale(backend, args.requests, log)
        return result

    log(f"[{backend}] small clinic (N={args.small}) for statement counts")
    with h.database(backend, "clinic_bench_small") as url:
        h.migrate_and_generate(url, args.small)
        h.allow_password_only(url)
        bench = InProcess(url)
        try:
            ids = data_ids(bench.app)
            small = {}
            for spec in specs:
                request = resolve(bench, spec, ids)
                if request is not None:
                    small[spec.key] = asdict(bench.measure(request, 10, warmup=2))
            result["small"] = small
        finally:
            bench.close()

    log(f"[{backend}] large clinic (N={args.patients})")
    with h.database(backend, "clinic_bench") as url:
        generated = h.migrate_and_generate(url, args.patients)
        result["generated"] = {"seconds": generated.seconds, "counts": generated.counts}
        log(f"    generated in {generated.seconds:.0f} s: {generated.counts}")
        h.allow_password_only(url)
        bench = InProcess(url)
        requests: dict[str, Request] = {}
        try:
            ids = data_ids(bench.app)
            for spec in specs:
                request = resolve(bench, spec, ids)
                if request is None:
                    result["pages"][spec.key] = {"missing": True}
                    log(f"    {spec.key}: no such page yet")
                    continue
                requests[spec.key] = request
                measured = bench.measure(request, args.requests)
                result["pages"][spec.key] = {"endpoint": request.endpoint, **asdict(measured)}
                log(
                    f"    {spec.key} ({request.endpoint} as {request.role}): "
                    f"{measured.statements} statements, p50 {measured.p50_ms:.1f} ms, "
                    f"p95 {measured.p95_ms:.1f} ms"
                )
            for key in ("timeline", "record"):
                spec = next(p for p in PAGES if p.key == key)
                if key not in requests:
                    continue
                for sessions, patient_id in sorted(ids.timeline.items()):
                    request = resolve(bench, spec, ids, patient_id)
                    measured = bench.measure(request, args.requests)
                    result["growth"].setdefault(key, {})[str(sessions)] = asdict(measured)
                    log(f"    {key} at {sessions} sessions: p50 {measured.p50_ms:.1f} ms")
            measured_pages = {k: v for k, v in result["pages"].items() if not v.get("missing")}
            if measured_pages:
                slowest = max(measured_pages, key=lambda k: measured_pages[k]["p50_ms"])
                result["profile"] = {
                    "page": slowest,
                    "text": bench.profile(requests[slowest], 20),
                }
        finally:
            bench.close()
        if not args.no_throughput and shutil.which("wrk") is None:
            log("    wrk not found (apt-get install -y wrk): throughput not measured")
        elif not args.no_throughput:
            log(f"[{backend}] throughput under gunicorn")
            wrk_pages = {k: v for k, v in requests.items() if k != "record"}
            pages, healthz = measure_throughput(
                url, wrk_pages, args.duration, args.connections, log
            )
            result["throughput"] = {k: asdict(v) for k, v in pages.items()}
            result["healthz"] = [asdict(v) for v in healthz]
    if "search" in [s.key for s in specs]:
        log(f"[{backend}] search scale")
        result["search_scale"] = search_scale(backend, args.requests, log)
    return result


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def evaluate(result: dict) -> list[tuple[str, str, bool | None, str]]:
    """(backend, target, holds or None when not measurable, evidence)."""
    backend = result["backend"]
    rows: list[tuple[str, str, bool | None, str]] = []
    pages, small = result["pages"], result.get("small", {})
    grew = []
    for key, page in pages.items():
        if page.get("missing") or key not in small:
            continue
        if page["statements"] > small[key]["statements"]:
            grew.append(f"{key} {small[key]['statements']}->{page['statements']}")
    for key, series in result["growth"].items():
        counts = [series[s]["statements"] for s in sorted(series, key=int)]
        if len(set(counts)) > 1:
            grew.append(f"{key} {counts}")
    scale = result.get("search_scale", {})
    if scale and scale["100000"]["statements"] > scale["1000"]["statements"]:
        grew.append("search 1k->100k")
    if not pages:
        grew.append("pages not measured in this run")
    rows.append(
        (
            backend,
            "SQL statements per page do not grow with data size",
            not grew,
            "; ".join(grew) or "constant (small vs large clinic, 15/150/600 sessions, 1k/100k)",
        )
    )
    timeline = result["growth"].get("timeline")
    if timeline:
        ratio = timeline["600"]["p50_ms"] / timeline["15"]["p50_ms"]
        size = timeline["600"]["html_kb"] / timeline["150"]["html_kb"]
        paginates = size < 1.5
        rows.append(
            (
                backend,
                "timeline at 600 sessions <= 4x the time at 15 (or paginates)",
                ratio <= 4 or paginates,
                f"{ratio:.1f}x (page size 600/150 = {size:.1f}x)",
            )
        )
    else:
        rows.append(
            (
                backend,
                "timeline at 600 sessions <= 4x the time at 15",
                None,
                "timeline page not registered yet",
            )
        )
    if scale:
        ratio = scale["100000"]["p50_ms"] / scale["1000"]["p50_ms"]
        rows.append(
            (
                backend,
                "search at 100,000 patients within 2x of 1,000",
                ratio <= 2,
                f"{ratio:.1f}x ({scale['1000']['p50_ms']:.1f} -> "
                f"{scale['100000']['p50_ms']:.1f} ms p50)",
            )
        )
    throughput = result.get("throughput", {})
    if throughput:
        ceiling = statistics.fmean(x["rps"] for x in result["healthz"])
        for spec in PAGES:
            if spec.ratio_target is None:
                continue
            if spec.key not in throughput:
                rows.append(
                    (
                        backend,
                        f"{spec.title} >= {spec.ratio_target:.0%} of /healthz",
                        None,
                        "page not registered yet",
                    )
                )
                continue
            share = throughput[spec.key]["rps"] / ceiling
            rows.append(
                (
                    backend,
                    f"{spec.title} >= {spec.ratio_target:.0%} of /healthz throughput",
                    share >= spec.ratio_target,
                    f"{share:.0%} ({throughput[spec.key]['rps']:.1f} of {ceiling:.0f} req/s)",
                )
            )
    rows += _site_rows(backend, throughput)
    slow = [
        f"{k} {v['p95_ms']:.0f} ms"
        for k, v in pages.items()
        if not v.get("missing") and v["p95_ms"] >= P95_BUDGET_MS
    ]
    slow += [
        f"search@{k} {v['p95_ms']:.0f} ms"
        for k, v in scale.items()
        if isinstance(v, dict) and v["p95_ms"] >= P95_BUDGET_MS
    ]
    for key, series in result["growth"].items():
        slow += [
            f"{key}@{s} {v['p95_ms']:.0f} ms"
            for s, v in series.items()
            if v["p95_ms"] >= P95_BUDGET_MS
        ]
    rows.append(
        (
            backend,
            f"p95 < {P95_BUDGET_MS:.0f} ms in-process for every page",
            not slow,
            "; ".join(slow) or "all below",
        )
    )
    return rows


def _site_rows(backend: str, throughput: dict) -> list[tuple[str, str, bool | None, str]]:
    """Issue 14: the site-filtered Today board and week calendar reach at least twice the
    throughput of "All sites" in the same run."""
    rows: list[tuple[str, str, bool | None, str]] = []
    for page, title in (("today", "Today board"), ("week", "Week calendar")):
        one, every = throughput.get(f"{page}_site"), throughput.get(f"{page}_all")
        target = f"{title}, one site >= 2x All sites throughput"
        if one is None or every is None:
            rows.append((backend, target, None, "not measured in this run"))
            continue
        ratio = one["rps"] / every["rps"] if every["rps"] else float("inf")
        evidence = f"{ratio:.1f}x ({one['rps']:.1f} vs {every['rps']:.1f} req/s)"
        rows.append((backend, target, ratio >= 2, evidence))
    return rows


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(results: list[dict], facts: dict, args, started: float) -> str:
    lines = [
        BEGIN,
        "",
        f"Run: {time.strftime('%Y-%m-%d %H:%M %Z')}, `python -m bench.bench "
        + " ".join(sys.argv[1:])
        + f"`, {(time.time() - started) / 60:.1f} min.",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()) + ".",
        "",
        "Load generator (wrk) and server share the machine, so throughput figures are "
        "conservative. In-process: Flask test client, production config, "
        f"{args.requests} requests per page after 5 warm-up requests. Throughput: gunicorn with "
        f"4 sync workers, wrk with 2 threads and {args.connections} connections for "
        f"{args.duration} s per page, signed-in cookie; /healthz measured before and after the "
        "pages (the ratio uses their mean).",
        "",
        "### Data",
        "",
        f"| Backend | Generation (`demo-data --patients {args.patients}`) | Rows |",
        "|---|---|---|",
    ]
    for r in results:
        g = r.get("generated", {})
        counts = ", ".join(f"{n:,} {k}" for k, n in g.get("counts", {}).items())
        lines.append(f"| {r['backend']} | {_fmt(g.get('seconds'), 0)} s | {counts} |")
    lines += [
        "",
        "### Pages",
        "",
        "| Backend | Page | Endpoint | SQL statements (N="
        f"{args.small} → {args.patients}) | p50 ms | p95 ms | HTML KiB | req/s | share of "
        "/healthz | target |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        throughput = r.get("throughput", {})
        ceiling = statistics.fmean(x["rps"] for x in r["healthz"]) if r.get("healthz") else None
        if ceiling:
            healthz = " / ".join(f"{x['rps']:.0f}" for x in r["healthz"])
            lines.append(
                f"| {r['backend']} | /healthz (ceiling) | health.healthz | 1 | — | — | — | "
                f"{healthz} | 100 % | — |"
            )
        for spec in PAGES:
            page = r["pages"].get(spec.key)
            if page is None:
                continue
            if page.get("missing"):
                lines.append(
                    f"| {r['backend']} | {spec.title} | — | not measured: page not registered "
                    "yet | | | | | | |"
                )
                continue
            small = r.get("small", {}).get(spec.key, {}).get("statements", "—")
            tp = throughput.get(spec.key)
            share = f"{tp['rps'] / ceiling:.0%}" if tp and ceiling else "—"
            target = f"≥ {spec.ratio_target:.0%}" if spec.ratio_target else "—"
            lines.append(
                f"| {r['backend']} | {spec.title} | `{page['endpoint']}` | {small} → "
                f"{page['statements']} | {_fmt(page['p50_ms'])} | {_fmt(page['p95_ms'])} | "
                f"{_fmt(page['html_kb'])} | {_fmt(tp['rps'] if tp else None)} | {share} | "
                f"{target} |"
            )
    lines += ["", "### Growth with history size", ""]
    lines += [
        "| Backend | Page | Size | SQL statements | p50 ms | p95 ms | HTML KiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for key, series in r["growth"].items():
            for size in sorted(series, key=int):
                v = series[size]
                lines.append(
                    f"| {r['backend']} | {key} | {size} sessions | {v['statements']} | "
                    f"{_fmt(v['p50_ms'])} | {_fmt(v['p95_ms'])} | {_fmt(v['html_kb'])} |"
                )
        scale = r.get("search_scale", {})
        for total in ("1000", "100000"):
            v = scale.get(total)
            if v:
                lines.append(
                    f"| {r['backend']} | search | {int(total):,} patients | "
                    f"{v['statements']} | {_fmt(v['p50_ms'])} | {_fmt(v['p95_ms'])} | "
                    f"{_fmt(v['html_kb'])} |"
                )
    lines += ["", "### Targets", "", "| Backend | Target | Holds | Evidence |", "|---|---|---|---|"]
    for r in results:
        for backend, target, holds, evidence in evaluate(r):
            verdict = {True: "**pass**", False: "**FAIL**", None: "not measured"}[holds]
            lines.append(f"| {backend} | {target} | {verdict} | {evidence} |")
    for r in results:
        scale = r.get("search_scale", {})
        if scale:
            lines += [
                "",
                f"Search query plan at 100,000 patients, {r['backend']}:",
                "",
                "```",
                scale["100000_plan"],
                "```",
            ]
    for r in results:
        if r.get("profile"):
            text = "\n".join(r["profile"]["text"].splitlines()[:60])
            lines += [
                "",
                f"Profile of the slowest page ({r['profile']['page']}, {r['backend']}, 20 "
                "requests, pyinstrument):",
                "",
                "```",
                text,
                "```",
            ]
    lines += ["", f"![Latency against history size]({PLOT.name})", "", END]
    return "\n".join(lines)


def write_report(text: str) -> None:
    if REPORT.exists():
        current = REPORT.read_text()
        if BEGIN in current and END in current:
            head, rest = current.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            REPORT.write_text(head + text + tail)
            return
    REPORT.write_text("# Benchmark report\n\n" + text + "\n")


def plot(results: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    colours = {
        "timeline": "tab:red",
        "record": "tab:green",
        "search": "tab:blue",
    }
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    for r in results:
        style = "-o" if r["backend"] == "postgresql" else "--s"
        for key in ("timeline", "record"):
            series = r["growth"].get(key)
            if not series:
                continue
            sizes = sorted(series, key=int)
            x = [int(s) for s in sizes]
            left.plot(
                x,
                [series[s]["p50_ms"] for s in sizes],
                style,
                color=colours[key],
                label=f"{key} p50, {r['backend']}",
            )
            left.plot(
                x,
                [series[s]["p95_ms"] for s in sizes],
                style,
                color=colours[key],
                alpha=0.35,
                label=f"{key} p95, {r['backend']}",
            )
        scale = r.get("search_scale", {})
        if "1000" in scale:
            right.plot(
                [1_000, 100_000],
                [scale["1000"]["p50_ms"], scale["100000"]["p50_ms"]],
                style,
                color=colours["search"],
                label=f"search p50, {r['backend']}",
            )
    left.set(
        xscale="log",
        xlabel="sessions in the patient's history",
        ylabel="latency (ms)",
        title="Patient timeline and record (in-process)",
    )
    right.set(
        xscale="log",
        xlabel="patients in the database",
        ylabel="latency (ms)",
        title="Patient search (in-process)",
    )
    for axis, ticks in ((left, [15, 150, 600]), (right, [1_000, 100_000])):
        axis.xaxis.set_major_locator(FixedLocator(ticks))
        axis.xaxis.set_minor_locator(NullLocator())
        axis.xaxis.set_major_formatter(ScalarFormatter())
        axis.axhline(P95_BUDGET_MS, color="grey", linewidth=0.8, linestyle=":")
        axis.text(ticks[0], P95_BUDGET_MS * 1.02, "p95 budget", color="grey", fontsize=7)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
        axis.set_ylim(bottom=0)
    figure.tight_layout()
    figure.savefig(PLOT, dpi=110)
    plt.close(figure)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--small", type=int, default=150)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--duration", type=int, default=10, help="wrk seconds per page")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--pages", default="", help="comma-separated page keys (default: all)")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--search-scale-only", action="store_true")
    parser.add_argument("--no-report", action="store_true", help="print, do not write the report")
    args = parser.parse_args(argv)
    args.pages = [p for p in args.pages.split(",") if p]
    started = time.time()
    load_at_start = os.getloadavg()[0]

    def log(message: str) -> None:
        print(message, flush=True)

    backends = [b for b in args.backends.split(",") if b]
    if "postgresql" in backends and not h.pg_available():
        log("PostgreSQL is not reachable on 127.0.0.1:5432; skipping it.")
        backends.remove("postgresql")
    results = []
    ARTIFACTS.mkdir(exist_ok=True)
    for backend in backends:
        results.append(run_backend(backend, args, log))
        (ARTIFACTS / "benchmark-results.json").write_text(json.dumps(results, indent=2))
    facts = h.machine_facts()
    facts["load average at start / end"] = f"{load_at_start:.1f} / {os.getloadavg()[0]:.1f}"
    text = markdown(results, facts, args, started)
    if args.no_report:
        print(text)
    else:
        write_report(text)
        with suppress(Exception):
            plot(results)
        log(f"Wrote {REPORT.relative_to(h.ROOT)} and {PLOT.relative_to(h.ROOT)}")
    for r in results:
        for backend, target, holds, evidence in evaluate(r):
            verdict = {True: "pass", False: "FAIL", None: "n/a "}[holds]
            log(f"{verdict}  {backend}: {target}: {evidence}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
