"""Read-only queries for the admin screens. Each list is one statement (joins, no per-row loads)."""

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import aliased, joinedload

from clinic_app.auth import sessions
from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, Chair, Patient, User, UserSession, user_sites
from clinic_app.settings import day_bounds_utc

PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilter:
    """What to show of the trail: numbers, dates and an action code only (safe in a URL)."""

    user_id: int | None = None
    patient_id: int | None = None
    start: date | None = None
    end: date | None = None
    action: str = ""

    def params(self) -> dict[str, Any]:
        """Query-string parameters for url_for (empty ones left out)."""
        return {
            key: value.isoformat() if isinstance(value, date) else value
            for key, value in asdict(self).items()
            if value not in (None, "")
        }

    def detail(self) -> dict[str, Any]:
        """The filter for an audit row's detail (the patient goes in the row's patient_id)."""
        return {key: value for key, value in self.params().items() if key != "patient_id"}


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    username: str | None
    full_name: str | None
    mrn: str | None


def _trail(where: AuditFilter) -> Select:
    actor = aliased(User)
    query = (
        select(AuditEvent, actor.username, actor.full_name, Patient.mrn)
        .outerjoin(actor, actor.id == AuditEvent.user_id)
        .outerjoin(Patient, Patient.id == AuditEvent.patient_id)
    )
    if where.user_id is not None:
        query = query.where(AuditEvent.user_id == where.user_id)
    if where.patient_id is not None:
        query = query.where(AuditEvent.patient_id == where.patient_id)
    if where.start is not None:
        query = query.where(AuditEvent.occurred_at >= day_bounds_utc(where.start)[0])
    if where.end is not None:
        query = query.where(AuditEvent.occurred_at <= day_bounds_utc(where.end)[1])
    if where.action:
        query = query.where(AuditEvent.action.startswith(where.action, autoescape=True))
    return query.order_by(AuditEvent.id.desc())


def audit_page(
    where: AuditFilter, before_id: int | None = None, size: int = PAGE_SIZE
) -> tuple[list[AuditRow], int | None]:
    """One page of matching rows, newest first, older than `before_id`; and the `before_id` of
    the next (older) page, or None when this is the last. Keyset paging: no OFFSET."""
    query = _trail(where)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    rows = [AuditRow(*row) for row in db.session.execute(query.limit(size + 1))]
    if len(rows) > size:
        rows = rows[:size]
        return rows, rows[-1].event.id
    return rows, None


def audit_rows(where: AuditFilter, batch: int = 500) -> Iterator[AuditRow]:
    """Every matching row, newest first, fetched in batches (for the CSV export)."""
    result = db.session.execute(_trail(where).execution_options(yield_per=batch))
    for row in result:
        yield AuditRow(*row)


@dataclass(frozen=True)
class AccessSummary:
    """One person's dealings with one chart: each action with its count, first and last time."""

    user_id: int | None
    username: str
    full_name: str
    role: str
    actions: list[tuple[str, int]]
    first: datetime
    last: datetime


def patient_access_summary(patient_id: int) -> list[AccessSummary]:
    """Who looked at or changed this patient's record, most recent first."""
    query = (
        select(
            AuditEvent.user_id,
            User.username,
            User.full_name,
            AuditEvent.role,
            AuditEvent.action,
            func.count(),
            func.min(AuditEvent.occurred_at),
            func.max(AuditEvent.occurred_at),
        )
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(AuditEvent.patient_id == patient_id)
        .group_by(
            AuditEvent.user_id, User.username, User.full_name, AuditEvent.role, AuditEvent.action
        )
    )
    people: dict[tuple, dict[str, Any]] = {}
    for user_id, username, full_name, role, action, count, first, last in db.session.execute(query):
        person = people.setdefault(
            (user_id, role),
            {
                "user_id": user_id,
                "username": username or "(no user)",
                "full_name": full_name or "",
                "role": role,
                "actions": [],
                "first": first,
                "last": last,
            },
        )
        person["actions"].append((action, count))
        person["first"] = min(person["first"], first)
        person["last"] = max(person["last"], last)
    summaries = [AccessSummary(**person) for person in people.values()]
    for summary in summaries:
        summary.actions.sort()
    return sorted(summaries, key=lambda s: s.last, reverse=True)


def all_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username)))


@dataclass(frozen=True)
class SiteCounts:
    chairs: int = 0
    chairs_in_service: int = 0
    staff: int = 0


def site_counts() -> dict[int, SiteCounts]:
    """Per site id: its chairs, those in service, and its active staff (two statements)."""
    chairs = {
        site_id: (total, in_service)
        for site_id, total, in_service in db.session.execute(
            select(
                Chair.site_id, func.count(), func.sum(case((Chair.active, 1), else_=0))
            ).group_by(Chair.site_id)
        )
    }
    staff = {
        site_id: count
        for site_id, count in db.session.execute(
            select(user_sites.c.site_id, func.count())
            .join(User, User.id == user_sites.c.user_id)
            .where(User.active)
            .group_by(user_sites.c.site_id)
        )
    }
    return {
        site_id: SiteCounts(
            chairs=chairs.get(site_id, (0, 0))[0],
            chairs_in_service=int(chairs.get(site_id, (0, 0))[1] or 0),
            staff=staff.get(site_id, 0),
        )
        for site_id in chairs.keys() | staff.keys()
    }


def users_without_totp() -> dict[str, int]:
    """Active users per role who have not set up two-factor sign-in."""
    query = (
        select(User.role, func.count())
        .where(User.active.is_(True), User.totp_enabled_at.is_(None))
        .group_by(User.role)
    )
    return {role: count for role, count in db.session.execute(query)}


def live_sessions(user_id: int | None = None) -> list[UserSession]:
    """Sessions still able to make requests: not revoked and within the idle and absolute limits
    (expired rows are only marked revoked when their cookie next comes back)."""
    now = utcnow()
    query = (
        select(UserSession)
        .where(
            UserSession.revoked_at.is_(None),
            UserSession.last_seen_at > now - sessions.idle_timeout(),
            UserSession.created_at > now - sessions.absolute_timeout(),
        )
        .options(joinedload(UserSession.user))
        .order_by(UserSession.last_seen_at.desc())
    )
    if user_id is not None:
        query = query.where(UserSession.user_id == user_id)
    return list(db.session.scalars(query))
