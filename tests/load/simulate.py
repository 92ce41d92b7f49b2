"""Simulated staff against a running server, a client-side log of acknowledged writes, and the
checks afterwards: every acknowledged write is in the database, no write is half there.

A write counts as acknowledged when the server answered it with its success redirect. The
response's X-Request-Id is also stored on the audit row written in the same transaction, which
ties each acknowledged request to the rows it created.
"""

import asyncio
import json
import random
import secrets
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

import httpx

from tests.load import harness as h

CONNECTION_ERRORS = (httpx.TransportError,)


@dataclass
class Outcome:
    action: str
    status: int | None  # None: no HTTP answer (connection refused, reset, timeout)
    at: float  # monotonic seconds
    error: str = ""
    service_unavailable_page: bool = False


@dataclass
class Ack:
    kind: str  # vitals | start | patient | book
    request_id: str
    data: dict


@dataclass
class Targets:
    """What the simulated staff work on, read from the database before the run."""

    in_progress: list[int]  # session ids
    waiting: list[tuple[int, int, int]]  # (appointment, patient, course) not started today
    desk_patients: list[int]  # patients with an active course, shared out among the desk
    record_patients: list[int]
    paths: dict[str, str]  # page key -> path (review queue, week, timeline...)
    bulk_password: str


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    attempts: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    refusals: Counter = field(default_factory=Counter)
    started: float = 0.0
    started_utc: datetime | None = None
    faults: list[tuple[str, float, float]] = field(default_factory=list)  # (kind, start, end)


class Staff:
    """One person at one workstation: own sign-in session, cookies and address."""

    def __init__(self, number: int, role: str, username: str, password: str, base_url: str):
        self.number, self.role, self.username, self.password = number, role, username, password
        self.address = h.staff_address(number)
        self.cookies = h.Cookies()
        self.token = ""
        self.client = httpx.AsyncClient(base_url=base_url, timeout=60, follow_redirects=False)

    async def close(self) -> None:
        await self.client.aclose()

    async def send(
        self, run: Run, action: str, method: str, path: str, data: dict | None = None
    ) -> httpx.Response | None:
        headers = {
            "X-Forwarded-For": self.address,
            "User-Agent": "clinic-load",
            "Cookie": self.cookies.header(),
        }
        content = None
        if data is not None:
            content = urlencode({**data, "csrf_token": self.token}, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            response = await self.client.request(method, path, headers=headers, content=content)
        except CONNECTION_ERRORS as error:
            run.outcomes.append(Outcome(action, None, time.monotonic(), type(error).__name__))
            return None
        self.cookies.update(response.headers.get_list("set-cookie"))
        unavailable = response.status_code == 503 and "Service unavailable" in response.text
        run.outcomes.append(
            Outcome(action, response.status_code, time.monotonic(), "", unavailable)
        )
        return response

    async def login(self) -> None:
        for _ in range(5):
            try:
                cookies, token = await asyncio.to_thread(
                    h.login_sync,
                    str(self.client.base_url),
                    self.username,
                    self.password,
                    self.address,
                )
            except (RuntimeError, httpx.TransportError):
                await asyncio.sleep(1)
                continue
            self.cookies, self.token = cookies, token
            return
        raise RuntimeError(f"{self.username} could not sign in")


def _ok(response: httpx.Response | None, *statuses: int) -> bool:
    return response is not None and response.status_code in statuses


def _form(html: str, action_part: str) -> dict | None:
    return next((f for f in h.forms(html) if action_part in f["action"]), None)


async def nurse_step(staff: Staff, run: Run, targets: Targets, rng: random.Random) -> None:
    roll = rng.random()
    if roll < 0.25:
        await staff.send(run, "today", "GET", "/today")
    elif roll < 0.45 and targets.in_progress:
        await staff.send(run, "session", "GET", f"/sessions/{rng.choice(targets.in_progress)}")
    elif roll < 0.9 and targets.in_progress:
        session_id = rng.choice(targets.in_progress)
        systolic = rng.randint(105, 150)
        values = {
            "systolic": systolic,
            "diastolic": rng.randint(60, min(95, systolic - 25)),
            "heart_rate": rng.randint(55, 100),
            "spo2": rng.randint(94, 100),
            "resp_rate": rng.randint(12, 20),
        }
        response = await staff.send(
            run, "vitals", "POST", f"/sessions/{session_id}/vitals", {**values, "taken_at": ""}
        )
        if _ok(response, 302):
            run.acks.append(
                Ack(
                    "vitals", response.headers["x-request-id"], {"session_id": session_id, **values}
                )
            )
    elif targets.waiting:
        appointment_id, patient_id, course_id = targets.waiting.pop()
        response = await staff.send(
            run,
            "start",
            "POST",
            "/sessions/start",
            {"patient_id": patient_id, "course_id": course_id, "appointment_id": appointment_id},
        )
        if _ok(response, 302) and "/sessions/" in response.headers["location"]:
            session_id = int(urlsplit(response.headers["location"]).path.rsplit("/", 1)[1])
            run.acks.append(
                Ack(
                    "start",
                    response.headers["x-request-id"],
                    {"appointment_id": appointment_id, "session_id": session_id},
                )
            )
            targets.in_progress.append(session_id)
    else:
        await staff.send(run, "today", "GET", "/today")


async def desk_step(
    staff: Staff, run: Run, targets: Targets, rng: random.Random, own: list[int]
) -> None:
    roll = rng.random()
    if roll < 0.3:
        await staff.send(run, "search", "POST", "/patients/", {"q": rng.choice(("smi", "ma"))})
    elif roll < 0.45 and "week" in targets.paths:
        await staff.send(run, "week", "GET", targets.paths["week"])
    elif roll < 0.55:
        await staff.send(run, "record", "GET", f"/patients/{rng.choice(targets.record_patients)}")
    elif roll < 0.85 or "plan" not in targets.paths:
        await _edit_patient(staff, run, rng.choice(own))
    else:
        await _book(staff, run, targets, rng.choice(own))


async def _edit_patient(staff: Staff, run: Run, patient_id: int) -> None:
    page = await staff.send(run, "edit-form", "GET", f"/patients/{patient_id}/edit")
    if not _ok(page, 200):
        return
    path = f"/patients/{patient_id}/edit"
    form = next(
        (
            f
            for f in h.forms(page.text)
            if f["method"].lower() == "post" and f["action"] in ("", path)
        ),
        None,
    )
    if form is None:
        return
    token = f"Load test {secrets.token_hex(6)}"
    data = {k: v for k, v in form["fields"].items() if k != "csrf_token"}
    data["driver_name"] = [token]
    run.attempts[patient_id].append(token)
    response = await staff.send(run, "patient", "POST", path, data)
    if _ok(response, 302):
        run.acks.append(
            Ack(
                "patient",
                response.headers["x-request-id"],
                {"patient_id": patient_id, "token": token},
            )
        )


async def _book(staff: Staff, run: Run, targets: Targets, patient_id: int) -> None:
    """Plan a maintenance series for the patient and book what the planner proposed."""
    plan_path = targets.paths["plan"].replace("/0/", f"/{patient_id}/")
    page = await staff.send(run, "plan-form", "GET", plan_path)
    if not _ok(page, 200):
        return
    form = _form(page.text, "/plan")
    if form is None:
        run.refusals["no active course"] += 1
        return
    data = {k: v for k, v in form["fields"].items() if k != "csrf_token"}
    data["count"] = ["2"]
    proposal = await staff.send(run, "plan", "POST", plan_path, data)
    if not _ok(proposal, 200):
        run.refusals[f"plan {proposal.status_code if proposal else 'no answer'}"] += 1
        return
    book = _form(proposal.text, "/book")
    if book is None:
        run.refusals["no proposal"] += 1
        return
    data = {k: v for k, v in book["fields"].items() if k != "csrf_token"}
    data["action"] = ["book"]
    response = await staff.send(run, "book", "POST", book["action"], data)
    if _ok(response, 302):
        run.acks.append(Ack("book", response.headers["x-request-id"], {"patient_id": patient_id}))
    elif response is not None and response.status_code in (400, 409):
        # Refused by the rules or by the database (a chair taken meanwhile): a clean page.
        run.refusals[f"book {response.status_code}"] += 1


async def psychiatrist_step(staff: Staff, run: Run, targets: Targets, rng: random.Random) -> None:
    roll = rng.random()
    if roll < 0.3 and "review" in targets.paths:
        await staff.send(run, "review", "GET", targets.paths["review"])
    elif roll < 0.5 and "timeline" in targets.paths:
        path = targets.paths["timeline"].replace("/0", f"/{rng.choice(targets.record_patients)}")
        await staff.send(run, "timeline", "GET", path)
    elif roll < 0.75:
        await staff.send(run, "today", "GET", "/today")
    else:
        await staff.send(run, "record", "GET", f"/patients/{rng.choice(targets.record_patients)}")


# Who the simulated staff are, interleaved so that small runs have every role: 12 nurses, 5 front
# desk and 3 psychiatrists in every 20.
ROLE_CYCLE = "NFNPNFNNFNPNFNNFNPNN"


def accounts(users: int) -> list[tuple[str, str, str]]:
    """(role, username, password) for `users` simulated staff, signed in with the bulk demo
    accounts (several browsers may share an account, each with its own sign-in session). The
    nurses use the small demo's nurse, who works at every site: today's sessions are at the
    small demo's site, and only a visit's site staff chart it."""
    from clinic_app.demo.bulk import BULK_STAFF_PASSWORD
    from clinic_app.demo.clinic import DEMO_LOGINS

    nurse = next(login for login in DEMO_LOGINS if login.username == "nurse")
    out = []
    for number in range(users):
        role = ROLE_CYCLE[number % len(ROLE_CYCLE)]
        if role == "N":
            out.append(("nurse", nurse.username, nurse.password))
        elif role == "F":
            out.append(("frontdesk", f"northgate-frontdesk-{number % 3 + 1}", BULK_STAFF_PASSWORD))
        else:
            out.append(
                ("psychiatrist", f"northgate-psychiatrist-{number % 2 + 1}", BULK_STAFF_PASSWORD)
            )
    return out


async def simulate(
    base_url: str,
    targets: Targets,
    users: int,
    seconds: float,
    think: tuple[float, float] = (0.05, 0.6),
    roles: tuple[str, ...] = ("nurse", "frontdesk", "psychiatrist"),
    fault=None,
    seed: int = 7,
) -> Run:
    """Sign everyone in, then run `users` staff for `seconds`; `fault(run)` runs alongside."""
    run = Run()
    people = [
        Staff(number, role, username, password, base_url)
        for number, (role, username, password) in enumerate(accounts(users))
        if role in roles
    ]
    desk = [p for p in people if p.role == "frontdesk"]
    owned = {
        p.number: targets.desk_patients[i :: max(1, len(desk))] or targets.record_patients[:1]
        for i, p in enumerate(desk)
    }
    try:
        gate = asyncio.Semaphore(4)

        async def sign_in(person: Staff) -> None:
            async with gate:
                await person.login()

        await asyncio.gather(*(sign_in(p) for p in people))
        run.started = time.monotonic()
        run.started_utc = datetime.now(UTC)
        deadline = run.started + seconds

        async def work(person: Staff) -> None:
            rng = random.Random(seed * 1000 + person.number)
            while time.monotonic() < deadline:
                if person.role == "nurse":
                    await nurse_step(person, run, targets, rng)
                elif person.role == "frontdesk":
                    await desk_step(person, run, targets, rng, owned[person.number])
                else:
                    await psychiatrist_step(person, run, targets, rng)
                await asyncio.sleep(rng.uniform(*think))

        tasks = [work(p) for p in people]
        if fault is not None:
            tasks.append(fault(run))
        await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(p.close() for p in people))
    return run


# ---------------------------------------------------------------------------------------------
# Before and after
# ---------------------------------------------------------------------------------------------


def load_targets(url: str) -> tuple[Targets, dict[str, int]]:
    """Targets for the run and the high-water marks (max ids) to tell new rows from old."""
    from flask import url_for
    from sqlalchemy import func, select, text

    from clinic_app.demo.bulk import BULK_STAFF_PASSWORD
    from clinic_app.extensions import db
    from clinic_app.models import (
        Appointment,
        AuditEvent,
        Patient,
        TreatmentCourse,
        TreatmentSession,
        VitalsReading,
    )
    from clinic_app.settings import clinic_today, day_bounds_utc

    app = h.app_for(url)
    with app.app_context():
        start, end = day_bounds_utc(clinic_today())
        in_progress = list(
            db.session.scalars(
                select(TreatmentSession.id).where(
                    TreatmentSession.status == "in_progress",
                    TreatmentSession.started_at.between(start, end),
                )
            )
        )
        started_today = select(TreatmentSession.patient_id).where(
            TreatmentSession.started_at.between(start, end)
        )
        waiting = [
            tuple(row)
            for row in db.session.execute(
                select(Appointment.id, Appointment.patient_id, Appointment.course_id)
                .join(TreatmentCourse, TreatmentCourse.id == Appointment.course_id)
                .where(
                    Appointment.starts_at.between(start, end),
                    Appointment.status.in_(["scheduled", "confirmed", "checked_in"]),
                    Appointment.driver_status != "no_driver",
                    TreatmentCourse.phase.in_(["induction", "maintenance"]),
                    Appointment.patient_id.not_in(started_today),
                )
            )
        ]
        active = list(
            db.session.scalars(
                select(Patient.id)
                .join(TreatmentCourse, TreatmentCourse.patient_id == Patient.id)
                .where(
                    TreatmentCourse.phase.in_(["induction", "maintenance"]),
                    Patient.mrn.like("BK-0%"),
                )
                .order_by(Patient.id)
                .distinct()
            )
        )
        records = list(
            db.session.scalars(
                select(Patient.id).where(Patient.mrn.like("BK-0%")).order_by(Patient.id).limit(200)
            )
        )
        paths = {}
        endpoints = {r.endpoint for r in app.url_map.iter_rules()}
        with app.test_request_context():
            if "review.queue" in endpoints:
                paths["review"] = url_for("review.queue")
            if "review.timeline" in endpoints:
                paths["timeline"] = url_for("review.timeline", patient_id=0)
            if "scheduling.week" in endpoints:
                paths["week"] = url_for("scheduling.week")
            if "scheduling.plan" in endpoints and "scheduling.book" in endpoints:
                paths["plan"] = url_for("scheduling.plan", patient_id=0)
        marks = {
            "vitals": db.session.scalar(select(func.max(VitalsReading.id))) or 0,
            "sessions": db.session.scalar(select(func.max(TreatmentSession.id))) or 0,
            "appointments": db.session.scalar(select(func.max(Appointment.id))) or 0,
            "audit": db.session.scalar(select(func.max(AuditEvent.id))) or 0,
        }
        versions = dict(db.session.execute(text("SELECT id, version_id FROM patients")).all())
        marks["versions"] = versions  # type: ignore[assignment]
        db.session.remove()
        db.engine.dispose()
    rng = random.Random(11)
    rng.shuffle(waiting)
    return (
        Targets(in_progress, waiting, active, records, paths, BULK_STAFF_PASSWORD),
        marks,
    )


def verify(url: str, run: Run, marks: dict) -> list[str]:
    """Problems found: acknowledged writes missing, or rows without their other half."""
    from sqlalchemy import text

    from clinic_app.demo.bulk import check_invariants
    from clinic_app.extensions import db

    problems: list[str] = []
    app = h.app_for(url)
    with app.app_context():
        s = db.session
        # One request may write several audit rows (a reading also raises or closes alerts):
        # keyed by (request, action).
        audit = {
            (row.request_id, row.action): row
            for row in s.execute(
                text(
                    "SELECT id, request_id, action, entity_id, patient_id, detail "
                    "FROM audit_events WHERE id > :mark"
                ),
                {"mark": marks["audit"]},
            )
        }
        by_action: dict[str, list] = defaultdict(list)
        for row in audit.values():
            by_action[row.action].append(row)
        # 1. Every acknowledged write is there, as acknowledged.
        for ack in run.acks:
            expected = {
                "vitals": "vitals.add",
                "start": "session.start",
                "patient": "patient.update",
                "book": "schedule.book",
            }[ack.kind]
            row = audit.get((ack.request_id, expected))
            if row is None:
                problems.append(f"lost {ack.kind} write (request {ack.request_id})")
                continue
            if ack.kind == "vitals":
                reading = s.execute(
                    text(
                        "SELECT session_id, systolic, diastolic, heart_rate, spo2, resp_rate "
                        "FROM vitals_readings WHERE id = :id"
                    ),
                    {"id": row.entity_id},
                ).one_or_none()
                wanted = tuple(
                    ack.data[k]
                    for k in ("session_id", "systolic", "diastolic", "heart_rate", "spo2")
                ) + (ack.data["resp_rate"],)
                if reading is None or tuple(reading) != wanted:
                    problems.append(f"vitals write {ack.request_id} differs: {reading}")
            elif ack.kind == "start":
                state = s.execute(
                    text(
                        "SELECT s.appointment_id, a.status FROM treatment_sessions s "
                        "JOIN appointments a ON a.id = s.appointment_id WHERE s.id = :id"
                    ),
                    {"id": ack.data["session_id"]},
                ).one_or_none()
                if state is None or state[0] != ack.data["appointment_id"]:
                    problems.append(f"session start {ack.request_id} missing its appointment")
        # 2. Patient edits: the final value is the last acknowledged one (or a later attempt
        #    whose answer was lost), and the version moved once per audited update.
        last_ack: dict[int, str] = {}
        for ack in run.acks:
            if ack.kind == "patient":
                last_ack[ack.data["patient_id"]] = ack.data["token"]
        for patient_id, token in last_ack.items():
            value = s.execute(
                text("SELECT driver_name, version_id FROM patients WHERE id = :id"),
                {"id": patient_id},
            ).one()
            tried = run.attempts[patient_id]
            allowed = tried[tried.index(token) :]
            if value.driver_name not in allowed:
                problems.append(
                    f"patient {patient_id}: {value.driver_name!r} is not the last write"
                )
        updates = Counter(r.patient_id for r in by_action["patient.update"])
        for patient_id, count in updates.items():
            version = s.execute(
                text("SELECT version_id FROM patients WHERE id = :id"), {"id": patient_id}
            ).scalar()
            before = marks["versions"].get(patient_id, 1)
            if version != before + count:
                problems.append(
                    f"patient {patient_id}: version {before} -> {version} but {count} audited"
                )
        # 3. No half writes: each new vitals row / session has its audit row and vice versa.
        new_vitals = set(
            s.scalars(text("SELECT id FROM vitals_readings WHERE id > :m"), {"m": marks["vitals"]})
        )
        audited = {r.entity_id for r in by_action["vitals.add"]}
        if new_vitals != audited:
            problems.append(
                f"vitals rows without audit: {sorted(new_vitals - audited)[:5]}, "
                f"audit without rows: {sorted(audited - new_vitals)[:5]}"
            )
        new_sessions = set(
            s.scalars(
                text("SELECT id FROM treatment_sessions WHERE id > :m"), {"m": marks["sessions"]}
            )
        )
        started = {r.entity_id for r in by_action["session.start"]}
        if new_sessions != started:
            problems.append(f"sessions vs audit differ: {new_sessions ^ started}")
        half_started = s.scalar(
            text(
                "SELECT count(*) FROM treatment_sessions s JOIN appointments a "
                "ON a.id = s.appointment_id WHERE s.id > :m AND a.status <> 'in_treatment'"
            ),
            {"m": marks["sessions"]},
        )
        if half_started:
            problems.append(f"{half_started} new sessions whose appointment was not checked in")
        booked = Counter()
        for row in by_action["schedule.book"]:
            detail = row.detail if isinstance(row.detail, dict) else json.loads(row.detail)
            booked[(row.patient_id, detail["series_id"])] += detail["visits"]
        new_bookings = Counter(
            (r.patient_id, r.series_id)
            for r in s.execute(
                text(
                    "SELECT patient_id, series_id FROM appointments WHERE id > :m "
                    "AND course_id IS NOT NULL"
                ),
                {"m": marks["appointments"]},
            )
        )
        if booked != new_bookings:
            problems.append(f"booked appointments differ from the audit: {booked ^ new_bookings}")
        for name, holds, detail in check_invariants(sample=10):
            if not holds:
                problems.append(f"invariant failed: {name} ({detail})")
        s.remove()
        db.engine.dispose()
    return problems


def classify(run: Run, grace: float = 6.0) -> dict:
    """Counts of outcomes; errors are anything a user would see as a failure outside an
    injected fault: 5xx, 4xx on reads, no answer. During a fault (plus `grace` seconds) a
    clean 503 page or a dropped connection is expected."""

    def in_fault(at: float, kinds: tuple[str, ...]) -> bool:
        return any(k in kinds and s - 0.5 <= at <= e + grace for k, s, e in run.faults)

    errors: list[Outcome] = []
    expected: Counter = Counter()
    statuses: Counter = Counter()
    for o in run.outcomes:
        statuses[o.status] += 1
        if o.status is None:
            if in_fault(o.at, ("pg_restart", "sigkill")):
                expected[f"dropped connection ({o.error})"] += 1
            else:
                errors.append(o)
        elif o.status == 503:
            if o.service_unavailable_page and in_fault(o.at, ("pg_restart",)):
                expected["503 page"] += 1
            else:
                errors.append(o)
        elif o.status >= 500 or (o.status >= 400 and o.action not in ("plan", "book")):
            errors.append(o)
    return {
        "requests": len(run.outcomes),
        "statuses": dict(statuses),
        "errors": errors,
        "expected": dict(expected),
        "acknowledged": Counter(a.kind for a in run.acks),
        "refusals": dict(run.refusals),
    }
