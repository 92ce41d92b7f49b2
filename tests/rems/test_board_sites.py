"""The REMS board under "All sites" names each row's site (forms, submissions, SAEs, enrollments
to chase), as the Today board does; with one site chosen it has no site column. Its statement
count stays the same as rows are added at both sites."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import AdverseEvent, Appointment, Chair, RemsMonitoringForm, TreatmentSession
from tests import factories
from tests.helpers import clinic_today, flashes, page_statements, soup

LA = ZoneInfo("America/Los_Angeles")
NY = ZoneInfo("America/New_York")


def _wall_clock(moment: datetime, zone: ZoneInfo) -> str:
    """`moment` as the board shows it on `zone`'s clock ("8 Dec 2026 09:00")."""
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b %Y %H:%M}"


def _nyc():
    return factories.site(
        "NYC",
        "America/New_York",
        name="Midtown",
        address_line1="5 W 45th St",
        city="New York",
        state="NY",
        zip_code="10036",
    )


def _form_at(site_code: str, last_name: str, days_ago: int = 1, serious: bool = False) -> int:
    """A signed esketamine session with its monitoring form at this site (the factory charts
    at MAIN; a New York one is moved there, patient and form)."""
    treatment = factories.rems_session(days_ago=days_ago, last_name=last_name)
    if site_code != "MAIN":
        site = _nyc()
        treatment.patient.usual_site_id = site.id
        form = db.session.scalar(
            select(RemsMonitoringForm).where(RemsMonitoringForm.session_id == treatment.id)
        )
        form.site_id = site.id
    if serious:
        treatment.adverse_events.append(
            AdverseEvent(
                kind="respiratory_depression",
                severity="severe",
                serious=True,
                onset_at=treatment.dose_started_at,
                recorded_by_id=treatment.nurse_id,
            )
        )
    db.session.commit()
    return treatment.id


def _first_visit_at(site_code: str, last_name: str) -> None:
    site = _nyc() if site_code == "NYC" else factories.site()
    patient = factories.make_patient(last_name=last_name, rems_enrolled_on=None)
    course = factories.make_course(patient)
    starts = clock.utcnow() + timedelta(days=2)
    db.session.add(
        Appointment(
            patient_id=patient.id,
            course_id=course.id,
            chair=Chair(name=f"Chair {last_name}", site=site),
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            visit_kind="induction",
            sequence_no=1,
        )
    )
    db.session.commit()


def _two_sites(app) -> None:
    """A form at each site, an unreported SAE in New York, an enrollment to chase at each; the
    psychiatrist works at both sites."""
    with app.app_context():
        psychiatrist = factories.user("psychiatrist")
        psychiatrist.sites.append(_nyc())
        db.session.commit()
        _form_at("MAIN", "Westside")
        _form_at("NYC", "Eastside", serious=True)
        _first_visit_at("MAIN", "Newwest")
        _first_visit_at("NYC", "Neweast")


def _cells(table) -> list[list[str]]:
    return [[td.get_text(" ", strip=True) for td in tr("td")] for tr in table.tbody("tr")]


def _headers(table) -> list[str]:
    return [th.get_text(strip=True) for th in table.thead("th")]


def test_all_sites_names_each_rows_site(app, as_role, staff):
    _two_sites(app)
    page = soup(as_role("psychiatrist").get("/rems?site=ALL"))
    forms = page.select_one("table.rems-board")
    assert _headers(forms)[:3] == ["Patient", "Site", "Treatment date"]
    assert sorted((row[0], row[1]) for row in _cells(forms)) == [
        ("Eastside, Alex", "NYC"),
        ("Westside, Alex", "MAIN"),
    ]
    [sae] = page.select(".rems-saes li")
    assert "Alex Eastside · NYC:" in sae.get_text(" ", strip=True)
    chases = page.select_one("table.rems-enrollment")
    assert _headers(chases) == ["Patient", "Site", "First visit"]
    assert sorted(row[:2] for row in _cells(chases)) == [
        ["Alex Neweast", "NYC"],
        ["Alex Newwest", "MAIN"],
    ]


def test_one_site_has_no_site_column(app, as_role, staff):
    _two_sites(app)
    page = soup(as_role("psychiatrist").get("/rems?site=NYC"))
    forms = page.select_one("table.rems-board")
    assert "Site" not in _headers(forms)
    assert [row[0] for row in _cells(forms)] == ["Eastside, Alex"]
    assert _cells(forms)[0][1] != "NYC"  # the treatment date follows the patient
    [sae] = page.select(".rems-saes li")
    assert "NYC" not in sae.get_text()
    chases = page.select_one("table.rems-enrollment")
    assert _headers(chases) == ["Patient", "First visit"]
    assert [row[0] for row in _cells(chases)] == ["Alex Neweast"]


def test_submitted_forms_name_their_site_under_all_sites(app, as_role, staff):
    _two_sites(app)
    psychiatrist = as_role("psychiatrist")
    with app.app_context():
        sid = db.session.scalar(
            select(TreatmentSession.id).where(TreatmentSession.patient.has(last_name="Eastside"))
        )
    data = {"submitted_on": clinic_today().isoformat(), "channel": "online"}
    response = psychiatrist.post(
        f"/sessions/{sid}/rems-form/submitted", data=data | {"confirmation_number": "RX-1"}
    )
    assert response.status_code == 302, flashes(response)
    listed = soup(psychiatrist.get("/rems?site=ALL")).select(".rems-submitted li")
    assert any("Eastside, Alex · NYC ·" in li.get_text(" ", strip=True) for li in listed)


def test_all_sites_statements_do_not_grow_with_the_rows(app, as_role, staff):
    _two_sites(app)
    psychiatrist = as_role("psychiatrist")
    few = page_statements(app, psychiatrist, "/rems?site=ALL")
    with app.app_context():
        for n, code in enumerate(("MAIN", "NYC", "NYC")):
            _form_at(code, f"More{n}", days_ago=n + 2, serious=True)
            _first_visit_at(code, f"Chase{n}")
    assert page_statements(app, psychiatrist, "/rems?site=ALL") == few


def test_all_sites_shows_chase_visits_and_sae_onsets_on_their_sites_clock(app, as_role, staff):
    _two_sites(app)
    with app.app_context():
        onset = db.session.scalar(
            select(AdverseEvent.onset_at)
            .join(TreatmentSession)
            .where(TreatmentSession.patient.has(last_name="Eastside"))
        )
        visits = {
            a.patient.last_name: a.starts_at
            for a in db.session.scalars(select(Appointment).where(Appointment.sequence_no == 1))
        }
    page = soup(as_role("psychiatrist").get("/rems?site=ALL"))
    [sae] = page.select(".rems-saes li")
    assert _wall_clock(onset, NY) in sae.get_text(" ", strip=True)
    assert _wall_clock(onset, LA) not in sae.get_text(" ", strip=True)
    chases = {row[0]: row[2] for row in _cells(page.select_one("table.rems-enrollment"))}
    assert chases == {
        "Alex Neweast": _wall_clock(visits["Neweast"], NY),
        "Alex Newwest": _wall_clock(visits["Newwest"], LA),
    }
    # One site chosen: the page is on that site's clock already.
    one = soup(as_role("psychiatrist").get("/rems?site=NYC"))
    assert _wall_clock(onset, NY) in one.select_one(".rems-saes li").get_text(" ", strip=True)
