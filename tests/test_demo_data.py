"""`flask --app wsgi demo-data`: a living demo clinic, loaded once, never in production."""

from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from clinic_app import clock, create_app
from clinic_app.auth.services import authenticate
from clinic_app.clinical.board import BoardStatus
from clinic_app.demo.bulk import check_invariants
from clinic_app.demo.clinic import DEMO_LOGINS
from clinic_app.extensions import db
from clinic_app.models import (
    Appointment,
    Patient,
    Site,
    TreatmentCourse,
    TreatmentSession,
    User,
    VitalsReading,
)
from clinic_app.scheduling.queries import cards
from clinic_app.settings import (
    clinic_timezone,
    clinic_today,
    clinical_rules,
    day_bounds_utc,
    scheduling_rules,
)
from clinic_app.site_scope import SiteScope
from clinic_app.treatments.closing import content_hash
from clinic_app.treatments.queries import today_board
from config import ProductionConfig

CLINIC_ZONE = ZoneInfo("America/Los_Angeles")  # the default clinic time zone


def local(*args: int) -> datetime:
    """A clinic-local wall-clock time as aware UTC."""
    return datetime(*args, tzinfo=CLINIC_ZONE).astimezone(UTC)


def load(runner):
    result = runner.invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    return result


def row_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def assert_consistent(now: datetime) -> None:
    """The rules every run must keep, whatever the time of day it runs at."""
    zone = clinic_timezone()
    today = clinic_today()
    midnight = day_bounds_utc(today)[0]
    sessions = db.session.scalars(select(TreatmentSession)).all()
    days = Counter((s.patient_id, s.started_at.astimezone(zone).date()) for s in sessions)
    assert max(days.values()) == 1, "two sessions for one patient on one clinic day"
    for s in sessions:
        assert s.started_at <= now
        assert s.dose_started_at is None or s.dose_started_at <= now
        assert all(r.taken_at <= now for r in s.vitals)
        if s.status == "in_progress":
            assert s.started_at >= midnight
            assert s.dose_started_at is None or s.dose_started_at >= midnight
            assert s.appointment.status == "in_treatment"
        else:
            day = s.started_at.astimezone(zone).date()
            assert day < today and day.weekday() < 5
            assert s.appointment.status == "completed"
    for course in db.session.scalars(
        select(TreatmentCourse).where(
            TreatmentCourse.modality == "esketamine_nasal", TreatmentCourse.indication == "trd"
        )
    ):
        doses = [
            int(d)
            for d in db.session.scalars(
                select(TreatmentSession.dose_mg)
                .where(
                    TreatmentSession.course_id == course.id,
                    TreatmentSession.dose_mg.is_not(None),
                )
                .order_by(TreatmentSession.dose_started_at)
            )
        ]
        if not doses and course.patient.usual_site and course.patient.usual_site.code == "NYC":
            continue  # a course starting today (New York's first visits)
        if not doses and course.patient.rems_enrolled_on is None:
            continue  # the REMS demo's first visit, booked before enrollment
        assert doses and doses[0] == 56, (course.patient.mrn, doses)
        assert doses.index(84) > doses.index(56) if 84 in doses else True


def _one_site(site: Site) -> SiteScope:
    return SiteScope(site=site, choices=(site,), may_see_all=False)


def test_loads_a_clinic_with_history_and_a_live_board(app, runner):
    now = local(2025, 3, 12, 11, 0)  # a Wednesday morning
    clock.freeze(now)
    result = load(runner)
    for login in DEMO_LOGINS:
        assert login.username in result.output and login.password in result.output
    with app.app_context():
        assert {u.role: u.username for u in db.session.scalars(select(User))} == {
            "nurse": "nurse",
            "psychiatrist": "psychiatrist",
            "front_desk": "frontdesk",
            "admin": "admin",
        }
        for login in DEMO_LOGINS:
            assert authenticate(login.username, login.password) is not None
        assert db.session.scalar(select(func.count()).select_from(Patient)) >= 12
        # The front desk registered everyone; the nurse screened them before any dose.
        for patient in db.session.scalars(select(Patient)):
            assert patient.screened_by.role == "nurse", patient.mrn
            assert patient.screened_at < now, patient.mrn
            first = min((c.started_on for c in patient.courses), default=None)
            assert first is None or patient.consent_date < first, patient.mrn

        signed = db.session.scalars(
            select(TreatmentSession).where(TreatmentSession.status.in_(["signed", "cosigned"]))
        ).all()
        assert len(signed) >= 36
        assert {s.status for s in signed} == {"signed", "cosigned"}
        for s in signed:
            assert len(s.vitals) >= 3
            assert s.discharged_with == s.driver_name != ""
            assert s.signature_hash == content_hash(s)
        per_patient = Counter(s.patient_id for s in signed)
        assert min(per_patient.values()) >= 3

        sites = {site.code: site for site in db.session.scalars(select(Site))}
        board = today_board(now, clinical_rules(), _one_site(sites["DTLA"]))
        assert Counter(row.status for row in board) == {
            BoardStatus.WAITING: 2,
            BoardStatus.PRE_DOSE: 1,
            BoardStatus.DOSING: 1,
            BoardStatus.OBSERVING: 1,
            BoardStatus.READY: 1,
        }
        assert len({row.appointment.chair_id for row in board}) == 4
        assert any(row.appointment.driver_confirmed_at is None for row in board)
        # New York: two first visits today on its own clock, in its two suites.
        new_york = today_board(now, clinical_rules(), _one_site(sites["NYC"]))
        assert [(r.expected_local.hour, r.appointment.chair.name) for r in new_york] == [
            (10, "Suite A"),
            (14, "Suite B"),
        ]
        assert {r.patient.usual_site.code for r in new_york} == {"NYC"}
        upcoming = db.session.scalars(
            select(Appointment).where(Appointment.starts_at > day_bounds_utc(clinic_today())[1])
        ).all()
        assert len(upcoming) >= 3 and {a.status for a in upcoming} == {"scheduled"}
        assert_consistent(now)


def test_two_sites_with_their_chairs_and_staff_at_both(app, runner):
    from clinic_app.clinical.addresses import address_problems
    from clinic_app.clinical.sites import site_problems
    from clinic_app.models import Chair, Site
    from tests.clinical.test_sites import GOOD

    load(runner)
    with app.app_context():
        sites = db.session.scalars(select(Site).order_by(Site.code)).all()
        assert [(s.code, s.timezone, s.active) for s in sites] == [
            ("DTLA", "America/Los_Angeles", True),
            ("NYC", "America/New_York", True),
        ]
        for site in sites:
            fields = {name: getattr(site, name) for name in GOOD.__dataclass_fields__}
            assert site_problems(type(GOOD)(**fields), clinic_today()) == {}, site.code
        chairs = Counter(chair.site.code for chair in db.session.scalars(select(Chair)))
        assert chairs == {"DTLA": 4, "NYC": 2}
        for user in db.session.scalars(select(User)):
            assert [site.code for site in user.sites] == ["DTLA", "NYC"], user.username
        # The history is at the first site; New York's patients start there today.
        booked = select(Appointment).where(Appointment.chair_id.is_not(None))
        at_site = Counter(a.site.code for a in db.session.scalars(booked))
        assert set(at_site) == {"DTLA", "NYC"} and at_site["NYC"] == 2
        usual = Counter(p.usual_site.code for p in db.session.scalars(select(Patient)))
        assert usual == {"DTLA": 14, "NYC": 2}  # DTLA: 13 and the REMS demo's unenrolled one
        # Every demo patient has a complete fictional address near their site.
        for patient in db.session.scalars(select(Patient)):
            assert address_problems(patient.postal_address, required=True) == {}, patient.mrn
            near = {"DTLA": {"CA"}, "NYC": {"NY", "NJ"}}[patient.usual_site.code]
            assert patient.state in near, patient.mrn


def test_the_demo_clinic_holds_the_generated_historys_invariants(app, runner):
    # `demo-data --patients N` checks these on the demo clinic and its bulk history together.
    load(runner)
    with app.app_context():
        failed = [name for name, holds, _ in check_invariants() if not holds]
    assert failed == []


def test_second_run_changes_nothing(app, runner):
    load(runner)
    with app.app_context():
        before = row_counts()
    result = load(runner)
    assert "already loaded" in result.output
    assert "nurse-demo-pass" in result.output
    with app.app_context():
        assert row_counts() == before
        assert before["treatment_sessions"] > 0 and before["vitals_readings"] > 0


@pytest.mark.parametrize(
    "now",
    [
        local(2025, 3, 16, 0, 20),  # just after midnight on a Sunday
        local(2025, 3, 14, 23, 50),  # late on a Friday
    ],
    ids=["after-midnight", "late-evening"],
)
def test_fits_any_time_of_day(app, runner, now):
    clock.freeze(now)
    load(runner)
    with app.app_context():
        assert_consistent(now)
        in_progress = db.session.scalar(
            select(func.count())
            .select_from(TreatmentSession)
            .where(TreatmentSession.status == "in_progress")
        )
        assert in_progress == (1 if now.astimezone(CLINIC_ZONE).hour == 0 else 4)
        assert db.session.scalar(select(func.count()).select_from(VitalsReading)) > 0


def test_refused_in_production(app, database_url):
    production = create_app(
        ProductionConfig, SECRET_KEY="x" * 32, SQLALCHEMY_DATABASE_URI=database_url
    )
    result = production.test_cli_runner().invoke(args=["demo-data"])
    assert result.exit_code != 0
    assert "production" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
    with production.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("now", [local(2025, 12, 22, 15, 30), local(2025, 3, 12, 15, 40)])
def test_visits_away_from_today_fall_on_open_days_within_clinic_hours(app, runner, now):
    """No demo visit on a weekend or public holiday (around Christmas and New Year too) or
    ending after closing; induction visits are numbered out of the protocol's count."""
    clock.freeze(now)
    load(runner)
    with app.app_context():
        rules = scheduling_rules()
        today = clinic_today()
        visits = db.session.scalars(select(Appointment)).all()
        for visit in visits:
            start = visit.starts_at.astimezone(CLINIC_ZONE)
            end = visit.ends_at.astimezone(CLINIC_ZONE)
            if start.date() != today:
                assert rules.is_open(start.date()), (visit.id, start)
            if visit.status in ("scheduled", "confirmed"):
                assert end.time() <= rules.closing_time, (visit.id, start, end)
        for card in cards([v for v in visits if v.visit_kind == "induction"]):
            number, total = card.kind.split()[1].split("/")
            assert int(total) >= int(number)
            assert int(total) in (rules.esketamine_induction_count, rules.iv_induction_count)
